"""Speed of the vectorized Gibbs mixture sampler against a per-point loop reference.

The reference below is the straightforward implementation of the same
algorithm, written the way the study wrote its sampler: per point and per
component, ``scipy.stats.norm.logpdf``, one categorical draw per point, then
one conjugate update per component; the log joint is one vectorized
``logpdf`` call per sweep. (Unlike the study it uses log pi_k.)

Run: ``.venv/bin/python benchmarks/bench_clustering.py [--repeats 3]``. Prints::

    gibbs_seconds loop 5.10
    gibbs_seconds vectorized 0.041
    speed_ratio 124
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from scipy.stats import dirichlet, norm

from organizing.clustering import gibbs_mixture

N_POINTS, N_FEATURES, N_ITER = 120, 7, 400
SETTINGS = {"K": 2, "sigma": 1e-4, "eta": 0.1, "alpha0": 1.0}


def gibbs_mixture_loop(x, *, K, sigma, eta=0.1, alpha0=1.0, n_iter=400, seed=0):
    """One chain of the fixed-sigma mixture sampler with explicit per-point loops.

    Returns (z, mu, pi, log_joint) with shapes (iters, n), (iters, K, d), (iters, K), (iters,).
    """
    rng = np.random.default_rng(seed)
    n, d = x.shape
    z = rng.integers(0, K, size=n)
    mu = x[rng.integers(0, n, size=K)].copy()
    pi = rng.dirichlet(np.ones(K))
    z_draws = np.empty((n_iter, n), dtype=int)
    mu_draws = np.empty((n_iter, K, d))
    pi_draws = np.empty((n_iter, K))
    log_joint = np.empty(n_iter)
    for it in range(n_iter):
        for i in range(n):
            log_p = np.array(
                [np.log(pi[k]) + norm.logpdf(x[i], loc=mu[k], scale=sigma).sum() for k in range(K)]
            )
            p = np.exp(log_p - log_p.max())
            z[i] = rng.choice(K, p=p / p.sum())
        counts = np.zeros(K)
        for k in range(K):
            members = x[z == k]
            counts[k] = len(members)
            precision = counts[k] / sigma**2 + 1 / eta**2
            mean = members.sum(0) / sigma**2 / precision if len(members) else np.zeros(d)
            mu[k] = rng.normal(mean, 1 / np.sqrt(precision))
        pi = rng.dirichlet(alpha0 + counts)
        total = dirichlet.logpdf(np.maximum(pi, 1e-300), alpha0 * np.ones(K))
        for k in range(K):
            total += norm.logpdf(mu[k], loc=0, scale=eta).sum()
        total += np.log(pi[z]).sum() + norm.logpdf(x, loc=mu[z], scale=sigma).sum()
        z_draws[it], mu_draws[it], pi_draws[it], log_joint[it] = z, mu, pi, total
    return z_draws, mu_draws, pi_draws, log_joint


def _median_seconds(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each timing")
    args = parser.parse_args(argv)

    # Vectors at the scale of the published coefficients (std ~0.006), as the study ran.
    x = 0.006 * np.random.default_rng(0).standard_normal((N_POINTS, N_FEATURES))
    loop = _median_seconds(lambda: gibbs_mixture_loop(x, n_iter=N_ITER, **SETTINGS), args.repeats)
    gibbs_mixture(x, n_iter=N_ITER, n_chains=1, **SETTINGS)  # warm-up
    vectorized = _median_seconds(
        lambda: gibbs_mixture(x, n_iter=N_ITER, n_chains=1, **SETTINGS), max(args.repeats, 5)
    )
    print(f"gibbs_shape {N_POINTS}x{N_FEATURES} iterations {N_ITER} chains 1")
    print(f"gibbs_seconds loop {loop:.2f}")
    print(f"gibbs_seconds vectorized {vectorized:.4f}")
    print(f"speed_ratio {loop / vectorized:.0f}")


if __name__ == "__main__":
    main()
