r"""The analyses of a randomized organizing trial, vectorized over simulated trials.

Two designs, each with the analysis its randomization supports (two-sided tests):

*Worksite-randomized.* The unit of analysis is the worksite: its signing rate
:math:`\hat p_s = Y_s/m_s`, every worksite counting once (Hayes and Moulton 2017,
ch. 9). :func:`store_tests` fits, by least squares,

.. math::

    \hat p_s = \mu_{b(s)} + \tau T_s + \gamma x_s + \varepsilon_s,

with one intercept :math:`\mu_b` per block (one block if the trial was not blocked;
pairs when worksites were pair-matched), the treatment :math:`T_s`, and optionally
a worksite covariate :math:`x_s` known before randomization (the model's forecast
rate). :math:`\hat\tau` is the difference in mean signing rates; the test is the
*t*-test of :math:`\tau = 0` on :math:`n - B - 1 - [x]` degrees of freedom. Without
blocks and covariate it is the pooled two-sample *t*-test (:func:`cluster_t_test`),
with pairs the paired *t*-test. By Frisch-Waugh-Lovell the block intercepts are
removed by centring :math:`\hat p`, :math:`T` and :math:`x` within blocks.

*Worker-randomized within worksites.* Every worksite is its own stratum: the
Cochran-Mantel-Haenszel test (:func:`cmh_test`), and the stratified difference
(:func:`stratified_difference`) as its estimate in percentage points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from organizing.planning.common import is_int


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
    t = _t_statistic(mean1 - mean0, se, np.abs(mean1) + np.abs(mean0))
    return t, 2 * stats.t.sf(np.abs(t), df)


def _t_statistic(diff, se, scale):
    """diff/se; rounding-level values (below 1e-12 of ``scale``) count as exactly zero."""
    tiny = 1e-12 * scale
    se = np.where(se > tiny, se, 0.0)
    diff = np.where(np.abs(diff) > tiny, diff, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, diff / se, np.where(diff == 0, 0.0, np.sign(diff) * np.inf))


@dataclass(frozen=True)
class StoreTest:
    """The treatment coefficient of :func:`store_tests`, arrays over the leading axes."""

    estimate: np.ndarray  # τ̂, difference in mean worksite signing rates (a fraction)
    se: np.ndarray
    t: np.ndarray
    df: np.ndarray | int
    pvalue: np.ndarray


def store_tests(rates, treated, block_size: int | None = None, covariate=None) -> StoreTest:
    r"""Least-squares test of the treatment on worksite rates, vectorized (module docstring).

    ``rates`` and ``treated`` (..., n) hold each worksite's signing rate and arm (bool);
    blocks are consecutive runs of ``block_size`` worksites along the last axis
    (``None``: one block, i.e. no blocking; ``n`` must be a multiple of it);
    ``covariate`` (..., n) is adjusted for if given. Where the covariate is constant
    within blocks (nothing left to adjust for) that trial is analysed without it.
    Zero residual variance: t = 0 and p = 1 if the estimate is 0, else t = ±inf.
    """
    y = np.asarray(rates, dtype=float)
    arm = np.asarray(treated, dtype=float)
    n = y.shape[-1]
    size = n if block_size is None else int(block_size)
    if size < 2 or n % size:
        raise ValueError(f"{n} worksites cannot be cut into blocks of {size}")
    blocks = n // size
    shape = y.shape[:-1] + (blocks, size)

    def centred(a):
        a = np.broadcast_to(a, y.shape).reshape(shape)
        return (a - a.mean(-1, keepdims=True)).reshape(y.shape)

    yc, tc = centred(y), centred(arm)
    stt, sty = (tc * tc).sum(-1), (tc * y).sum(-1)
    if np.any(stt <= 0):
        raise ValueError("every analysis needs both arms within at least one block")
    df = n - blocks - 1
    if covariate is None:
        estimate = sty / stt
        rss = ((yc - estimate[..., None] * tc) ** 2).sum(-1)
        se = np.sqrt(rss / df / stt)
        df_out = df
    else:
        xc = centred(np.asarray(covariate, dtype=float))
        stx, sxx, sxy = (tc * xc).sum(-1), (xc * xc).sum(-1), (xc * y).sum(-1)
        det = stt * sxx - stx**2
        usable = (det > 1e-10 * stt * np.maximum(sxx, 1e-300)) & (df > 1)
        safe = np.where(usable, det, 1.0)
        adjusted = (sxx * sty - stx * sxy) / safe
        gamma = (stt * sxy - stx * sty) / safe
        estimate = np.where(usable, adjusted, sty / stt)
        fitted = estimate[..., None] * tc + np.where(usable, gamma, 0.0)[..., None] * xc
        rss = ((yc - fitted) ** 2).sum(-1)
        df_out = np.where(usable, df - 1, df)
        se = np.sqrt(rss / df_out * np.where(usable, sxx / safe, 1 / stt))
    scale = np.abs(y).mean(-1)
    t = _t_statistic(estimate, se, scale)
    return StoreTest(estimate, se, t, df_out, 2 * stats.t.sf(np.abs(t), df_out))


def cmh_test(
    treated_events,
    treated_n,
    control_events,
    control_n,
    correction: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Cochran–Mantel–Haenszel test of a common odds ratio of 1; strata on the last axis.

    Arrays broadcast; for stratum :math:`s`, :math:`a_s` treated events of :math:`n_{1s}`,
    :math:`c_s` control events of :math:`n_{0s}`, :math:`N_s = n_{1s} + n_{0s}`,
    :math:`M_s = a_s + c_s`:

    .. math::

        S = \sum_s \Bigl(a_s - \frac{n_{1s} M_s}{N_s}\Bigr), \qquad
        V = \sum_s \frac{n_{1s} n_{0s} M_s (N_s - M_s)}{N_s^2 (N_s - 1)}, \qquad
        \chi^2_{\mathrm{CMH}} = \frac{(|S| - c)_+^2}{V} \sim \chi^2_1,

    :math:`c = 1/2` if ``correction`` else 0; returns :math:`(\chi^2, p)`. Strata with
    fewer than two workers or with all-0/all-1 outcomes have variance 0 and contribute
    nothing; :math:`V = 0` gives statistic 0 and :math:`p = 1`. Equals statsmodels'
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


def stratified_difference(treated_events, treated_n, control_events, control_n):
    r"""The within-worksite difference in signing rates, pooled over worksites.

    With :math:`d_s = a_s/n_{1s} - c_s/n_{0s}` and weights :math:`w_s = n_{1s}n_{0s}/
    (n_{1s} + n_{0s})` (the Mantel-Haenszel risk-difference weights),
    :math:`\hat\tau = \sum_s w_s d_s / \sum_s w_s`. Its standard error treats the
    worksites as the independent units (a cluster-robust sandwich with the small-sample
    factor :math:`S/(S-1)`): :math:`\widehat{\mathrm{SE}}^2 = \frac{S}{S-1}\sum_s
    w_s^2 (d_s - \hat\tau)^2 / (\sum_s w_s)^2`, with a *t* reference on
    :math:`S - 1` df. Worksites with an empty arm are left out. 1-D arrays; returns
    (estimate, se, df).
    """
    a, n1, c, n0 = (np.asarray(x, dtype=float)
                    for x in (treated_events, treated_n, control_events, control_n))
    keep = (n1 > 0) & (n0 > 0)
    a, n1, c, n0 = a[keep], n1[keep], c[keep], n0[keep]
    sites = a.size
    if sites < 2:
        raise ValueError("the stratified difference needs >= 2 worksites with both arms")
    w = n1 * n0 / (n1 + n0)
    d = a / n1 - c / n0
    estimate = float(np.sum(w * d) / np.sum(w))
    se = float(np.sqrt(sites / (sites - 1) * np.sum(w**2 * (d - estimate) ** 2)) / np.sum(w))
    return estimate, se, sites - 1


@dataclass(frozen=True)
class GeeResult:
    """GEE estimate of the treatment's population-averaged log odds ratio in one trial."""

    log_odds_ratio: float
    se: float
    pvalue: float


def gee_test(trials, trial: int = 0) -> GeeResult:
    r"""Fit a GEE to one simulated trial: :math:`\operatorname{logit} P(y = 1) = b_0 + b_1 T`.

    Binomial family, logit link, exchangeable working correlation within worksites,
    robust (sandwich) standard errors; Wald test of :math:`b_1 = 0`. The counts of
    :class:`organizing.planning.power.Trials` are expanded to one row per worker. The
    cross-check of :func:`cluster_t_test`; with few worksites the sandwich SE is
    somewhat too small (Mancl and DeRouen 2001).
    """
    import statsmodels.api as sm  # slow import, only needed here

    if not is_int(trial) or not 0 <= trial < trials.sims:
        raise ValueError(f"trial must be an integer in [0, {trials.sims}), got {trial!r}")
    sites = np.arange(trials.treated_n.shape[1])
    n = np.stack([trials.control_n[trial], trials.treated_n[trial]], 1).ravel()
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
