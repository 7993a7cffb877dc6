"""Timing of the model formulations and of inference, on simulated data of the real size.

Run ``python benchmarks/bench_model.py`` (about 3-5 minutes on 2 cores). It prints
plain ``name value`` lines:

* ``svi_step_ms {published_literal,published,corrected}``: median ms per SVI step
  (AutoNormal, Trace_ELBO) for the study's N×N formula, its O(N·P) equivalent and
  the corrected model;
* ``svi_seconds_to_convergence corrected`` and ``svi_steps_to_convergence corrected``;
* NUTS is timed in ``bench_nuts.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import pyro
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.infer.autoguide import AutoNormal

from organizing.inference.svi import fit_svi
from organizing.models.pyro_models import corrected_model, published_logits_literal, published_model

NUM_SITES, NUM_SITE_FEATURES, NUM_WORKER_FEATURES, NUM_WORKERS = 120, 18, 7, 13_068


def simulate_data(seed: int = 2024, num_workers: int = NUM_WORKERS):
    """Standardized features and outcomes drawn from the corrected model (τ_b = 1, τ_β = 0.5)."""
    generator = torch.Generator().manual_seed(seed)
    site_x = torch.randn(NUM_SITES, NUM_SITE_FEATURES, generator=generator)
    site_x = (site_x - site_x.mean(0)) / site_x.std(0)
    worker_x = torch.randn(num_workers, NUM_WORKER_FEATURES, generator=generator)
    worker_x = (worker_x - worker_x.mean(0)) / worker_x.std(0)
    site_index = torch.randint(0, NUM_SITES, (num_workers,), generator=generator)
    pyro.set_rng_seed(seed)
    truth = {"beta_individual_scale": torch.tensor(1.0), "beta_group_scale": torch.tensor(0.5)}
    y = pyro.condition(corrected_model, data=truth)(site_x, worker_x, site_index)
    return site_x, worker_x, site_index, y


def literal_published_model(site_x, worker_x, site_index, y=None):
    """The published model with the study's N×N logits (benchmark only)."""
    tau_b = pyro.sample("beta_individual_scale", pyro.distributions.HalfCauchy(5.0))
    tau_group = pyro.sample("beta_group_scale", pyro.distributions.HalfCauchy(5.0))
    normal = pyro.distributions.Normal
    beta_group = pyro.sample(
        "beta_group", normal(0.0, tau_group).expand([site_x.shape[1]]).to_event(1)
    )
    alpha = pyro.sample("alpha_mean", normal(0.0, tau_group))
    with pyro.plate("worksite", site_x.shape[0]):
        beta_individual = pyro.sample(
            "beta_individual", normal(0.0, tau_b).expand([worker_x.shape[1]]).to_event(1)
        )
    logits = published_logits_literal(
        alpha, beta_group, beta_individual, site_x, worker_x, site_index
    )
    with pyro.plate("worker", worker_x.shape[0]):
        pyro.sample("y", pyro.distributions.Bernoulli(logits=logits), obs=y)


def svi_step_ms(model, args, steps: int) -> float:
    """Median wall time of one SVI step (after two warm-up steps), in ms."""
    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    svi = SVI(model, AutoNormal(model), pyro.optim.Adam({"lr": 0.015}), loss=Trace_ELBO())
    times = []
    for step in range(steps + 2):
        start = time.perf_counter()
        svi.step(*args)
        if step >= 2:
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--literal-steps", type=int, default=8)
    parser.add_argument("--steps", type=int, default=100)
    options = parser.parse_args(argv)

    args = simulate_data()
    print(
        f"data workers {args[1].shape[0]} sites {NUM_SITES} Q {NUM_SITE_FEATURES} "
        f"P {NUM_WORKER_FEATURES} cores {os.cpu_count()} torch_threads {torch.get_num_threads()}"
    )
    print(
        f"svi_step_ms published_literal "
        f"{svi_step_ms(literal_published_model, args, options.literal_steps):.1f}"
    )
    print(f"svi_step_ms published {svi_step_ms(published_model, args, options.steps):.1f}")
    print(f"svi_step_ms corrected {svi_step_ms(corrected_model, args, options.steps):.1f}")

    fit = fit_svi("corrected", args, seed=0, progress=False)
    print(f"svi_seconds_to_convergence corrected {fit.seconds:.1f}")
    print(f"svi_steps_to_convergence corrected {fit.steps} converged {fit.converged}")
    # NUTS (NumPyro against Pyro's own NUTS) is timed in bench_nuts.py.

if __name__ == "__main__":
    main()
