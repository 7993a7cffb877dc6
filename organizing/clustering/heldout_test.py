r"""A calibrated test of clusters among worksite slopes: choose inside, test outside.

The study's question is whether the worksites' slope vectors :math:`b_s` fall into
groups. Three things bias a naive answer toward "yes", and this module removes each:

* **Choosing and testing on the same worksites.** σ and K are chosen by K-fold
  cross-validation *inside* the training worksites (:func:`cross_validate`); the chosen
  K is then compared with one cluster *once*, on the held-out worksites
  (:func:`cluster_test`).
* **An isotropic baseline.** Slopes of different features spread differently between
  worksites (the headline model's :math:`τ_{b,p}`), and their posterior draws are
  correlated. Several round Gaussians can mimic one elongated Gaussian, and a mixture
  whose σ lies on a grid can mimic one Gaussian whose spread falls between grid points.
  The vectors are centred and divided, feature by feature, by the posterior mean of
  :math:`τ_{b,p}` (:func:`scaled_vectors`), which sets the scale of the mixture's σ;
  and one cluster may be *one Gaussian of any shape*, its mean and covariance learned
  from the training worksites (:func:`gaussian_heldout_density`), beside the mixture's
  round K = 1. Cross-validation chooses among them as among the mixtures, so clusters
  are more than one mode, never merely a shape that one round Gaussian fits badly.
* **Shrunk point estimates.** Posterior means of :math:`b_s` are pulled toward the
  population mean, more for small worksites than for large ones, which can look like a
  tight cluster beside a loose one. The mixture is fitted to posterior *draws* of the
  slopes instead: under the model a draw of all worksites' slopes is a draw from the
  population, whatever a worksite's size. Each of D draws is fitted and scored
  separately; a worksite's held-out score is its log predictive density averaged over
  the D draws.

The mixture is the study's (:mod:`organizing.clustering.sampler`), run by
:func:`heldout_density`, which samples many data sets at once. The held-out comparison
of K against one cluster is paired over held-out worksites
(:func:`organizing.clustering.selection.paired_difference`), and its verdict uses the
normal approximation :math:`P = Φ(Δ/\operatorname{se})` with the scorecard's threshold:
"clusters supported" when P ≥ 0.95. Its error rates are measured on simulated campaigns
(:mod:`organizing.error_rates`).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import erf, sqrt

import numpy as np
import pandas as pd
from scipy.special import gammaln, logsumexp

from organizing.clustering.sampler import LOG_2PI, TINY, check_count, check_positive
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
    """How the test runs: the grid, the folds, the Gibbs sampler and the slope draws."""

    sigmas: tuple[float, ...] = (0.25, 0.35, 0.5, 0.7, 1.0, 1.4)
    Ks: tuple[int, ...] = (1, 2, 3, 4, 5)
    folds: int = 5
    draws: int = 8
    eta: float = 1.0
    alpha0: float = 1.0
    iterations: int = 300
    burn_in: int = 100
    chains: int = 2
    seed: int = 0


@dataclass(frozen=True)
class ClusterTest:
    """The result of :func:`cluster_test`.

    ``cv``: one row per (sigma, K): ``cv_lpd``, the cross-validated log predictive
    density summed over the training worksites. ``chosen_K``, ``chosen_sigma``: the
    cross-validated choice; ``one_cluster``: the one-cluster model cross-validation
    preferred, "round" (the mixture with K = 1 at σ = ``one_sigma``) or "any shape"
    (:func:`gaussian_heldout_density`); ``one_sigma``, ``two_sigma``: the best σ for one
    round cluster and for two clusters. ``difference``, ``difference_se``: held-out lpd of
    the chosen K minus the preferred one-cluster model's, paired over held-out worksites
    (0 when K = 1 is chosen); ``two_difference``, ``two_difference_se``: the same for two
    clusters, the study's number. ``verdict``: "clusters supported", "inconclusive" or
    "no clusters" for the chosen K.
    """

    cv: pd.DataFrame
    chosen_K: int
    chosen_sigma: float
    one_cluster: str
    one_sigma: float
    two_sigma: float
    difference: float
    difference_se: float
    two_difference: float
    two_difference_se: float
    verdict: str
    n_train: int
    n_heldout: int
    draws: int


def _normal_cdf(z: float) -> float:
    return 0.5 * (1 + erf(z / sqrt(2)))


def scaled_vectors(slopes: np.ndarray, scale: np.ndarray, train: np.ndarray) -> np.ndarray:
    r"""Slope draws centred on the training worksites' mean and divided by ``scale``.

    ``slopes``: (D, S, P) posterior draws of every worksite's slopes; ``scale``: (P,)
    the spread of each slope between worksites (the posterior mean of :math:`τ_b`);
    ``train``: indices of the training worksites. Returns (D, S, P):
    :math:`(b^{(d)}_s - \bar b^{(d)}_{\text{train}}) / τ`.
    """
    slopes = np.asarray(slopes, dtype=float)
    scale = np.asarray(scale, dtype=float)
    if slopes.ndim != 3 or scale.shape != (slopes.shape[-1],):
        raise ValueError(f"slopes (D, S, P) and a scale per feature are needed, got "
                         f"{slopes.shape} and {scale.shape}")
    if not np.all(scale > 0):
        raise ValueError("every feature's scale must be positive")
    centre = slopes[:, np.asarray(train)].mean(axis=1, keepdims=True)
    return (slopes - centre) / scale


def heldout_density(x_train: np.ndarray, x_test: np.ndarray, *, K: int, sigma,
                    eta: float = 1.0, alpha0: float = 1.0, iterations: int = 400,
                    burn_in: int = 200, chains: int = 2, seed: int = 0) -> np.ndarray:
    r"""Held-out log predictive density of the mixture, for many data sets at once.

    ``x_train`` (B, n, d) and ``x_test`` (B, m, d): B independent data sets; ``sigma``
    one component scale for all, or one per data set, (B,). Each data set is fitted by
    ``chains`` Gibbs chains of the study's mixture (the updates of
    :func:`organizing.clustering.sampler.gibbs_mixture`, all B × chains at once), and
    every held-out point scored by

    .. math:: \operatorname{lpd}_j = \log \frac1T \sum_{t} \sum_k π^{(t)}_k
       \mathcal N(\tilde x_j; μ^{(t)}_k, σ^2 I)

    over the T sweeps after ``burn_in`` of all chains. Returns (B, m).
    """
    x_train = np.asarray(x_train, dtype=float)
    x_test = np.asarray(x_test, dtype=float)
    if x_train.ndim != 3 or x_test.ndim != 3 or x_train.shape[0] != x_test.shape[0] or (
            x_train.shape[2] != x_test.shape[2]):
        raise ValueError(f"x_train (B, n, d) and x_test (B, m, d) are needed, got "
                         f"{x_train.shape} and {x_test.shape}")
    B, n, d = x_train.shape
    m = x_test.shape[1]
    sigma = np.broadcast_to(np.asarray(sigma, dtype=float), (B,))
    for value in np.unique(sigma):
        check_positive(value, "sigma")
    K = check_count(K, "K")
    chains = check_count(chains, "chains")
    iterations = check_count(iterations, "iterations")
    if not 0 <= burn_in < iterations:
        raise ValueError(f"burn_in must lie in [0, {iterations}), got {burn_in}")
    rng = np.random.default_rng(seed)
    x = np.repeat(x_train, chains, axis=0)  # (C, n, d), chains of one data set adjacent
    x_t = x.transpose(0, 2, 1).copy()  # (C, d, n)
    test = np.repeat(x_test, chains, axis=0)
    test_sq = (test**2).sum(-1)[..., None]  # (C, m, 1)
    C = B * chains
    inv_var = np.repeat(1.0 / sigma**2, chains)[:, None]  # (C, 1)
    const = np.repeat(-0.5 * d * (LOG_2PI + 2.0 * np.log(sigma)), chains)[:, None, None]
    prior_precision = 1.0 / eta**2
    mu = np.take_along_axis(x, rng.integers(0, n, size=(C, K))[..., None], axis=1)
    pi = rng.dirichlet(np.ones(K), size=C)
    labels = np.arange(K)
    total = np.full((C, m), -np.inf)
    for it in range(iterations):
        # z | π, μ: one uniform per point against the cumulative assignment probabilities
        score = (mu @ x_t) * inv_var[:, :, None] - 0.5 * inv_var[:, :, None] * (
            mu**2).sum(-1)[..., None] + np.log(np.maximum(pi, TINY))[..., None]  # (C, K, n)
        score -= score.max(axis=1, keepdims=True)
        weights = np.exp(score).cumsum(axis=1)
        u = rng.random((C, 1, n)) * weights[:, -1:, :]
        z = (u > weights).sum(axis=1)  # (C, n)
        one_hot = (z[:, None, :] == labels[None, :, None]).astype(float)  # (C, K, n)
        counts = one_hot.sum(-1)  # (C, K)
        sums = one_hot @ x  # (C, K, d)
        precision = counts * inv_var + prior_precision
        mu = (sums * inv_var[:, :, None]
              + rng.standard_normal((C, K, d)) * np.sqrt(precision)[..., None]
              ) / precision[..., None]
        gammas = rng.standard_gamma(alpha0 + counts)
        pi = gammas / gammas.sum(-1, keepdims=True)
        if it >= burn_in:
            sq = test_sq - 2.0 * (test @ mu.transpose(0, 2, 1)) + (mu**2).sum(-1)[:, None, :]
            log_mix = np.log(np.maximum(pi, TINY))[:, None, :] + const - 0.5 * inv_var[
                :, :, None] * sq  # (C, m, K)
            top = log_mix.max(-1)
            log_mix = top + np.log(np.exp(log_mix - top[..., None]).sum(-1))
            total = np.logaddexp(total, log_mix)
    kept = (iterations - burn_in) * chains
    return logsumexp(total.reshape(B, chains, m), axis=1) - np.log(kept)


def gaussian_heldout_density(x_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    r"""Log predictive density of each held-out vector under one Gaussian of any shape.

    ``x_train``: (B, n, d), ``x_test``: (B, m, d); returns (B, m). With the reference prior
    :math:`p(μ, Σ) ∝ |Σ|^{-(d+1)/2}` the posterior predictive of a new vector given n
    training vectors with mean :math:`\bar x` and scatter
    :math:`S = Σ_i (x_i - \bar x)(x_i - \bar x)^\top` is multivariate Student *t*,

    .. math:: x^* \sim t_{ν}\Big(\bar x,\; \frac{n + 1}{n\,ν} S\Big),\qquad ν = n - d

    (Gelman et al., *Bayesian Data Analysis*, §3.6). With n ≤ d + 1 the covariance cannot
    be learned; the coordinates are then taken as independent, each with the univariate
    form (ν = n − 1, scale² = (n + 1) s²_p / n; s²_p the sample variance).
    """
    x_train = np.asarray(x_train, dtype=float)
    x_test = np.asarray(x_test, dtype=float)
    if x_train.ndim != 3 or x_test.ndim != 3 or x_train.shape[::2] != x_test.shape[::2]:
        raise ValueError("x_train and x_test must be shaped (B, n, d) and (B, m, d)")
    B, n, d = x_train.shape
    if n < 2:
        raise ValueError(f"one Gaussian needs at least 2 training vectors, got {n}")
    mean = x_train.mean(axis=1, keepdims=True)
    centred = x_train - mean
    resid = x_test - mean  # (B, m, d)

    def log_t(z2, nu, log_det, dim):
        return (gammaln((nu + dim) / 2) - gammaln(nu / 2) - dim / 2 * np.log(nu * np.pi)
                - log_det / 2 - (nu + dim) / 2 * np.log1p(z2 / nu))

    if n > d + 1:
        nu = n - d
        scatter = np.einsum("bni,bnj->bij", centred, centred)
        # t_ν(x̄, Ψ) with Ψ = (n + 1) S / (n ν), written with ν Ψ = (n + 1) S / n
        psi = scatter * (n + 1) / (n * nu) + TINY * np.eye(d)
        chol = np.linalg.cholesky(psi)
        z = np.linalg.solve(chol[:, None], resid[..., None])[..., 0]
        log_det = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)[:, None]
        return log_t((z ** 2).sum(axis=-1), nu, log_det, d)
    nu = n - 1
    scale2 = (centred ** 2).sum(axis=1, keepdims=True) / nu * (n + 1) / n + TINY
    return log_t(resid ** 2 / scale2, nu, np.log(scale2), 1).sum(axis=-1)


def _folds(n: int, folds: int, rng: np.random.Generator) -> list[np.ndarray]:
    order = rng.permutation(n)
    return [np.sort(part) for part in np.array_split(order, folds)]


def cross_validate(vectors: np.ndarray, settings: ClusterTestSettings) -> pd.DataFrame:
    r"""Cross-validated log predictive density of every (σ, K) inside the training set.

    ``vectors``: (D, n, d), D posterior draws of the n training worksites' scaled slopes
    (:func:`scaled_vectors`). The worksites are split into ``settings.folds`` folds (one
    worksite per fold when there are fewer worksites than folds); for
    each fold, draw and σ the mixture is fitted on the other folds and scores the fold
    (:func:`heldout_density`, all draws, folds and σ of one K in one batch). A worksite's
    score is averaged over the D draws and the scores are summed over worksites:
    ``cv_lpd``. Returns one row per (sigma, K) with ``sigma``, ``K``, ``cv_lpd``,
    ``cv_lpd_pointwise``.
    """
    vectors = np.asarray(vectors, dtype=float)
    D, n, d = vectors.shape
    if n < 2:
        raise ValueError(f"cross-validation needs at least 2 training worksites, got {n}")
    # a campaign with fewer training worksites than folds is cross-validated leaving one out
    folds = min(check_count(settings.folds, "folds", minimum=2), n)
    parts = _folds(n, folds, np.random.default_rng(settings.seed))
    sigmas = np.asarray(settings.sigmas, dtype=float)
    pointwise = {(s, K): np.empty((D, n)) for s in range(len(sigmas)) for K in settings.Ks}
    # folds whose training sets have the same size are sampled in one batch
    by_size: dict[int, list[np.ndarray]] = {}
    for held in parts:
        by_size.setdefault(n - len(held), []).append(held)
    for K in settings.Ks:
        for size, helds in by_size.items():
            for held_size in sorted({len(h) for h in helds}):
                group = [h for h in helds if len(h) == held_size]
                train_x = np.stack([vectors[:, np.setdiff1d(np.arange(n), h)] for h in group])
                test_x = np.stack([vectors[:, h] for h in group])  # (F, D, m, d)
                F = len(group)
                # batch order: sigma, fold, draw
                x_train = np.broadcast_to(train_x, (len(sigmas), F, D, size, d)).reshape(
                    -1, size, d)
                x_test = np.broadcast_to(test_x, (len(sigmas), F, D, held_size, d)).reshape(
                    -1, held_size, d)
                sigma = np.repeat(sigmas, F * D)
                lpd = heldout_density(x_train, x_test, K=K, sigma=sigma, eta=settings.eta,
                                      alpha0=settings.alpha0, iterations=settings.iterations,
                                      burn_in=settings.burn_in, chains=settings.chains,
                                      seed=settings.seed + 1000 * K + size + held_size)
                lpd = lpd.reshape(len(sigmas), F, D, held_size)
                for s in range(len(sigmas)):
                    for f, held in enumerate(group):
                        pointwise[(s, K)][:, held] = lpd[s, f]
    rows = []
    for s, sigma in enumerate(sigmas):
        for K in settings.Ks:
            per_site = pointwise[(s, K)].mean(axis=0)
            rows.append({"sigma": float(sigma), "K": int(K), "cv_lpd": float(per_site.sum()),
                         "cv_lpd_pointwise": per_site})
    return pd.DataFrame(rows)


def gaussian_cross_validate(vectors: np.ndarray, settings: ClusterTestSettings) -> float:
    """``cv_lpd`` of one Gaussian of any shape (:func:`gaussian_heldout_density`) in the
    folds of :func:`cross_validate` (the same worksites in each fold)."""
    vectors = np.asarray(vectors, dtype=float)
    _, n, _ = vectors.shape
    folds = min(check_count(settings.folds, "folds", minimum=2), n)
    total = 0.0
    for held in _folds(n, folds, np.random.default_rng(settings.seed)):
        rest = np.setdiff1d(np.arange(n), held)
        if len(rest) < 2:  # a fold whose complement cannot carry a Gaussian: not this model
            return -np.inf
        total += gaussian_heldout_density(vectors[:, rest], vectors[:, held]).mean(axis=0).sum()
    return float(total)


def _best_sigma(cv: pd.DataFrame, K: int) -> float:
    rows = cv[cv["K"] == K].sort_values(["cv_lpd", "sigma"], ascending=[False, False])
    return float(rows.iloc[0]["sigma"])


def cluster_test(slopes: np.ndarray, scale: np.ndarray, train: np.ndarray,
                 heldout: np.ndarray,
                 settings: ClusterTestSettings = ClusterTestSettings()) -> ClusterTest:
    r"""Choose σ and K inside the training worksites, then test once on the held-out ones.

    ``slopes``: (D_all, S, P) posterior draws of the worksites' slopes, of which
    ``settings.draws`` are used, evenly spaced; ``scale``: (P,) the posterior mean of the
    between-worksite spread of each slope; ``train``, ``heldout``: worksite indices.

    1. :func:`cross_validate` on the training worksites picks (K*, σ*) with the highest
       ``cv_lpd`` (ties to the smaller K), and the best σ for K = 1 and for K = 2; one
       Gaussian of any shape (:func:`gaussian_cross_validate`) competes as K = 1, and
       the better of the two one-cluster models is the test's one cluster.
    2. On all training worksites, the mixtures K* and 2 and that one cluster are fitted
       (per draw) and score the held-out worksites; their lpd, averaged over draws, are
       compared paired: Δ = Σ_j (lpd_{K,j} − lpd_{1,j}) and its standard error.
    3. Verdict for K*: "no clusters" when K* = 1 or Φ(Δ/se) ≤ 0.05, "clusters
       supported" when Φ(Δ/se) ≥ :data:`TEST_THRESHOLD`, otherwise "inconclusive".
    """
    slopes = np.asarray(slopes, dtype=float)
    train, heldout = np.asarray(train), np.asarray(heldout)
    if len(heldout) < 2:
        raise ValueError("the held-out comparison needs at least two held-out worksites")
    pick = np.linspace(0, len(slopes) - 1, min(settings.draws, len(slopes))).round()
    vectors = scaled_vectors(slopes[pick.astype(int)], scale, train)
    cv = cross_validate(vectors[:, train], settings)
    best = cv.sort_values(["cv_lpd", "K"], ascending=[False, True]).iloc[0]
    chosen_K, chosen_sigma = int(best["K"]), float(best["sigma"])
    one_sigma = _best_sigma(cv, 1)
    two_sigma = _best_sigma(cv, 2) if (cv["K"] == 2).any() else np.nan
    # one cluster of any shape competes with the round mixtures for the choice
    any_shape = gaussian_cross_validate(vectors[:, train], settings)
    round_one = float(cv.loc[cv["K"] == 1, "cv_lpd"].max()) if (cv["K"] == 1).any() else -np.inf
    one_cluster = "any shape" if any_shape > round_one else "round"
    if any_shape > float(best["cv_lpd"]):  # one cluster (σ: the round one's, for displays)
        chosen_K, chosen_sigma = 1, one_sigma

    def heldout_lpd(K: int, sigma: float) -> np.ndarray:
        lpd = heldout_density(vectors[:, train], vectors[:, heldout], K=K, sigma=sigma,
                              eta=settings.eta, alpha0=settings.alpha0,
                              iterations=settings.iterations, burn_in=settings.burn_in,
                              chains=settings.chains, seed=settings.seed + 7919 * K)
        return lpd.mean(axis=0)

    # the held-out test's one cluster: the one-cluster model cross-validation preferred
    one = (gaussian_heldout_density(vectors[:, train], vectors[:, heldout]).mean(axis=0)
           if one_cluster == "any shape" else heldout_lpd(1, one_sigma))
    if chosen_K == 1:
        difference, se = 0.0, 0.0
    else:
        difference, se = paired_difference(heldout_lpd(chosen_K, chosen_sigma), one)
    if np.isfinite(two_sigma):
        two_difference, two_se = paired_difference(
            heldout_lpd(2, two_sigma) if chosen_K != 2 or chosen_sigma != two_sigma
            else heldout_lpd(chosen_K, chosen_sigma), one)
    else:
        two_difference, two_se = np.nan, np.nan
    p = _normal_cdf(difference / se) if se > 0 else 0.5
    if chosen_K == 1 or p <= 1 - TEST_THRESHOLD:
        verdict = NO_CLUSTERS
    elif p >= TEST_THRESHOLD:
        verdict = CLUSTERS_SUPPORTED
    else:
        verdict = INCONCLUSIVE
    return ClusterTest(cv=cv.drop(columns="cv_lpd_pointwise"), chosen_K=chosen_K,
                       chosen_sigma=chosen_sigma, one_cluster=one_cluster,
                       one_sigma=one_sigma, two_sigma=two_sigma,
                       difference=float(difference), difference_se=float(se),
                       two_difference=float(two_difference), two_difference_se=float(two_se),
                       verdict=verdict, n_train=len(train), n_heldout=len(heldout),
                       draws=int(vectors.shape[0]))
