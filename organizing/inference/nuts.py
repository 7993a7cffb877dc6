r"""NUTS with NumPyro (JAX on the CPU) for the corrected, extended and headline models.

:func:`run_nuts` samples a model of :mod:`organizing.models.numpyro_models` with
NumPyro's NUTS (step size and mass matrix adapted during warm-up; as in
Stan, initial values uniform on (-2, 2) in the unconstrained space and a maximum
tree depth of 10) and returns a :class:`NUTSResult` of numpy arrays: draws of
every sample and deterministic site shaped (chains, samples, ...), and per draw
the sampler's energy (for E-BFMI), divergence flag, leapfrog steps and
acceptance probability, and the leapfrog steps of every warm-up iteration.
:meth:`NUTSResult.log_likelihood` gives the pointwise log-likelihood (chains,
samples, N) from the numpy logits, and :meth:`NUTSResult.psis_loo` PSIS-LOO
(:func:`organizing.inference.diagnostics.psis_loo`) computed a block of workers at
a time, without that whole matrix.

These choices make it fast; ``benchmarks/bench_nuts.py`` measures them.

* **Workers with identical rows are merged**
  (:func:`~organizing.models.numpyro_models.group_workers`): workers of
  one worksite with the same features share a logit, so their Bernoulli terms add
  up to one Binomial term. On the campaign 13,068 training workers become 4,454
  rows. This is exact: the term is written without the Binomial's constant
  (:class:`~organizing.models.numpyro_models.GroupedBernoulli`), so it equals the
  workers' Bernoulli sum, and a gradient skips three log-gamma functions per row
  (0.136 against 0.111 CPU ms per gradient of the headline model).
* **Chains run side by side**, one JAX CPU device per chain. JAX sees one CPU
  device unless told otherwise before its backend starts, so importing this
  module asks XLA for :data:`HOST_DEVICES` devices (the number of cores, at least
  :data:`DEFAULT_CHAINS`), unless ``XLA_FLAGS`` already sets a device count.
  ``chain_method="parallel"`` (four devices sharing two cores) is the fastest
  on a 2-core machine: the same chains cost the same CPU run "sequential" (88.6
  CPU-s either way for the headline model, 4 × (1,000 + 1,000)), which uses one
  core, while "vectorized" cost 220 CPU-s, 2.5× more, since every chain's step
  waits for the longest trajectory of the four. If JAX had already started with
  too few devices, the chains run "sequential".
* **float32 by default.** On the campaign the float32 and float64 posteriors of
  the headline model agree to Monte Carlo error (differences of posterior means
  beyond two Monte Carlo standard errors for 2-5% of the quantities, as chance
  predicts), while float64 costs 1.5-2× more per leapfrog step (exp and log1p of
  ~4,500 logits dominate a gradient). ``x64=True`` switches JAX to float64 for
  the whole process; JAX's precision is global, so if anything in the process
  enabled float64 before, the run is in float64 whatever ``x64`` says
  (``settings.x64`` records what was used). Log-likelihoods, logits and PSIS-LOO
  are always computed in float64 with numpy.
* **One compilation per model, settings and data shape**
  (:func:`compiled_sampler`): the data are arguments of the compiled sampler,
  not constants inside it, so fits on other data of the same shape (the
  held-out-worksite folds, padded with empty rows by ``pad_rows``) reuse it.
  Only a run with a progress bar on a terminal uses NumPyro's own loop, which
  draws the bars and compiles for that call. A compilation of the headline
  sampler costs about 17 CPU-s, as much as a quarter of its run; JAX's on-disk
  cache (``pipeline.enable_compilation_cache``) keeps it between runs.
* **Freed memory goes back to the system** after each run (:func:`release_memory`):
  without it every compiled sampler left a few hundred MB of resident memory. JAX's
  caches still hold about 100 MB per compiled sampler, so the pipeline drops them after
  each stage (:func:`release_compiled`): the quick profile's peak resident memory went
  from 3,620 MB to 2,132 MB, at the same time from an empty results cache (278.8 s
  against 278.7 s; ``benchmarks/bench_report.py``).

* **A dense mass matrix for the worksite coefficients** (:data:`DENSE_MASS`). The
  worksite features are nearly collinear: mean degree is defined as edges per
  worker, so log(No. edges) − log(Mean degree) is the log of the worksite's
  worker count, nearly log(No. workers discovered); the headline design's
  condition number is about 2·10⁴. Along such combinations the likelihood says nothing and
  the posterior of β is as wide as its prior, while across them it is narrow; a
  diagonal mass matrix cannot follow that, and the step size shrinks to fit the
  narrow direction. Adapting a dense block for ``beta_group`` alone (Q×Q, Q ≈ 23)
  costs almost nothing per step. On the headline model, 4 × (1,000 + 1,000) in one
  run under the same load: step size 0.09 against 0.06, 60 leapfrog steps per draw
  against 74, minimum bulk ESS 1,170 against 949, 93 s against 99 s wall on 2 busy
  cores. (A dense block over all global parameters cut the steps as much but gave
  a lower ESS per second.) The block already absorbs the exact collinearity of
  ``Log(Mean degree)`` with ``Log(No. edges) − Log(No. workers discovered)``: without
  that column the steps per draw are the same (61 against 58; diagonal only: 63 at
  step size 0.058 and minimum bulk ESS 728), since what limits the step size is not
  that direction. The corrected model (every one-hot level kept) takes 63 steps per
  draw with this block.
* **The warm-up** (:data:`ADAPTATIONS`). With NumPyro's (Stan's) adaptation the
  warm-up costs more leapfrog steps than the draws: 80 per iteration against 52-61
  per draw on the headline model, half of them in the first 100 iterations, which
  run with the unit mass matrix (250-400 steps each). nutpie's estimator of the mass
  matrix from draws and gradients (:mod:`organizing.inference.adaptation`) needs
  only 31 steps per draw, but its draws are less independent (minimum bulk ESS 358
  against 1,086, as nutpie itself gave 335 on this posterior): fewer effective
  draws per gradient. ``"gradient-then-welford"`` uses it for the warm-up's windows,
  starting after 25 iterations instead of 75, and the draws' covariance for the last
  window, with which the draws are made. On the headline model (without
  ``Log(Mean degree)``, 4 × (1,000 + 1,000), one run each under the same load): 52
  warm-up steps per iteration against 80, 55 steps per draw against 52, 107,000
  gradients per chain against 132,000, minimum bulk ESS 1,249 against 1,081; of the
  877 latent quantities' posterior means, 0.3% differ by more than two Monte Carlo
  standard errors (at most 2.6). But on a small simulated campaign (20 worksites ×
  50 workers, 4 × (400 + 400); ``tests/test_adaptation.py``) it gave 50 divergent
  transitions and R-hat 1.025 for τ_β where NumPyro's adaptation gave none, so it is
  not the default until that is understood. ``"gradient-first"`` keeps the early start
  but estimates only the first window from draws and gradients and every later one,
  the last included, from the draws' covariance. On the headline model (seed 0, one run
  each under the same load) it saves 18% of the leapfrog steps at the quick profile's
  2 × (300 + 300) (warm-up 108 steps per iteration against 147; 102,600 steps against
  125,800) but only 6% at 4 × (1,000 + 1,000) (warm-up 67 against 80 steps per
  iteration, draws 61 against 56; minimum bulk ESS 1,043 against 1,002; τ_β 0.302 and
  σ_u 1.260 against 1.263), since the first 25 iterations still run with the unit mass
  matrix (about 300 steps each). On the funnel it gave 3 and 2 divergent transitions
  (seeds 2 and 5) where NumPyro's adaptation gave 1 and 6. The same early start with
  the draws' covariance in every window saved as much and gave 8 divergences on that
  funnel; it is not kept. Neither is the default: the book's full profile would gain
  about 6%, within the seed-to-seed spread of the steps per draw, for a change of every
  reported draw.

Centered worksite intercepts did not change the step size; centered worker slopes
were far slower. Pyro's NUTS on the same model costs about 30× more CPU per
leapfrog step (``make bench`` prints the ratio).
"""

from __future__ import annotations

import functools
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

#: Default number of chains; also the least number of host devices requested.
DEFAULT_CHAINS = 4
_DEVICE_FLAG = "--xla_force_host_platform_device_count"


def _request_host_devices() -> int:
    """Ask XLA for one CPU device per core (at least ``DEFAULT_CHAINS``) before JAX starts.

    Does nothing if ``XLA_FLAGS`` already sets a device count (then that count is
    returned). The flag only takes effect if JAX's backend has not started yet.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    match = re.search(rf"{_DEVICE_FLAG}=(\d+)", flags)
    if match:
        return int(match.group(1))
    count = max(os.cpu_count() or 1, DEFAULT_CHAINS)
    os.environ["XLA_FLAGS"] = f"{flags} {_DEVICE_FLAG}={count}".strip()
    return count


#: CPU devices requested from XLA at import (the backend may have started earlier).
HOST_DEVICES = _request_host_devices()

import jax  # noqa: E402  (after XLA_FLAGS is set)
import numpy as np  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402

from organizing.models import logits as formulas  # noqa: E402
from organizing.models.numpyro_models import (  # noqa: E402
    MODELS,
    group_workers,
    model_arguments,
)

CHAIN_METHODS = ("parallel", "sequential", "vectorized")
#: How the warm-up estimates the mass matrix: from the draws' covariance (NumPyro's and
#: Stan's "welford"), from the draws and their gradients (nutpie's, "gradient";
#: :mod:`organizing.inference.adaptation`), from draws and gradients in every window
#: but the last, which uses the draws' covariance ("gradient-then-welford"), or in the
#: first window only ("gradient-first").
ADAPTATIONS = ("welford", "gradient", "gradient-then-welford", "gradient-first")
#: The default (see the module docstring): NumPyro's own. "gradient-then-welford" was
#: cheaper on the headline model but diverged on a small simulated funnel.
DEFAULT_ADAPTATION = "welford"


def _kernel(model, target_accept: float, max_tree_depth: int, dense_mass,
            adaptation: str) -> NUTS:
    """NUTS for the model function ``model`` with the mass-matrix adaptation named."""
    from organizing.inference.adaptation import GradientAdaptedNUTS

    mass = dense_mass if isinstance(dense_mass, bool) else [tuple(g) for g in dense_mass]
    settings = dict(target_accept_prob=target_accept, max_tree_depth=max_tree_depth,
                    dense_mass=mass)
    if adaptation == "welford":
        return NUTS(model, **settings)
    return GradientAdaptedNUTS(model, **settings, adaptation=adaptation)


#: Sites whose mass matrix NUTS adapts as one dense block (see the module docstring).
DENSE_MASS: tuple[tuple[str, ...], ...] = (("beta_group",),)


@dataclass(frozen=True)
class NUTSSettings:
    """How a NUTS run was made (``chain_method`` is the one actually used)."""

    model_name: str
    chains: int
    warmup: int
    samples: int
    target_accept: float
    max_tree_depth: int
    seed: int
    chain_method: str
    x64: bool
    devices: int


@dataclass(frozen=True)
class NUTSResult:
    """A NUTS posterior as numpy arrays.

    ``draws`` maps every sample site and deterministic site to an array shaped
    (chains, samples, *site shape). Per draw, (chains, samples): ``energy`` (the
    Hamiltonian, for E-BFMI), ``diverging`` (bool), ``num_steps`` (leapfrog steps)
    and ``accept_prob``. ``step_size`` is the adapted step size per chain.
    ``warmup_steps`` (chains, warm-up iterations) are the leapfrog steps of the
    warm-up. ``seconds`` is the wall time of the whole run, compilation included.
    """

    draws: dict[str, np.ndarray]
    energy: np.ndarray
    diverging: np.ndarray
    num_steps: np.ndarray
    accept_prob: np.ndarray
    step_size: np.ndarray
    seconds: float
    settings: NUTSSettings
    warmup_steps: np.ndarray

    @property
    def total_steps(self) -> int:
        """Leapfrog steps of the whole run, warm-up included (gradient evaluations)."""
        return int(self.warmup_steps.sum() + self.num_steps.sum())

    @property
    def model_name(self) -> str:
        return self.settings.model_name

    @property
    def num_chains(self) -> int:
        return int(self.energy.shape[0])

    @property
    def num_samples(self) -> int:
        return int(self.energy.shape[1])

    @property
    def divergences(self) -> np.ndarray:
        """Number of divergent transitions after warm-up, per chain."""
        return self.diverging.sum(axis=1)

    def pooled_draws(self) -> dict[str, np.ndarray]:
        """Draws with chains concatenated: site → (chains·samples, *site shape)."""
        return {k: v.reshape(-1, *v.shape[2:]) for k, v in self.draws.items()}

    def logits(self, site_x, worker_x, site_index) -> np.ndarray:
        """Logits of the given workers under every draw, (chains, samples, N)."""
        return formulas.logits(self.model_name, self.draws, site_x, worker_x, site_index)

    def log_likelihood(self, site_x, worker_x, site_index, y) -> np.ndarray:
        """Pointwise log-likelihood, (chains, samples, N), float64, for PSIS-LOO."""
        return formulas.log_likelihood(
            self.model_name, self.draws, site_x, worker_x, site_index, y
        )


def release_memory() -> None:
    """Hand freed heap memory back to the operating system (glibc's ``malloc_trim``).

    Compiling and running a sampler allocates and frees hundreds of MB in XLA's
    threads; glibc keeps freed blocks in per-thread arenas, so without a trim the
    process's resident memory grows with every compiled sampler (measured: three
    compilations of the headline sampler, +860 MB; with a trim after each, +410 MB).
    Does nothing where there is no ``malloc_trim`` (macOS, musl, Windows).
    """
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def release_compiled() -> None:
    """Drop every compiled sampler and JAX's caches of traced and compiled functions, then
    hand the freed memory back (:func:`release_memory`).

    Each compiled sampler keeps about 100 MB resident in JAX's caches, whether or not
    :func:`compiled_sampler` still holds it (measured: six headline samplers of other
    shapes, one after another, +650 MB; with this after each, +110 MB). The fits of one
    stage share their samplers, those of different stages rarely do, so the pipeline
    calls this after each stage. A later fit of a dropped shape compiles again (from
    JAX's on-disk cache when it is on) and gives the same draws.
    """
    import gc

    compiled_sampler.cache_clear()
    calibration = sys.modules.get("organizing.inference.calibration")
    if calibration is not None:
        calibration.release_compiled()
    jax.clear_caches()
    gc.collect()
    release_memory()


def _chain_method(requested: str | None, chains: int) -> str:
    devices = jax.local_device_count()
    if requested is None:
        return "parallel" if devices >= chains else "sequential"
    if requested not in CHAIN_METHODS:
        raise ValueError(f"chain_method must be one of {CHAIN_METHODS}, not {requested!r}")
    if requested == "parallel" and devices < chains:
        return "sequential"
    return requested


#: Sampler statistics kept per draw (the step size's last value is the adapted one).
EXTRA_FIELDS = ("energy", "diverging", "num_steps", "accept_prob", "adapt_state.step_size")


#: Name of the warm-up's leapfrog steps among the fields :func:`_warmup_then_sample` returns.
WARMUP_STEPS = "warmup.num_steps"


def _warmup_then_sample(mcmc: MCMC, key, data, trials, *, group_by_chain: bool, **model_kwargs):
    """Warm-up (its leapfrog steps recorded), then the draws from where it ended.

    Returns ``(samples, fields)``: the draws' sites and :data:`EXTRA_FIELDS`, plus the
    warm-up's steps under :data:`WARMUP_STEPS`. Runs inside a JAX trace as well as
    eagerly (NumPyro's own loop). ``model_kwargs`` (the size moderator) go to the model.
    """
    mcmc.warmup(key, *data, trials=trials, **model_kwargs, extra_fields=("num_steps",),
                collect_warmup=True)
    warm = mcmc.get_extra_fields(group_by_chain=group_by_chain)["num_steps"]
    mcmc.run(mcmc.post_warmup_state.rng_key, *data, trials=trials, **model_kwargs,
             extra_fields=EXTRA_FIELDS)
    fields = mcmc.get_extra_fields(group_by_chain=group_by_chain)
    return mcmc.get_samples(group_by_chain=group_by_chain), {**fields, WARMUP_STEPS: warm}


def sampler_data(site_x, worker_x, site_index, y, *, group: bool = True,
                 pad_rows: int | None = None) -> tuple:
    """The arrays the compiled sampler takes: ``(site_x, worker_x, site_index, y, trials)``.

    With ``group``, workers with identical rows at a worksite are merged
    (:func:`~organizing.models.numpyro_models.group_workers`); without, every row
    is one worker (``trials`` = 1, a Binomial(1) term is the Bernoulli term). With
    ``pad_rows``, rows with no workers (``trials`` = 0, ``y`` = 0, features 0 at
    worksite 0) are appended up to that number: a Binomial(0) term of 0 signers has
    log-probability exactly 0 and gradient 0, so the posterior is unchanged.
    """
    if group:
        grouped = group_workers(worker_x, site_index, y)
        worker_x, site_index, y, trials = (grouped.worker_x, grouped.site_index,
                                           grouped.signed, grouped.trials)
    else:
        worker_x = np.asarray(worker_x, dtype=np.float64)
        trials = np.ones(len(worker_x))
    rows = len(trials)
    if pad_rows is not None:
        if pad_rows < rows:
            raise ValueError(f"pad_rows={pad_rows} is fewer than the data's {rows} rows")
        extra = pad_rows - rows
        worker_x = np.vstack([worker_x, np.zeros((extra, worker_x.shape[1]))])
        site_index = np.concatenate([np.asarray(site_index), np.zeros(extra, dtype=np.int64)])
        y = np.concatenate([np.asarray(y, dtype=np.float64), np.zeros(extra)])
        trials = np.concatenate([trials, np.zeros(extra)])
    args = model_arguments(site_x, worker_x, site_index, y)
    return (*args, jax.numpy.asarray(trials, dtype=args[0].dtype))


def sampler_rows(worker_x, site_index, y, *, group: bool = True) -> int:
    """Rows the sampler sees for these workers: the ``pad_rows`` that fits them."""
    if not group:
        return len(np.asarray(y))
    return len(group_workers(worker_x, site_index, y).trials)


def chain_keys(seed: int, chains: int):
    """One PRNG key per chain, split from ``seed`` as NumPyro's ``MCMC.run`` splits it."""
    key = jax.random.PRNGKey(seed)
    return jax.random.split(key, chains) if chains > 1 else key[None]


def _hashable_mass(dense_mass):
    if isinstance(dense_mass, bool):
        return dense_mass
    return tuple(tuple(group) for group in dense_mass)


#: How many times a compiled sampler was traced, per model (each trace is a compilation).
TRACES: dict[str, int] = {}


def model_function(model_name: str, priors=None):
    """The NumPyro model ``model_name``, with the headline model's ``priors`` replaced
    when given (a :class:`~organizing.models.priors.HeadlinePriors`)."""
    if priors is None:
        return MODELS[model_name]
    if model_name != "headline":
        raise ValueError(f"only the headline model takes other priors, not {model_name!r}")
    return functools.partial(MODELS[model_name], priors=priors)


@functools.lru_cache(maxsize=32)
def compiled_sampler(model_name: str, chains: int, warmup: int, samples: int,
                     target_accept: float, max_tree_depth: int, method: str,
                     dense_mass, x64: bool, adaptation: str = DEFAULT_ADAPTATION,
                     priors=None, moderated: bool = False):
    """A NUTS sampler compiled once per model and settings, with the data as arguments.

    Returns ``sample(keys, site_x, worker_x, site_index, y, trials) -> (draws,
    fields)``: chain k runs NumPyro's ``MCMC`` (one chain, warm-up then draws) from
    ``keys[k]``; the chains are mapped over JAX devices (``"parallel"``, ``pmap``),
    in a loop (``"sequential"``, ``lax.map``) or batched (``"vectorized"``,
    ``vmap``). NumPyro's own ``MCMC`` with several chains closes over the data, so
    data of another value, even of the same shape, compile anew (seconds per fit);
    here the data are traced arguments, so JAX compiles once per shape and dtype and
    reuses the executable (and its on-disk cache) for every fit of that shape.
    ``x64`` is part of the cache key only (the arrays carry the precision). With
    ``moderated`` the sampler takes one more array, the headline model's size
    ``moderator`` (S,); ``priors`` replaces the headline model's prior constants.
    """
    del x64
    model = model_function(model_name, priors)

    def one_chain(key, site_x, worker_x, site_index, y, trials, *moderator):
        TRACES[model_name] = TRACES.get(model_name, 0) + 1  # Python runs only when JAX traces
        kernel = _kernel(model, target_accept, max_tree_depth, dense_mass, adaptation)
        mcmc = MCMC(kernel, num_warmup=warmup, num_samples=samples, num_chains=1,
                    progress_bar=False)
        data = (site_x, worker_x, site_index, y)
        extra = {"moderator": moderator[0]} if moderator else {}
        return _warmup_then_sample(mcmc, key, data, trials, group_by_chain=False, **extra)

    axes = (0, None, None, None, None, None) + ((None,) if moderated else ())
    if method == "parallel" and chains > 1:
        return jax.pmap(one_chain, in_axes=axes)
    if method == "vectorized":
        return jax.jit(jax.vmap(one_chain, in_axes=axes))
    return jax.jit(lambda keys, *data: jax.lax.map(lambda key: one_chain(key, *data), keys))


def run_nuts(
    model_name: str,
    site_x: np.ndarray,
    worker_x: np.ndarray,
    site_index: np.ndarray,
    y: np.ndarray,
    *,
    chains: int = DEFAULT_CHAINS,
    warmup: int = 1000,
    samples: int = 1000,
    target_accept: float = 0.9,
    max_tree_depth: int = 10,
    seed: int = 0,
    chain_method: str | None = None,
    x64: bool = False,
    group: bool = True,
    dense_mass: bool | Sequence[tuple[str, ...]] = DENSE_MASS,
    adaptation: str = DEFAULT_ADAPTATION,
    progress: bool = False,
    label: str | None = None,
    pad_rows: int | None = None,
    moderator: np.ndarray | None = None,
    priors=None,
) -> NUTSResult:
    """Sample ``model_name`` ("corrected", "extended" or "headline") with NumPyro's NUTS.

    ``chain_method`` is "parallel" (one JAX device per chain), "sequential" or
    "vectorized"; by default "parallel" when there are enough devices, else
    "sequential". Chain k starts from its own uniform draw on (-2, 2) and all
    randomness follows from ``seed``. ``x64=True`` switches JAX to float64 for the
    whole process (a global JAX setting; see the module docstring). ``group``
    merges workers with identical rows into Binomial terms (exact). ``pad_rows``
    pads the rows to that number with empty rows (no workers; exact), so that fits
    on data of different sizes (the worksite folds) share one compiled sampler
    (:func:`compiled_sampler`). ``dense_mass`` is passed to NumPyro's NUTS
    (by default :data:`DENSE_MASS`, a dense block for the worksite coefficients and
    a diagonal for the rest; ``False`` for diagonal only). The progress bar is shown
    only if ``progress`` is true and standard error is a terminal, under a line
    naming the fit (``label``, default "NUTS <model_name>"); such a run uses NumPyro's
    own loop (same seeds and chains; compiled for that call only). ``moderator`` (S,)
    fits the headline model with its size interaction, and ``priors`` (a
    :class:`~organizing.models.priors.HeadlinePriors`) with other prior constants
    (:func:`organizing.models.numpyro_models.headline`).
    """
    if model_name not in MODELS:
        raise KeyError(f"no NumPyro model {model_name!r}; expected one of {sorted(MODELS)}")
    if y is None:
        raise ValueError("NUTS needs the observed outcomes y")
    if adaptation not in ADAPTATIONS:
        raise ValueError(f"adaptation must be one of {ADAPTATIONS}, not {adaptation!r}")
    # Set the precision on every call: it is a process-wide JAX switch that other stages
    # (simulation-based calibration) turn on, and a run must not depend on what ran before.
    jax.config.update("jax_enable_x64", bool(x64))
    method = _chain_method(chain_method, chains)
    data = sampler_data(site_x, worker_x, site_index, y, group=group, pad_rows=pad_rows)
    if moderator is not None:
        moderator = np.asarray(moderator, dtype=np.float64)
        if moderator.shape != (np.asarray(site_x).shape[0],):
            raise ValueError(f"the moderator needs one value per worksite, got shape "
                             f"{moderator.shape}")
        data = (*data, jax.numpy.asarray(moderator, dtype=data[0].dtype))
    model = model_function(model_name, priors)
    show_bar = bool(progress and sys.stderr.isatty())
    start = time.perf_counter()
    if show_bar:  # NumPyro's own loop, which draws the bars; compiled for this call only
        # NumPyro's bars say only "warmup", "sample" or "chain k": name the fit
        print(f"{label or 'NUTS ' + model_name}: {chains} chain(s), {warmup} warmup + "
              f"{samples} draws each", file=sys.stderr, flush=True)
        mcmc = MCMC(
            _kernel(model, target_accept, max_tree_depth, dense_mass, adaptation),
            num_warmup=warmup,
            num_samples=samples,
            num_chains=chains,
            chain_method=method,
            progress_bar=True,
        )
        extra = {"moderator": data[5]} if moderator is not None else {}
        sampled, fields = _warmup_then_sample(mcmc, jax.random.PRNGKey(seed), data[:4], data[4],
                                              group_by_chain=True, **extra)
    else:
        sampler = compiled_sampler(
            model_name, chains, warmup, samples, float(target_accept), max_tree_depth, method,
            _hashable_mass(dense_mass), bool(jax.config.jax_enable_x64), adaptation, priors,
            moderator is not None,
        )
        sampled, fields = sampler(chain_keys(seed, chains), *data)
    draws = {k: np.asarray(v, dtype=np.float64) for k, v in sampled.items()}
    extra = {k: np.asarray(v) for k, v in fields.items()}
    del sampled, fields
    seconds = time.perf_counter() - start
    release_memory()
    return NUTSResult(
        draws=draws,
        energy=extra["energy"].astype(np.float64),
        diverging=extra["diverging"].astype(bool),
        num_steps=extra["num_steps"].astype(np.int64),
        accept_prob=extra["accept_prob"].astype(np.float64),
        step_size=extra["adapt_state.step_size"][:, -1].astype(np.float64),
        warmup_steps=extra[WARMUP_STEPS].astype(np.int64),
        seconds=seconds,
        settings=NUTSSettings(
            model_name=model_name,
            chains=chains,
            warmup=warmup,
            samples=samples,
            target_accept=target_accept,
            max_tree_depth=max_tree_depth,
            seed=seed,
            chain_method=method,
            x64=bool(jax.config.jax_enable_x64),
            devices=jax.local_device_count(),
        ),
    )
