"""Seconds and peak memory of the whole pipeline from an empty cache, against the targets.

    python benchmarks/bench_report.py [--profile quick|full|both]

Runs the pipeline (``organizing.pipeline.load``) in a child process with a fresh
temporary results cache (so nothing is reused; JAX's compilation cache in the user's
folder is kept, as for any second run on a machine), then once more to time a warm
load. Targets (issue 24): the quick profile in ≤ 120 s, the full profile in ≤ 8
minutes, peak resident memory ≤ 3 GB. Prints ``name value`` lines, like every
benchmark here:

* ``report_stage_seconds {profile} {stage}`` from the results' own timings, and
  ``report_stage_peak_mb {profile} {stage}``: the largest resident memory seen during
  the stage (sampled every 0.2 s; Linux only);
* ``report_seconds_cold``, ``report_cpu_seconds_cold`` (the child's CPU, all threads),
  ``report_peak_mb`` (its peak resident memory, ``VmHWM``) and ``report_seconds_warm``;
* ``report_seconds_from_stored_posteriors``: every result recomputed with every fit
  loaded from the store the cold run left (what an edit to a summary costs).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager

TARGETS = {"quick": 120.0, "full": 480.0}
PEAK_TARGET_MB = 3 * 1024


def _resident_mb() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def child(profile: str) -> None:
    """One cold pipeline run in this process; prints one JSON line."""
    from organizing import pipeline

    stage_name, peaks = ["setup"], {}

    def sample():
        while True:
            peaks[stage_name[0]] = max(peaks.get(stage_name[0], 0.0), _resident_mb())
            time.sleep(0.2)

    threading.Thread(target=sample, daemon=True).start()
    original = pipeline.Stages.stage

    @contextmanager
    def stage(self, name):
        stage_name[0] = name
        with original(self, name):
            yield
        stage_name[0] = f"after {name}"

    pipeline.Stages.stage = stage
    start, cpu = time.perf_counter(), time.process_time()
    results = pipeline.load(profile=profile, progress=False, compute=True)
    cold, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(json.dumps({"cold": cold, "cpu": cpu, "timings": results.meta.timings,
                      "peaks": peaks,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _run(profile: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "ORGANIZING_CACHE_DIR": folder}
        done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", profile],
                              capture_output=True, text=True, env=env, check=True)
        run = json.loads(done.stdout.strip().splitlines()[-1])
        os.environ["ORGANIZING_CACHE_DIR"] = folder
        from organizing.pipeline import load

        start = time.perf_counter()
        load(profile=profile, progress=False, compute=True)
        warm = time.perf_counter() - start
        # what an edit to a summary, table or verdict costs: every result recomputed,
        # every fit loaded from the store of posteriors the cold run left
        from organizing.config import load_config
        from organizing.data import load_campaign
        from organizing.pipeline import run as run_pipeline

        start = time.perf_counter()
        run_pipeline(load_campaign(), load_config(profile=profile), progress=False)
        rerun = time.perf_counter() - start
    for stage, seconds in run["timings"].items():
        peak = run["peaks"].get(stage)
        print(f"report_stage_seconds {profile} {stage} {seconds:.1f}"
              + (f" (peak {peak:.0f} MB)" if peak else ""))
    met = "met" if run["cold"] <= TARGETS[profile] else "missed"
    print(f"report_seconds_cold {profile} {run['cold']:.1f} (target {TARGETS[profile]:.0f}, "
          f"{met})")
    print(f"report_cpu_seconds_cold {profile} {run['cpu']:.1f}")
    met = "met" if run["peak_mb"] <= PEAK_TARGET_MB else "missed"
    print(f"report_peak_mb {profile} {run['peak_mb']:.0f} (target {PEAK_TARGET_MB}, {met})")
    print(f"report_seconds_warm {profile} {warm:.2f}")
    print(f"report_seconds_from_stored_posteriors {profile} {rerun:.1f}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=("quick", "full", "both"), default="both")
    parser.add_argument("--child", choices=("quick", "full"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return
    for profile in ("quick", "full") if args.profile == "both" else (args.profile,):
        _run(profile)


if __name__ == "__main__":
    main()
