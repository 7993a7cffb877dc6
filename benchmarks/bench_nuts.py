"""Timing of NumPyro's NUTS: chain methods and float32/float64, on data of the real size.

Run ``python benchmarks/bench_nuts.py`` (about 5-10 minutes on 2 cores with the
defaults; ``--warmup 1000 --samples 1000 --real`` times the book's setting on the
campaign data). Each configuration runs in its own process, because the number
of JAX CPU devices and float64 are fixed when JAX starts. It prints plain
``name value`` lines:

* ``nuts_seconds {model} {chain_method} {float32|float64}``: wall time of
  4 chains × (warmup + samples), compilation included;
* ``nuts_cpu_seconds ...``: CPU time of all its threads (on a shared machine the
  wall time depends on the other load; CPU seconds / cores is the idle-machine time);
* ``nuts_steps_per_draw ...``: mean leapfrog steps per draw after warm-up;
* ``nuts_min_ess_bulk_per_second ...``: the smallest bulk ESS of any quantity per second;
* ``nuts_fastest_chain_method {precision} {method}`` for each precision.

The data are simulated with ``organizing.simulate`` (120 worksites, 16,335
workers, the campaign's feature distributions), or the campaign's own training
split with ``--real``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

METHODS = ("parallel", "sequential", "vectorized")
PRECISIONS = ("float32", "float64")


def _design(real: bool):
    from organizing.features import build_design, study_split

    if real:
        from organizing.data import load_campaign, locate_data

        campaign = load_campaign(locate_data())
    else:
        import tempfile

        from organizing.data import load_campaign
        from organizing.simulate import simulate_campaign

        simulated = simulate_campaign(n_sites=120, n_workers=16_335, seed=2024)
        with tempfile.TemporaryDirectory() as directory:
            simulated.write(directory)
            campaign = load_campaign(directory)
    design = build_design(campaign, drop_reference=True)
    train, _ = study_split(design.n_workers)
    return design.subset(train)


def child(options) -> None:
    """One configuration in this process; prints one JSON line."""
    start = time.perf_counter()
    from organizing.inference import nuts
    from organizing.inference.diagnostics import diagnose

    design = _design(options.real)
    cpu_start = time.process_time()
    result = nuts.run_nuts(
        options.model,
        design.site_x,
        design.worker_x,
        design.site_index,
        design.signed,
        chains=options.chains,
        warmup=options.warmup,
        samples=options.samples,
        chain_method=options.method,
        x64=options.precision == "float64",
        seed=0,
    )
    cpu_seconds = time.process_time() - cpu_start  # every thread of this process
    diagnostics = diagnose(result)
    print(
        json.dumps(
            {
                "seconds": result.seconds,
                "cpu_seconds": cpu_seconds,
                "steps": float(result.num_steps.mean()),
                "min_ess_bulk": diagnostics.min_ess_bulk,
                "divergences": diagnostics.divergences,
                "method": result.settings.chain_method,
                "devices": result.settings.devices,
                "x64": result.settings.x64,
                "process_seconds": time.perf_counter() - start,
            }
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="headline")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    parser.add_argument("--real", action="store_true", help="the campaign's data (training split)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--precision", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        child(options)
        return

    print(
        f"data {'campaign' if options.real else 'simulated'} model {options.model} "
        f"chains {options.chains} warmup {options.warmup} samples {options.samples} "
        f"cores {os.cpu_count()}",
        flush=True,
    )
    fastest: dict[str, tuple[float, str]] = {}
    for precision in options.precisions:
        for method in options.methods:
            command = [
                sys.executable, os.path.abspath(__file__), "--child",
                "--method", method, "--precision", precision, "--model", options.model,
                "--chains", str(options.chains), "--warmup", str(options.warmup),
                "--samples", str(options.samples), *(["--real"] if options.real else []),
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            run = json.loads(done.stdout.strip().splitlines()[-1])
            key = f"{options.model} {method} {precision}"
            print(f"nuts_seconds {key} {run['seconds']:.1f}"
                  f" (devices {run['devices']}, ran as {run['method']})")
            print(f"nuts_cpu_seconds {key} {run['cpu_seconds']:.1f}")
            print(f"nuts_steps_per_draw {key} {run['steps']:.1f}")
            print(f"nuts_min_ess_bulk_per_second {key} {run['min_ess_bulk'] / run['seconds']:.1f}")
            print(f"nuts_divergences {key} {run['divergences']}", flush=True)
            if precision not in fastest or run["seconds"] < fastest[precision][0]:
                fastest[precision] = (run["seconds"], method)
    for precision, (_, method) in fastest.items():
        print(f"nuts_fastest_chain_method {precision} {method}")


if __name__ == "__main__":
    main()
