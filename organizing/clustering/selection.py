r"""Held-out scores of the mixture, and the choice of :math:`\sigma` and :math:`K`.

**Held-out log predictive density.** For held-out points :math:`\tilde x_j`
(:math:`j = 1, \dots, m`) and :math:`S` posterior draws :math:`(\pi^{(s)}, \mu^{(s)})`
(after burn-in, all chains),

.. math::

    \operatorname{lpd}_j = \log \frac1S \sum_{s=1}^S \sum_{k=1}^K
        \pi_k^{(s)} \mathcal N(\tilde x_j; \mu_k^{(s)}, \sigma^2 I_d),
    \qquad \operatorname{lpd} = \sum_j \operatorname{lpd}_j,

computed as a log-mean-exp over draws of a log-sum-exp over components. No
prior term enters.

**The study's score** (``held_out_log_likelihood`` in its ``clustering.py``),
reproduced by :func:`study_heldout_log_likelihood`, takes the last Gibbs draw
:math:`(\pi, \mu)` and scores every *coordinate* :math:`c` of every held-out
point separately, with a log-sum-exp over components whose accumulator starts
at 0 (:math:`= \log 1`) instead of :math:`-\infty`, adds the log prior to each
entry, and combines the :math:`m d` entries by a log-sum-exp, not a sum:

.. math::

    e_{jc} &= \log\Bigl(1 + \sum_k \pi_k\, \mathcal N(\tilde x_{jc}; \mu_{kc}, \sigma^2)\Bigr)
              + \log p(\pi, \mu), \\
    \text{score} &= \log \sum_{j, c} e^{e_{jc}}
        = \log p(\pi, \mu) + \log\Bigl(m d + \sum_{j,c,k} \pi_k\,
          \mathcal N(\tilde x_{jc}; \mu_{kc}, \sigma^2)\Bigr).

When the held-out points lie many :math:`\sigma` from every mean the score is
:math:`\log p(\pi, \mu) + \log(m d)`: the prior density of one draw, whatever
the held-out data.

**Choosing** :math:`\sigma` **and** :math:`K`. :func:`select_mixture` fits every
pair of a grid and scores it on the same held-out points. Because the points
are shared, fits are compared *paired*, as ``loo_compare`` compares models: for
two fits A and B with pointwise densities :math:`a_j, b_j`,

.. math::

    \Delta = \sum_j (a_j - b_j), \qquad
    \operatorname{se}(\Delta) = \sqrt m \operatorname{sd}_j(a_j - b_j)

(:func:`paired_difference`; ``sd`` with :math:`m - 1` degrees of freedom, as
R's ``loo``). Much of the noise of a total over few held-out worksites is
shared by both fits and cancels in :math:`\Delta`. :func:`cluster_verdict`
turns the per-K comparison into a verdict by the rule stated there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from organizing.clustering.sampler import (
    LOG_2PI,
    N_ITER,
    TINY,
    MixtureSamples,
    as_vectors,
    check_burn_in,
    check_count,
    check_positive,
    component_log_density,
    gibbs_mixture,
    log_prior,
)

#: The study's sweep of the component scale (its ``clustering.py``, ``sigmas``).
STUDY_SIGMA_SWEEP = (1e-2, 1e-3, 1e-4, 1e-5)

#: The best K >= 2 must beat K = 1 by more than this many standard errors of the
#: paired difference for the verdict "clusters supported".
SUPPORTED_SE = 2.0
#: At most this many standard errors (or K = 1 best): "no clusters".
NO_CLUSTERS_SE = 1.0
CLUSTERS_SUPPORTED = "clusters supported"
INCONCLUSIVE = "inconclusive"
NO_CLUSTERS = "no clusters"


class HeldoutDensity(NamedTuple):
    """Held-out log predictive density: one value per held-out point and their sum."""

    per_point: np.ndarray
    total: float


@dataclass(frozen=True)
class StudyHeldoutScore:
    """The study's held-out score, entry by entry (see the module docstring).

    Attributes:
        entries: (m, d) the study's ``probs``: per held-out point and coordinate,
            log(1 + sum_k pi_k N(x_jc; mu_kc, sigma^2)) + log p(pi, mu).
        log_prior: log p(pi, mu) of the draw used.
        total: the value the study's function returns, the log-sum-exp of ``entries``.
    """

    entries: np.ndarray
    log_prior: float
    total: float


# --------------------------------------------------------------------------- held-out scores


def _check_test(samples: MixtureSamples, x_test) -> np.ndarray:
    x_test = as_vectors(x_test, "x_test")
    d = samples.mu.shape[-1]
    if x_test.shape[1] != d:
        raise ValueError(f"x_test has {x_test.shape[1]} columns but the mixture was fitted on {d}")
    return x_test


def heldout_log_predictive(
    samples: MixtureSamples, x_test, *, sigma: float | None = None, burn_in: int
) -> HeldoutDensity:
    r"""Held-out log predictive density under the posterior.

    .. math::

        \operatorname{lpd}_j = \log \frac1S \sum_s \sum_k
            \exp\bigl[\log\pi_k^{(s)} + \log\mathcal N(\tilde x_j; \mu_k^{(s)}, \sigma^2 I)\bigr]

    over the S draws after ``burn_in`` from all chains (log-mean-exp over draws
    of log-sum-exp over components). No prior term.

    Args:
        samples: output of :func:`~organizing.clustering.sampler.gibbs_mixture`.
        x_test: (m, d) held-out vectors.
        sigma: component scale; defaults to the one the samples were drawn with.
        burn_in: number of initial sweeps of every chain to discard.

    Returns:
        :class:`HeldoutDensity` (per_point of shape (m,), total).
    """
    x_test = _check_test(samples, x_test)
    burn_in = check_burn_in(samples, burn_in)
    sigma = samples.sigma if sigma is None else check_positive(sigma, "sigma")
    K, d = samples.mu.shape[-2:]
    pi = samples.pi[:, burn_in:].reshape(-1, K)
    mu = samples.mu[:, burn_in:].reshape(-1, K, d)
    log_mix = component_log_density(x_test, mu, sigma) + np.log(np.maximum(pi, TINY))[:, None]
    per_draw = logsumexp(log_mix, axis=-1)  # (S, m)
    per_point = logsumexp(per_draw, axis=0) - np.log(per_draw.shape[0])
    return HeldoutDensity(per_point=per_point, total=float(per_point.sum()))


def study_heldout_log_likelihood(
    samples: MixtureSamples, x_test, *, chain: int = 0
) -> StudyHeldoutScore:
    r"""The study's held-out score, computed exactly as its code computes it.

    With the last draw :math:`(\pi, \mu)` of ``chain`` and the samples' :math:`\sigma`:

    .. math::

        \text{score} = \log \sum_{j=1}^m \sum_{c=1}^d \exp\Bigl[
            \log\Bigl(1 + \sum_k \pi_k \mathcal N(\tilde x_{jc}; \mu_{kc}, \sigma^2)\Bigr)
            + \log p(\pi, \mu)\Bigr].

    Each coordinate is scored on its own (the study's ``norm.logpdf`` is never
    summed over coordinates); its log-sum-exp over components starts from 0;
    the log prior of the draw is added to every entry; the entries are
    combined by a log-sum-exp. The score is therefore
    :math:`\log p(\pi, \mu) + \log(m d + \cdots)` with a non-negative
    :math:`\cdots`, dominated by the prior when :math:`\sigma` is small. It is
    not a held-out log-likelihood; do not use it to choose a model.
    """
    x_test = _check_test(samples, x_test)
    chain = check_count(chain, "chain", minimum=0)
    if chain >= samples.n_chains:
        raise ValueError(f"chain must be smaller than the number of chains ({samples.n_chains})")
    pi, mu, sigma = samples.pi[chain, -1], samples.mu[chain, -1], samples.sigma
    with np.errstate(divide="ignore"):  # the study takes log(pi_k) as it is, 0 included
        log_pi = np.log(pi)
    # log pi_k + log N(x_jc; mu_kc, sigma^2) per coordinate: (m, K, d).
    per_coordinate = (
        log_pi[:, None]
        - 0.5 * LOG_2PI
        - np.log(sigma)
        - (x_test[:, None, :] - mu[None]) ** 2 / (2.0 * sigma**2)
    )
    # The study's accumulator starts at 0 = log 1, hence log(1 + sum_k ...).
    prior = float(log_prior(pi, mu, eta=samples.eta, alpha0=samples.alpha0))
    entries = np.logaddexp(0.0, logsumexp(per_coordinate, axis=1)) + prior
    return StudyHeldoutScore(entries=entries, log_prior=prior, total=float(logsumexp(entries)))


# --------------------------------------------------------------------------- the grid


def sigma_grid(
    x, *, study_sigmas=STUDY_SIGMA_SWEEP, n_above: int = 6, factor: float = 3.0
) -> np.ndarray:
    r"""The study's sigma sweep extended, log-spaced, up to ``factor`` × the data's scale.

    With :math:`s = \sqrt{\frac{1}{nd}\sum_{i,c} (x_{ic} - \bar x_c)^2}` (the pooled
    standard deviation of the column-centred vectors), returns the sorted union
    of ``study_sigmas`` and ``n_above`` values log-spaced from above the largest
    study value up to :math:`\text{factor} \cdot s`.
    """
    x = as_vectors(x)
    n_above = check_count(n_above, "n_above", minimum=0)
    factor = check_positive(factor, "factor")
    study = np.asarray(study_sigmas, dtype=float)
    scale = float(np.sqrt(((x - x.mean(0)) ** 2).mean()))
    upper = factor * scale
    top = study.max()
    extra = np.geomspace(top, upper, n_above + 1)[1:] if upper > top and n_above else []
    return np.unique(np.concatenate([study, extra]))


def _se_of_sum(values: np.ndarray) -> float:
    """sqrt(m) × sd (ddof 1) of m values: the standard error of their sum; NaN if m < 2."""
    if len(values) < 2:
        return np.nan
    return float(np.sqrt(len(values)) * np.std(values, ddof=1))


def select_mixture(
    x_train,
    x_test,
    *,
    sigmas,
    Ks,
    burn_in: int | None = None,
    **sampler_settings,
) -> pd.DataFrame:
    r"""Fit the mixture over a grid of (sigma, K) and score each fit on held-out data.

    For each pair the score is the held-out log predictive density
    :math:`\operatorname{lpd} = \sum_j \operatorname{lpd}_j`
    (:func:`heldout_log_predictive`); the study's score
    (:func:`study_heldout_log_likelihood`) is reported beside it for the audit.
    Every fit uses the same ``seed`` and the same held-out points, so fits can
    be compared pointwise (:func:`cluster_verdict`).

    Args:
        x_train, x_test: (n, d) and (m, d) vectors.
        sigmas, Ks: the grid.
        burn_in: sweeps of every chain left out of the scores; default n_iter // 4.
        **sampler_settings: ``eta``, ``alpha0``, ``n_iter``, ``n_chains``, ``seed``
            for ``gibbs_mixture`` (its defaults where not given).

    Returns:
        One row per (sigma, K) with columns ``sigma``, ``K``, ``heldout_lpd``
        (total), ``heldout_lpd_per_point`` (mean over held-out points),
        ``heldout_lpd_se`` (standard error of the total, :math:`\sqrt m`
        × sd of the per-point values), ``heldout_lpd_pointwise`` (the (m,)
        array of :math:`\operatorname{lpd}_j`), ``log_joint_end`` (mean log
        joint over the last 10% of sweeps, all chains),
        ``log_joint_end_sd_between_chains``, ``occupied_clusters`` (mean number
        of non-empty components after burn-in) and ``study_heldout``.
    """
    x_train = as_vectors(x_train, "x_train")
    x_test = as_vectors(x_test, "x_test")
    if x_test.shape[1] != x_train.shape[1]:
        raise ValueError("x_train and x_test must have the same number of columns")
    sigmas = [check_positive(s, "sigma") for s in np.atleast_1d(sigmas)]
    Ks = [check_count(k, "K") for k in np.atleast_1d(Ks)]
    n_iter = check_count(sampler_settings.get("n_iter", N_ITER), "n_iter")
    burn_in = n_iter // 4 if burn_in is None else burn_in
    tail = max(1, n_iter // 10)
    rows = []
    for sigma in sigmas:
        for K in Ks:
            samples = gibbs_mixture(x_train, K=K, sigma=sigma, align=False, **sampler_settings)
            lpd = heldout_log_predictive(samples, x_test, burn_in=burn_in)
            end = samples.log_joint[:, -tail:].mean(1)
            z_kept = samples.z[:, burn_in:]
            occupied = (z_kept[..., None] == np.arange(K)).any(-2).sum(-1).mean()
            rows.append(
                {
                    "sigma": sigma,
                    "K": K,
                    "heldout_lpd": lpd.total,
                    "heldout_lpd_per_point": float(lpd.per_point.mean()),
                    "heldout_lpd_se": _se_of_sum(lpd.per_point),
                    "heldout_lpd_pointwise": lpd.per_point,
                    "log_joint_end": float(end.mean()),
                    "log_joint_end_sd_between_chains": float(end.std(ddof=1))
                    if samples.n_chains > 1
                    else np.nan,
                    "occupied_clusters": float(occupied),
                    "study_heldout": study_heldout_log_likelihood(samples, x_test).total,
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- the verdict


def paired_difference(a, b) -> tuple[float, float]:
    r"""Paired difference of two fits' pointwise held-out scores, and its standard error.

    .. math::

        \Delta = \sum_{j=1}^m (a_j - b_j), \qquad
        \operatorname{se}(\Delta) = \sqrt{m}\, \operatorname{sd}(a - b)
          = \sqrt{\frac{m}{m-1} \sum_j (d_j - \bar d)^2},\quad d_j = a_j - b_j,

    the standard error of ``elpd_diff`` in R's ``loo``. NaN standard error for
    :math:`m < 2`.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be 1-D arrays of the same length; got {a.shape}, {b.shape}")
    diff = a - b
    return float(diff.sum()), _se_of_sum(diff)


@dataclass(frozen=True)
class ClusterVerdict:
    """Whether held-out worksites support clusters, and the mixture to fit.

    Attributes:
        verdict: :data:`CLUSTERS_SUPPORTED`, :data:`INCONCLUSIVE` or :data:`NO_CLUSTERS`.
        K, sigma: the mixture to fit: the best K and its sigma when clusters are
            supported, otherwise K = 1 and its best sigma.
        best_K, best_sigma: the fit with the highest held-out lpd.
        difference, difference_se: paired difference best K minus K = 1 and its
            standard error (both 0 when K = 1 is best).
        runner_up_K, runner_up_difference, runner_up_se: the second-best K and
            the paired difference best minus it (None / NaN with a single K).
        n_heldout: number of held-out points m.
        table: one row per K: ``K``, ``sigma`` (best for that K), ``heldout_lpd``,
            ``heldout_lpd_se``, ``diff_vs_one``, ``diff_vs_one_se``,
            ``diff_vs_best``, ``diff_vs_best_se``, ``occupied_clusters``.
        pointwise: (number of K, m) pointwise lpd of each row of ``table``.
    """

    verdict: str
    K: int
    sigma: float
    best_K: int
    best_sigma: float
    difference: float
    difference_se: float
    runner_up_K: int | None
    runner_up_difference: float
    runner_up_se: float
    n_heldout: int
    table: pd.DataFrame
    pointwise: np.ndarray


def cluster_verdict(table: pd.DataFrame) -> ClusterVerdict:
    r"""Decide between one and several clusters by paired held-out comparison.

    From a :func:`select_mixture` table: for each K take its best sigma (highest
    :math:`\operatorname{lpd}`, ties to the larger sigma) and its pointwise
    :math:`\operatorname{lpd}_{K,j}`. Let :math:`K^*` be the K with the highest
    total (ties to the smaller K), and
    :math:`\Delta, \operatorname{se}(\Delta)` = :func:`paired_difference` of
    :math:`K^*` against K = 1. The rule, with :data:`SUPPORTED_SE` = 2 and
    :data:`NO_CLUSTERS_SE` = 1:

    - :math:`K^* = 1`, or :math:`\Delta \le 1 \cdot \operatorname{se}`: **no clusters**;
      fit K = 1.
    - :math:`\Delta > 2 \cdot \operatorname{se}`: **clusters supported**; fit :math:`K^*`.
    - otherwise (including an undefined se, m < 2): **inconclusive**; fit K = 1,
      the simpler model, and report :math:`K^*` beside it.

    :math:`\sigma` is tuned per K on the same held-out points, which flatters
    every K alike; the comparison is between the best version of each K.
    """
    needed = {"sigma", "K", "heldout_lpd", "heldout_lpd_pointwise"}
    if missing := needed - set(table.columns):
        raise ValueError(f"the selection table lacks columns {sorted(missing)}")
    if not (table["K"] == 1).any():
        raise ValueError("the selection table must contain fits with K = 1")
    best_per_K = (
        table.sort_values(["K", "heldout_lpd", "sigma"], ascending=[True, False, False])
        .groupby("K", sort=True)
        .head(1)
        .reset_index(drop=True)
    )
    pointwise = np.stack([np.asarray(p, dtype=float) for p in best_per_K["heldout_lpd_pointwise"]])
    Ks = best_per_K["K"].to_numpy(dtype=int)
    order = np.lexsort((Ks, -best_per_K["heldout_lpd"].to_numpy()))  # best first
    best, one = order[0], int(np.flatnonzero(Ks == 1)[0])

    vs_one = [paired_difference(p, pointwise[one]) for p in pointwise]
    vs_best = [paired_difference(pointwise[best], p) for p in pointwise]
    per_K = pd.DataFrame(
        {
            "K": Ks,
            "sigma": best_per_K["sigma"].to_numpy(dtype=float),
            "heldout_lpd": best_per_K["heldout_lpd"].to_numpy(dtype=float),
            "heldout_lpd_se": [_se_of_sum(p) for p in pointwise],
            "diff_vs_one": [d for d, _ in vs_one],
            "diff_vs_one_se": [se for _, se in vs_one],
            "diff_vs_best": [d for d, _ in vs_best],
            "diff_vs_best_se": [se for _, se in vs_best],
        }
    )
    if "occupied_clusters" in best_per_K:
        per_K["occupied_clusters"] = best_per_K["occupied_clusters"].to_numpy(dtype=float)

    difference, se = vs_one[best]
    if Ks[best] == 1 or difference <= NO_CLUSTERS_SE * se:
        verdict = NO_CLUSTERS
    elif difference > SUPPORTED_SE * se:
        verdict = CLUSTERS_SUPPORTED
    else:
        verdict = INCONCLUSIVE
    chosen = best if verdict == CLUSTERS_SUPPORTED else one
    runner_up = order[1] if len(order) > 1 else None
    return ClusterVerdict(
        verdict=verdict,
        K=int(Ks[chosen]),
        sigma=float(per_K["sigma"].iloc[chosen]),
        best_K=int(Ks[best]),
        best_sigma=float(per_K["sigma"].iloc[best]),
        difference=difference,
        difference_se=se,
        runner_up_K=None if runner_up is None else int(Ks[runner_up]),
        runner_up_difference=np.nan if runner_up is None else vs_best[runner_up][0],
        runner_up_se=np.nan if runner_up is None else vs_best[runner_up][1],
        n_heldout=pointwise.shape[1],
        table=per_K,
        pointwise=pointwise,
    )
