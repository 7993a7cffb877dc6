r"""Power of randomized organizing trials, simulated from the fitted model's posterior.

**Simulation (posterior predictive trials).** Trial :math:`t` draws a posterior
index :math:`d_t` uniformly; each of its worksites :math:`s` a template
:math:`j_{ts}` (:mod:`organizing.planning.population`), a size :math:`m_{ts}` (the
template's own size, one fixed size, or a draw from a list of sizes), an intercept
:math:`u_{ts} = \sigma_{\mathrm{site},d_t} z_{ts}`, and, when the effect varies
between worksites, :math:`\delta_{ts} = \delta(1 + h z'_{ts})`. Given these, the
workers of one worksite-arm sign independently with the same probability

.. math::

    q_{ts}(\delta) = E_e\bigl[\operatorname{expit}(\beta_{0d_t} + o_{d_t j_{ts}} + u_{ts}
    + \delta + e)\bigr],

because the worker parts :math:`e_i` are independent across workers. The number of
signers in a worksite-arm of :math:`n` workers is therefore exactly
:math:`\operatorname{Binomial}(n, q)`; it is drawn by inversion,
:math:`Y = F^{-1}_{n, q}(V)` with a stored uniform :math:`V`, so no per-worker
numbers are needed. Averaging over :math:`d_t` makes the reported power the
posterior-predictive power ("assurance"), which includes the uncertainty about
every parameter.

**Common random numbers.** The draws, templates, sizes, intercepts, uniforms and
coin flips come from independent streams spawned from one seed, worksite-major, so
(i) the same seed reproduces every number exactly, (ii) the same draws serve every
effect, and because :math:`F^{-1}_{n,q}(V)` is non-decreasing in :math:`q`, treated
counts are non-decreasing in :math:`\delta`, and (iii) the first :math:`n`
worksites of a run with more worksites are the same worksites, so power is nearly
monotone in :math:`n` too.

**Designs** (analyses in :mod:`organizing.planning.analyses`; two-sided tests at
level :math:`\alpha`).

*Worksite-randomized* (``"worksite"``): all workers of a worksite are in its arm.
Without matching, worksites :math:`1, 3, 5, \dots` (0-based odd) are treated:
:math:`\lfloor n/2 \rfloor` treated and :math:`\lceil n/2 \rceil` control
worksites, which for worksites drawn independently is a complete randomization.
With pair-matching (``Options(match="size")`` or ``"rate"``) the :math:`n` worksites
(:math:`n` even) are sorted on the matching variable, cut into consecutive pairs,
and a coin decides which worksite of each pair is treated; the analysis keeps the
pairs. ``adjust=True`` adds the forecast rate :math:`r_j` as a covariate. The effect
may vary between worksites (``effect_sd`` = :math:`h`).

*Worker-randomized within worksites* (``"worker"``): in every worksite
:math:`\lfloor m/2 \rfloor` workers are treated and :math:`\lceil m/2 \rceil` are
controls (a worksite of one worker adds nothing); CMH test. ``contamination`` =
:math:`c` lets a share of the tactic reach the control workers of the same worksite:
their log-odds rise by :math:`c\,\delta_{ts}`. The effect :math:`\Delta` is still the
tactic's effect against no tactic at all; the trial sees less of it.

**Monte Carlo standard errors.** Power :math:`\hat P` over :math:`R` trials has
:math:`\mathrm{SE} = \sqrt{\hat P(1-\hat P)/R}`. The minimum detectable effect
(MDE) is found on a grid of :math:`\delta` with common random numbers, doubling
:math:`\delta` until the power passes the target and then three points per doubling,
interpolating :math:`\Phi^{-1}(\hat P)` linearly in :math:`\log\delta`
(:func:`_mde_search`); its SE is the delta method, :math:`\mathrm{SE}(\Delta^*) =
\sqrt{\pi^*(1-\pi^*)/R}\,/\,\hat P'(\Delta^*)`, where :math:`\pi^*` is the target
power and the slope :math:`\hat P'` that of the interpolated segment. The number of
worksites needed comes with the range
:math:`[n_-, n_+]` where :math:`n_\mp` is the smallest :math:`n` with
:math:`\hat P(n) \ge \pi^* \mp 2\sqrt{\pi^*(1-\pi^*)/R}`. The zero-effect power is
the test's type-I error, which should be within Monte Carlo error of :math:`\alpha`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from organizing.planning.analyses import cmh_test, store_tests
from organizing.planning.common import (
    DESIGNS,
    MATCHES,
    MAX_CELLS,
    Interval,
    check_alpha,
    check_design,
    check_seed,
    check_share,
    check_sims,
    check_sites,
    check_sizes,
    check_target,
    json_safe,
    min_sites,
)
from organizing.planning.population import (
    Population,
    _marginal_effect,
    baseline_rate,
    check_population,
    design_effect,
    latent_icc,
    observed_icc,
    site_sizes,
    template_forecasts,
    treatment_effect,
)

# ----------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    """How a trial is run and analysed beyond its design (defaults: the plain design).

    ``match``: pair worksites on ``"size"`` or on the model's forecast ``"rate"``
    before randomizing (worksite design). ``adjust``: adjust the analysis for the
    forecast rate (worksite design). ``contamination``: the share of the tactic's
    effect that reaches control workers at a treated worker's worksite (worker
    design). ``effect_sd``: the effect's spread between worksites as a multiple of
    its mean, :math:`\\delta_s = \\delta(1 + h Z_s)`.
    """

    match: str = "none"
    adjust: bool = False
    contamination: float = 0.0
    effect_sd: float = 0.0

    def checked(self, design: str, population: Population) -> Options:
        if self.match not in MATCHES:
            raise ValueError(f"match must be one of {MATCHES}, got {self.match!r}")
        if not isinstance(self.adjust, bool):
            raise ValueError(f"adjust must be true or false, got {self.adjust!r}")
        check_share(self.contamination, "contamination")
        check_share(self.effect_sd, "effect_sd", upper=5.0)
        if design == "worker" and (self.match != "none" or self.adjust):
            raise ValueError("pair-matching and adjustment apply to the worksite design; in "
                             "the worker design every worksite is already its own stratum")
        if design == "worksite" and self.contamination:
            raise ValueError("contamination applies to the worker design (workers of one "
                             "worksite are all in one arm in the worksite design)")
        if (self.match == "rate" or self.adjust) and population.site_offsets is None:
            raise ValueError("matching or adjusting on the forecast rate needs a population "
                             "of worksite templates (population_from_draws)")
        return self

    @property
    def plain(self) -> bool:
        return self == Options()

    def describe(self) -> str:
        """A short label: ``pairs matched on forecast rate, adjusted for it``."""
        parts = []
        if self.match != "none":
            parts.append("pairs matched on " + ("size" if self.match == "size"
                                                 else "forecast rate"))
        if self.adjust:
            parts.append("adjusted for forecast rate")
        if self.contamination:
            parts.append(f"{self.contamination:.0%} of the effect reaches controls")
        if self.effect_sd:
            parts.append(f"effect varies between worksites (sd {self.effect_sd:g} × mean)")
        return "; ".join(parts) if parts else "as randomized"


def _options(options, design, population) -> Options:
    if options is None:
        options = Options()
    if not isinstance(options, Options):
        raise ValueError(f"options must be an Options, got {type(options).__name__}")
    return options.checked(design, population)


# ----------------------------------------------------------------------------- numerics


def _binomial_quantile(u: np.ndarray, size, q: np.ndarray) -> np.ndarray:
    """Inverse binomial CDF, min{k : F(k; size, q) >= u}, elementwise; non-decreasing in q.

    ``size`` is an integer or an array broadcast with ``q``. Sums the pmf recursively
    (pmf(k+1) = pmf(k)·(size−k)/(k+1)·q/(1−q)) over the cells whose CDF is still below
    u; the cells still open are kept in contiguous arrays, compacted whenever fewer
    than 60% of them remain open. q > 1/2 is reflected (k ↦ size − k) so pmf(0) ≥
    2^−size does not underflow; arms above 1,000 workers fall back on scipy.
    """
    q = np.asarray(q, dtype=float)
    u = np.broadcast_to(np.asarray(u, dtype=float), q.shape)
    size = np.broadcast_to(np.asarray(size, dtype=np.int64), q.shape).ravel()
    flip = (q > 0.5).ravel()
    p = np.where(flip, 1.0 - q.ravel(), q.ravel())
    v = np.where(flip, 1.0 - u.ravel(), u.ravel())
    k = np.zeros(p.shape, dtype=np.int64)
    big = size > 1000
    if np.any(big):
        k[big] = stats.binom.ppf(v[big], size[big], p[big]).astype(np.int64)
    with np.errstate(divide="ignore"):
        pmf = np.exp(size * np.log1p(-p))
        ratio = p / (1.0 - p)
    cdf = pmf.copy()
    index = np.flatnonzero(~big & (cdf < v) & (size > 0))
    pmf, cdf, ratio, v = pmf[index], cdf[index], ratio[index], v[index]
    n = size[index].astype(float)
    reached = np.zeros(index.size, dtype=np.int64)  # the k at which a cell's CDF reached u
    still = np.ones(index.size, dtype=bool)
    step = 0
    while index.size:
        pmf *= (n - step) / (step + 1) * ratio
        cdf += pmf
        step += 1
        done = still & ((cdf >= v) | (n <= step))
        reached[done] = step
        still &= ~done
        if np.count_nonzero(still) < 0.6 * index.size:
            k[index[~still]] = reached[~still]
            index, pmf, cdf, ratio, v, n, reached = (
                a[still] for a in (index, pmf, cdf, ratio, v, n, reached))
            still = np.ones(index.size, dtype=bool)
    return np.where(flip, size - k, k).reshape(q.shape)


# ----------------------------------------------------------------------------- simulation


class _Experiment:
    """Common random numbers for ``sims`` trials of up to ``max_sites`` worksites.

    Counts are computed for every stored worksite and cached for the last δ (control
    counts once, unless contamination makes them depend on δ), so any prefix of
    worksites reuses them; a prefix of worksites is the same for any ``max_sites``.
    """

    def __init__(self, population, design, max_sites, sizes, sims, seed, options):
        if sims * max_sites > MAX_CELLS:
            raise ValueError(
                f"sims × worksites = {sims * max_sites:,} exceeds {MAX_CELLS:,} (memory); "
                "use fewer sims or worksites"
            )
        self.design, self.sims, self.options = design, sims, options
        self.population = population
        streams = np.random.SeedSequence(seed).spawn(7)
        draw_rng, site_rng, worker_rng, template_rng, size_rng, effect_rng, coin_rng = (
            np.random.default_rng(s) for s in streams)
        self.draw = draw_rng.integers(0, population.draws, size=sims)
        z = site_rng.standard_normal((max_sites, sims)).T  # worksite-major streams
        self.uniform = worker_rng.random((max_sites, 2, sims)).transpose(2, 0, 1)  # (t, s, arm)
        d = self.draw
        self.site_logit = population.baseline_logit[d, None] + population.site_sd[d, None] * z
        self.template = np.zeros((sims, max_sites), dtype=np.int64)
        self.forecast = np.zeros((sims, max_sites))
        if population.site_offsets is not None:
            self.template = template_rng.integers(
                0, population.templates, size=(max_sites, sims)).T
            self.site_logit = self.site_logit + population.site_offsets[d[:, None], self.template]
            self.forecast = template_forecasts(population)[self.template]
        if sizes is None:
            self.size = np.asarray(population.site_sizes)[self.template]
        else:
            choices = np.atleast_1d(sizes)
            self.size = choices[size_rng.integers(0, choices.size, size=(max_sites, sims)).T]
        self.effect_z = (effect_rng.standard_normal((max_sites, sims)).T
                         if options.effect_sd else None)
        self.coin = coin_rng.random((max_sites // 2 + 1, sims)).T < 0.5
        if design == "worksite":  # each worksite's counts in either arm: all its workers
            self.arm_n = (self.size, self.size)
        else:  # treated floor(m/2), control ceil(m/2)
            half = self.size // 2
            self.arm_n = (self.size - half, half)
        self._cache: dict[tuple[int, float], np.ndarray] = {}
        self._assignments: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}

    def _counts(self, arm: int, delta: float) -> np.ndarray:
        shift = delta * (1 if arm == 1 else self.options.contamination)
        key = (arm, float(shift))
        if key not in self._cache:
            if arm == 1:  # keep control counts; drop treated counts of other effects
                self._cache = {k: v for k, v in self._cache.items() if k[0] == 0}
            eta = self.site_logit
            if shift:
                eta = eta + (shift if self.effect_z is None
                             else shift * (1 + self.options.effect_sd * self.effect_z))
            q = self.population.rates(eta, self.draw[:, None], self.template)
            self._cache[key] = _binomial_quantile(self.uniform[..., arm], self.arm_n[arm], q)
        return self._cache[key]

    def _pairs(self, n_sites: int, match: str) -> np.ndarray:
        """Per trial, the first ``n_sites`` worksites ordered so that pairs are adjacent."""
        key = self.size if match == "size" else self.forecast
        # ties (the same template twice) are broken by the worksite's position
        return np.argsort(key[:, :n_sites], axis=1, kind="stable")

    def assignment(self, n_sites: int, match: str | None = None):
        """(order, treated): the worksites in analysis order and their arm, (sims, n)."""
        match = self.options.match if match is None else match
        key = (n_sites, match)
        if key not in self._assignments:
            self._assignments[key] = self._assign(n_sites, match)
        return self._assignments[key]

    def _assign(self, n_sites: int, match: str):
        if match == "none":
            order = np.broadcast_to(np.arange(n_sites), (self.sims, n_sites))
            return order, np.broadcast_to(np.arange(n_sites) % 2 == 1, (self.sims, n_sites))
        order = self._pairs(n_sites, match)
        first = self.coin[:, : n_sites // 2]
        treated = np.stack([~first, first], axis=2).reshape(self.sims, n_sites)
        return order, treated

    def p_values(self, delta: float, n_sites: int, analysis: tuple[str, bool] | None = None):
        """Each trial's p-value; ``analysis`` = (match, adjust) overrides the options'
        (worksite design: the counts do not depend on how the trial is analysed)."""
        control, treated = self._counts(0, delta), self._counts(1, delta)
        if self.design == "worker":
            return cmh_test(treated[:, :n_sites], self.arm_n[1][:, :n_sites],
                            control[:, :n_sites], self.arm_n[0][:, :n_sites])[1]
        match, adjust = analysis or (self.options.match, self.options.adjust)
        order, arm = self.assignment(n_sites, match)
        if match == "none":  # the first n worksites in their own order
            treated, control = treated[:, :n_sites], control[:, :n_sites]
            size, forecast = self.size[:, :n_sites], self.forecast[:, :n_sites]
        else:
            rows = np.arange(self.sims)[:, None]
            treated, control = treated[rows, order], control[rows, order]
            size, forecast = self.size[rows, order], self.forecast[rows, order]
        rates = np.where(arm, treated, control) / size
        return store_tests(rates, arm, None if match == "none" else 2,
                           forecast if adjust else None).pvalue

    def power(self, delta: float, n_sites: int, alpha: float, analysis=None) -> float:
        return float(np.mean(self.p_values(delta, n_sites, analysis) < alpha))

    def trials(self, delta: float, n_sites: int, effect: float) -> Trials:
        control, treated = self._counts(0, delta), self._counts(1, delta)
        rows = np.arange(self.sims)[:, None]
        sizes = self.size[:, :n_sites]
        if self.design == "worker":
            order = np.broadcast_to(np.arange(n_sites), (self.sims, n_sites))
            n1, n0 = self.arm_n[1][:, :n_sites], self.arm_n[0][:, :n_sites]
            y1, y0 = treated[:, :n_sites], control[:, :n_sites]
        else:
            order, arm = self.assignment(n_sites)
            sizes = self.size[rows, order]
            n1, n0 = np.where(arm, sizes, 0), np.where(arm, 0, sizes)
            y1 = np.where(arm, treated[rows, order], 0)
            y0 = np.where(arm, 0, control[rows, order])
        return Trials(self.design, self.options, delta, effect, self.draw.copy(),
                      np.array(n1), np.array(n0), np.array(y1), np.array(y0),
                      np.array(self.forecast[rows, order]))


@dataclass(frozen=True, eq=False)
class Trials:
    """Simulated trials as counts: one row per trial, one column per worksite.

    ``treated_n``/``control_n`` (sims, n_sites) are the arm sizes of each worksite (0
    for the arm a worksite is not in, under the worksite design); ``treated_signers``
    and ``control_signers`` the signers; ``forecast`` the model's forecast rate of
    each worksite; ``draw`` (sims,) the posterior draw of each trial;
    ``log_odds_ratio`` the simulated δ and ``effect`` the Δ it stands for. Under
    pair-matching the worksites are in analysis order: pairs are adjacent columns.
    """

    design: str
    options: Options
    log_odds_ratio: float
    effect: float
    draw: np.ndarray
    treated_n: np.ndarray
    control_n: np.ndarray
    treated_signers: np.ndarray
    control_signers: np.ndarray
    forecast: np.ndarray

    @property
    def sims(self) -> int:
        return self.treated_signers.shape[0]


def _setup(population, design, n_sites, workers_per_site, alpha, sims, seed, options,
           even: bool = True):
    check_population(population)
    design = check_design(design)
    n_sites = check_sites(design, n_sites)
    sizes = check_sizes(workers_per_site, design)
    if sizes is None:
        site_sizes(population)  # raises if the population has none
    options = _options(options, design, population)
    if even and options.match != "none" and n_sites % 2:
        raise ValueError(f"pair-matching needs an even number of worksites, got {n_sites}")
    return (design, n_sites, sizes, check_alpha(alpha), check_sims(sims), check_seed(seed),
            options)


def simulate_trials(
    population: Population,
    design: str,
    n_sites: int,
    workers_per_site=None,
    *,
    effect: float | None = None,
    odds_ratio: float | None = None,
    sims: int = 2000,
    seed: int = 0,
    options: Options | None = None,
) -> Trials:
    """Posterior-predictive trials (module docstring) as counts per worksite and arm.

    The trials are exactly those :func:`power` analyses for the same arguments and seed:
    ``mean(trial_p_values(trials) < alpha) == power(...).power``. ``sims`` may be
    small here (>= 1).
    """
    design, n_sites, sizes, _, _, seed, options = _setup(
        population, design, n_sites, workers_per_site, 0.05, max(check_sims(sims, low=1), 100),
        seed, options)
    eff = treatment_effect(population, effect, odds_ratio, options.effect_sd)
    experiment = _Experiment(population, design, n_sites, sizes, sims, seed, options)
    return experiment.trials(eff.log_odds_ratio, n_sites, eff.effect)


def trial_p_values(trials: Trials, correction: bool = False) -> np.ndarray:
    """Two-sided p-value of each trial, analysed as its design and options demand.

    ``correction`` applies the CMH continuity correction (worker design only).
    """
    if trials.design == "worker":
        return cmh_test(trials.treated_signers, trials.treated_n, trials.control_signers,
                        trials.control_n, correction=correction)[1]
    arm = trials.treated_n > 0
    rates = (trials.treated_signers + trials.control_signers) / (trials.treated_n
                                                                 + trials.control_n)
    block = None if trials.options.match == "none" else 2
    covariate = trials.forecast if trials.options.adjust else None
    return store_tests(rates, arm, block, covariate).pvalue


# ----------------------------------------------------------------------------- planning


def _mc_se(p: float, sims: int) -> float:
    return math.sqrt(p * (1 - p) / sims)


@dataclass(frozen=True)
class PowerResult:
    """Simulated power of one design point with its Monte Carlo standard error."""

    power: float
    mc_se: float  # sqrt(power·(1 − power)/sims)
    effect: float  # Δ, percentage points at the baseline (fraction)
    log_odds_ratio: float
    baseline_rate: float
    design: str
    n_sites: int
    alpha: float
    sims: int
    seed: int
    options: Options

    def to_dict(self) -> dict:
        return json_safe(self)


def power(
    population: Population,
    design: str,
    n_sites: int,
    workers_per_site=None,
    effect: float | None = None,
    odds_ratio: float | None = None,
    alpha: float = 0.05,
    sims: int = 2000,
    seed: int = 0,
    options: Options | None = None,
) -> PowerResult:
    r"""Posterior-predictive power :math:`\hat P = \frac1R\sum_t 1[p_t < \alpha]`.

    ``effect`` is Δ in percentage points as a fraction (0.05 = 5 points) at the
    baseline rate, or give ``odds_ratio``; ``design`` is ``"worksite"`` or ``"worker"``;
    ``workers_per_site`` is None (the templates' own sizes), one size, or a list of
    sizes to draw from. MC SE :math:`\sqrt{\hat P(1-\hat P)/R}`.
    """
    design, n_sites, sizes, alpha, sims, seed, options = _setup(
        population, design, n_sites, workers_per_site, alpha, sims, seed, options)
    eff = treatment_effect(population, effect, odds_ratio, options.effect_sd)
    experiment = _Experiment(population, design, n_sites, sizes, sims, seed, options)
    p = experiment.power(eff.log_odds_ratio, n_sites, alpha)
    return PowerResult(p, _mc_se(p, sims), eff.effect, eff.log_odds_ratio, eff.baseline_rate,
                       design, n_sites, alpha, sims, seed, options)


@dataclass(frozen=True)
class MdeResult:
    """Minimum detectable effect (percentage points at the baseline) for a target power."""

    mde: float | None  # Δ*, a fraction; None if not reached below a mean treated rate 0.999
    mc_se: float | None  # delta method: sqrt(π(1−π)/sims) / slope of the power curve
    log_odds_ratio: float | None
    power: float | None  # simulated power at the MDE
    target_power: float
    baseline_rate: float
    design: str
    n_sites: int
    alpha: float
    sims: int
    seed: int
    options: Options
    note: str

    def to_dict(self) -> dict:
        return json_safe(self)


_FINE = 3  # points per doubling of δ in the MDE search


def _mde_search(experiment, targets, alpha, target, p0, sims):
    r"""Minimum detectable effects of several (analysis, n) targets on one experiment.

    Every evaluation of :math:`\delta` computes the counts once and the power of every
    target at it (common random numbers). (1) :math:`\delta_k = \delta_0 2^k` until
    every target's power reaches ``target`` (or :math:`\delta` passes the value that
    would give a mean treated rate of 0.999); (2) inside the first octave
    :math:`(\delta_{k-1}, \delta_k]` where a target crosses, :data:`_FINE` − 1 more points
    :math:`\delta_{k-1} 2^{i/3}`; (3) :math:`\delta^*` by linear interpolation of
    :math:`\Phi^{-1}(\hat P)` in :math:`\log\delta` between the last point below and the
    first at or above the target (the power curve of a test is close to
    :math:`\Phi(a\log\delta + b)` there). SE of :math:`\Delta^*` by the delta method with
    the slope of that segment. Returns {target: (δ*, Δ*, SE, note)}.
    """
    population, h = experiment.population, experiment.options.effect_sd
    delta_max = 3 * float(special.logit(0.999) - special.logit(p0))
    powers: dict[float, dict] = {}
    effects: dict[float, float] = {}

    def effect_at(delta):
        if delta not in effects:
            effects[delta] = _marginal_effect(population, delta, p0, h)
        return effects[delta]

    def evaluate(delta):
        if delta not in powers:
            powers[delta] = {t: experiment.power(delta, t[1], alpha, t[0]) for t in targets}
        return powers[delta]

    start = 0.1
    while start > 1e-3 and any(p >= target for p in evaluate(start).values()):
        start /= 2
    ladder, crossed = [start], {}
    while True:
        for t, p in evaluate(ladder[-1]).items():
            if p >= target and t not in crossed:
                crossed[t] = len(ladder) - 1
        if len(crossed) == len(targets) or ladder[-1] * 2 > delta_max:
            break
        ladder.append(ladder[-1] * 2)
    out = {}
    for t in targets:
        if t not in crossed:
            out[t] = (None, None, None,
                      f"power {target:g} not reached for log odds ratios up to {ladder[-1]:.1f}")
            continue
        k = crossed[t]
        low = ladder[k - 1] if k > 0 else ladder[0] / 2
        grid = [low * 2 ** (i / _FINE) for i in range(_FINE + 1)]
        grid[-1] = ladder[k]
        values = np.array([evaluate(d)[t] for d in grid])
        first = int(np.argmax(values >= target))
        if first == 0:  # the power at low is already at target: the ladder's lower rung
            first = 1
        (d0, d1), (p0_, p1_) = grid[first - 1: first + 1], values[first - 1: first + 1]
        clip = 0.5 / sims
        z0, z1, zt = stats.norm.ppf(np.clip([p0_, p1_, target], clip, 1 - clip))
        if z1 > z0:
            log_delta = np.log(d0) + (zt - z0) / (z1 - z0) * (np.log(d1) - np.log(d0))
            delta = float(np.clip(np.exp(log_delta), d0, d1))
        else:
            delta = float(d1)
        mde = effect_at(delta)
        slope = (p1_ - p0_) / (d1 - d0)  # power and Δ per unit δ over the segment
        d_effect = (effect_at(d1) - effect_at(d0)) / (d1 - d0)
        se = _mc_se(target, sims) / slope * d_effect if slope > 0 else None
        out[t] = (delta, mde, se, "interpolated on a grid of log odds ratios with common "
                  "random numbers; SE by the delta method")
    return out


def minimum_detectable_effect(
    population: Population,
    design: str,
    n_sites: int,
    workers_per_site=None,
    target_power: float = 0.8,
    alpha: float = 0.05,
    sims: int = 2000,
    seed: int = 0,
    options: Options | None = None,
) -> MdeResult:
    r"""Smallest rise Δ > 0 of the mean signing rate with simulated power ≥ target.

    The search (:func:`_mde_search`) uses the same random draws for every effect;
    :math:`\Delta^* = \bar p(\delta^*) - p_0`
    (:func:`~organizing.planning.population.treatment_effect`). MC SE by the delta
    method, :math:`\sqrt{\pi^*(1-\pi^*)/R}\,\bar p'(\delta^*) / \hat P'(\delta^*)`.
    ``power`` is the simulated power at :math:`\delta^*` (within MC error of the target).
    """
    design, n_sites, sizes, alpha, sims, seed, options = _setup(
        population, design, n_sites, workers_per_site, alpha, sims, seed, options)
    target = check_target(target_power, alpha)
    p0 = baseline_rate(population)
    experiment = _Experiment(population, design, n_sites, sizes, sims, seed, options)
    key = ((options.match, options.adjust), n_sites)
    delta, mde, se, note = _mde_search(experiment, [key], alpha, target, p0, sims)[key]
    achieved = None if delta is None else experiment.power(delta, n_sites, alpha)
    return MdeResult(mde, se, delta, achieved, target, p0, design, n_sites, alpha, sims, seed,
                     options, note)


@dataclass(frozen=True)
class SitesResult:
    """Smallest total number of worksites reaching the target power, with its MC range."""

    n_sites: int | None  # total over both arms; None if not reached by max_sites
    power: float | None  # simulated power at n_sites
    mc_se: float | None
    n_sites_range: tuple[int | None, int | None]  # smallest n at target ∓ 2 MC SE
    effect: float
    log_odds_ratio: float
    baseline_rate: float
    target_power: float
    design: str
    alpha: float
    sims: int
    seed: int
    max_sites: int
    options: Options
    note: str

    def to_dict(self) -> dict:
        return json_safe(self)


def _smallest_sites(experiment, delta, candidates, alpha, level):
    """Smallest candidate n with power ≥ level by bisection (power ~monotone in n), or None."""
    if experiment.power(delta, candidates[-1], alpha) < level:
        return None
    lo, hi = -1, len(candidates) - 1  # power(candidates[hi]) >= level
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (
            (lo, mid) if experiment.power(delta, candidates[mid], alpha) >= level else (mid, hi)
        )
    return int(candidates[hi])


def _sites_needed(population, design, sizes, eff, target, alpha, sims, seed, max_sites,
                  options):
    step = 2 if design == "worksite" else 1
    candidates = np.arange(min_sites(design), max_sites + 1, step)
    experiment = _Experiment(population, design, int(candidates[-1]), sizes, sims, seed,
                             options)
    delta = eff.log_odds_ratio
    band = 2 * _mc_se(target, sims)
    n = _smallest_sites(experiment, delta, candidates, alpha, target)
    low = _smallest_sites(experiment, delta, candidates, alpha, target - band)
    high = _smallest_sites(experiment, delta, candidates, alpha, min(target + band, 1.0))
    if n is None:
        reached = experiment.power(delta, int(candidates[-1]), alpha)
        note = (
            f"power {reached:.3f} at max_sites={int(candidates[-1])} is below the target {target:g}"
        )
        return None, None, None, (low, high), note
    p = experiment.power(delta, n, alpha)
    note = f"range: smallest n with power >= target -/+ 2 MC SE ({band:.3f})"
    if high is None:
        note += f"; target + 2 MC SE not reached by max_sites={int(candidates[-1])}"
    return n, p, _mc_se(p, sims), (low, high), note


def sites_needed(
    population: Population,
    design: str,
    workers_per_site=None,
    effect: float | None = None,
    odds_ratio: float | None = None,
    target_power: float = 0.8,
    alpha: float = 0.05,
    sims: int = 2000,
    seed: int = 0,
    max_sites: int = 400,
    options: Options | None = None,
) -> SitesResult:
    r"""Smallest total number of worksites :math:`n` (both arms) with power ≥ target.

    Candidates :math:`n = 4, 6, \dots` (worksite design) or :math:`2, 3, \dots`
    (worker design) up to ``max_sites``, searched by bisection over common random
    numbers (the first :math:`n` worksites are shared by every :math:`n`; under
    pair-matching the pairs are formed afresh for each :math:`n`). ``n_sites_range`` =
    :math:`(n_-, n_+)`, the smallest :math:`n` with power :math:`\ge \pi^* \mp
    2\sqrt{\pi^*(1-\pi^*)/R}`: the MC-plausible range of the answer. ``n_sites`` is None
    (with a ``note``) if the target is not reached by ``max_sites``.
    """
    check_population(population)
    max_sites = check_sites(check_design(design), max_sites, "max_sites")
    design, _, sizes, alpha, sims, seed, options = _setup(
        population, design, max_sites, workers_per_site, alpha, sims, seed, options, even=False)
    target = check_target(target_power, alpha)
    eff = treatment_effect(population, effect, odds_ratio, options.effect_sd)
    if eff.log_odds_ratio == 0:
        raise ValueError("sites_needed needs a non-zero effect (power stays at alpha)")
    n, p, se, n_range, note = _sites_needed(
        population, design, sizes, eff, target, alpha, sims, seed, max_sites, options)
    return SitesResult(n, p, se, n_range, eff.effect, eff.log_odds_ratio, eff.baseline_rate,
                       target, design, alpha, sims, seed, max_sites, options, note)


def power_curve(
    population: Population,
    n_sites: Sequence[int],
    effects: Sequence[float],
    workers_per_site=None,
    designs: Sequence[str] = DESIGNS,
    alpha: float = 0.05,
    sims: int = 2000,
    seed: int = 0,
    options: dict[str, Options] | None = None,
):
    """Power over a grid: a pandas DataFrame with one row per design × effect × n_sites.

    Columns: design, effect (Δ, a fraction; 0 gives the type-I error), log_odds_ratio,
    n_sites, power, mc_se. Each design uses one set of common random numbers for the
    whole grid (same seed), so the curves are smooth in both directions. ``options``
    maps a design to its :class:`Options` (default: plain). Every n must be valid for
    every design (>= 4 for the worksite design).
    """
    import pandas as pd

    check_population(population)
    if isinstance(designs, str):
        designs = [designs]
    designs = [check_design(d) for d in designs]
    sizes_list, effect_list = list(n_sites), list(effects)
    if not sizes_list or not effect_list or not designs:
        raise ValueError("n_sites, effects and designs must be non-empty")
    rows, solved = [], {}
    for design in designs:
        chosen = (options or {}).get(design)
        for n in sizes_list:
            _setup(population, design, n, workers_per_site, alpha, sims, seed, chosen)
        design, _, sizes, alpha, sims, seed, chosen = _setup(
            population, design, max(sizes_list), workers_per_site, alpha, sims, seed, chosen)
        experiment = _Experiment(population, design, max(sizes_list), sizes, sims, seed, chosen)
        for value in effect_list:
            if (value, chosen.effect_sd) not in solved:  # δ for Δ: once per effect
                solved[value, chosen.effect_sd] = treatment_effect(
                    population, effect=value, effect_sd=chosen.effect_sd)
            eff = solved[value, chosen.effect_sd]
            for n in sizes_list:
                p = experiment.power(eff.log_odds_ratio, n, alpha)
                rows.append((design, eff.effect, eff.log_odds_ratio, n, p, _mc_se(p, sims)))
    return pd.DataFrame(
        rows, columns=["design", "effect", "log_odds_ratio", "n_sites", "power", "mc_se"]
    )


def mde_grid(population: Population, cases: Sequence[tuple], n_sites: Sequence[int],
             workers_per_site=None, target_power: float = 0.8, alpha: float = 0.05,
             sims: int = 2000, seed: int = 0):
    """Minimum detectable effects for several designs and options at several sizes.

    ``cases`` lists (design, :class:`Options`) pairs, each evaluated at every size in
    ``n_sites``, or (design, Options, sizes) triples with their own sizes. Cases that
    differ only in how the trial is analysed (pair-matching, adjustment) share one
    experiment and every evaluation of its counts (:func:`_mde_search`); every
    experiment uses the same seed, so a case's result does not depend on the others.
    Returns a DataFrame: design, option (:meth:`Options.describe`), match, adjust,
    contamination, effect_sd, n_sites, mde, mc_se (NaN where the target is not reached).
    """
    import pandas as pd

    check_population(population)
    p0 = baseline_rate(population)
    target = check_target(target_power, check_alpha(alpha))
    if not cases:
        raise ValueError("cases must be non-empty")
    cases = [(c[0], c[1], list(c[2]) if len(c) > 2 else list(n_sites)) for c in cases]
    groups: dict[tuple, list] = {}
    for design, chosen, sizes_list in cases:
        if not sizes_list:
            raise ValueError("every case needs at least one number of worksites")
        for n in sizes_list:
            _setup(population, design, n, workers_per_site, alpha, sims, seed, chosen)
        groups.setdefault((design, chosen.contamination, chosen.effect_sd), []).append(
            (chosen, sizes_list))
    found = {}
    for (design, contamination, effect_sd), members in groups.items():
        shared = Options(contamination=contamination, effect_sd=effect_sd)
        top = max(n for _, sizes_list in members for n in sizes_list)
        design, top, sizes, alpha, sims, seed, shared = _setup(
            population, design, top, workers_per_site, alpha, sims, seed, shared, even=False)
        experiment = _Experiment(population, design, top, sizes, sims, seed, shared)
        targets = list(dict.fromkeys(((c.match, c.adjust), n) for c, sizes_list in members
                                     for n in sizes_list))
        for key, value in _mde_search(experiment, targets, alpha, target, p0, sims).items():
            found[(design, contamination, effect_sd, key)] = value
    rows = []
    for design, chosen, sizes_list in cases:
        for n in sizes_list:
            _, mde, se, _ = found[(design, chosen.contamination, chosen.effect_sd,
                                   ((chosen.match, chosen.adjust), n))]
            rows.append({"design": design, "option": chosen.describe(), "match": chosen.match,
                         "adjust": chosen.adjust, "contamination": chosen.contamination,
                         "effect_sd": chosen.effect_sd, "n_sites": n,
                         "mde": np.nan if mde is None else mde,
                         "mc_se": np.nan if se is None else se})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- a plan


@dataclass(frozen=True)
class SizeSummary:
    """The worksite sizes a plan draws from (workers on the roster per worksite)."""

    mean: float
    median: float
    cv: float  # sd/mean; 0 for equal sizes
    smallest: int
    largest: int
    source: str  # "campaign", "equal" or "list"


def size_summary(population: Population, workers_per_site=None) -> SizeSummary:
    sizes = site_sizes(population, workers_per_site)
    source = ("campaign" if workers_per_site is None
              else "equal" if np.ndim(workers_per_site) == 0 else "list")
    return SizeSummary(float(sizes.mean()), float(np.median(sizes)),
                       float(sizes.std() / sizes.mean()), int(sizes.min()), int(sizes.max()),
                       source)


@dataclass(frozen=True)
class PlanSummary:
    """Everything a plan reports for one design point; ``to_dict()`` is JSON-safe.

    Counts of worksites are totals over both arms unless named per arm; workers per
    arm are expected values (sizes are drawn at random).
    """

    design: str
    options: Options
    n_sites: int  # total, both arms
    treated_sites: int  # worksites with the tactic (worksite design) or with treated workers
    control_sites: int
    workers_per_arm: float  # expected workers per arm
    sizes: SizeSummary
    alpha: float
    sims: int
    seed: int
    baseline_rate: float  # forecast mean rate of a new worksite, each worksite counting once
    baseline_rate_workers: float | None  # the same forecast, each worker counting once
    effect: float
    log_odds_ratio: float
    power: float
    power_se: float
    type_one_error: float  # power at a zero effect (should be alpha within MC error)
    type_one_error_se: float
    target_power: float
    mde: float | None
    mde_se: float | None
    sites_needed: int | None  # total, both arms
    sites_needed_range: tuple[int | None, int | None]
    sites_needed_note: str
    icc: Interval  # proportion scale
    latent_icc: Interval  # log-odds scale (not a design-effect ICC)
    design_effect: Interval  # worksite design, at these sizes

    def to_dict(self) -> dict:
        return json_safe(self)


def plan(
    population: Population,
    design: str,
    n_sites: int,
    workers_per_site=None,
    effect: float | None = None,
    odds_ratio: float | None = None,
    alpha: float = 0.05,
    sims: int = 2000,
    seed: int = 0,
    target_power: float = 0.8,
    max_sites: int = 400,
    options: Options | None = None,
) -> PlanSummary:
    """Power (with MC SE) at the design point and at a zero effect, MDE at
    ``target_power`` (with SE), worksites needed for ``target_power`` at the given
    effect (with MC range), and the ICCs and design effect with 90% intervals.

    One seed throughout, so the numbers agree with :func:`power`,
    :func:`minimum_detectable_effect` and :func:`sites_needed` called separately.
    """
    design, n_sites, sizes, alpha, sims, seed, options = _setup(
        population, design, n_sites, workers_per_site, alpha, sims, seed, options)
    target = check_target(target_power, alpha)
    max_sites = check_sites(design, max_sites, "max_sites")
    eff = treatment_effect(population, effect, odds_ratio, options.effect_sd)
    experiment = _Experiment(population, design, n_sites, sizes, sims, seed, options)
    p = experiment.power(eff.log_odds_ratio, n_sites, alpha)
    null = experiment.power(0.0, n_sites, alpha)
    key = ((options.match, options.adjust), n_sites)
    _, mde, mde_se, _ = _mde_search(experiment, [key], alpha, target, eff.baseline_rate,
                                    sims)[key]
    if eff.log_odds_ratio == 0:
        needed, n_range, note = None, (None, None), "undefined for a zero effect"
    else:
        needed, _, _, n_range, note = _sites_needed(
            population, design, sizes, eff, target, alpha, sims, seed, max_sites, options)
    summary = size_summary(population, workers_per_site)
    if design == "worksite":
        treated, control = n_sites // 2, n_sites - n_sites // 2
        per_arm = summary.mean * n_sites / 2
    else:
        treated = control = n_sites
        per_arm = summary.mean * n_sites / 2
    weighted = (baseline_rate(population, weighted=True)
                if population.site_sizes is not None else None)
    return PlanSummary(
        design, options, n_sites, treated, control, per_arm, summary, alpha, sims, seed,
        eff.baseline_rate, weighted, eff.effect, eff.log_odds_ratio, p, _mc_se(p, sims),
        null, _mc_se(null, sims), target, mde, mde_se, needed, n_range, note,
        observed_icc(population), latent_icc(population),
        design_effect(population, workers_per_site))


def check_plan_arguments(design, n_sites, workers_per_site, alpha, sims, seed,
                         options: Options | None = None) -> None:
    """The checks :func:`plan` makes on its arguments, callable before any posterior exists
    (``workers_per_site`` None stands for the campaign's own sizes)."""
    design = check_design(design)
    check_sites(design, n_sites)
    check_sizes(workers_per_site, design)
    check_alpha(alpha)
    check_sims(sims)
    check_seed(seed)
    if options is not None:
        dummy = Population([0.0], [1.0], [0.0], site_offsets=[[0.0]], worker_offsets=[[[0.0]]])
        options.checked(design, dummy)
        if options.match != "none" and n_sites % 2:
            raise ValueError(f"pair-matching needs an even number of worksites, got {n_sites}")


__all__ = ["Options", "PlanSummary", "PowerResult", "MdeResult", "SitesResult", "SizeSummary",
           "Trials", "mde_grid", "minimum_detectable_effect", "plan", "power", "power_curve",
           "simulate_trials", "sites_needed", "size_summary", "trial_p_values",
           "check_plan_arguments"]
