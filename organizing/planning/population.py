r"""New worksites as the fitted model describes them, and what they imply for a trial.

The fitted model describes the log-odds of signing a union card. For a *new*
worksite :math:`s` and a new worker :math:`i` in it, posterior draw
:math:`d = 1, \dots, D` gives

.. math::

    \eta_{si} = \beta_{0d} + o_{dj(s)} + u_s + e_i + \delta\, T_{si}, \qquad
    u_s \sim \mathcal N(0, \sigma_{\mathrm{site},d}^2), \qquad
    y_{si} \sim \operatorname{Bernoulli}(\operatorname{expit} \eta_{si}),

where :math:`\beta_{0d}` is ``Population.baseline_logit``, :math:`j(s)` the
campaign worksite the new one is modelled on (its *template*, with offset
:math:`o_{dj}` from its features and :math:`K` worker-part values :math:`v_{djk}`
for :math:`e_i`; :func:`population_from_draws`), or, without templates,
:math:`o = 0` and :math:`e_i \sim \mathcal N(0, \sigma_{\mathrm{worker},d}^2)`;
:math:`T_{si} \in \{0, 1\}` is the treatment and :math:`\delta` its log odds ratio.
Each template also carries its worksite's size :math:`m_j` (workers on the roster)
and the model's forecast of its signing rate :math:`r_j`
(:func:`template_forecasts`), the quantity a trial can pair worksites on.

**Baseline rate and effect scales.** The baseline rate is the mean signing rate of
new worksites, each worksite counting once,

.. math::

    p_0 = \frac1D \sum_d \frac1J\sum_j E_{u,e}\operatorname{expit}(\beta_{0d} + o_{dj}
    + u + e),

computed by quadrature (below). An effect of :math:`\Delta` percentage points
is the rise of that mean rate, :math:`\bar p(\delta) - p_0 = \Delta`, solved for
:math:`\delta` (:func:`treatment_effect`). :math:`\delta` is a worker-level
(conditional) log odds ratio; because worksites and workers differ it exceeds
:math:`\operatorname{logit}(p_0 + \Delta) - \operatorname{logit}(p_0)`
(non-collapsibility of the odds ratio). Weighting the templates by their sizes
gives the rate of a worker picked at random, :func:`baseline_rate` with
``weighted=True``: the scale of a campaign's own signing rate.

**Quadrature.** Every Gaussian expectation of a logistic,
:math:`E[\operatorname{expit}(a + \sigma Z)]`, is a trapezoid rule on
:math:`z \in [-8, 8]` with normalized weights :math:`\propto \phi(z_j)`. The
integrand is analytic in a strip of half-width :math:`\pi/\sigma`, so the error
falls like :math:`e^{-c/(h\sigma)}` in the step :math:`h`; the number of nodes is
chosen per :math:`\sigma` (17 nodes for :math:`\sigma \le 0.5`, 21 for
:math:`\le 1`, 33 for :math:`\le 1.9`, 57 for :math:`\le 3.6`, 81 for
:math:`\le 5.3`, ...), which keeps the error below :math:`10^{-8}` for every
:math:`a` (checked against adaptive quadrature for :math:`\sigma \le 6`; the
rules for larger :math:`\sigma` keep :math:`h\sigma \le 1`).

**Intraclass correlation and design effect.** The ICC of the binary outcome
itself, on the proportion scale,

.. math::

    \rho = \frac{\operatorname{Var}_s q_s}{\bar p (1 - \bar p)},
    \qquad q_s = E_e \operatorname{expit}(\beta_0 + o_{j(s)} + u_s + e), \quad
    \bar p = E_s q_s,

is the one the variance of a worksite's signing rate follows:
:math:`\operatorname{Var}(Y_s/m_s) = \bar p(1-\bar p)\,(\rho + (1-\rho)/m_s)`. A
worksite-randomized trial compares the unweighted means of its worksites' rates
(:mod:`organizing.planning.analyses`), so against randomizing the same
:math:`\sum_s m_s` workers one by one its variance is larger by the **design
effect**

.. math::

    \mathrm{DE} = \bar m \left(\rho + (1 - \rho)\,\overline{m^{-1}}\right),

with :math:`\bar m` the mean worksite size and :math:`\overline{m^{-1}}` the mean
of the inverse sizes. For equal sizes it is Donner and Klar's :math:`1 + (m-1)\rho`;
unequal sizes raise it, since :math:`\overline{m^{-1}} \ge 1/\bar m`. (Eldridge et
al. 2006 give :math:`1 + ((\mathrm{cv}^2 + 1)\bar m - 1)\rho` for an analysis that
weights worksites by size; with the campaign's sizes, coefficient of variation about
1, that analysis would lose far more, which is why the planner does not weight.)
The latent-scale ICC, :math:`\sigma_B^2/(\sigma_B^2 + \sigma_W^2 + \pi^2/3)`
(:func:`latent_icc`), describes the model's log-odds; it is larger, and it is not a
design effect's ICC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from organizing.planning.common import Interval, check_seed, check_sizes, interval, is_int

# Trapezoid rules for E[f(Z)], Z ~ N(0, 1), on [-8, 8] with normalized weights. A rule
# with n nodes is used for sd <= its bound: error < 1e-8 for E[expit(a + sd·Z)].
_RULE_BOUNDS = np.array([0.5, 1.0, 1.3, 1.9, 2.5, 3.1, 3.6, 4.2, 5.3, 10.0, 20.0, np.inf])
_RULE_NODES = (17, 21, 25, 33, 41, 49, 57, 65, 81, 161, 321, 641)


def _trapezoid_rule(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    z = np.linspace(-8.0, 8.0, nodes)
    w = np.exp(-0.5 * z**2)
    return z, w / w.sum()


_RULES = tuple(_trapezoid_rule(n) for n in _RULE_NODES)
_CHUNK = 1 << 15  # cells per quadrature block (32768 × 81 doubles ≈ 21 MB)
WORKER_OFFSETS = 16  # quantiles summarizing the worker part of a worksite template

# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True, eq=False)
class Population:
    """Latent (log-odds) description of new worksites, one entry per posterior draw.

    ``baseline_logit`` (D,) is :math:`\\beta_{0d}`, ``site_sd`` (D,) the sd of the
    Gaussian worksite-level part :math:`u_s` and ``worker_sd`` (D,) the sd of a
    Gaussian worker-level part (zeros allowed). A scalar is broadcast to the length of
    the others.

    Optionally, the worksites are drawn from ``J`` *templates* per draw (the
    campaign's worksites, :func:`population_from_draws`): ``site_offsets`` (D, J) adds
    :math:`o_{dj}` to the logit of a worksite built on template :math:`j`, and
    ``worker_offsets`` (D, J, K) replaces the Gaussian worker part by :math:`K` equally
    likely worker offsets :math:`v_{djk}` (then ``worker_sd`` must be 0). A new worksite
    picks its template uniformly. ``site_sizes`` (J,), optional, gives each template's
    number of workers: a simulated trial then gives a worksite its template's size.

    >>> Population(baseline_logit=[-1.6], site_sd=[1.2], worker_sd=0.0).draws
    1
    """

    baseline_logit: np.ndarray
    site_sd: np.ndarray
    worker_sd: np.ndarray
    site_offsets: np.ndarray | None = None
    worker_offsets: np.ndarray | None = None
    site_sizes: np.ndarray | None = None

    def __post_init__(self) -> None:
        names = ("baseline_logit", "site_sd", "worker_sd")
        values = {}
        for name in names:
            try:
                value = np.asarray(getattr(self, name), dtype=float)
            except (TypeError, ValueError) as error:
                raise ValueError(f"{name} must be numeric: {error}") from None
            if value.ndim > 1:
                raise ValueError(
                    f"{name} must be 1-D (one entry per draw), got shape {value.shape}"
                )
            values[name] = value
        lengths = {v.size for v in values.values() if v.ndim == 1}
        if len(lengths) > 1:
            shapes = ", ".join(f"{n} {values[n].shape}" for n in names)
            raise ValueError(f"draw arrays differ in length: {shapes}")
        draws = lengths.pop() if lengths else 1
        if draws == 0:
            raise ValueError("a Population needs at least one draw")
        for name in names:
            value = np.array(np.broadcast_to(values[name], (draws,)), dtype=float)
            if not np.all(np.isfinite(value)):
                raise ValueError(f"{name} has non-finite values")
            if name != "baseline_logit" and np.any(value < 0):
                raise ValueError(f"{name} must be non-negative, min is {value.min():g}")
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        self._set_templates(draws)

    def _set_templates(self, draws: int) -> None:
        site, worker = self.site_offsets, self.worker_offsets
        if site is None and worker is None:
            if self.site_sizes is not None:
                raise ValueError("site_sizes needs templates (site_offsets and worker_offsets)")
            return
        if site is None or worker is None:
            raise ValueError("give both site_offsets and worker_offsets, or neither")
        site, worker = np.array(site, dtype=float), np.array(worker, dtype=float)
        if site.ndim != 2 or site.shape[0] != draws or site.shape[1] == 0:
            raise ValueError(f"site_offsets must have shape (draws={draws}, J >= 1), "
                             f"got {site.shape}")
        if worker.ndim != 3 or worker.shape[:2] != site.shape or worker.shape[2] == 0:
            raise ValueError(f"worker_offsets must have shape {site.shape + ('K',)}, "
                             f"got {worker.shape}")
        if not (np.all(np.isfinite(site)) and np.all(np.isfinite(worker))):
            raise ValueError("site_offsets and worker_offsets must be finite")
        if np.any(self.worker_sd > 0):
            raise ValueError("worker_sd must be 0 when worker_offsets describe the workers")
        for name, value in (("site_offsets", site), ("worker_offsets", worker)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        if self.site_sizes is not None:
            sizes = check_sizes(self.site_sizes, "worksite")
            if not isinstance(sizes, np.ndarray) or sizes.shape != (site.shape[1],):
                raise ValueError(f"site_sizes must list one size per template ({site.shape[1]})")
            sizes.setflags(write=False)
            object.__setattr__(self, "site_sizes", sizes)


    @property
    def draws(self) -> int:
        """Number of posterior draws D."""
        return self.baseline_logit.size

    @property
    def templates(self) -> int:
        """Number of worksite templates J per draw (1 for a purely Gaussian population)."""
        return 1 if self.site_offsets is None else self.site_offsets.shape[1]

    def rates(self, eta, draw, template) -> np.ndarray:
        r"""Signing probability of a worksite given its logit part :math:`\eta` (broadcast).

        :math:`q = E_e\operatorname{expit}(\eta + e)`, :math:`e \sim \mathcal N(0,
        \sigma_{\mathrm{worker},d}^2)` by quadrature, or :math:`q = \frac1K\sum_k
        \operatorname{expit}(\eta + v_{djk})` for a template population; ``draw`` and
        ``template`` index each cell's draw and template.
        """
        eta = np.asarray(eta, dtype=float)
        draw = np.broadcast_to(draw, eta.shape)
        if self.worker_offsets is None:
            return _logistic_normal_mean(eta, self.worker_sd[draw])
        template = np.broadcast_to(template, eta.shape)
        flat_eta, flat_d, flat_j = eta.ravel(), draw.ravel(), template.ravel()
        out = np.empty(flat_eta.size)
        k = self.worker_offsets.shape[2]
        for start in range(0, flat_eta.size, _CHUNK):
            sl = slice(start, start + _CHUNK)
            half = 0.5 * (flat_eta[sl, None] + self.worker_offsets[flat_d[sl], flat_j[sl]])
            out[sl] = 0.5 + (0.5 / k) * np.tanh(half).sum(1)
        return out.reshape(eta.shape)


def check_population(population) -> None:
    if not isinstance(population, Population):
        raise ValueError(f"population must be a Population, got {type(population).__name__}")


# ----------------------------------------------------------------------------- numerics


def _logistic_normal_mean(eta, sd) -> np.ndarray:
    """E[expit(eta + sd·Z)], Z ~ N(0, 1), elementwise (broadcast); exact expit where sd = 0."""
    eta, sd = np.broadcast_arrays(np.asarray(eta, dtype=float), np.asarray(sd, dtype=float))
    out = np.empty(eta.shape)  # C-contiguous, so reshape(-1) below is a view
    out[...] = special.expit(eta)
    flat_eta, flat_sd, flat_out = eta.ravel(), sd.ravel(), out.reshape(-1)
    rule = np.where(flat_sd > 0, np.searchsorted(_RULE_BOUNDS, flat_sd), -1)
    for r in np.unique(rule[rule >= 0]):
        z, w = _RULES[r]
        cells = np.flatnonzero(rule == r)
        for start in range(0, cells.size, _CHUNK):
            idx = cells[start : start + _CHUNK]
            half_nodes = 0.5 * (flat_eta[idx, None] + flat_sd[idx, None] * z)  # (chunk, nodes)
            # expit(x) = (1 + tanh(x/2))/2, and tanh is ~3x faster than scipy's expit
            flat_out[idx] = 0.5 + 0.5 * (np.tanh(half_nodes) @ w)
    return out


# ----------------------------------------------------------------------------- population summaries


def _site_rate_grid(population: Population, delta: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    r"""Worksite signing probabilities on a quadrature grid: (q (D, J, nodes), weights).

    :math:`q_{dj}(z) = E_{\mathrm{worker}}\operatorname{expit}(\beta_{0d} + o_{dj} +
    \sigma_{\mathrm{site},d} z + \delta + e)`, with the trapezoid rule of the largest site sd.
    """
    check_population(population)
    z, w = _RULES[np.searchsorted(_RULE_BOUNDS, population.site_sd.max())]
    offsets = 0.0 if population.site_offsets is None else population.site_offsets
    draws, templates = population.draws, population.templates
    eta = (np.broadcast_to(population.baseline_logit[:, None] + offsets, (draws, templates))
           [..., None] + population.site_sd[:, None, None] * z + delta)
    d = np.arange(draws)[:, None, None]
    j = np.arange(templates)[None, :, None]
    return population.rates(eta, d, j), w


_ATOM_BINS = 128


def _atoms(population: Population) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Per draw, the distribution of :math:`o_{dj} + v_{djk}` binned: (centres, weights, sd).

    The :math:`JK` equally likely values of a draw are put in 128 equal-width bins and
    each bin replaced by its mean, which keeps the mean and changes
    :math:`E\,g(o + v)` for a smooth :math:`g` by at most :math:`\max|g''|\,w^2/24`
    (bin width :math:`w`): below :math:`10^{-4}` here. ``sd`` is the Gaussian sd left to
    integrate, :math:`\sqrt{\sigma_{\mathrm{site}}^2 + \sigma_{\mathrm{worker}}^2}`.
    Cached on the population.
    """
    cached = population.__dict__.get("_atoms_cache")
    if cached is not None:
        return cached
    sd = np.hypot(population.site_sd, population.worker_sd)
    if population.site_offsets is None:
        atoms = (np.zeros((population.draws, 1)), np.ones((population.draws, 1)), sd)
    else:
        values = (population.site_offsets[..., None] + population.worker_offsets).reshape(
            population.draws, -1)
        low, high = values.min(1, keepdims=True), values.max(1, keepdims=True)
        width = np.maximum(high - low, 1e-12) / _ATOM_BINS
        index = np.minimum(((values - low) / width).astype(np.int64), _ATOM_BINS - 1)
        flat = index + _ATOM_BINS * np.arange(population.draws)[:, None]
        size = population.draws * _ATOM_BINS
        counts = np.bincount(flat.ravel(), minlength=size).reshape(population.draws, -1)
        sums = np.bincount(flat.ravel(), weights=values.ravel(), minlength=size).reshape(
            population.draws, -1)
        centres = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
        atoms = (centres, counts / values.shape[1], sd)
    object.__setattr__(population, "_atoms_cache", atoms)
    return atoms


def _marginal_rate_draws(population: Population, delta: float = 0.0,
                         effect_sd: float = 0.0) -> np.ndarray:
    r"""Per draw, the mean signing rate of new worksites with the treatment δ, (D,).

    :math:`\bar p_d(\delta) = \sum_b w_{db}\,E\operatorname{expit}(\beta_{0d} + c_{db} +
    \delta + \sigma_d Z)` over the binned atoms of :func:`_atoms`. With an effect that
    varies between worksites, :math:`\delta_s = \delta(1 + h Z_s)` (``effect_sd`` = h),
    the extra Gaussian term adds :math:`(h\delta)^2` to :math:`\sigma_d^2`.
    """
    check_population(population)
    centres, weights, sd = _atoms(population)
    if effect_sd:
        sd = np.hypot(sd, effect_sd * delta)
    eta = population.baseline_logit[:, None] + centres + delta
    rates = _logistic_normal_mean(eta, np.broadcast_to(sd[:, None], eta.shape))
    return (rates * weights).sum(1)


def _template_rate_draws(population: Population) -> np.ndarray:
    r"""Per draw and template, the forecast rate of a new worksite built on it, (D, J).

    :math:`q_{dj} = E_{u}\,\frac1K\sum_k\operatorname{expit}(\beta_{0d} + o_{dj} + u +
    v_{djk})`, :math:`u \sim \mathcal N(0, \sigma_{\mathrm{site},d}^2)`, by quadrature
    (cached on the population).
    """
    cached = population.__dict__.get("_template_rate_cache")
    if cached is None:
        q, w = _site_rate_grid(population)
        cached = q @ w
        object.__setattr__(population, "_template_rate_cache", cached)
    return cached


def template_forecasts(population: Population) -> np.ndarray:
    r"""The model's forecast signing rate of a new worksite like each template, (J,).

    :math:`r_j = \frac1D\sum_d q_{dj}` (:func:`_template_rate_draws`): what the model
    expects before any worker of the worksite is seen, from its features alone; its
    own intercept :math:`u` is unknown and averaged over. This is the "predicted
    rate" a trial can pair worksites on or adjust for. Constant without templates.
    """
    check_population(population)
    return _template_rate_draws(population).mean(0)


def baseline_rate(population: Population, weighted: bool = False) -> float:
    r"""Marginal signing rate of new worksites (untreated), by quadrature.

    .. math::

        p_0 = \frac1D\sum_d \frac1J\sum_j E_{u,e}\operatorname{expit}(\beta_{0d} + o_{dj}
        + u + e), \qquad u \sim \mathcal N(0, \sigma_{\mathrm{site},d}^2),

    with :math:`e` the worker part (Gaussian, or the template's offsets) and
    :math:`o_{dj} = 0` without templates: the expected share of workers who sign at a
    new worksite, averaged over worksites (each worksite counts once, as a
    worksite-randomized trial's comparison does). With :math:`\beta_0 = -1.6` and
    :math:`\sigma_{\mathrm{site}} = 1.2` it is about 0.21 (expit(−1.6) = 0.17 is the
    rate of a typical worksite, and the spread between worksites raises the mean).

    ``weighted=True`` weights template :math:`j` by its size :math:`m_j`
    (``site_sizes``): the forecast share of all workers who sign, each worker counting
    once, which is how a campaign's own signing rate is counted.
    """
    if not weighted:
        return float(np.mean(_marginal_rate_draws(population)))
    if population.site_sizes is None:
        raise ValueError("a size-weighted rate needs templates with site_sizes")
    rates = _template_rate_draws(population).mean(0)
    return float(np.average(rates, weights=population.site_sizes))


def _variance_components(population: Population) -> tuple[np.ndarray, np.ndarray]:
    """Per draw, latent between-worksite and within-worksite variances (D,), (D,)."""
    check_population(population)
    between = population.site_sd**2
    if population.site_offsets is None:
        return between, population.worker_sd**2
    between = between + population.site_offsets.var(axis=1)
    within = population.worker_offsets.var(axis=2).mean(axis=1)
    return between, within


def latent_icc(population: Population) -> Interval:
    r"""Latent-scale ICC :math:`\rho_d = \sigma_{B,d}^2 / (\sigma_{B,d}^2 + \sigma_{W,d}^2
    + \pi^2/3)`: mean and 90% interval over draws.

    Between worksites :math:`\sigma_B^2 = \sigma_{\mathrm{site}}^2 + \operatorname{Var}_j
    o_{dj}`; within :math:`\sigma_W^2 = \sigma_{\mathrm{worker}}^2` or the mean over
    templates of :math:`\operatorname{Var}_k v_{djk}`; :math:`\pi^2/3` is the variance of
    the logistic residual. This is the ICC of the underlying logit, not of the 0/1
    outcome; see :func:`observed_icc`. :math:`\sigma_{\mathrm{site}} = 1.2` alone gives
    :math:`\rho \approx 0.30`.
    """
    return interval(_latent_icc_draws(population))


def _latent_icc_draws(population: Population) -> np.ndarray:
    between, within = _variance_components(population)
    return between / (between + within + np.pi**2 / 3)


def observed_icc(population: Population) -> Interval:
    r"""Observed (proportion-scale) ICC of the binary outcome among untreated workers.

    Per draw, :math:`\rho_{\mathrm{obs}} = \operatorname{Var}_s q_s / (\bar p(1 - \bar p))`
    with :math:`q_s` the signing probability of a new worksite (its template and
    :math:`u_s` random, the worker part averaged out) and :math:`\bar p = E_s q_s`
    (quadrature over :math:`u`, mean over templates); mean and 90% interval over draws.
    This is the ICC of the design-effect formulas (Donner and Klar 2000): for
    worksites of :math:`m` workers, :math:`\operatorname{Var}(Y_s/m) = \bar p(1-\bar p)
    (1 + (m-1)\rho_{\mathrm{obs}})/m`.
    """
    return interval(_observed_icc_draws(population))


def _observed_icc_draws(population: Population) -> np.ndarray:
    cached = population.__dict__.get("_observed_icc_cache")
    if cached is not None:
        return cached
    q, w = _site_rate_grid(population)  # (D, J, nodes)
    mean = (q @ w).mean(1)
    var = np.maximum(((q**2) @ w).mean(1) - mean**2, 0.0)
    denominator = mean * (1 - mean)
    icc = np.divide(var, denominator, out=np.zeros_like(var), where=denominator > 0)
    object.__setattr__(population, "_observed_icc_cache", icc)
    return icc


def site_sizes(population: Population, workers_per_site=None) -> np.ndarray:
    """The worksite sizes a trial draws from: the templates' own (``None``), one size, or
    the given list (:func:`organizing.planning.common.check_sizes`)."""
    sizes = check_sizes(workers_per_site, "worksite")
    if sizes is None:
        if population.site_sizes is None:
            raise ValueError("give workers_per_site: this population has no worksite sizes")
        return np.asarray(population.site_sizes)
    return np.atleast_1d(np.asarray(sizes, dtype=np.int64))


def design_effect(population: Population, workers_per_site=None) -> Interval:
    r"""Design effect of a worksite-randomized trial, per draw: mean and 90% interval.

    .. math::

        \mathrm{DE}_d = \bar m\left(\rho_d + (1-\rho_d)\,\overline{m^{-1}}\right)

    with :math:`\rho_d` the proportion-scale ICC (:func:`observed_icc`) and the
    worksite sizes :math:`m` of :func:`site_sizes`: the variance of the difference of
    the arms' unweighted mean worksite rates, against randomizing the same workers one
    by one (module docstring). Equal sizes give :math:`1 + (m-1)\rho_d`.
    """
    sizes = site_sizes(population, workers_per_site).astype(float)
    icc = _observed_icc_draws(population)
    return interval(sizes.mean() * (icc + (1 - icc) * np.mean(1 / sizes)))


@dataclass(frozen=True)
class Effect:
    """A treatment effect on both scales, at the population's baseline rate."""

    effect: float  # Δ: the rise of the mean signing rate p̄(δ) − p0, as a fraction
    log_odds_ratio: float  # δ, the worker-level (conditional) log odds ratio
    odds_ratio: float  # exp δ
    marginal_effect: float  # p̄(δ) − p0 as computed (equals effect up to ~1e-8)
    baseline_rate: float  # p0


def _marginal_effect(population: Population, delta: float, p0: float,
                     effect_sd: float = 0.0) -> float:
    return float(np.mean(_marginal_rate_draws(population, delta, effect_sd))) - p0


def _delta_for_effect(population: Population, effect: float, p0: float,
                      effect_sd: float = 0.0) -> float:
    """The δ with p̄(δ) − p0 = Δ (p̄ is increasing in δ): bracket, then Brent's method."""
    if effect == 0:
        return 0.0
    sign = 1.0 if effect > 0 else -1.0

    def gap(delta):
        return _marginal_effect(population, delta, p0, effect_sd) - effect

    bound = sign * abs(float(special.logit(p0 + effect) - special.logit(p0)))
    while sign * gap(bound) < 0:  # the conditional δ is larger than the logit difference
        bound *= 2
        if abs(bound) > 60:
            raise ValueError(f"effect {effect:g} is out of reach at the baseline rate {p0:.3f}")
    low, high = sorted((0.0, bound))
    return float(optimize.brentq(gap, low, high, xtol=1e-7))


def treatment_effect(
    population: Population, effect: float | None = None, odds_ratio: float | None = None,
    effect_sd: float = 0.0,
) -> Effect:
    r"""Convert exactly one of ``effect`` (Δ, a fraction: 0.05 = 5 points) or ``odds_ratio``.

    The treatment adds :math:`\delta` to every treated worker's log-odds. An effect of
    :math:`\Delta` percentage points is a rise of the mean signing rate of new
    worksites from the baseline :math:`p_0` (:func:`baseline_rate`) to :math:`p_0 +
    \Delta`:

    .. math::

        \bar p(\delta) = \frac1D\sum_d\frac1J\sum_j E_{u,e}\operatorname{expit}(\beta_{0d}
        + o_{dj} + u + e + \delta) = p_0 + \Delta,

    solved for :math:`\delta` by Brent's method (:math:`\bar p` is increasing). It is
    what a trial's difference in signing rates estimates. Because worksites and
    workers differ, :math:`\delta` exceeds :math:`\operatorname{logit}(p_0 + \Delta) -
    \operatorname{logit}(p_0)` (non-collapsibility of the odds ratio): a worker-level
    log odds ratio moves a spread-out population's mean rate less than it moves a
    typical worker's. An odds ratio gives :math:`\delta = \log\mathrm{OR}` and
    :math:`\Delta = \bar p(\delta) - p_0`.

    ``effect_sd`` = :math:`h \ge 0` lets the effect vary between worksites,
    :math:`\delta_s = \delta(1 + h Z_s)` with :math:`Z_s \sim \mathcal N(0, 1)`;
    :math:`\Delta` is then the rise of the mean rate averaged over that variation too.
    """
    check_population(population)
    if (effect is None) == (odds_ratio is None):
        raise ValueError("give exactly one of effect (percentage points) or odds_ratio")
    p0 = baseline_rate(population)
    if effect is not None:
        if not isinstance(effect, int | float | np.floating) or not math.isfinite(effect):
            raise ValueError(f"effect must be a finite number, got {effect!r}")
        if not 0 < p0 + effect < 1:
            raise ValueError(
                f"effect {effect:g} puts the treated rate {p0 + effect:.3f} outside "
                f"(0, 1) at the baseline rate {p0:.3f}"
            )
        delta = _delta_for_effect(population, float(effect), p0, effect_sd)
    else:
        if not isinstance(odds_ratio, int | float | np.floating) or not (
            math.isfinite(odds_ratio) and odds_ratio > 0
        ):
            raise ValueError(f"odds_ratio must be a finite number > 0, got {odds_ratio!r}")
        delta = float(np.log(odds_ratio))
    return _effect_from_delta(population, delta, p0, effect_sd)


def _effect_from_delta(population: Population, delta: float, p0: float,
                       effect_sd: float = 0.0) -> Effect:
    marginal = _marginal_effect(population, delta, p0, effect_sd) if delta != 0 else 0.0
    return Effect(marginal, delta, float(np.exp(delta)), marginal, p0)


def population_from_draws(alpha, site_scale, beta_group, beta_individual_mean,
                          beta_individual_scale, site_x, worker_x, site_index, *,
                          offsets: int = WORKER_OFFSETS, seed: int = 0) -> Population:
    r"""The posterior predictive population of *new* worksites of the headline model.

    The headline model (:func:`organizing.models.logits.headline_logits`) gives worker
    :math:`i` at worksite :math:`s` the log-odds

    .. math::

        \ell_{si} = \alpha + x_s^\top\beta + u_s + z_i^\top b_s, \qquad
        u_s \sim \mathcal N(0, \sigma_u^2), \qquad b_s = \mu_b + \tau_b \odot \varepsilon_s,
        \quad \varepsilon_s \sim \mathcal N(0, I_P).

    A new worksite is one like the campaign's: for posterior draw :math:`d` it takes
    the features of campaign worksite :math:`j` (its *template*, chosen uniformly: the
    worksite features :math:`x_j` and its workers' features :math:`z_i`, :math:`i \in
    j`), a fresh intercept :math:`u \sim \mathcal N(0, \sigma_{u,d}^2)` and fresh
    coefficients :math:`b_{dj} = \mu_{b,d} + \tau_{b,d} \odot \varepsilon_{dj}` (one
    :math:`\varepsilon_{dj}` per draw and template, from ``seed``). Splitting the worker
    part at the worksite mean :math:`\bar z_j`,

    .. math::

        \ell = \underbrace{\alpha_d}_{\texttt{baseline\_logit}}
        + \underbrace{x_j^\top\beta_d + \bar z_j^\top b_{dj}}_{o_{dj}\ (\texttt{site\_offsets})}
        + \underbrace{u}_{\sigma_{u,d}\ (\texttt{site\_sd})}
        + \underbrace{(z_i - \bar z_j)^\top b_{dj}}_{v_{djk}\ (\texttt{worker\_offsets})},

    where the worker part is summarized by ``offsets`` equal-mass group means: the
    template's deviations sorted, each counted :math:`K` times and cut into :math:`K`
    groups of :math:`n_j`, so :math:`v_{djk}` is the mean of the :math:`k`-th
    :math:`1/K` of the distribution (mean exactly 0; on the campaign's posterior the
    worksite rates of :math:`K = 16` groups are within 0.003 of the exact average over
    workers, whose heavy upper tail the groups smooth a little). Hence the latent
    variance between new worksites is
    :math:`\sigma_u^2 + \operatorname{Var}_j(x_j^\top\beta + \bar z_j^\top b_{dj})`, whose
    expectation over :math:`\varepsilon` is :math:`\sigma_u^2 +
    \operatorname{Var}_j(x_j^\top\beta + \bar z_j^\top\mu_b) + \overline{\sum_p \bar
    z_{jp}^2\tau_p^2}`, and within a worksite it is the variance of
    :math:`(z_i - \bar z_j)^\top b_{dj}` over its workers (:func:`latent_icc`). The
    worker part is kept as a distribution, not a normal sd: with binary worker features
    it is far from normal, and a normal of the same variance would put the marginal
    signing rate far from the campaign's. The signing probability of a new worksite,
    :math:`q = \frac1K\sum_k\operatorname{expit}(\alpha + o + u + v_k)`, then reproduces
    the mean and spread of the campaign's worksite rates as the model predicts them.

    The book passes the headline design (:func:`organizing.features.within_between`):
    its worker columns are already measured from the worksite means, so
    :math:`\bar z_j = 0` and the terms in :math:`\bar z_j` vanish, while the
    workforce's composition enters :math:`x_j^\top\beta` through the worksite-mean
    columns and their coefficients :math:`\gamma`. The between-worksite variance is
    then :math:`\sigma_u^2 + \operatorname{Var}_j(x_j^\top\beta)`.

    ``alpha`` (D,), ``site_scale`` (D,) :math:`\sigma_u`, ``beta_group`` (D, Q),
    ``beta_individual_mean`` and ``beta_individual_scale`` (D, P), ``site_x`` (S, Q),
    ``worker_x`` (N, P), ``site_index`` (N,). Only worksites with at least one worker
    are templates; each keeps its number of workers as its size (``site_sizes``). The
    result holds no worker rows: per draw and template, K quantiles.
    """
    alpha = np.asarray(alpha, dtype=float)
    beta_group = np.asarray(beta_group, dtype=float)
    mean_b = np.asarray(beta_individual_mean, dtype=float)
    scale_b = np.asarray(beta_individual_scale, dtype=float)
    site_x, worker_x = np.asarray(site_x, dtype=float), np.asarray(worker_x, dtype=float)
    site_index = np.asarray(site_index)
    if not is_int(offsets) or offsets < 1:
        raise ValueError(f"offsets must be an integer >= 1, got {offsets!r}")
    draws, features = mean_b.shape
    if worker_x.shape != (site_index.size, features):
        raise ValueError(f"worker_x must have shape ({site_index.size}, {features}), "
                         f"got {worker_x.shape}")
    sites = np.flatnonzero(np.bincount(site_index, minlength=site_x.shape[0]) > 0)
    rng = np.random.default_rng(check_seed(seed))
    eps = rng.standard_normal((draws, sites.size, features))
    b = mean_b[:, None, :] + scale_b[:, None, :] * eps  # (D, J, P)
    site_offsets = (beta_group @ site_x[sites].T)  # (D, J)
    worker_offsets = np.empty((draws, sites.size, offsets))
    for j, site in enumerate(sites):
        z = worker_x[site_index == site]
        z_bar = z.mean(axis=0)
        site_offsets[:, j] += b[:, j] @ z_bar
        deviations = b[:, j] @ (z - z_bar).T  # (D, n_j)
        ordered = np.sort(deviations, axis=1)  # K equal-mass groups: each worker K times
        worker_offsets[:, j] = (np.repeat(ordered, offsets, axis=1)
                                .reshape(draws, offsets, -1).mean(axis=2))
    sizes = np.bincount(site_index, minlength=site_x.shape[0])[sites]
    return Population(baseline_logit=alpha, site_sd=np.asarray(site_scale, dtype=float),
                      worker_sd=0.0, site_offsets=site_offsets, worker_offsets=worker_offsets,
                      site_sizes=sizes)


