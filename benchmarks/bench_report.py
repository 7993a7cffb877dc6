"""Seconds for the whole pipeline from an empty cache, against the targets.

    python benchmarks/bench_report.py [--profile quick|full|both]

Runs ``organizing run`` in a fresh temporary cache folder (so nothing is
reused), then once more to time a warm load. Targets: the quick profile in
≤ 90 s with the book, the full profile in ≤ 5 minutes. Prints ``name value``
lines, like every benchmark here; the per-stage times come from the results.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

TARGETS = {"quick": 90.0, "full": 300.0}


def _run(profile: str) -> None:
    from organizing.pipeline import load

    with tempfile.TemporaryDirectory() as folder:
        os.environ["ORGANIZING_CACHE_DIR"] = folder
        start = time.perf_counter()
        results = load(profile=profile, progress=False, compute=True)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        load(profile=profile, progress=False, compute=True)
        warm = time.perf_counter() - start
    for stage, seconds in results.meta.timings.items():
        print(f"report_stage_seconds {profile} {stage} {seconds:.1f}")
    print(f"report_seconds_cold {profile} {cold:.1f} (target {TARGETS[profile]:.0f})")
    print(f"report_seconds_warm {profile} {warm:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", choices=("quick", "full", "both"), default="both")
    args = parser.parse_args(argv)
    for profile in ("quick", "full") if args.profile == "both" else (args.profile,):
        _run(profile)


if __name__ == "__main__":
    main()
