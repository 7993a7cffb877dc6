r"""Plan a randomized organizing experiment from a fitted model's posterior.

The fitted model describes the log-odds of signing a union card. For a *new*
worksite :math:`s` and a new worker :math:`i` in it, posterior draw
:math:`d = 1, \dots, D` gives

.. math::

    \eta_{si} = \beta_{0d} + u_s + e_i + \delta\, T_{si}, \qquad
    u_s \sim \mathcal N(0, \sigma_{\mathrm{site},d}^2), \qquad
    e_i \sim \mathcal N(0, \sigma_{\mathrm{worker},d}^2), \qquad
    y_{si} \sim \operatorname{Bernoulli}(\operatorname{expit} \eta_{si}),

where :math:`\beta_{0d}` is ``Population.baseline_logit`` (a typical worker at a
typical worksite), :math:`\sigma_{\mathrm{site}}` the between-worksite sd
(``site_sd``, e.g. :math:`\sqrt{\sigma_u^2 + \operatorname{Var}(x_s^\top\gamma)}`),
:math:`\sigma_{\mathrm{worker}}` the within-worksite sd of the worker part
(``worker_sd``), :math:`T_{si} \in \{0, 1\}` the treatment and :math:`\delta` the
treatment's log odds ratio. Illustrative campaign numbers: :math:`\beta_0 \approx -1.6`
(:math:`\operatorname{expit}(-1.6) \approx 17\%`), :math:`\sigma_{\mathrm{site}} \approx 1.2`,
about 130 workers per worksite.

**Baseline rate and effect scales.** The baseline rate is the population-mean
signing rate of the draws,

.. math::

    p_0 = \frac1D \sum_d \int \operatorname{expit}(\beta_{0d} + \tau_d z)\,\phi(z)\,dz,
    \qquad \tau_d^2 = \sigma_{\mathrm{site},d}^2 + \sigma_{\mathrm{worker},d}^2,

computed by quadrature (below). An effect of :math:`\Delta` percentage points
*at the baseline* means :math:`\delta = \operatorname{logit}(p_0 + \Delta) -
\operatorname{logit}(p_0)` (requires :math:`0 < p_0 + \Delta < 1`); an odds ratio
means :math:`\delta = \log \mathrm{OR}`. :math:`\delta` is a worker-level
(conditional) log odds ratio, so the population-averaged difference
:math:`\bar p_1 - p_0` (``marginal_effect``) is somewhat smaller than
:math:`\Delta` when worksites differ (non-collapsibility of the odds ratio).

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

**Simulation (posterior predictive trials).** Trial :math:`t` draws a posterior
index :math:`d_t` uniformly, worksite effects :math:`u_s = \sigma_{\mathrm{site},d_t}
z_{ts}` and, given :math:`u_s`, the workers of one worksite-arm sign independently
with the same probability

.. math::

    q_{ts}(T) = E_e\bigl[\operatorname{expit}(\beta_{0d_t} + u_s + \delta T + e)\bigr],

because the :math:`e_i` are independent across workers. The number of signers
in a worksite-arm of :math:`n` workers is therefore exactly
:math:`\operatorname{Binomial}(n, q_{ts}(T))`; it is drawn by inversion,
:math:`Y = F^{-1}_{n, q}(V_{ts,T})` with a stored uniform :math:`V`, so no
per-worker numbers are needed. Averaging over :math:`d_t` makes the reported
power the posterior-predictive power ("assurance"), which includes the
uncertainty about :math:`\beta_0` and the sds.

**Common random numbers.** :math:`d_t`, :math:`z_{ts}` and :math:`V_{ts,T}` come
from three independent streams spawned from one seed, site-major, so (i) the same
seed reproduces every number exactly, (ii) the same draws are used for every
effect, and because :math:`F^{-1}_{n,q}(V)` is non-decreasing in :math:`q`, the
treated counts are non-decreasing in :math:`\delta` (power is then
monotone in the effect up to the tests' own non-monotonicity), and (iii) the
first :math:`n` worksites of a run with more worksites are the same worksites,
so power is nearly monotone in :math:`n` too.

**Designs and analyses** (two-sided tests at level :math:`\alpha`).

*Worksite-randomized* (``"worksite"``): worksites :math:`s = 1, 3, 5, \dots`
(0-based odd) are treated, i.e. :math:`\lfloor n/2 \rfloor` treated and
:math:`\lceil n/2 \rceil` control worksites, all :math:`m` workers of a worksite
in its arm. The analysis is the cluster-level pooled two-sample *t*-test on the
worksite proportions :math:`\hat p_s = Y_s/m` (Hayes and Moulton 2017, ch. 9):

.. math::

    t = \frac{\bar p_1 - \bar p_0}{s\sqrt{1/k_1 + 1/k_0}}, \qquad
    s^2 = \frac{\sum_{\text{arm }1}(\hat p_s - \bar p_1)^2
        + \sum_{\text{arm }0}(\hat p_s - \bar p_0)^2}{k_1 + k_0 - 2},

with :math:`k_1 + k_0 - 2` degrees of freedom (:math:`s = 0`: :math:`p = 1` if
:math:`\bar p_1 = \bar p_0`, else :math:`p = 0`). :func:`gee_test` fits a GEE
(binomial, logit link, exchangeable working correlation, robust standard errors)
to one trial as a cross-check.

*Worker-randomized, stratified by worksite* (``"worker"``): in every worksite
:math:`\lfloor m/2 \rfloor` workers are treated and :math:`\lceil m/2 \rceil` are
controls. The analysis is the Cochran–Mantel–Haenszel test over the worksite
:math:`2 \times 2` tables (treated signers :math:`a_s` of :math:`n_{1s}`, control
signers :math:`c_s` of :math:`n_{0s}`, :math:`N_s = n_{1s} + n_{0s}`,
:math:`M_s = a_s + c_s`):

.. math::

    S = \sum_s \Bigl(a_s - \frac{n_{1s} M_s}{N_s}\Bigr), \qquad
    V = \sum_s \frac{n_{1s} n_{0s} M_s (N_s - M_s)}{N_s^2 (N_s - 1)}, \qquad
    \chi^2_{\mathrm{CMH}} = \frac{(|S| - c)_+^2}{V} \sim \chi^2_1,

with :math:`c = 0` by default (no continuity correction; the correction
:math:`c = 1/2` only makes the test conservative and is negligible with
tens of workers per arm). A worksite where everyone or no one signs has
:math:`a_s = n_{1s}M_s/N_s` and variance 0, so it adds nothing; if :math:`V = 0`
the statistic is 0 and :math:`p = 1`.

**Monte Carlo standard errors.** Power :math:`\hat P` over :math:`R` trials has
:math:`\mathrm{SE} = \sqrt{\hat P(1-\hat P)/R}`. The minimum detectable effect
(MDE) is found by bisection on :math:`\delta` with common random numbers; its
SE is the delta method, :math:`\mathrm{SE}(\Delta^*) = \sqrt{\pi^*(1-\pi^*)/R}
\,/\, \hat P'(\Delta^*)`, where :math:`\pi^*` is the target power and the slope
:math:`\hat P'` is a central difference of the simulated power curve over
:math:`\delta^* \pm 0.1\,\delta^*` (same draws). The number of worksites needed
comes with the range :math:`[n_-, n_+]` where :math:`n_\mp` is the smallest
:math:`n` with :math:`\hat P(n) \ge \pi^* \mp 2\sqrt{\pi^*(1-\pi^*)/R}`.

**Intraclass correlation.** The latent-scale ICC of a draw is
:math:`\rho = \sigma_{\mathrm{site}}^2 / (\sigma_{\mathrm{site}}^2 +
\sigma_{\mathrm{worker}}^2 + \pi^2/3)` (the logistic residual has variance
:math:`\pi^2/3`). The closed-form design effect of Donner and Klar (2000),
:math:`\mathrm{DE} = 1 + (m-1)\rho`, uses the ICC of the binary outcome itself,
the observed (proportion-scale) ICC

.. math::

    \rho_{\mathrm{obs}} = \frac{\operatorname{Var}_u q(u)}{\bar p (1 - \bar p)},
    \qquad q(u) = E_e \operatorname{expit}(\beta_0 + u + e), \quad \bar p = E_u q(u),

which is smaller than the latent one at a 17% signing rate.
:func:`design_effect` reports either scale; :func:`latent_icc` and
:func:`observed_icc` give the mean and 90% interval over draws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
from scipy import optimize, special, stats

DESIGNS = ("worksite", "worker")
MAX_SITES = 2000
MAX_CELLS = 20_000_000  # memory guard: sims × worksites (about 60 bytes each are stored)

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
_MIN_SIMS = 100
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
    picks its template uniformly.

    >>> Population(baseline_logit=[-1.6], site_sd=[1.2], worker_sd=0.0).draws
    1
    """

    baseline_logit: np.ndarray
    site_sd: np.ndarray
    worker_sd: np.ndarray
    site_offsets: np.ndarray | None = None
    worker_offsets: np.ndarray | None = None

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


@dataclass(frozen=True)
class Interval:
    """Posterior mean and equal-tailed interval of a per-draw quantity."""

    mean: float
    lower: float
    upper: float
    level: float = 0.9

    def to_dict(self) -> dict:
        return _json_safe(self)


# ----------------------------------------------------------------------------- validation


def _is_int(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _check_population(population) -> None:
    if not isinstance(population, Population):
        raise ValueError(f"population must be a Population, got {type(population).__name__}")


def _check_design(design) -> str:
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")
    return design


def _min_sites(design: str) -> int:
    return 4 if design == "worksite" else 2


def _check_sites(design: str, n_sites, name: str = "n_sites") -> int:
    low = _min_sites(design)
    if not _is_int(n_sites) or n_sites < low:
        why = " (2 per arm for the t-test)" if design == "worksite" else ""
        raise ValueError(
            f"{name} must be an integer >= {low} for the {design} design{why}, got {n_sites!r}"
        )
    if n_sites > MAX_SITES:
        raise ValueError(f"{name} must be <= {MAX_SITES}, got {n_sites}")
    return int(n_sites)


def _check_workers(workers_per_site) -> int:
    if not _is_int(workers_per_site) or workers_per_site < 2:
        raise ValueError(f"workers_per_site must be an integer >= 2, got {workers_per_site!r}")
    return int(workers_per_site)


def _check_alpha(alpha) -> float:
    if not isinstance(alpha, int | float | np.floating) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    return float(alpha)


def _check_sims(sims, low: int = _MIN_SIMS) -> int:
    if not _is_int(sims) or sims < low:
        raise ValueError(f"sims must be an integer >= {low}, got {sims!r}")
    return int(sims)


def _check_seed(seed) -> int:
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _check_target(target_power, alpha: float) -> float:
    if not isinstance(target_power, int | float | np.floating) or not alpha < target_power < 1:
        raise ValueError(f"target_power must be in (alpha, 1) = ({alpha}, 1), got {target_power!r}")
    return float(target_power)


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


def _binomial_quantile(u: np.ndarray, size: int, q: np.ndarray) -> np.ndarray:
    """Inverse binomial CDF, min{k : F(k; size, q) >= u}, elementwise; non-decreasing in q.

    Sums the pmf recursively (pmf(k+1) = pmf(k)·(size−k)/(k+1)·q/(1−q)) over the cells
    whose CDF is still below u. q > 1/2 is reflected (k ↦ size − k) so pmf(0) ≥ 2^−size
    does not underflow; very large arms fall back on scipy.
    """
    if size > 1000:
        return stats.binom.ppf(u, size, q).astype(np.int64)
    flip = q > 0.5
    p = np.where(flip, 1.0 - q, q).ravel()
    v = np.where(flip, 1.0 - u, u).ravel()
    pmf = np.exp(size * np.log1p(-p))
    cdf = pmf.copy()
    ratio = p / (1.0 - p)
    k = np.zeros(p.shape, dtype=np.int64)
    active = np.flatnonzero(cdf < v)
    step = 0
    while active.size and step < size:
        pmf_a = pmf[active] * ((size - step) / (step + 1)) * ratio[active]
        pmf[active] = pmf_a
        cdf[active] += pmf_a
        step += 1
        k[active] = step
        active = active[cdf[active] < v[active]]
    k = k.reshape(np.shape(q))
    return np.where(flip, size - k, k)


def _interval(values: np.ndarray, level: float = 0.9) -> Interval:
    tail = (1 - level) / 2
    lower, upper = np.quantile(values, [tail, 1 - tail])
    return Interval(float(np.mean(values)), float(lower), float(upper), level)


def _json_safe(obj):
    """Dataclasses, tuples and numpy scalars as JSON-safe Python objects (NaN/inf → None)."""
    if hasattr(obj, "__dataclass_fields__"):
        return {f.name: _json_safe(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if _is_int(obj):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    return obj


# ----------------------------------------------------------------------------- population summaries


def _site_rate_grid(population: Population, delta: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    r"""Worksite signing probabilities on a quadrature grid: (q (D, J, nodes), weights).

    :math:`q_{dj}(z) = E_{\mathrm{worker}}\operatorname{expit}(\beta_{0d} + o_{dj} +
    \sigma_{\mathrm{site},d} z + \delta + e)`, with the trapezoid rule of the largest site sd.
    """
    _check_population(population)
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


def _marginal_rate_draws(population: Population, delta: float = 0.0) -> np.ndarray:
    r"""Per draw, the mean signing rate of new worksites with the treatment δ, (D,).

    :math:`\bar p_d(\delta) = \sum_b w_{db}\,E\operatorname{expit}(\beta_{0d} + c_{db} +
    \delta + \sigma_d Z)` over the binned atoms of :func:`_atoms`.
    """
    _check_population(population)
    centres, weights, sd = _atoms(population)
    eta = population.baseline_logit[:, None] + centres + delta
    rates = _logistic_normal_mean(eta, np.broadcast_to(sd[:, None], eta.shape))
    return (rates * weights).sum(1)


def baseline_rate(population: Population) -> float:
    r"""Marginal signing rate of new worksites (untreated), by quadrature.

    .. math::

        p_0 = \frac1D\sum_d \frac1J\sum_j E_{u,e}\operatorname{expit}(\beta_{0d} + o_{dj}
        + u + e), \qquad u \sim \mathcal N(0, \sigma_{\mathrm{site},d}^2),

    with :math:`e` the worker part (Gaussian, or the template's offsets) and
    :math:`o_{dj} = 0` without templates: the expected share of workers who sign at a
    new worksite, averaged over worksites (each worksite counts once, as in a trial of
    equal-sized worksites). With :math:`\beta_0 = -1.6` and :math:`\sigma_{\mathrm{site}}
    = 1.2` it is about 0.21 (expit(−1.6) = 0.17 is the rate of a typical worksite, and
    the spread between worksites raises the mean).
    """
    return float(np.mean(_marginal_rate_draws(population)))


def _variance_components(population: Population) -> tuple[np.ndarray, np.ndarray]:
    """Per draw, latent between-worksite and within-worksite variances (D,), (D,)."""
    _check_population(population)
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
    return _interval(_latent_icc_draws(population))


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
    return _interval(_observed_icc_draws(population))


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


def design_effect(population: Population, workers_per_site: int, scale: str = "latent") -> Interval:
    r"""Design effect :math:`\mathrm{DE} = 1 + (m - 1)\rho` per draw: mean and 90% interval.

    ``scale="latent"`` uses :func:`latent_icc` (as the study's model states it),
    ``scale="observed"`` the proportion-scale :func:`observed_icc`, which is the ICC
    the closed-form variance inflation :math:`\operatorname{Var}(\hat p_s) =
    p(1-p)\,\mathrm{DE}/m` of equal-sized worksites refers to.
    """
    m = _check_workers(workers_per_site)
    if scale == "latent":
        icc = _latent_icc_draws(population)
    elif scale == "observed":
        icc = _observed_icc_draws(population)
    else:
        raise ValueError(f"scale must be 'latent' or 'observed', got {scale!r}")
    return _interval(1 + (m - 1) * icc)


@dataclass(frozen=True)
class Effect:
    """A treatment effect on both scales, at the population's baseline rate."""

    effect: float  # Δ: the rise of the mean signing rate p̄(δ) − p0, as a fraction
    log_odds_ratio: float  # δ, the worker-level (conditional) log odds ratio
    odds_ratio: float  # exp δ
    marginal_effect: float  # p̄(δ) − p0 as computed (equals effect up to ~1e-8)
    baseline_rate: float  # p0


def _marginal_effect(population: Population, delta: float, p0: float) -> float:
    return float(np.mean(_marginal_rate_draws(population, delta))) - p0


def _delta_for_effect(population: Population, effect: float, p0: float) -> float:
    """The δ with p̄(δ) − p0 = Δ (p̄ is increasing in δ): bracket, then Brent's method."""
    if effect == 0:
        return 0.0
    sign = 1.0 if effect > 0 else -1.0

    def gap(delta):
        return _marginal_effect(population, delta, p0) - effect

    bound = sign * abs(float(special.logit(p0 + effect) - special.logit(p0)))
    while sign * gap(bound) < 0:  # the conditional δ is larger than the logit difference
        bound *= 2
        if abs(bound) > 60:
            raise ValueError(f"effect {effect:g} is out of reach at the baseline rate {p0:.3f}")
    low, high = sorted((0.0, bound))
    return float(optimize.brentq(gap, low, high, xtol=1e-7))


def treatment_effect(
    population: Population, effect: float | None = None, odds_ratio: float | None = None
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
    """
    _check_population(population)
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
        delta = _delta_for_effect(population, float(effect), p0)
    else:
        if not isinstance(odds_ratio, int | float | np.floating) or not (
            math.isfinite(odds_ratio) and odds_ratio > 0
        ):
            raise ValueError(f"odds_ratio must be a finite number > 0, got {odds_ratio!r}")
        delta = float(np.log(odds_ratio))
    return _effect_from_delta(population, delta, p0)


def _effect_from_delta(population: Population, delta: float, p0: float) -> Effect:
    marginal = _marginal_effect(population, delta, p0) if delta != 0 else 0.0
    return Effect(marginal, delta, float(np.exp(delta)), marginal, p0)


# ----------------------------------------------------------------------------- analyses


def cluster_t_test(treated: np.ndarray, control: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Pooled two-sample *t*-test on the last axis, vectorized over the leading axes.

    ``treated`` (..., k1) and ``control`` (..., k0) hold worksite proportions;
    :math:`t = (\bar p_1 - \bar p_0)/(s\sqrt{1/k_1 + 1/k_0})` with the pooled variance
    :math:`s^2` on :math:`k_1 + k_0 - 2` df. Returns (t, two-sided p). Zero variance (below
    1e-12 of the means, i.e. rounding): t = 0, p = 1 if the means are equal, else
    t = ±inf, p = 0.
    """
    treated, control = np.asarray(treated, dtype=float), np.asarray(control, dtype=float)
    k1, k0 = treated.shape[-1], control.shape[-1]
    if k1 < 2 or k0 < 2:
        raise ValueError(f"the t-test needs >= 2 worksites per arm, got {k1} and {k0}")
    mean1, mean0 = treated.mean(-1), control.mean(-1)
    sum_sq = ((treated - mean1[..., None]) ** 2).sum(-1) + ((control - mean0[..., None]) ** 2).sum(
        -1
    )
    df = k1 + k0 - 2
    se = np.sqrt(sum_sq / df * (1 / k1 + 1 / k0))
    diff = mean1 - mean0
    # rounding leaves ~1e-17 where all values of an arm are equal: treat as exactly zero
    tiny = 1e-12 * (np.abs(mean1) + np.abs(mean0))
    se = np.where(se > tiny, se, 0.0)
    diff = np.where(np.abs(diff) > tiny, diff, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, diff / se, np.where(diff == 0, 0.0, np.sign(diff) * np.inf))
    return t, 2 * stats.t.sf(np.abs(t), df)


def cmh_test(
    treated_events,
    treated_n,
    control_events,
    control_n,
    correction: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Cochran–Mantel–Haenszel test of a common odds ratio of 1; strata on the last axis.

    Arrays broadcast; for stratum :math:`s`, :math:`a_s` treated events of :math:`n_{1s}`,
    :math:`c_s` control events of :math:`n_{0s}`. Returns
    :math:`(\chi^2_{\mathrm{CMH}}, p)` with
    :math:`\chi^2 = (|S| - c)_+^2 / V` (module docstring), :math:`c = 1/2` if
    ``correction`` else 0, :math:`p = P(\chi^2_1 > \chi^2)`. Strata with fewer than two
    workers or with all-0/all-1 outcomes have variance 0 and contribute nothing;
    :math:`V = 0` gives statistic 0 and :math:`p = 1`. Equals statsmodels'
    ``StratifiedTable(...).test_null_odds(correction)`` except that statsmodels does
    not clip :math:`|S| - 1/2` at 0.
    """
    a, n1, c, n0 = (
        np.asarray(x, dtype=float) for x in (treated_events, treated_n, control_events, control_n)
    )
    if np.any(a < 0) or np.any(c < 0) or np.any(a > n1) or np.any(c > n0):
        raise ValueError("events must lie between 0 and the arm sizes")
    total = n1 + n0
    events = a + c
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(total > 0, n1 * events / total, 0.0)
        var = np.where(
            total > 1, n1 * n0 * events * (total - events) / (total**2 * (total - 1)), 0.0
        )
    score = (a - expected).sum(-1)
    variance = var.sum(-1)
    numerator = np.maximum(np.abs(score) - (0.5 if correction else 0.0), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.where(variance > 0, numerator**2 / variance, 0.0)
    pvalue = np.where(variance > 0, stats.chi2.sf(statistic, 1), 1.0)
    return statistic, pvalue


# ----------------------------------------------------------------------------- simulation


class _Experiment:
    """Common random numbers for ``sims`` trials of up to ``max_sites`` worksites.

    Control counts do not depend on δ and are computed once; treated counts are
    cached for the last δ, for all ``max_sites`` worksites. A prefix of worksites is
    the same for any ``max_sites``.
    """

    def __init__(self, population, design, max_sites, workers_per_site, sims, seed):
        if sims * max_sites > MAX_CELLS:
            raise ValueError(
                f"sims × worksites = {sims * max_sites:,} exceeds {MAX_CELLS:,} (memory); "
                "use fewer sims or worksites"
            )
        self.design, self.m, self.sims = design, workers_per_site, sims
        draw_rng, site_rng, worker_rng, template_rng = (
            np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
        )
        self.population = population
        self.draw = draw_rng.integers(0, population.draws, size=sims)
        z = site_rng.standard_normal((max_sites, sims)).T  # site-major stream
        self.uniform = worker_rng.random((max_sites, 2, sims)).transpose(2, 0, 1)  # (t, s, arm)
        d = self.draw
        self.site_logit = population.baseline_logit[d, None] + population.site_sd[d, None] * z
        self.template = np.zeros((sims, max_sites), dtype=np.int64)
        if population.site_offsets is not None:  # site-major, like z
            self.template = template_rng.integers(
                0, population.templates, size=(max_sites, sims)).T
            self.site_logit = self.site_logit + population.site_offsets[d[:, None], self.template]
        if design == "worksite":  # odd sites treated, every worker of a site in its arm
            self.sizes = (workers_per_site, workers_per_site)
            self.arm_sites = (np.arange(0, max_sites, 2), np.arange(1, max_sites, 2))
        else:  # every site has both arms; treated floor(m/2), control ceil(m/2)
            half = workers_per_site // 2
            self.sizes = (workers_per_site - half, half)
            self.arm_sites = (np.arange(max_sites), np.arange(max_sites))
        self._control = self._counts(0, 0.0)
        self._treated_delta, self._treated = None, None

    def _counts(self, arm: int, delta: float) -> np.ndarray:
        sites = self.arm_sites[arm]
        q = self.population.rates(self.site_logit[:, sites] + delta, self.draw[:, None],
                                  self.template[:, sites])
        return _binomial_quantile(self.uniform[:, sites, arm], self.sizes[arm], q)

    def _arm_cells(self, n_sites: int) -> tuple[int, int]:
        if self.design == "worksite":
            return (n_sites + 1) // 2, n_sites // 2
        return n_sites, n_sites

    def counts(self, delta: float, n_sites: int) -> tuple[np.ndarray, np.ndarray]:
        """(control, treated) signer counts of the first ``n_sites`` worksites, (sims, cells)."""
        k0, k1 = self._arm_cells(n_sites)
        if self._treated_delta != delta:  # every stored site, so any n reuses them
            self._treated_delta, self._treated = delta, self._counts(1, delta)
        return self._control[:, :k0], self._treated[:, :k1]

    def p_values(self, delta: float, n_sites: int) -> np.ndarray:
        control, treated = self.counts(delta, n_sites)
        if self.design == "worksite":
            return cluster_t_test(treated / self.m, control / self.m)[1]
        return cmh_test(treated, self.sizes[1], control, self.sizes[0])[1]

    def power(self, delta: float, n_sites: int, alpha: float) -> float:
        return float(np.mean(self.p_values(delta, n_sites) < alpha))

    def trials(self, delta: float, n_sites: int) -> Trials:
        control, treated = self.counts(delta, n_sites)
        shape = (self.sims, n_sites)
        treated_n, control_n = np.zeros(n_sites, int), np.zeros(n_sites, int)
        treated_y, control_y = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
        k0, k1 = self._arm_cells(n_sites)
        s0, s1 = self.arm_sites[0][:k0], self.arm_sites[1][:k1]
        control_n[s0], treated_n[s1] = self.sizes
        control_y[:, s0], treated_y[:, s1] = control, treated
        return Trials(
            self.design, self.m, delta, self.draw.copy(), treated_n, control_n, treated_y, control_y
        )


@dataclass(frozen=True, eq=False)
class Trials:
    """Simulated trials as counts: one row per trial, one column per worksite.

    ``treated_n``/``control_n`` (n_sites,) are the arm sizes of each worksite (0 for
    the arm a worksite is not in, under the worksite design); ``treated_signers`` and
    ``control_signers`` (sims, n_sites) the signers; ``draw`` (sims,) the posterior
    draw of each trial; ``log_odds_ratio`` the simulated δ.
    """

    design: str
    workers_per_site: int
    log_odds_ratio: float
    draw: np.ndarray
    treated_n: np.ndarray
    control_n: np.ndarray
    treated_signers: np.ndarray
    control_signers: np.ndarray

    @property
    def sims(self) -> int:
        return self.treated_signers.shape[0]


def simulate_trials(
    population: Population,
    design: str,
    n_sites: int,
    workers_per_site: int,
    *,
    effect: float | None = None,
    odds_ratio: float | None = None,
    sims: int = 2000,
    seed: int = 0,
) -> Trials:
    """Posterior-predictive trials (module docstring) as counts per worksite and arm.

    The trials are exactly those :func:`power` analyses for the same arguments and seed:
    ``mean(trial_p_values(trials) < alpha) == power(...).power``. ``sims`` may be
    small here (>= 1).
    """
    _check_population(population)
    design = _check_design(design)
    n_sites = _check_sites(design, n_sites)
    m = _check_workers(workers_per_site)
    sims, seed = _check_sims(sims, low=1), _check_seed(seed)
    delta = treatment_effect(population, effect, odds_ratio).log_odds_ratio
    return _Experiment(population, design, n_sites, m, sims, seed).trials(delta, n_sites)


def trial_p_values(trials: Trials, correction: bool = False) -> np.ndarray:
    """Two-sided p-value of each trial: cluster t-test (worksite design) or CMH (worker design).

    ``correction`` applies the CMH continuity correction (worker design only).
    """
    if trials.design == "worksite":
        props = (trials.treated_signers + trials.control_signers) / trials.workers_per_site
        arm = trials.treated_n > 0
        return cluster_t_test(props[:, arm], props[:, ~arm])[1]
    return cmh_test(
        trials.treated_signers,
        trials.treated_n,
        trials.control_signers,
        trials.control_n,
        correction=correction,
    )[1]


@dataclass(frozen=True)
class GeeResult:
    """GEE estimate of the treatment's population-averaged log odds ratio in one trial."""

    log_odds_ratio: float
    se: float
    pvalue: float


def gee_test(trials: Trials, trial: int = 0) -> GeeResult:
    r"""Fit a GEE to one simulated trial: :math:`\operatorname{logit} P(y = 1) = b_0 + b_1 T`.

    Binomial family, logit link, exchangeable working correlation within worksites,
    robust (sandwich) standard errors; Wald test of :math:`b_1 = 0`. The counts are
    expanded to one row per worker. The cross-check of :func:`cluster_t_test`; with
    few worksites the sandwich SE is somewhat too small (Mancl and DeRouen 2001).
    """
    import statsmodels.api as sm  # slow import, only needed here

    if not _is_int(trial) or not 0 <= trial < trials.sims:
        raise ValueError(f"trial must be an integer in [0, {trials.sims}), got {trial!r}")
    sites = np.arange(trials.treated_n.size)
    n = np.stack([trials.control_n, trials.treated_n], 1).ravel()  # (site, arm) cells
    y = np.stack([trials.control_signers[trial], trials.treated_signers[trial]], 1).ravel()
    cell_site, cell_arm = np.repeat(sites, 2), np.tile([0.0, 1.0], sites.size)
    groups, arm = np.repeat(cell_site, n), np.repeat(cell_arm, n)
    # within each cell the first y workers sign
    rank = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    endog = (rank < np.repeat(y, n)).astype(float)
    exog = np.column_stack([np.ones_like(arm), arm])
    model = sm.GEE(
        endog,
        exog,
        groups=groups,
        family=sm.families.Binomial(),
        cov_struct=sm.cov_struct.Exchangeable(),
    )
    fit = model.fit()
    return GeeResult(float(fit.params[1]), float(fit.bse[1]), float(fit.pvalues[1]))


# ----------------------------------------------------------------------------- planning


def _mc_se(p: float, sims: int) -> float:
    return math.sqrt(p * (1 - p) / sims)


@dataclass(frozen=True)
class PowerResult:
    """Simulated power of one design point with its Monte Carlo standard error."""

    power: float
    mc_se: float  # sqrt(power·(1 − power)/sims)
    effect: float  # percentage points at the baseline (fraction)
    log_odds_ratio: float
    marginal_effect: float
    baseline_rate: float
    design: str
    n_sites: int
    workers_per_site: int
    alpha: float
    sims: int
    seed: int

    def to_dict(self) -> dict:
        return _json_safe(self)


def _setup(population, design, n_sites, workers_per_site, alpha, sims, seed):
    _check_population(population)
    design = _check_design(design)
    return (
        design,
        _check_sites(design, n_sites),
        _check_workers(workers_per_site),
        _check_alpha(alpha),
        _check_sims(sims),
        _check_seed(seed),
    )


def power(
    population: Population,
    design: str,
    n_sites: int,
    workers_per_site: int,
    effect: float | None = None,
    odds_ratio: float | None = None,
    alpha: float = 0.05,
    sims: int = 2000,
    seed: int = 0,
) -> PowerResult:
    r"""Posterior-predictive power :math:`\hat P = \frac1R\sum_t 1[p_t < \alpha]`.

    ``effect`` is Δ in percentage points as a fraction (0.05 = 5 points) at the
    baseline rate, or give ``odds_ratio``; ``design`` is ``"worksite"`` (cluster
    t-test) or ``"worker"`` (CMH). MC SE :math:`\sqrt{\hat P(1-\hat P)/R}`. E.g. 40
    worksites of 130 workers, :math:`\beta_0 = -1.6`, :math:`\sigma_{\mathrm{site}} = 1.2`,
    Δ = 0.05: worker randomization has far more power than worksite randomization.
    """
    design, n_sites, m, alpha, sims, seed = _setup(
        population, design, n_sites, workers_per_site, alpha, sims, seed
    )
    eff = treatment_effect(population, effect, odds_ratio)
    experiment = _Experiment(population, design, n_sites, m, sims, seed)
    p = experiment.power(eff.log_odds_ratio, n_sites, alpha)
    return PowerResult(
        p,
        _mc_se(p, sims),
        eff.effect,
        eff.log_odds_ratio,
        eff.marginal_effect,
        eff.baseline_rate,
        design,
        n_sites,
        m,
        alpha,
        sims,
        seed,
    )


@dataclass(frozen=True)
class MdeResult:
    """Minimum detectable effect (percentage points at the baseline) for a target power."""

    mde: float | None  # Δ*, a fraction; None if not reached below a mean treated rate 0.999
    mc_se: float | None  # delta method: sqrt(π(1−π)/sims) / slope of the power curve
    log_odds_ratio: float | None
    odds_ratio: float | None
    power: float | None  # simulated power at the MDE
    target_power: float
    baseline_rate: float
    design: str
    n_sites: int
    workers_per_site: int
    alpha: float
    sims: int
    seed: int
    note: str

    def to_dict(self) -> dict:
        return _json_safe(self)


def _mde(experiment, n_sites, alpha, target, p0, sims):
    """Bisection on δ ≥ 0 with common random numbers: (δ*, Δ*, power, SE of Δ*, note)."""
    population = experiment.population
    # generous: δ for a mean treated rate of 0.999 is below 3·(logit 0.999 − logit p0)
    delta_max = 3 * float(special.logit(0.999) - special.logit(p0))

    def pw(delta):
        return experiment.power(delta, n_sites, alpha)

    if delta_max <= 0 or pw(delta_max) < target:
        note = f"power {target:g} not reached for log odds ratios up to {delta_max:.1f}"
        return None, None, None, None, note
    lo, hi = 0.0, min(0.5, delta_max)
    while pw(hi) < target:  # expand the bracket
        lo, hi = hi, min(2 * hi, delta_max)
    while hi - lo > 1e-3 * max(hi, 0.1):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if pw(mid) >= target else (mid, hi)
    delta, achieved = hi, pw(hi)
    mde = _marginal_effect(population, delta, p0)
    # delta method: slope of the CRN power curve over δ* ± 10%, times dΔ/dδ
    h = 0.1 * delta
    low = max(delta - h, 0.0)
    slope = (pw(delta + h) - pw(low)) / (delta + h - low)
    step = 1e-4 * max(delta, 1.0)
    d_effect = (_marginal_effect(population, delta + step, p0)
                - _marginal_effect(population, delta - step, p0)) / (2 * step)
    se = _mc_se(target, sims) / slope * d_effect if slope > 0 else None
    note = "bisection on the log odds ratio with common random numbers; SE by the delta method"
    return delta, mde, achieved, se, note


def minimum_detectable_effect(
    population: Population,
    design: str,
    n_sites: int,
    workers_per_site: int,
    target_power: float = 0.8,
    alpha: float = 0.05,
    sims: int = 2000,
    seed: int = 0,
) -> MdeResult:
    r"""Smallest rise Δ > 0 of the mean signing rate with simulated power ≥ target.

    Bisection on :math:`\delta` (to 0.1% of δ) using the same random draws for every
    effect; :math:`\Delta^* = \bar p(\delta^*) - p_0` (:func:`treatment_effect`).
    MC SE by the delta method, :math:`\sqrt{\pi^*(1-\pi^*)/R}\,\bar p'(\delta^*) /
    \hat P'(\delta^*)`, the power slope a central difference over
    :math:`\delta^*(1 \pm 0.1)`.
    """
    design, n_sites, m, alpha, sims, seed = _setup(
        population, design, n_sites, workers_per_site, alpha, sims, seed
    )
    target = _check_target(target_power, alpha)
    p0 = baseline_rate(population)
    experiment = _Experiment(population, design, n_sites, m, sims, seed)
    delta, mde, achieved, se, note = _mde(experiment, n_sites, alpha, target, p0, sims)
    return MdeResult(
        mde,
        se,
        delta,
        None if delta is None else math.exp(delta),
        achieved,
        target,
        p0,
        design,
        n_sites,
        m,
        alpha,
        sims,
        seed,
        note,
    )


@dataclass(frozen=True)
class SitesResult:
    """Smallest number of worksites reaching the target power, with its MC range."""

    n_sites: int | None  # None if not reached by max_sites
    power: float | None  # simulated power at n_sites
    mc_se: float | None
    n_sites_range: tuple[int | None, int | None]  # smallest n at target ∓ 2 MC SE
    effect: float
    log_odds_ratio: float
    baseline_rate: float
    target_power: float
    design: str
    workers_per_site: int
    alpha: float
    sims: int
    seed: int
    max_sites: int
    note: str

    def to_dict(self) -> dict:
        return _json_safe(self)


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


def _sites_needed(population, design, m, eff, target, alpha, sims, seed, max_sites):
    step = 2 if design == "worksite" else 1
    candidates = np.arange(_min_sites(design), max_sites + 1, step)
    experiment = _Experiment(population, design, int(candidates[-1]), m, sims, seed)
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
    workers_per_site: int,
    effect: float | None = None,
    odds_ratio: float | None = None,
    target_power: float = 0.8,
    alpha: float = 0.05,
    sims: int = 2000,
    seed: int = 0,
    max_sites: int = 400,
) -> SitesResult:
    r"""Smallest number of worksites :math:`n` (even for the worksite design) with power ≥ target.

    Candidates :math:`n = 4, 6, \dots` (worksite) or :math:`2, 3, \dots` (worker) up to
    ``max_sites``, searched by bisection over common random numbers (the first
    :math:`n` worksites are shared by every :math:`n`). ``n_sites_range`` =
    :math:`(n_-, n_+)`, the smallest :math:`n` with power :math:`\ge \pi^* \mp
    2\sqrt{\pi^*(1-\pi^*)/R}`: the MC-plausible range of the answer. ``n_sites`` is None
    (with a ``note``) if the target is not reached by ``max_sites``.
    """
    _check_population(population)
    design = _check_design(design)
    m, alpha = _check_workers(workers_per_site), _check_alpha(alpha)
    sims, seed = _check_sims(sims), _check_seed(seed)
    max_sites = _check_sites(design, max_sites, "max_sites")
    target = _check_target(target_power, alpha)
    eff = treatment_effect(population, effect, odds_ratio)
    if eff.log_odds_ratio == 0:
        raise ValueError("sites_needed needs a non-zero effect (power stays at alpha)")
    n, p, se, n_range, note = _sites_needed(
        population, design, m, eff, target, alpha, sims, seed, max_sites
    )
    return SitesResult(
        n,
        p,
        se,
        n_range,
        eff.effect,
        eff.log_odds_ratio,
        eff.baseline_rate,
        target,
        design,
        m,
        alpha,
        sims,
        seed,
        max_sites,
        note,
    )


def power_curve(
    population: Population,
    n_sites: Sequence[int],
    effects: Sequence[float],
    workers_per_site: int,
    designs: Sequence[str] = DESIGNS,
    alpha: float = 0.05,
    sims: int = 2000,
    seed: int = 0,
):
    """Power over a grid: a pandas DataFrame with one row per design × effect × n_sites.

    Columns: design, effect (percentage points at the baseline, fraction),
    log_odds_ratio, n_sites, power, mc_se. Each design uses one set of common random
    numbers for the whole grid (same seed), so the curves are smooth in both
    directions. Every n must be valid for every design (>= 4 for the worksite design).
    """
    import pandas as pd

    _check_population(population)
    if isinstance(designs, str):
        designs = [designs]
    designs = [_check_design(d) for d in designs]
    sizes = list(n_sites)
    effect_list = list(effects)
    if not sizes or not effect_list or not designs:
        raise ValueError("n_sites, effects and designs must be non-empty")
    for design in designs:
        for n in sizes:
            _check_sites(design, n)
    m, alpha = _check_workers(workers_per_site), _check_alpha(alpha)
    sims, seed = _check_sims(sims), _check_seed(seed)
    effs = [treatment_effect(population, effect=e) for e in effect_list]
    rows = []
    for design in designs:
        experiment = _Experiment(population, design, max(sizes), m, sims, seed)
        for eff in effs:
            for n in sizes:
                p = experiment.power(eff.log_odds_ratio, n, alpha)
                rows.append((design, eff.effect, eff.log_odds_ratio, n, p, _mc_se(p, sims)))
    return pd.DataFrame(
        rows, columns=["design", "effect", "log_odds_ratio", "n_sites", "power", "mc_se"]
    )


@dataclass(frozen=True)
class PlanSummary:
    """Everything a planning table needs for one design point; ``to_dict()`` is JSON-safe."""

    design: str
    n_sites: int
    workers_per_site: int
    alpha: float
    sims: int
    seed: int
    baseline_rate: float
    effect: float
    log_odds_ratio: float
    marginal_effect: float
    power: float
    power_se: float
    target_power: float
    mde: float | None
    mde_se: float | None
    sites_needed: int | None
    sites_needed_range: tuple[int | None, int | None]
    sites_needed_note: str
    icc: Interval  # latent scale
    icc_observed: Interval  # proportion scale
    design_effect: Interval  # 1 + (m − 1)·latent ICC
    design_effect_observed: Interval  # 1 + (m − 1)·observed ICC

    def to_dict(self) -> dict:
        return _json_safe(self)


def plan(
    population: Population,
    design: str,
    n_sites: int,
    workers_per_site: int,
    effect: float | None = None,
    odds_ratio: float | None = None,
    alpha: float = 0.05,
    sims: int = 2000,
    seed: int = 0,
    target_power: float = 0.8,
    max_sites: int = 400,
) -> PlanSummary:
    """Power (with MC SE) at the design point, MDE at ``target_power`` (with SE), worksites
    needed for ``target_power`` at the given effect (with MC range), and the latent and
    observed ICC and design effects with 90% intervals.

    One seed throughout, so the numbers agree with :func:`power`,
    :func:`minimum_detectable_effect` and :func:`sites_needed` called separately.
    """
    design, n_sites, m, alpha, sims, seed = _setup(
        population, design, n_sites, workers_per_site, alpha, sims, seed
    )
    target = _check_target(target_power, alpha)
    max_sites = _check_sites(design, max_sites, "max_sites")
    eff = treatment_effect(population, effect, odds_ratio)
    experiment = _Experiment(population, design, n_sites, m, sims, seed)
    p = experiment.power(eff.log_odds_ratio, n_sites, alpha)
    _, mde, _, mde_se, _ = _mde(experiment, n_sites, alpha, target, eff.baseline_rate, sims)
    if eff.log_odds_ratio == 0:
        needed, n_range, note = None, (None, None), "undefined for a zero effect"
    else:
        needed, _, _, n_range, note = _sites_needed(
            population, design, m, eff, target, alpha, sims, seed, max_sites
        )
    return PlanSummary(
        design,
        n_sites,
        m,
        alpha,
        sims,
        seed,
        eff.baseline_rate,
        eff.effect,
        eff.log_odds_ratio,
        eff.marginal_effect,
        p,
        _mc_se(p, sims),
        target,
        mde,
        mde_se,
        needed,
        n_range,
        note,
        latent_icc(population),
        observed_icc(population),
        design_effect(population, m),
        design_effect(population, m, scale="observed"),
    )


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
    are templates. The result holds no worker rows: per draw and template, K quantiles.
    """
    alpha = np.asarray(alpha, dtype=float)
    beta_group = np.asarray(beta_group, dtype=float)
    mean_b = np.asarray(beta_individual_mean, dtype=float)
    scale_b = np.asarray(beta_individual_scale, dtype=float)
    site_x, worker_x = np.asarray(site_x, dtype=float), np.asarray(worker_x, dtype=float)
    site_index = np.asarray(site_index)
    if not _is_int(offsets) or offsets < 1:
        raise ValueError(f"offsets must be an integer >= 1, got {offsets!r}")
    draws, features = mean_b.shape
    if worker_x.shape != (site_index.size, features):
        raise ValueError(f"worker_x must have shape ({site_index.size}, {features}), "
                         f"got {worker_x.shape}")
    sites = np.flatnonzero(np.bincount(site_index, minlength=site_x.shape[0]) > 0)
    rng = np.random.default_rng(_check_seed(seed))
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
    return Population(baseline_logit=alpha, site_sd=np.asarray(site_scale, dtype=float),
                      worker_sd=0.0, site_offsets=site_offsets, worker_offsets=worker_offsets)


def check_plan_arguments(design, n_sites, workers_per_site, alpha, sims, seed) -> None:
    """The checks :func:`plan` makes on its arguments, callable before any posterior exists."""
    design = _check_design(design)
    _check_sites(design, n_sites)
    _check_workers(workers_per_site)
    _check_alpha(alpha)
    _check_sims(sims)
    _check_seed(seed)


def describe(plan: PlanSummary) -> str:
    """The plan in a few readable lines (``organizing plan`` prints them)."""
    unit = "worksites" if plan.design == "worksite" else "worksites, workers randomized within"
    lines = [
        f"Design: {plan.design}-randomized, {plan.n_sites} {unit}, "
        f"{plan.workers_per_site} workers each; alpha {plan.alpha}; {plan.sims:,} simulated trials",
        f"Baseline signing rate (new worksites): {100 * plan.baseline_rate:.1f}%",
        f"Effect: {100 * plan.effect:+.1f} percentage points at the baseline "
        f"(odds ratio {np.exp(plan.log_odds_ratio):.2f})",
        f"Power: {plan.power:.3f} ± {plan.power_se:.3f} (Monte Carlo standard error)",
    ]
    if plan.mde is None:
        lines.append(f"Minimum detectable effect at {plan.target_power:.0%} power: not reached")
    else:
        error = "" if plan.mde_se is None else f" ± {100 * plan.mde_se:.1f}"
        lines.append(f"Minimum detectable effect at {plan.target_power:.0%} power: "
                     f"{100 * plan.mde:.1f}{error} percentage points")
    if plan.sites_needed is None:
        lines.append(f"Worksites needed for {plan.target_power:.0%} power: "
                     f"{plan.sites_needed_note or 'not reached'}")
    else:
        lines.append(f"Worksites needed for {plan.target_power:.0%} power: {plan.sites_needed}")
    lines.append(f"Latent-scale ICC {plan.icc.mean:.3f} ({plan.icc.lower:.3f} to "
                 f"{plan.icc.upper:.3f}); design effect {plan.design_effect.mean:.1f}")
    if plan.design == "worker":
        lines.append("Caveat: coworkers talk; treatment can spill over to control workers at the "
                     "same worksite, which biases the comparison toward zero.")
    return "\n".join(lines)
