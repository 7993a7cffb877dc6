"""Speed of the experiment planner (organizing.planning) at the campaign's size.

One design point is 2,000 simulated trials of 40 worksites × 130 workers; the goal
is <= 5 s on 2 cores. The planner draws binomial counts per worksite-arm (with the
worker-level part integrated out by quadrature), so it is compared with a
straightforward per-worker reference: Bernoulli draws for every worker, in chunks
of trials, then the same cluster t-test.

Run: ``.venv/bin/python benchmarks/bench_planning.py [--repeats 3]`` (about 15 s).
Prints, e.g. (2 cores)::

    planning_seconds power worksite worker_sd=0 0.039 (target 5)
    planning_seconds power worker worker_sd=0.8 0.080 (target 5)
    planning_within_target True (slowest 0.084 s)
    planning_seconds per_worker_reference worksite worker_sd=0.8 0.346
    planning_speed_ratio per_worker_reference/counts 6.7
    planning_seconds power_curve 2 designs x 10 effects x 12 n_sites 3.252
    planning_seconds minimum_detectable_effect worker 0.722
    planning_seconds plan worker (max_sites 400) 2.042
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from scipy import special

from organizing import planning as pl

SITES, WORKERS, SIMS, TARGET_SECONDS = 40, 130, 2000, 5.0


def posterior(worker_sd: float, draws: int = 4000, seed: int = 0) -> pl.Population:
    """Posterior-like draws around the campaign's numbers (logit −1.6, σ_u 1.2)."""
    rng = np.random.default_rng(seed)
    return pl.Population(
        baseline_logit=rng.normal(-1.6, 0.1, draws),
        site_sd=np.abs(rng.normal(1.2, 0.1, draws)),
        worker_sd=np.full(draws, worker_sd),
    )


def templated(draws: int = 600, templates: int = 120, k: int = pl.WORKER_OFFSETS,
              seed: int = 0) -> pl.Population:
    """Like :func:`organizing.planning.population_from_draws` on the campaign: worksite
    templates with K worker-part group means each (the real population's shape), and
    store sizes like the campaign's (log-normal, 11 to about 950, cv about 1)."""
    rng = np.random.default_rng(seed)
    sizes = np.clip(np.round(np.exp(rng.normal(4.5, 0.85, templates))), 11, 946).astype(int)
    return pl.Population(
        baseline_logit=rng.normal(-2.4, 0.1, draws),
        site_sd=np.abs(rng.normal(1.2, 0.1, draws)),
        worker_sd=0.0,
        site_offsets=rng.normal(0.0, 1.5, (draws, templates)),
        worker_offsets=np.sort(rng.normal(0.0, 3.5, (draws, templates, k)), axis=-1),
        site_sizes=sizes,
    )


def per_worker_reference(population, delta, sims=SIMS, chunk=250, seed=0) -> float:
    """Power of the worksite design from per-worker Bernoulli draws (chunks of trials)."""
    rng = np.random.default_rng(seed)
    treated = np.arange(SITES) % 2 == 1
    rejections = 0
    for start in range(0, sims, chunk):
        size = min(chunk, sims - start)
        d = rng.integers(0, population.draws, size)
        u = population.site_sd[d, None] * rng.standard_normal((size, SITES))
        eta = population.baseline_logit[d, None] + u + delta * treated  # (t, s)
        e = population.worker_sd[d, None, None] * rng.standard_normal((size, SITES, WORKERS))
        y = rng.random((size, SITES, WORKERS)) < special.expit(eta[..., None] + e)
        props = y.mean(-1)
        _, p = pl.cluster_t_test(props[:, treated], props[:, ~treated])
        rejections += int(np.sum(p < 0.05))
    return rejections / sims


def seconds(fn, repeats: int) -> float:
    """Median wall time of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args(argv)
    repeats = options.repeats
    print(f"data trials {SIMS} sites {SITES} workers {WORKERS} draws 4000 cores {os.cpu_count()}")

    worst = 0.0
    for worker_sd in (0.0, 0.8):
        population = posterior(worker_sd)
        for design in pl.DESIGNS:
            took = seconds(
                lambda p=population, d=design: pl.power(p, d, SITES, WORKERS, effect=0.05),
                repeats,
            )
            worst = max(worst, took)
            print(
                f"planning_seconds power {design} worker_sd={worker_sd:g} {took:.3f} "
                f"(target {TARGET_SECONDS:g})"
            )
    population = templated()
    for design in pl.DESIGNS:
        took = seconds(
            lambda p=population, d=design: pl.power(p, d, SITES, WORKERS, effect=0.05), repeats
        )
        worst = max(worst, took)
        print(f"planning_seconds power {design} templates {took:.3f} (target {TARGET_SECONDS:g})")
        took = seconds(lambda p=population, d=design: pl.power(p, d, SITES, effect=0.05),
                       repeats)
        worst = max(worst, took)
        print(f"planning_seconds power {design} templates, unequal sizes {took:.3f} "
              f"(target {TARGET_SECONDS:g})")
    print(f"planning_within_target {worst <= TARGET_SECONDS} (slowest {worst:.3f} s)")
    cases = [("worksite", pl.Options(match=m, adjust=a)) for m, a in
             (("none", False), ("size", False), ("rate", False), ("none", True))]
    cases += [("worker", pl.Options(contamination=c)) for c in (0.0, 0.25, 0.5)]
    took = seconds(lambda: pl.mde_grid(population, cases, [40, 80]), 1)
    print(f"planning_seconds mde_grid {len(cases)} options x 2 sizes, unequal sizes {took:.3f}")

    population = posterior(0.8)
    delta = pl.treatment_effect(population, effect=0.05).log_odds_ratio
    took = seconds(lambda: per_worker_reference(population, delta), 1)
    ours = seconds(lambda: pl.power(population, "worksite", SITES, WORKERS, effect=0.05), repeats)
    print(f"planning_seconds per_worker_reference worksite worker_sd=0.8 {took:.3f}")
    print(f"planning_speed_ratio per_worker_reference/counts {took / ours:.1f}")

    sizes, effects = list(range(10, 121, 10)), [round(0.01 * k, 2) for k in range(1, 11)]
    took = seconds(lambda: pl.power_curve(population, sizes, effects, WORKERS), 1)
    print(
        f"planning_seconds power_curve 2 designs x {len(effects)} effects x "
        f"{len(sizes)} n_sites {took:.3f}"
    )
    for design in pl.DESIGNS:
        took = seconds(
            lambda d=design: pl.minimum_detectable_effect(population, d, SITES, WORKERS), 1
        )
        print(f"planning_seconds minimum_detectable_effect {design} {took:.3f}")
        took = seconds(lambda d=design: pl.plan(population, d, SITES, WORKERS, effect=0.05), 1)
        print(f"planning_seconds plan {design} (max_sites 400) {took:.3f}")


if __name__ == "__main__":
    main()
