"""Timing of NumPyro's NUTS on the headline model, against the target, with Pyro's NUTS as anchor.

``make bench`` runs ``main([])``: on the campaign's training split (if the data
files are found without a download; simulated data of the same size otherwise)

1. NumPyro's NUTS, the headline model, 4 chains × (1,000 + 1,000), as the book
   runs it (chains in parallel, float32), on the headline design and without its
   collinear column, against the target of 25 s on 2 cores;
2. Pyro's own NUTS on the same model (the Pyro function, every worker a Bernoulli
   term) for a few iterations, one chain, as the anchor: its CPU milliseconds per
   leapfrog step against NumPyro's, and the time Pyro would need for the same run
   at NumPyro's steps per draw.

Each configuration runs in its own process (JAX's number of CPU devices and
float64 are fixed when it starts; torch runs on one thread, as for SVI), one
after the other, so both are measured in the same run under the same load.
``--designs`` (the headline design, and the same without ``Log(Mean degree)``, which
equals ``Log(No. edges) − Log(No. workers discovered)`` to 0.0035 at every worksite),
``--adaptations`` (the mass-matrix estimators of :mod:`organizing.inference.nuts`),
``--methods`` (chains in parallel, sequential or vectorized) and ``--precisions``
multiply the NumPyro runs. It prints plain ``name value`` lines, each keyed
``{model} {design} {adaptation} {method} {precision}``:

* ``nuts_seconds``: wall time, compilation included;
* ``nuts_cpu_seconds``: CPU time of all its threads (on a shared machine the
  wall time depends on the other load; CPU seconds / cores is the idle-machine time);
* ``nuts_steps_per_draw``, ``nuts_warmup_steps_per_iteration`` and ``nuts_step_size``:
  mean leapfrog steps per draw after warm-up and per warm-up iteration, and the
  adapted step sizes (machine-independent costs);
* ``nuts_cpu_ms_per_step``: CPU milliseconds per leapfrog step (warm-up and draws
  counted; compilation included in the CPU time);
* ``nuts_min_ess_bulk``, ``nuts_max_r_hat``, ``nuts_min_ess_bulk_per_cpu_second``,
  ``nuts_divergences``, and the posterior means of σ_u and τ_β;
* ``nuts_target ... seconds {s} target 25 met|missed`` (4 × (1,000 + 1,000) only);
* ``gradient_cpu_ms {design}``: CPU milliseconds of one gradient of the headline
  model's log density inside a compiled loop, on the plain (reduced) design and the
  within-between one: the cost per leapfrog step without the sampler;
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
TARGET_SECONDS = 25.0  # issue 24 (it was 60 s in issue 8)
DESIGNS = ("headline", "without-mean-degree")
COLLINEAR_COLUMN = "Log(Mean degree)"


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


def _drop_collinear(design):
    """The design without ``Log(Mean degree)`` (unchanged if it has no such column)."""
    from dataclasses import replace

    names = list(design.site_features)
    if COLLINEAR_COLUMN not in names:
        return design
    keep = [q for q, name in enumerate(names) if name != COLLINEAR_COLUMN]
    return replace(design, site_x=design.site_x[:, keep],
                   site_features=tuple(names[q] for q in keep))


def child(options) -> None:
    """One NumPyro configuration in this process; prints one JSON line."""
    start = time.perf_counter()
    from organizing.inference import nuts
    from organizing.inference.diagnostics import diagnose

    design = _design(options.real)
    if options.design == "without-mean-degree":
        design = _drop_collinear(design)
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
        adaptation=options.adaptation,
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
                "warmup_steps": float(result.warmup_steps.mean()),
                "total_steps": result.total_steps,
                "max_r_hat": diagnostics.max_r_hat,
                "sigma_u": float(result.draws["site_scale"].mean()),
                "tau_beta": float(result.draws["beta_group_scale"].mean()),
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


def gradient_child(options) -> None:
    """CPU ms of one gradient of the headline model's log density, plain and within-between.

    Both designs hold the same workers and merge them into the same number of rows
    (centring a worksite's rows keeps identical rows identical); the within-between
    design has Q + P worksite columns instead of Q. The gradient runs 2,000 times in
    one compiled loop (no Python dispatch), as inside NUTS.
    """
    import jax
    from numpyro.infer.util import initialize_model

    from organizing.data import load_campaign, locate_data
    from organizing.features import build_design, study_split, within_between
    from organizing.inference.nuts import sampler_data
    from organizing.models.numpyro_models import MODELS

    reduced = build_design(load_campaign(locate_data(download=False)), drop_reference=True)
    train, _ = study_split(reduced.n_workers)
    loops = {}
    for name, design in (("plain", reduced), ("within-between", within_between(reduced))):
        design = design.subset(train)
        data = sampler_data(design.site_x, design.worker_x, design.site_index, design.signed)
        info = initialize_model(jax.random.PRNGKey(0), MODELS["headline"],
                                model_args=data[:4], model_kwargs={"trials": data[4]})
        grad = jax.grad(info.potential_fn)

        def loop(z, grad=grad):
            def body(_, point):
                return jax.tree_util.tree_map(lambda a, b: a - 1e-6 * b, point, grad(point))
            return jax.lax.fori_loop(0, 2000, body, z)

        compiled = jax.jit(loop)
        jax.block_until_ready(compiled(info.param_info.z))
        loops[name] = (compiled, info.param_info.z, int(data[1].shape[0]),
                       int(data[0].shape[1]))
    best = {name: float("inf") for name in loops}
    for _ in range(3):  # interleaved, so that both see the same load; the best of three
        for name, (compiled, z, _, _) in loops.items():
            cpu = time.process_time()
            jax.block_until_ready(compiled(z))
            best[name] = min(best[name], (time.process_time() - cpu) / 2)
    print(json.dumps({name: {"cpu_ms": best[name], "rows": loops[name][2],
                             "site_columns": loops[name][3]} for name in loops}))


def _run(command: list[str]) -> dict:
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    from organizing.inference.nuts import ADAPTATIONS, DEFAULT_ADAPTATION

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="headline")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=DESIGNS)
    parser.add_argument("--adaptations", nargs="+", default=[DEFAULT_ADAPTATION],
                        choices=ADAPTATIONS)
    parser.add_argument("--methods", nargs="+", default=["parallel"], choices=METHODS)
    parser.add_argument("--precisions", nargs="+", default=["float32"], choices=PRECISIONS)
    parser.add_argument("--pyro-warmup", type=int, default=15,
                        help="Pyro NUTS warm-up iterations of the anchor (0 to skip the anchor)")
    parser.add_argument("--pyro-samples", type=int, default=5)
    parser.add_argument("--no-gradient", action="store_true",
                        help="skip the per-gradient cost of the two designs")
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--real", action="store_true", default=None,
                      help="the campaign's data (training split); the default when found")
    data.add_argument("--simulated", dest="real", action="store_false",
                      help="simulated data of the campaign's size")
    parser.add_argument("--child", choices=("numpyro", "pyro", "gradient"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--precision", help=argparse.SUPPRESS)
    parser.add_argument("--design", default="headline", help=argparse.SUPPRESS)
    parser.add_argument("--adaptation", default=DEFAULT_ADAPTATION, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.real is None:
        options.real = _real_data_available()
    if options.child:
        {"numpyro": child, "pyro": pyro_child, "gradient": gradient_child}[options.child](
            options)
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
    if options.real and not options.no_gradient:
        costs = _run([sys.executable, script, "--child", "gradient", *common])
        for name, cost in costs.items():
            print(f"gradient_cpu_ms {name} {cost['cpu_ms']:.4f} (rows {cost['rows']}, "
                  f"worksite columns {cost['site_columns']})")
        ratio = costs["within-between"]["cpu_ms"] / costs["plain"]["cpu_ms"]
        print(f"gradient_cpu_ratio within-between/plain {ratio:.2f}", flush=True)
    reference = None
    runs = {}
    for design in options.designs:
        for adaptation in options.adaptations:
            for precision in options.precisions:
                # chain methods are compared on the last design only (vectorized is slow)
                methods = options.methods if design == options.designs[-1] else ["parallel"]
                for method in methods:
                    run = _run([sys.executable, script, "--child", "numpyro", "--method",
                                method, "--precision", precision, "--design", design,
                                "--adaptation", adaptation, *common])
                    key = f"{options.model} {design} {adaptation} {method} {precision}"
                    runs[key] = run
                    _print_run(key, run, options)
                    if reference is None or (method, precision) == ("parallel", "float32"):
                        reference = run
    if len(options.methods) > 1:
        for method in options.methods:
            cpu = [r["cpu_seconds"] for k, r in runs.items() if k.split()[3] == method]
            print(f"nuts_chain_method_cpu_seconds {method} {sum(cpu) / len(cpu):.1f}")

    if options.pyro_warmup + options.pyro_samples == 0 or reference is None:
        return
    pyro_run = _run([sys.executable, script, "--child", "pyro", *common,
                     "--pyro-warmup", str(options.pyro_warmup),
                     "--pyro-samples", str(options.pyro_samples)])
    pyro_ms = 1000 * pyro_run["cpu_seconds"] / pyro_run["steps"]
    numpyro_ms = 1000 * reference["cpu_seconds"] / reference["total_steps"]
    cores = os.cpu_count() or 1
    print(f"pyro_nuts_iterations {options.model} {pyro_run['iterations']}")
    print(f"pyro_nuts_steps {options.model} {pyro_run['steps']}")
    print(f"pyro_nuts_seconds {options.model} {pyro_run['seconds']:.1f}")
    print(f"pyro_nuts_cpu_ms_per_step {options.model} {pyro_ms:.2f}")
    print(f"pyro_over_numpyro_cpu_per_step {options.model} {pyro_ms / numpyro_ms:.1f}")
    print(f"pyro_nuts_projected_seconds {options.model} "
          f"{pyro_ms * reference['total_steps'] / 1000 / cores:.0f}"
          f" (NumPyro's run: {reference['seconds']:.0f})", flush=True)


def _print_run(key: str, run: dict, options) -> None:
    cpu = run["cpu_seconds"]
    print(f"nuts_seconds {key} {run['seconds']:.1f}"
          f" (devices {run['devices']}, ran as {run['method']})")
    print(f"nuts_cpu_seconds {key} {cpu:.1f}")
    print(f"nuts_steps_per_draw {key} {run['steps']:.1f}")
    print(f"nuts_warmup_steps_per_iteration {key} {run['warmup_steps']:.1f}")
    print(f"nuts_step_size {key} " + " ".join(f"{s:.4f}" for s in run["step_size"]))
    print(f"nuts_cpu_ms_per_step {key} {1000 * cpu / run['total_steps']:.4f}")
    print(f"nuts_min_ess_bulk {key} {run['min_ess_bulk']:.0f}")
    print(f"nuts_max_r_hat {key} {run['max_r_hat']:.4f}")
    print(f"nuts_min_ess_bulk_per_cpu_second {key} {run['min_ess_bulk'] / cpu:.2f}")
    print(f"nuts_divergences {key} {run['divergences']}")
    print(f"nuts_posterior_means {key} sigma_u {run['sigma_u']:.3f} tau_beta "
          f"{run['tau_beta']:.3f}", flush=True)
    if (options.chains, options.warmup, options.samples) == (4, 1000, 1000):
        verdict = "met" if run["seconds"] <= TARGET_SECONDS else "missed"
        idle = cpu / (os.cpu_count() or 1)
        print(f"nuts_target {key} seconds {run['seconds']:.1f} (CPU / cores {idle:.1f}) "
              f"target {TARGET_SECONDS:.0f} {verdict}")


if __name__ == "__main__":
    main()
