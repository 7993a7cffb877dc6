r"""Simulation-based calibration (SBC) of the headline model with NumPyro's NUTS.

SBC (Talts et al. 2018, arXiv:1804.06788; Modrák et al. 2023, *Bayesian Analysis*)
checks a model's code and its sampler together. Draw a parameter from the prior and
data from the model given that parameter, :math:`\tilde θ \sim p(θ)`,
:math:`\tilde y \sim p(y \mid \tilde θ)`; then :math:`\tilde θ` is a draw from the
posterior :math:`p(θ \mid \tilde y)`. If :math:`θ_1, \dots, θ_L` are independent
draws from that posterior, the rank of the true value of a scalar :math:`f(θ)`,

.. math::

    r = \#\{\,l : f(θ_l) < f(\tilde θ)\,\} \in \{0, 1, \dots, L\},

is uniform on :math:`\{0, \dots, L\}` over replications. A sampler or a model whose
posterior is shifted gives a lopsided rank histogram; one that is too narrow gives
a ∪ shape, too wide a ∩ shape. By the same argument the central :math:`100c\,\%`
posterior interval contains :math:`f(\tilde θ)` in a share :math:`c` of the
replications.

Each replication here (:func:`simulation_based_calibration`):

1. **Design.** A campaign of S worksites with M workers each (N = S·M, worker i at
   worksite ⌊i/M⌋). Worksite features :math:`x_s \in \mathbb{R}^Q` are independent
   standard normals; worker feature 0 is a binary indicator with share 0.3 (like one
   level of a one-hot group), the others standard normals. Every column is then
   standardized over its rows (mean 0, sd 1), as the analysis standardizes the
   campaign's features (:func:`simulate_design`).
2. **Truth and data.** Every latent site of
   :func:`organizing.models.numpyro_models.headline` is drawn from its prior and
   ``y`` from its likelihood by running the model itself (``y=None``) under a seed
   handler: the calibrated code is the book's model, not a copy.
3. **Posterior.** One NUTS chain on the simulated ``y`` with the book's sampler
   settings (:func:`~organizing.inference.nuts.run_nuts`): ``warmup`` iterations
   adapting the step size (target acceptance ``target_accept``) and the mass matrix
   (a dense block for the worksite coefficients, :data:`~organizing.inference.nuts.DENSE_MASS`,
   estimated as :data:`~organizing.inference.nuts.DEFAULT_ADAPTATION` says), then
   ``samples`` draws; initial values uniform on (-2, 2) in the unconstrained space
   (NumPyro's default).
4. **Ranks and coverage** of :func:`monitored_parameters` (:func:`calibration_tables`).

**Thinning.** Ranks are over near-independent draws: every ``thin``-th of the
``samples`` draws, giving L = ⌊samples / thin⌋ draws, so ranks run 0..L. By
default (``thin=None``) the stride comes from the bulk effective sample size
(ArviZ's rank-normalized ESS of each monitored parameter in each replication):
with :math:`E_r = \min_k \mathrm{ESS}_{rk}` the worst parameter of replication r and
:math:`E` the lower decile of :math:`E_1, \dots, E_R`, the stride is
:math:`\lceil \text{samples} / E \rceil`, so that L ≤ ESS in at least 90% of the
replications (:func:`choose_thinning`). The lower decile rather than the minimum
keeps one stuck chain from reducing every replication's ranks to a handful of
values; ``diagnostics`` flags the replications whose ESS is below L. The
interval coverage uses all ``samples`` draws (quantiles need many draws, not
independent ones).

**Speed.** The replication (prior draw, simulation, warm-up and sampling) is one
JAX function, compiled once per configuration (shapes, warm-up, draws, target) and
reused for every replication and every later call in the process. Replications run
side by side, one per CPU device (``jax.pmap`` over min(devices, cores) devices):
on 2 cores that was 1.8× faster than one replication at a time, while a vectorized
(``vmap``) form was about 2.5× slower per replication, since each vectorized NUTS
step waits for the longest trajectory. The cost is the model's gradient (about
0.1 ms for 1,800 workers) times ~40 leapfrog steps per iteration: 30 worksites × 60
workers with 300 + 300 iterations took about 2.2 s per replication on a busy
2-core machine, plus 15-30 s of compilation (``benchmarks/bench_calibration.py``).

The rank, coverage and uniformity functions (:func:`rank_statistics`,
:func:`interval_coverage`, :func:`calibration_tables`, :func:`uniformity_test`,
:func:`rank_histogram`) are pure numpy and pandas, and can be checked on synthetic
posteriors without NUTS.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from numpyro import handlers
from numpyro.infer.hmc import hmc
from numpyro.infer.util import constrain_fn, potential_energy
from scipy import stats

# Importing nuts asks XLA for one CPU device per core (before JAX's backend starts;
# importing jax does not start it).
from organizing.inference import nuts as _nuts
from organizing.inference.adaptation import adapting
from organizing.models.numpyro_models import headline

#: Share of workers with the binary worker feature (feature 0) in the simulated design.
BINARY_SHARE = 0.3
#: Number of worksite coefficients β_q monitored (the first ones).
MONITORED_GROUP_COEFFICIENTS = 2
#: Quantile over replications of each one's minimum ESS (see :func:`choose_thinning`).
ESS_QUANTILE = 0.1
#: Central interval levels whose coverage is recorded.
COVERAGE_LEVELS = (0.5, 0.9)
#: At most this many bins in the uniformity test; at least this many expected ranks per bin.
MAX_BINS, MIN_EXPECTED_PER_BIN = 20, 5


# --------------------------------------------------------------------- design


def monitored_parameters(num_site_features: int, num_worker_features: int) -> tuple[str, ...]:
    r"""Names of the scalars whose ranks are computed, in order.

    α (``alpha``), σ_u (``site_scale``), τ_β (``beta_group_scale``), every
    :math:`μ_{b,p}` (``beta_individual_mean[p]``, p < P) and the first two worksite
    coefficients :math:`β_0, β_1` (``beta_group[q]``, q < min(2, Q)).
    """
    names = ["alpha", "site_scale", "beta_group_scale"]
    names += [f"beta_individual_mean[{p}]" for p in range(num_worker_features)]
    names += [
        f"beta_group[{q}]" for q in range(min(MONITORED_GROUP_COEFFICIENTS, num_site_features))
    ]
    return tuple(names)


def _monitored_vector(values, num_site_features: int) -> jnp.ndarray:
    """The monitored scalars of one draw of the headline model's sites, as one vector."""
    return jnp.concatenate(
        [
            jnp.reshape(values["alpha"], (1,)),
            jnp.reshape(values["site_scale"], (1,)),
            jnp.reshape(values["beta_group_scale"], (1,)),
            values["beta_individual_mean"],
            values["beta_group"][: min(MONITORED_GROUP_COEFFICIENTS, num_site_features)],
        ]
    )


def _standardize(a: np.ndarray) -> np.ndarray:
    sd = a.std(0)
    return (a - a.mean(0)) / np.where(sd > 0, sd, 1.0)


def simulate_design(
    rng: np.random.Generator,
    sites: int,
    workers_per_site: int,
    num_site_features: int,
    num_worker_features: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""One simulated campaign's features: ``(site_x (S, Q), worker_x (N, P), site_index (N,))``.

    :math:`x_{sq} \sim \mathcal{N}(0, 1)`; :math:`z_{i0} \sim \mathrm{Bernoulli}(0.3)`
    (:data:`BINARY_SHARE`), :math:`z_{ip} \sim \mathcal{N}(0, 1)` for p ≥ 1; each
    column is then standardized, :math:`(a - \bar a) / \mathrm{sd}(a)` (a constant
    column is only centred). Worker i works at worksite ⌊i / M⌋.
    """
    num_workers = sites * workers_per_site
    site_x = _standardize(rng.standard_normal((sites, num_site_features)))
    worker_x = rng.standard_normal((num_workers, num_worker_features))
    if num_worker_features:
        worker_x[:, 0] = rng.random(num_workers) < BINARY_SHARE
    worker_x = _standardize(worker_x)
    site_index = np.repeat(np.arange(sites), workers_per_site)
    return site_x, worker_x, site_index


# ------------------------------------------------- ranks, coverage, uniformity


def rank_statistics(truth: np.ndarray, draws: np.ndarray) -> np.ndarray:
    r"""Rank of each true value among its posterior draws, (R, K) integers in 0..L.

    ``truth`` (R, K): replication r's true value of scalar k; ``draws`` (R, L, K):
    its posterior draws. :math:`r_{rk} = \#\{l : θ_{rlk} < \tilde θ_{rk}\}`
    (Talts et al. 2018, Algorithm 1; ties, of probability zero for continuous
    parameters, count as not smaller).
    """
    truth, draws = np.asarray(truth, dtype=float), np.asarray(draws, dtype=float)
    if draws.ndim != 3 or truth.shape != (draws.shape[0], draws.shape[2]):
        raise ValueError(f"need truth (R, K) and draws (R, L, K), got {truth.shape}, {draws.shape}")
    return (draws < truth[:, None, :]).sum(axis=1)


def interval_coverage(truth: np.ndarray, draws: np.ndarray, level: float) -> np.ndarray:
    r"""Whether each true value lies in its central posterior interval, (R, K) booleans.

    The interval is :math:`[q_{(1-c)/2}, q_{(1+c)/2}]` of the draws (R, L, K), with
    ``level`` c ∈ (0, 1) and numpy's default (linear) sample quantiles.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    truth, draws = np.asarray(truth, dtype=float), np.asarray(draws, dtype=float)
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=1)
    return (low <= truth) & (truth <= high)


def calibration_tables(
    truth: np.ndarray,
    draws: np.ndarray,
    parameters: tuple[str, ...] | list[str],
    *,
    coverage_draws: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    r"""The rank table and the coverage table of an SBC run.

    ``truth`` (R, K), ``draws`` (R, L, K) (the near-independent draws the ranks are
    over), ``parameters`` the K names; ``coverage_draws`` (R, L', K) are the draws
    for the intervals (default ``draws``). Returns

    * ranks: parameter, replication, rank (:func:`rank_statistics`, 0..L);
    * coverage: parameter, coverage_50, coverage_90 (the share of replications
      whose true value lies in the central 50% and 90% posterior intervals,
      :func:`interval_coverage`; nominal 0.5 and 0.9), replications.
    """
    truth = np.asarray(truth, dtype=float)
    ranks = rank_statistics(truth, draws)
    num_replications, num_parameters = ranks.shape
    if len(parameters) != num_parameters:
        raise ValueError(f"{len(parameters)} names for {num_parameters} parameters")
    rank_table = pd.DataFrame(
        {
            "parameter": np.repeat(np.asarray(parameters, dtype=object), num_replications),
            "replication": np.tile(np.arange(num_replications), num_parameters),
            "rank": ranks.T.ravel().astype(np.int64),
        }
    )
    interval_draws = draws if coverage_draws is None else coverage_draws
    coverage = {
        f"coverage_{round(level * 100)}": interval_coverage(truth, interval_draws, level).mean(0)
        for level in COVERAGE_LEVELS
    }
    coverage_table = pd.DataFrame(
        {"parameter": list(parameters), **coverage, "replications": num_replications}
    )
    return rank_table, coverage_table


def default_bins(replications: int, draws: int) -> int:
    r"""Bins of the rank histogram for the uniformity test.

    :math:`B = \max(2, \min(20, L + 1, \lfloor R / 5 \rfloor))`: at least
    :data:`MIN_EXPECTED_PER_BIN` = 5 expected ranks per bin where R allows it
    (Cochran's rule for the χ² approximation), at most :data:`MAX_BINS` = 20 and no
    more than the L + 1 possible ranks. With fewer than 10 replications the two
    bins hold fewer than 5 expected ranks each, and the p-value is only indicative.
    """
    return int(max(2, min(MAX_BINS, draws + 1, replications // MIN_EXPECTED_PER_BIN)))


def _bin_edges(draws: int, bins: int) -> np.ndarray:
    """Integer edges splitting the ranks 0..L into ``bins`` contiguous, near-equal groups."""
    if not 2 <= bins <= draws + 1:
        raise ValueError(f"bins must be in 2..{draws + 1} for ranks 0..{draws}, got {bins}")
    return np.round(np.linspace(0, draws + 1, bins + 1)).astype(np.int64)


def rank_histogram(ranks: pd.DataFrame, draws: int, bins: int | None = None) -> pd.DataFrame:
    r"""Counts of ranks in B contiguous bins per parameter, with their expectation.

    Bin j holds the ranks :math:`e_j \le r < e_{j+1}` with integer edges
    :math:`e_j = \mathrm{round}(j (L + 1) / B)`; under uniformity it expects
    :math:`R (e_{j+1} - e_j) / (L + 1)` ranks. ``bins`` defaults to
    :func:`default_bins`. Columns: parameter, bin, lower, upper (inclusive rank
    range), count, expected.
    """
    replications = ranks.groupby("parameter", sort=False)["rank"].size()
    bins = default_bins(int(replications.min()), draws) if bins is None else int(bins)
    edges = _bin_edges(draws, bins)
    rows = []
    for parameter, group in ranks.groupby("parameter", sort=False):
        values = group["rank"].to_numpy()
        if values.min() < 0 or values.max() > draws:
            raise ValueError(f"ranks of {parameter} outside 0..{draws}")
        counts = np.histogram(values, bins=edges)[0]
        widths = np.diff(edges)
        for j in range(bins):
            rows.append(
                {
                    "parameter": parameter,
                    "bin": j,
                    "lower": int(edges[j]),
                    "upper": int(edges[j + 1] - 1),
                    "count": int(counts[j]),
                    "expected": len(values) * widths[j] / (draws + 1),
                }
            )
    return pd.DataFrame(rows, columns=["parameter", "bin", "lower", "upper", "count", "expected"])


def uniformity_test(ranks: pd.DataFrame, draws: int, bins: int | None = None) -> pd.DataFrame:
    r"""χ² test that each parameter's ranks are uniform on 0..L.

    With the counts :math:`O_j` and expectations :math:`E_j` of
    :func:`rank_histogram`, :math:`X^2 = \sum_j (O_j - E_j)^2 / E_j`, referred to
    :math:`χ^2_{B-1}`. Columns: parameter, bins, chi2, dof, pvalue. A small p-value
    says the ranks are not uniform (a miscalibrated posterior); with few
    replications the test has little power, and the histogram, the coverage and
    the shape of the departure are the more informative check.
    """
    histogram = rank_histogram(ranks, draws, bins)
    rows = []
    for parameter, group in histogram.groupby("parameter", sort=False):
        observed, expected = group["count"].to_numpy(), group["expected"].to_numpy()
        chi2 = float(((observed - expected) ** 2 / expected).sum())
        dof = len(group) - 1
        rows.append(
            {
                "parameter": parameter,
                "bins": len(group),
                "chi2": chi2,
                "dof": dof,
                "pvalue": float(stats.chi2.sf(chi2, dof)),
            }
        )
    return pd.DataFrame(rows, columns=["parameter", "bins", "chi2", "dof", "pvalue"])


def effective_sample_sizes(draws: np.ndarray) -> np.ndarray:
    r"""Bulk effective sample size of each replication's single chain, (R, K).

    ``draws`` (R, D, K). ArviZ's rank-normalized split-chain bulk ESS
    (Vehtari et al. 2021) of each replication's chain of each parameter.
    """
    import arviz as az

    draws = np.asarray(draws, dtype=float)
    # ArviZ wants (chain, draw, ...): one chain, extra dimensions (R, K).
    dataset = az.convert_to_dataset({"v": np.moveaxis(draws, 1, 0)[None]})
    return np.asarray(az.ess(dataset, method="bulk")["v"].values, dtype=float)


def choose_thinning(ess: np.ndarray, samples: int, quantile: float = ESS_QUANTILE) -> int:
    r"""The thinning stride from the effective sample sizes ``ess`` (R, K).

    :math:`E = \mathrm{quantile}_{q}(\min_k \mathrm{ESS}_{rk})` over replications
    r (q = ``quantile``, default the lower decile), and the stride
    :math:`\lceil D / E \rceil` (at least 1, at most D) for D = ``samples``: the
    L = ⌊D / stride⌋ thinned draws number at most E, fewer than the ESS in a share
    1 − q of the replications. A non-finite ESS counts as 1.
    """
    ess = np.asarray(ess, dtype=float)
    worst = np.nan_to_num(ess.min(axis=1), nan=1.0, posinf=float(samples), neginf=1.0)
    target = max(float(np.quantile(worst, quantile)), 1.0)
    return int(min(samples, max(1, math.ceil(samples / target))))


# ----------------------------------------------------------------- the result


@dataclass(frozen=True)
class SBCResult:
    """Simulation-based calibration of the headline model.

    ``ranks``: parameter, replication, rank (0..``draws``). ``coverage``: parameter,
    coverage_50, coverage_90, replications. ``draws`` = L, the number of thinned
    draws the ranks are over; ``thin`` the stride, of ``samples`` draws per
    replication after ``warmup``. ``diagnostics``, one row per replication:
    replication, signing_rate (share of simulated workers who signed),
    divergences, mean_steps (leapfrog steps per draw), min_ess (the smallest bulk
    ESS of the monitored parameters), ess_below_draws (min_ess < L). ``seconds``
    is the wall time, compilation included.
    """

    ranks: pd.DataFrame
    coverage: pd.DataFrame
    draws: int
    sites: int
    workers_per_site: int
    seconds: float
    replications: int
    warmup: int
    samples: int
    thin: int
    diagnostics: pd.DataFrame

    @property
    def parameters(self) -> tuple[str, ...]:
        """The monitored parameters, in order."""
        return tuple(self.coverage["parameter"])

    def uniformity_pvalues(self, bins: int | None = None) -> pd.DataFrame:
        r"""χ² test of uniform ranks per parameter (:func:`uniformity_test`).

        ``bins`` defaults to :func:`default_bins`:
        :math:`\max(2, \min(20, L + 1, \lfloor R / 5 \rfloor))`.
        Columns: parameter, bins, chi2, dof, pvalue.
        """
        return uniformity_test(self.ranks, self.draws, bins)

    def rank_histogram(self, bins: int | None = None) -> pd.DataFrame:
        """Rank counts per bin and parameter, with their expectation (:func:`rank_histogram`)."""
        return rank_histogram(self.ranks, self.draws, bins)


# ------------------------------------------------------------- the simulation


def _dtype():
    return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


def release_compiled() -> None:
    """Drop the compiled replication functions (:func:`organizing.inference.nuts.release_compiled`
    drops JAX's caches of them)."""
    _replication_function.cache_clear()


@functools.lru_cache(maxsize=8)
def _replication_function(
    sites: int,
    workers_per_site: int,
    num_site_features: int,
    num_worker_features: int,
    warmup: int,
    samples: int,
    target_accept: float,
    max_tree_depth: int,
    devices: int,
    dtype_name: str,
    adaptation: str = _nuts.DEFAULT_ADAPTATION,
):
    """A compiled function running ``devices`` replications side by side.

    It maps keys (B, 2), site_x (B, S, Q) and worker_x (B, N, P), B = ``devices``,
    to the truth (B, K), the monitored draws (B, samples, K), the leapfrog steps
    and divergence flags (B, samples) and the signing rate (B,). Cached, so that
    every call with the same configuration reuses one compilation.
    """
    dtype = jnp.dtype(dtype_name)
    num_workers = sites * workers_per_site
    site_index = jnp.asarray(np.repeat(np.arange(sites), workers_per_site), dtype=jnp.int32)

    def latent_sites(key, site_x, worker_x, y):
        trace = handlers.trace(handlers.seed(headline, key)).get_trace(
            site_x, worker_x, site_index, y
        )
        return {
            name: site["value"]
            for name, site in trace.items()
            if site["type"] == "sample" and not site["is_observed"]
        }

    # Shapes of the latent sites (abstract evaluation: nothing runs or compiles).
    # Their unconstrained values have the same shapes (the positive scales are
    # unconstrained by a logarithm).
    shapes = jax.eval_shape(
        latent_sites,
        jax.random.PRNGKey(0),
        jax.ShapeDtypeStruct((sites, num_site_features), dtype),
        jax.ShapeDtypeStruct((num_workers, num_worker_features), dtype),
        jax.ShapeDtypeStruct((num_workers,), dtype),
    )
    leaves, treedef = jax.tree_util.tree_flatten(shapes)

    def replication(key, site_x, worker_x):
        key_prior, key_init, key_nuts = jax.random.split(key, 3)
        trace = handlers.trace(handlers.seed(headline, key_prior)).get_trace(
            site_x, worker_x, site_index
        )
        truth = _monitored_vector({k: v["value"] for k, v in trace.items()}, num_site_features)
        y = trace["y"]["value"].astype(dtype)
        init_keys = jax.random.split(key_init, len(leaves))
        init = jax.tree_util.tree_unflatten(
            treedef,
            [
                jax.random.uniform(k, leaf.shape, dtype, -2.0, 2.0)
                for k, leaf in zip(init_keys, leaves, strict=True)
            ],
        )
        args = (site_x, worker_x, site_index, y)
        # The potential energy -log p(θ, y) of the unconstrained latent values
        # (Jacobians of the log transforms included), as NUTS in NumPyro's MCMC uses it.
        # The book's sampler: its mass-matrix blocks and its adaptation (nuts.run_nuts).
        init_kernel, sample_kernel = hmc(
            potential_fn=functools.partial(potential_energy, headline, args, {}), algo="NUTS"
        )
        with adapting(adaptation):
            state = init_kernel(
                init,
                warmup,
                target_accept_prob=target_accept,
                max_tree_depth=max_tree_depth,
                dense_mass=[tuple(block) for block in _nuts.DENSE_MASS],
                rng_key=key_nuts,
            )

        def constrain(unconstrained):
            return constrain_fn(headline, args, {}, unconstrained, return_deterministic=True)

        def step(state, _):
            state = sample_kernel(state)
            return state, (
                _monitored_vector(constrain(state.z), num_site_features),
                state.num_steps,
                state.diverging,
            )

        _, (monitored, num_steps, diverging) = jax.lax.scan(
            step, state, None, length=warmup + samples
        )
        return truth, monitored[warmup:], num_steps[warmup:], diverging[warmup:], y.mean()

    return jax.pmap(replication, devices=jax.local_devices()[:devices])


def _device_count() -> int:
    return max(1, min(jax.local_device_count(), os.cpu_count() or 1))


def simulation_based_calibration(
    replications: int,
    sites: int,
    workers_per_site: int,
    num_site_features: int,
    num_worker_features: int,
    *,
    warmup: int,
    samples: int,
    seed: int,
    thin: int | None = None,
    target_accept: float = 0.9,
    max_tree_depth: int = 10,
    x64: bool = True,
    devices: int | None = None,
    progress: bool = False,
) -> SBCResult:
    r"""Simulation-based calibration of the headline model (see the module docstring).

    For r = 1..R (``replications``): draw a design of S = ``sites`` worksites ×
    M = ``workers_per_site`` workers with Q = ``num_site_features`` worksite and
    P = ``num_worker_features`` worker features (:func:`simulate_design`), draw
    :math:`\tilde θ_r \sim p(θ)` and :math:`\tilde y_r \sim p(y \mid \tilde θ_r)`
    from :func:`~organizing.models.numpyro_models.headline`, run one NUTS chain
    (``warmup`` + ``samples`` iterations, ``target_accept``, ``max_tree_depth``) on
    :math:`\tilde y_r`, thin the draws by ``thin`` (default: from the ESS,
    :func:`choose_thinning`) and rank :math:`\tilde θ_r` among them for each of
    :func:`monitored_parameters` (:func:`calibration_tables`). If the sampler
    recovers the model's posterior, the ranks are uniform on 0..L and the central
    50% and 90% intervals cover the truth in about 50% and 90% of replications.

    ``seed`` fixes everything: replication r's design uses numpy's generator
    seeded with (seed, r), its prior draw and sampler ``fold_in(PRNGKey(seed), r)``,
    so a replication does not depend on how many others run. ``x64`` turns on
    JAX's float64 for the whole process, as :func:`~organizing.inference.nuts.run_nuts`
    does (float32 is used only if ``x64`` is false and nobody has turned float64 on).
    ``devices`` replications run side by side, one per JAX CPU device (default
    min(devices, cores)). ``progress`` shows a progress bar on a terminal.
    """
    if replications < 1 or sites < 1 or workers_per_site < 1:
        raise ValueError("replications, sites and workers_per_site must be positive")
    if num_site_features < 1 or num_worker_features < 1:
        raise ValueError("the headline model needs at least one worksite and one worker feature")
    if warmup < 1 or samples < 2:
        raise ValueError("need warmup >= 1 and samples >= 2")
    if thin is not None and not 1 <= thin <= samples:
        raise ValueError(f"thin must be in 1..samples ({samples}), got {thin}")
    start = time.perf_counter()
    if x64:
        jax.config.update("jax_enable_x64", True)
    dtype = _dtype()
    devices = _device_count() if devices is None else int(devices)
    if not 1 <= devices <= jax.local_device_count():
        raise ValueError(f"devices must be in 1..{jax.local_device_count()}, got {devices}")
    run = _replication_function(
        sites, workers_per_site, num_site_features, num_worker_features,
        warmup, samples, float(target_accept), int(max_tree_depth), devices,
        jnp.dtype(dtype).name,
    )
    # Pad to a multiple of the device count; the padding replications are discarded.
    padded = -(-replications // devices) * devices
    base_key = jax.random.PRNGKey(seed)
    keys = jnp.stack([jax.random.fold_in(base_key, r) for r in range(padded)])
    designs = [
        simulate_design(
            np.random.default_rng((seed, r)), sites, workers_per_site,
            num_site_features, num_worker_features,
        )
        for r in range(padded)
    ]
    site_x = jnp.asarray(np.stack([d[0] for d in designs]), dtype)
    worker_x = jnp.asarray(np.stack([d[1] for d in designs]), dtype)

    from tqdm.auto import tqdm

    outputs = []
    for batch in tqdm(
        range(0, padded, devices),
        desc="SBC of the headline model",
        unit="batch",
        disable=not (progress and sys.stderr.isatty()),
    ):
        part = slice(batch, batch + devices)
        outputs.append(run(keys[part], site_x[part], worker_x[part]))
    truth, monitored, num_steps, diverging, rate = (
        np.concatenate([np.asarray(out[i]) for out in outputs])[:replications] for i in range(5)
    )
    truth, monitored = truth.astype(np.float64), monitored.astype(np.float64)

    ess = effective_sample_sizes(monitored)
    stride = choose_thinning(ess, samples) if thin is None else int(thin)
    thinned = monitored[:, stride - 1 :: stride]
    draws = thinned.shape[1]
    parameters = monitored_parameters(num_site_features, num_worker_features)
    ranks, coverage = calibration_tables(truth, thinned, parameters, coverage_draws=monitored)
    min_ess = ess.min(axis=1)
    diagnostics = pd.DataFrame(
        {
            "replication": np.arange(replications),
            "signing_rate": rate.astype(np.float64),
            "divergences": diverging.sum(axis=1).astype(np.int64),
            "mean_steps": num_steps.mean(axis=1).astype(np.float64),
            "min_ess": min_ess,
            "ess_below_draws": min_ess < draws,
        }
    )
    return SBCResult(
        ranks=ranks,
        coverage=coverage,
        draws=int(draws),
        sites=sites,
        workers_per_site=workers_per_site,
        seconds=time.perf_counter() - start,
        replications=replications,
        warmup=warmup,
        samples=samples,
        thin=stride,
        diagnostics=diagnostics,
    )
