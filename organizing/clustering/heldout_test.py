r"""A calibrated test of clusters among worksite slopes: choose inside, test outside.

The study's question is whether the worksites' slope vectors :math:`b_s` fall into
groups. Three things bias a naive answer, and this module removes each:

* **Choosing and testing on the same worksites.** K (and the shape of one cluster) is
  chosen by K-fold cross-validation *inside* the training worksites
  (:func:`cross_validate`); the chosen K is then compared with one cluster *once*, on
  the held-out worksites (:func:`cluster_test`).
* **A baseline too simple.** Slopes of different features spread differently between
  worksites (the headline model's :math:`τ_{b,p}`). Every component, and the one-cluster
  baseline, has its own spread per slope (a diagonal covariance); one cluster may also be
  *one Gaussian of any shape* (full covariance), and cross-validation chooses between the
  two one-cluster models as it chooses K. Clusters must be more than one mode, never
  unequal or correlated spreads that one round Gaussian fits badly.
* **Uncertain, shrunk slopes.** A worksite of ten workers says little about its slopes,
  and posterior means pull small worksites toward the average more than large ones.
  The mixtures are fitted to what each worksite's *data* say about its slopes, with
  their uncertainty (:mod:`organizing.clustering.deconvolution`), and score held-out
  worksites by the marginal likelihood of their workers' signing.

The held-out comparison is paired over held-out worksites
(:func:`organizing.clustering.selection.paired_difference`), and its verdict uses the
normal approximation :math:`P = Φ(Δ/\operatorname{se})` with the scorecard's threshold:
"clusters supported" when P ≥ 0.95. Its error rates are measured on simulated campaigns
(:mod:`organizing.error_rates`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr

from organizing.clustering.deconvolution import (
    DIAGONAL,
    FULL,
    Mixture,
    SlopeLikelihoods,
    fit_mixture,
    log_marginal,
    slope_likelihoods,
)
from organizing.clustering.sampler import check_count
from organizing.clustering.selection import (
    CLUSTERS_SUPPORTED,
    INCONCLUSIVE,
    NO_CLUSTERS,
    paired_difference,
)

#: P = Φ(Δ/se) at least this: clusters supported (the scorecard's support threshold).
TEST_THRESHOLD = 0.95


@dataclass(frozen=True)
class ClusterTestSettings:
    """How the test runs: the numbers of clusters tried, the folds, and EM's restarts and
    iterations (:func:`organizing.clustering.deconvolution.fit_mixture`)."""

    Ks: tuple[int, ...] = (1, 2, 3, 4, 5)
    folds: int = 5
    restarts: int = 4
    iterations: int = 300
    seed: int = 0


@dataclass(frozen=True)
class ClusterTest:
    """The result of :func:`cluster_test`.

    ``cv``: one row per model tried, ``K``, ``covariance`` ("diagonal" or "full", the
    latter for one cluster only) and ``cv_lpd``, the cross-validated log marginal
    likelihood of the training worksites' signing. ``chosen_K``: the cross-validated
    choice; ``one_cluster``: the one-cluster model cross-validation preferred, "diagonal"
    or "full". ``difference``, ``difference_se``: held-out log marginal likelihood of the
    chosen K minus the one-cluster model's, paired over held-out worksites (0 when K = 1
    is chosen); ``two_difference``, ``two_difference_se``: the same for two clusters, the
    study's number. ``verdict``: "clusters supported", "inconclusive" or "no clusters".
    ``folds``: the cross-validation folds used (fewer than asked when the training
    worksites are fewer).
    """

    cv: pd.DataFrame
    chosen_K: int
    one_cluster: str
    difference: float
    difference_se: float
    two_difference: float
    two_difference_se: float
    verdict: str
    n_train: int
    n_heldout: int
    folds: int

    @property
    def covariance(self) -> str:
        """The covariance of the chosen model: the one-cluster model's when K = 1,
        diagonal for a mixture."""
        return self.one_cluster if self.chosen_K == 1 else DIAGONAL


def _fold_count(n: int, settings: ClusterTestSettings) -> int:
    # a campaign with fewer training worksites than folds is cross-validated leaving one out
    return min(check_count(settings.folds, "folds", minimum=2), n)


def headline_likelihoods(design, draws: dict) -> SlopeLikelihoods:
    r"""Every worksite's likelihood for its slopes under the headline model, from its
    posterior: the offsets :math:`α + x_s^\top β + u_s` and the expansion points
    :math:`m_s` are posterior means, the unit of each slope the posterior mean of
    :math:`τ_{b,p}` (:func:`organizing.clustering.deconvolution.slope_likelihoods`).
    ``design``: the rows the model was fitted to; ``draws``: its posterior draws
    (:func:`organizing.models.logits.complete_draws`)."""
    from organizing.models.logits import complete_draws

    draws = complete_draws("headline", draws)
    means = {k: np.asarray(draws[k], dtype=float).mean(axis=0) for k in (
        "alpha", "beta_group", "site_effect", "beta_individual", "beta_individual_scale")}
    s = np.asarray(design.site_index)
    offset = means["alpha"] + design.site_x[s] @ means["beta_group"] + means["site_effect"][s]
    return slope_likelihoods(design.worker_x, s, design.signed, offset,
                             means["beta_individual"], means["beta_individual_scale"])


def _folds(n: int, folds: int, rng: np.random.Generator) -> list[np.ndarray]:
    order = rng.permutation(n)
    return [np.sort(part) for part in np.array_split(order, folds)]


def _models(settings: ClusterTestSettings) -> list[tuple[int, str]]:
    Ks = sorted({check_count(K, "K") for K in settings.Ks} | {1})
    return [(K, DIAGONAL) for K in Ks] + [(1, FULL)]


def fit(lik: SlopeLikelihoods, K: int, covariance: str,
        settings: ClusterTestSettings) -> Mixture:
    """One model of the test fitted to ``lik`` at the test's EM settings."""
    return fit_mixture(lik, K, covariance=covariance, restarts=settings.restarts,
                       iterations=settings.iterations, seed=settings.seed + 101 * K)


def cross_validate(lik: SlopeLikelihoods, settings: ClusterTestSettings) -> pd.DataFrame:
    r"""Cross-validated log marginal likelihood of every model inside the training set.

    ``lik``: the training worksites' likelihoods. The worksites are split into
    ``settings.folds`` folds (one worksite per fold when there are fewer worksites than
    folds); each model is fitted on the other folds and scores the fold's worksites
    (:func:`organizing.clustering.deconvolution.log_marginal`); ``cv_lpd`` sums the
    scores. A K larger than a training set can carry scores −∞. Returns one row per
    model: ``K``, ``covariance``, ``cv_lpd``.
    """
    n = len(lik)
    if n < 2:
        raise ValueError(f"cross-validation needs at least 2 training worksites, got {n}")
    parts = _folds(n, _fold_count(n, settings), np.random.default_rng(settings.seed))
    rows = []
    for K, covariance in _models(settings):
        total = 0.0
        for held in parts:
            rest = np.setdiff1d(np.arange(n), held)
            if len(rest) < K:
                total = -np.inf
                break
            total += float(log_marginal(lik.subset(held),
                                        fit(lik.subset(rest), K, covariance, settings)).sum())
        rows.append({"K": K, "covariance": covariance, "cv_lpd": total})
    return pd.DataFrame(rows)


def cluster_test(lik: SlopeLikelihoods, train: np.ndarray, heldout: np.ndarray,
                 settings: ClusterTestSettings = ClusterTestSettings()) -> ClusterTest:
    r"""Choose K inside the training worksites, then test once on the held-out ones.

    ``lik``: every worksite's likelihood for its slopes
    (:func:`organizing.clustering.deconvolution.slope_likelihoods`); ``train``,
    ``heldout``: worksite indices.

    1. :func:`cross_validate` on the training worksites picks K* (ties to the smaller K)
       and the better one-cluster model (per-slope spreads or any shape); one cluster of
       any shape competes with the mixtures as K = 1.
    2. On all training worksites, the mixtures K* and 2 and that one cluster are fitted
       and score the held-out worksites; their scores are compared paired:
       Δ = Σ_j (lpd_{K,j} − lpd_{1,j}) and its standard error.
    3. Verdict for K*: "no clusters" when K* = 1 or Φ(Δ/se) ≤ 0.05, "clusters
       supported" when Φ(Δ/se) ≥ :data:`TEST_THRESHOLD`, otherwise "inconclusive".
    """
    train, heldout = np.asarray(train), np.asarray(heldout)
    if len(heldout) < 2:
        raise ValueError("the held-out comparison needs at least two held-out worksites")
    if len(np.intersect1d(train, heldout)):
        raise ValueError("the training and held-out worksites must not overlap")
    training = lik.subset(train)
    cv = cross_validate(training, settings)
    best = cv.sort_values(["cv_lpd", "K"], ascending=[False, True]).iloc[0]
    chosen_K = int(best["K"])
    ones = cv[cv["K"] == 1].sort_values("cv_lpd", ascending=False)
    one_cluster = str(ones.iloc[0]["covariance"])
    held = lik.subset(heldout)

    def heldout_lpd(K: int, covariance: str = DIAGONAL) -> np.ndarray:
        return log_marginal(held, fit(training, K, covariance, settings))

    one = heldout_lpd(1, one_cluster)
    if chosen_K == 1:
        difference, se = 0.0, 0.0
    else:
        difference, se = paired_difference(heldout_lpd(chosen_K), one)
    if (cv["K"] == 2).any():
        two_difference, two_se = ((difference, se) if chosen_K == 2
                                  else paired_difference(heldout_lpd(2), one))
    else:
        two_difference, two_se = np.nan, np.nan
    p = float(ndtr(difference / se)) if se > 0 else 0.5
    if chosen_K == 1 or p <= 1 - TEST_THRESHOLD:
        verdict = NO_CLUSTERS
    elif p >= TEST_THRESHOLD:
        verdict = CLUSTERS_SUPPORTED
    else:
        verdict = INCONCLUSIVE
    return ClusterTest(cv=cv, chosen_K=chosen_K, one_cluster=one_cluster,
                       difference=float(difference), difference_se=float(se),
                       two_difference=float(two_difference), two_difference_se=float(two_se),
                       verdict=verdict, n_train=len(train), n_heldout=len(heldout),
                       folds=_fold_count(len(train), settings))
