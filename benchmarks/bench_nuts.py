"""Timing of NumPyro's NUTS on the headline model, against the target, with Pyro's NUTS as anchor.

``make bench`` runs ``main([])``: on the campaign's training split (if the data
files are found without a download; simulated data of the same size otherwise)

1. NumPyro's NUTS, the headline model, 4 chains × (1,000 + 1,000), as the book
   runs it (chains in parallel, float32), against the target of 60 s on 2 cores;
2. Pyro's own NUTS on the same model (the Pyro function, every worker a Bernoulli
   term) for a few iterations, one chain, as the anchor: its CPU milliseconds per
   leapfrog step against NumPyro's, and the time Pyro would need for the same run
   at NumPyro's steps per draw.

Each configuration runs in its own process (JAX's number of CPU devices and
float64 are fixed when it starts; torch runs on one thread, as for SVI), one
after the other, so both are measured in the same run under the same load.
``--methods`` and ``--precisions`` add chain methods and float64 to the NumPyro
runs. It prints plain ``name value`` lines:

* ``nuts_seconds {model} {method} {precision}``: wall time, compilation included;
* ``nuts_cpu_seconds ...``: CPU time of all its threads (on a shared machine the
  wall time depends on the other load; CPU seconds / cores is the idle-machine time);
* ``nuts_steps_per_draw ...`` and ``nuts_step_size ...``: mean leapfrog steps per
  draw after warm-up and the adapted step sizes (machine-independent costs);
* ``nuts_cpu_ms_per_step ...``: CPU milliseconds per leapfrog step and chain
  (post-warm-up steps per draw stand in for the warm-up's);
* ``nuts_min_ess_bulk_per_second ...``, ``nuts_divergences ...``;
* ``nuts_target {model} seconds {s} target 60 met|missed``;
* ``pyro_nuts_*``: the anchor's iterations, steps, seconds and CPU ms per step,
  ``pyro_over_numpyro_cpu_per_step`` and ``pyro_nuts_projected_seconds`` (Pyro's
  CPU per step × NumPyro's steps of the whole run / the cores).
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
#: Seconds allowed for the headline model, 4 chains × (1,000 + 1,000), on 2 cores (issue 8).
TARGET_SECONDS = 60.0


def _real_data_available() -> bool:
    from organizing.data import locate_data
    from organizing.data.io import DataError

    try:
        locate_data(download=False)
    except DataError:
        return False
    return True


def _design(real: bool):
    from organizing.features import headline_design, study_split

    if real:
        from organizing.data import load_campaign, locate_data

        campaign = load_campaign(locate_data(download=False))
    else:
        import tempfile

        from organizing.data import load_campaign
        from organizing.simulate import simulate_campaign

        simulated = simulate_campaign(n_sites=120, n_workers=16_335, seed=2024)
        with tempfile.TemporaryDirectory() as directory:
            simulated.write(directory)
            campaign = load_campaign(directory)
    design = headline_design(campaign)
    train, _ = study_split(design.n_workers)
    return design.subset(train)


def child(options) -> None:
    """One NumPyro configuration in this process; prints one JSON line."""
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
                "step_size": [float(s) for s in result.step_size],
                "min_ess_bulk": diagnostics.min_ess_bulk,
                "divergences": diagnostics.divergences,
                "method": result.settings.chain_method,
                "devices": result.settings.devices,
                "x64": result.settings.x64,
                "process_seconds": time.perf_counter() - start,
            }
        )
    )


def pyro_child(options) -> None:
    """Pyro's NUTS on the same model for a few iterations, one chain; prints one JSON line.

    Leapfrog steps are counted as calls of the potential energy's gradient.
    """
    import pyro
    import torch
    from pyro.infer.mcmc import MCMC, NUTS
    from pyro.infer.mcmc.util import initialize_model

    from organizing.models.pyro_models import MODELS

    torch.set_num_threads(1)
    design = _design(options.real)
    args = design.tensors()
    pyro.set_rng_seed(0)
    init, potential, transforms, _ = initialize_model(MODELS[options.model], model_args=args)
    calls = [0]

    def counted(params):
        calls[0] += 1
        return potential(params)

    kernel = NUTS(potential_fn=counted, transforms=transforms, target_accept_prob=0.9,
                  max_tree_depth=10, jit_compile=False)
    mcmc = MCMC(kernel, num_samples=options.pyro_samples, warmup_steps=options.pyro_warmup,
                initial_params=init, num_chains=1, disable_progbar=True)
    cpu_start, start = time.process_time(), time.perf_counter()
    mcmc.run()
    print(json.dumps({
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu_start,
        "steps": calls[0],
        "iterations": options.pyro_warmup + options.pyro_samples,
    }))


def _run(command: list[str]) -> dict:
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="headline")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--methods", nargs="+", default=["parallel"], choices=METHODS)
    parser.add_argument("--precisions", nargs="+", default=["float32"], choices=PRECISIONS)
    parser.add_argument("--pyro-warmup", type=int, default=15,
                        help="Pyro NUTS warm-up iterations of the anchor (0 to skip the anchor)")
    parser.add_argument("--pyro-samples", type=int, default=5)
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--real", action="store_true", default=None,
                      help="the campaign's data (training split); the default when found")
    data.add_argument("--simulated", dest="real", action="store_false",
                      help="simulated data of the campaign's size")
    parser.add_argument("--child", choices=("numpyro", "pyro"), help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--precision", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.real is None:
        options.real = _real_data_available()
    if options.child == "numpyro":
        child(options)
        return
    if options.child == "pyro":
        pyro_child(options)
        return

    print(
        f"data {'campaign' if options.real else 'simulated'} model {options.model} "
        f"chains {options.chains} warmup {options.warmup} samples {options.samples} "
        f"cores {os.cpu_count()}",
        flush=True,
    )
    script = os.path.abspath(__file__)
    common = ["--model", options.model, "--chains", str(options.chains),
              "--warmup", str(options.warmup), "--samples", str(options.samples),
              "--real" if options.real else "--simulated"]
    fastest: dict[str, tuple[float, str]] = {}
    reference = None
    for precision in options.precisions:
        for method in options.methods:
            run = _run([sys.executable, script, "--child", "numpyro", "--method", method,
                        "--precision", precision, *common])
            key = f"{options.model} {method} {precision}"
            total_steps = options.chains * (options.warmup + options.samples) * run["steps"]
            print(f"nuts_seconds {key} {run['seconds']:.1f}"
                  f" (devices {run['devices']}, ran as {run['method']})")
            print(f"nuts_cpu_seconds {key} {run['cpu_seconds']:.1f}")
            print(f"nuts_steps_per_draw {key} {run['steps']:.1f}")
            print(f"nuts_step_size {key} " + " ".join(f"{s:.4f}" for s in run["step_size"]))
            print(f"nuts_cpu_ms_per_step {key} {1000 * run['cpu_seconds'] / total_steps:.3f}")
            print(f"nuts_min_ess_bulk_per_second {key} {run['min_ess_bulk'] / run['seconds']:.1f}")
            print(f"nuts_divergences {key} {run['divergences']}", flush=True)
            if (options.chains, options.warmup, options.samples) == (4, 1000, 1000):
                verdict = "met" if run["seconds"] <= TARGET_SECONDS else "missed"
                print(f"nuts_target {key} seconds {run['seconds']:.1f} "
                      f"target {TARGET_SECONDS:.0f} {verdict}")
            if precision not in fastest or run["seconds"] < fastest[precision][0]:
                fastest[precision] = (run["seconds"], method)
            if (method, precision) == ("parallel", "float32") or reference is None:
                reference = (run, total_steps)
    if len(options.methods) > 1:
        for precision, (_, method) in fastest.items():
            print(f"nuts_fastest_chain_method {precision} {method}")

    if options.pyro_warmup + options.pyro_samples == 0 or reference is None:
        return
    pyro_run = _run([sys.executable, script, "--child", "pyro", *common,
                     "--pyro-warmup", str(options.pyro_warmup),
                     "--pyro-samples", str(options.pyro_samples)])
    run, total_steps = reference
    pyro_ms = 1000 * pyro_run["cpu_seconds"] / pyro_run["steps"]
    numpyro_ms = 1000 * run["cpu_seconds"] / total_steps
    cores = os.cpu_count() or 1
    print(f"pyro_nuts_iterations {options.model} {pyro_run['iterations']}")
    print(f"pyro_nuts_steps {options.model} {pyro_run['steps']}")
    print(f"pyro_nuts_seconds {options.model} {pyro_run['seconds']:.1f}")
    print(f"pyro_nuts_cpu_ms_per_step {options.model} {pyro_ms:.2f}")
    print(f"pyro_over_numpyro_cpu_per_step {options.model} {pyro_ms / numpyro_ms:.1f}")
    print(f"pyro_nuts_projected_seconds {options.model} {pyro_ms * total_steps / 1000 / cores:.0f}"
          f" (NumPyro's run: {run['seconds']:.0f})", flush=True)


if __name__ == "__main__":
    main()
