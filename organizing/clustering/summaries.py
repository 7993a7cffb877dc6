r"""What the mixture says about the worksites: assignments, clusters, features, size.

All summaries take aligned draws from
:func:`~organizing.clustering.sampler.gibbs_mixture` (labels comparable across
draws and chains) and pool the draws after burn-in of all chains. With
:math:`S` such draws :math:`z^{(s)}`,

.. math::

    P(z_i = k \mid x) \approx \frac1S \sum_s [z_i^{(s)} = k], \qquad
    P(z_i = z_j \mid x) \approx \frac1S \sum_s [z_i^{(s)} = z_j^{(s)}].

:func:`mixture_over_draws` repeats the mixture on posterior draws of the
regression's coefficient vectors, to carry the regression's uncertainty into
the clusters; :func:`coefficient_size_association` checks the study's
larger-worksites claim without clusters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from organizing.clustering.sampler import (
    N_ITER,
    MixtureSamples,
    as_vectors,
    check_burn_in,
    check_count,
    gibbs_mixture,
    hungarian_permutations,
)
from organizing.clustering.selection import heldout_log_predictive


@dataclass(frozen=True)
class MixtureOverDraws:
    """The mixture fitted to each of D posterior draws of the coefficient vectors.

    Labels are aligned across draws (Hungarian algorithm on the per-draw
    posterior mean of mu, against draw 0's ordering, refined once).

    Attributes:
        coassignment: pooled posterior co-assignment probabilities, (n, n).
        coassignment_by_draw: the same per regression draw, (D, n, n).
        assignment_probabilities: per-draw P(z_i = k), (D, n, K).
        cluster_means: per-draw posterior mean of mu, (D, K, d).
        cluster_sizes: per-draw posterior mean of n_k, (D, K).
        heldout_lpd: per-draw total held-out lpd, (D,); NaN without held-out data.
        seeds: the seed of each draw's sampler, (D,).
    """

    coassignment: np.ndarray
    coassignment_by_draw: np.ndarray
    assignment_probabilities: np.ndarray
    cluster_means: np.ndarray
    cluster_sizes: np.ndarray
    heldout_lpd: np.ndarray
    seeds: np.ndarray

    @property
    def pooled_assignment_probabilities(self) -> np.ndarray:
        """P(z_i = k) averaged over regression draws, (n, K)."""
        return self.assignment_probabilities.mean(axis=0)


@dataclass(frozen=True)
class AssociationDraws:
    """Draws of the association between a worksite's coefficient and its size.

    Attributes:
        correlation: Pearson correlation per regression draw, (D,).
        slope: OLS slope of the coefficient on size per regression draw, (D,).
    """

    correlation: np.ndarray
    slope: np.ndarray


# --------------------------------------------------------------------------- assignments


def _kept_one_hot(samples: MixtureSamples, burn_in: int) -> np.ndarray:
    """One-hot assignments of the draws after burn-in, chains pooled: (S, n, K)."""
    burn_in = check_burn_in(samples, burn_in)
    z = samples.z[:, burn_in:].reshape(-1, samples.z.shape[-1])
    return (z[..., None] == np.arange(samples.K)).astype(float)


def assignment_probabilities(samples: MixtureSamples, burn_in: int) -> np.ndarray:
    r"""Posterior assignment probabilities :math:`P(z_i = k \mid x)`, (n, K).

    .. math:: P(z_i = k \mid x) \approx \frac1S \sum_s [z_i^{(s)} = k]

    over the draws after burn-in (all chains), using the aligned labels.
    """
    return _kept_one_hot(samples, burn_in).mean(0)


def modal_assignments(samples: MixtureSamples, burn_in: int) -> np.ndarray:
    r"""The most probable (aligned) cluster of each point, (n,).

    .. math:: \hat z_i = \arg\max_k P(z_i = k \mid x)  \quad (ties: the smaller k)
    """
    return np.argmax(assignment_probabilities(samples, burn_in), axis=1)


def coassignment(samples: MixtureSamples, burn_in: int) -> np.ndarray:
    r"""Posterior co-assignment probabilities :math:`P(z_i = z_j \mid x)`, (n, n).

    .. math:: P(z_i = z_j \mid x) \approx \frac1S \sum_s [z_i^{(s)} = z_j^{(s)}]

    over the draws after burn-in (all chains). Invariant to relabelling, so it
    needs no alignment.
    """
    one_hot = _kept_one_hot(samples, burn_in)  # (S, n, K)
    return np.einsum("sik,sjk->ij", one_hot, one_hot) / one_hot.shape[0]


# --------------------------------------------------------------------------- regression draws


def mixture_over_draws(
    coef_draws,
    *,
    K: int,
    sigma: float,
    seed: int = 0,
    burn_in: int | None = None,
    x_test_draws=None,
    **sampler_settings,
) -> MixtureOverDraws:
    r"""Run the mixture on each of D posterior draws of the coefficient vectors.

    Propagates the regression's uncertainty into the clustering: with
    :math:`x^{(r)}` the r-th draw of the (n, d) coefficient vectors, the pooled
    co-assignment is

    .. math:: \bar C_{ij} = \frac1D \sum_r P(z_i = z_j \mid x^{(r)}),

    i.e. co-assignment under the joint posterior of regression and mixture
    (each regression draw weighted equally). Labels are aligned across draws
    by the Hungarian algorithm on posterior-mean cluster means, against draw
    0's (size-ordered) labels, refined once against the mean over draws.

    Args:
        coef_draws: (D, n, d) posterior draws of the training coefficient vectors.
        x_test_draws: optional (D, m, d) matching draws of held-out vectors; if
            given, each draw's held-out lpd is recorded.
        K, sigma: the mixture.
        seed: seeds of the D samplers are derived from it by ``np.random.SeedSequence``.
        burn_in: sweeps of every chain left out; default n_iter // 4.
        **sampler_settings: ``eta``, ``alpha0``, ``n_iter``, ``n_chains`` for
            ``gibbs_mixture`` (its defaults where not given).
    """
    draws = np.asarray(coef_draws, dtype=float)
    if draws.ndim != 3:
        raise ValueError(f"coef_draws must have shape (D, n, d); got {draws.shape}")
    if x_test_draws is not None:
        x_test_draws = np.asarray(x_test_draws, dtype=float)
        if x_test_draws.ndim != 3 or x_test_draws.shape[0] != draws.shape[0]:
            raise ValueError("x_test_draws must have shape (D, m, d) with the same D as coef_draws")
    n_iter = check_count(sampler_settings.get("n_iter", N_ITER), "n_iter")
    burn_in = n_iter // 4 if burn_in is None else burn_in
    D = draws.shape[0]
    seeds = np.random.SeedSequence(seed).generate_state(D).astype(np.int64)

    coassign, probs, means, sizes, lpd = [], [], [], [], []
    for r in range(D):
        samples = gibbs_mixture(draws[r], K=K, sigma=sigma, seed=int(seeds[r]), **sampler_settings)
        p = assignment_probabilities(samples, burn_in)
        coassign.append(coassignment(samples, burn_in))
        probs.append(p)
        means.append(samples.mu[:, burn_in:].mean((0, 1)))
        sizes.append(p.sum(0))
        lpd.append(
            heldout_log_predictive(samples, x_test_draws[r], burn_in=burn_in).total
            if x_test_draws is not None
            else np.nan
        )
    probs, means, sizes = np.stack(probs), np.stack(means), np.stack(sizes)

    if K > 1:  # align labels across regression draws
        perms = hungarian_permutations(means, means[0])
        aligned = np.take_along_axis(means, perms[..., None], axis=1)
        perms = hungarian_permutations(means, aligned.mean(0))
        means = np.take_along_axis(means, perms[..., None], axis=1)
        sizes = np.take_along_axis(sizes, perms, axis=1)
        probs = np.take_along_axis(probs, perms[:, None, :], axis=2)

    coassign = np.stack(coassign)
    return MixtureOverDraws(
        coassignment=coassign.mean(0),
        coassignment_by_draw=coassign,
        assignment_probabilities=probs,
        cluster_means=means,
        cluster_sizes=sizes,
        heldout_lpd=np.asarray(lpd, dtype=float),
        seeds=seeds,
    )


# --------------------------------------------------------------------------- interpretation


def summarize_draws(values, *, level: float = 0.9, axis: int = 0) -> dict[str, np.ndarray]:
    r"""Mean, central interval and P(value > 0) of draws along ``axis``.

    For draws :math:`v^{(1)}, \dots, v^{(S)}`: the mean, the quantiles
    :math:`q_{(1-\text{level})/2}` and :math:`q_{(1+\text{level})/2}` (keys
    ``lower``, ``upper``) and :math:`\frac1S \sum_s [v^{(s)} > 0]`.
    """
    values = np.asarray(values, dtype=float)
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1; got {level}")
    tail = (1 - level) / 2
    return {
        "mean": values.mean(axis),
        "lower": np.quantile(values, tail, axis=axis),
        "upper": np.quantile(values, 1 - tail, axis=axis),
        "prob_positive": (values > 0).mean(axis),
    }


def _feature_names(names, count: int) -> list[str]:
    names = [str(j) for j in range(count)] if names is None else list(names)
    if len(names) != count:
        raise ValueError(f"feature_names has {len(names)} names for {count} features")
    return names


def cluster_mean_summary(mu_draws, *, level: float = 0.9, feature_names=None) -> pd.DataFrame:
    r"""Cluster means per feature with central intervals over draws.

    For each cluster k and feature c, :func:`summarize_draws` of
    :math:`\mu_{kc}^{(s)}` over the draws s.

    Args:
        mu_draws: (S, K, d) aligned draws of the cluster means, e.g.
            ``samples.mu[:, burn_in:].reshape(-1, K, d)`` or
            :attr:`MixtureOverDraws.cluster_means` (intervals over regression draws).
        feature_names: optional d names; default ``"0"``, ``"1"``, ...

    Returns:
        Long table with columns cluster, feature, mean, lower, upper.
    """
    mu_draws = np.asarray(mu_draws, dtype=float)
    if mu_draws.ndim != 3:
        raise ValueError(f"mu_draws must have shape (S, K, d); got {mu_draws.shape}")
    _, K, d = mu_draws.shape
    names = _feature_names(feature_names, d)
    summary = summarize_draws(mu_draws, level=level)
    return pd.DataFrame(
        {
            "cluster": np.repeat(np.arange(K), d),
            "feature": np.tile(names, K),
            "mean": summary["mean"].ravel(),
            "lower": summary["lower"].ravel(),
            "upper": summary["upper"].ravel(),
        }
    )


def features_by_cluster(
    features, assignment_probs, *, modal: bool = False, feature_names=None
) -> pd.DataFrame:
    r"""Per-cluster means of worksite features.

    Soft (default): :math:`\bar f_{k} = \sum_i p_{ik} f_i / \sum_i p_{ik}`, with
    :math:`p_{ik} = P(z_i = k \mid x)`. Modal: plain means over the worksites
    whose most probable cluster is k (NaN for a cluster that is nobody's mode).

    Args:
        features: (n, F) worksite features.
        assignment_probs: (n, K) assignment probabilities.

    Returns:
        K rows (index ``cluster``): one column per feature plus ``weight``
        (:math:`\sum_i p_{ik}`, the effective number of worksites in the cluster).
    """
    features = as_vectors(features, "features")
    probs = np.asarray(assignment_probs, dtype=float)
    if probs.ndim != 2 or probs.shape[0] != features.shape[0]:
        raise ValueError(
            f"assignment_probs must have shape (n, K) with n = {features.shape[0]}; "
            f"got {probs.shape}"
        )
    K = probs.shape[1]
    weights = np.eye(K)[probs.argmax(1)] if modal else probs
    total = weights.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (weights.T @ features) / total[:, None]
    names = _feature_names(feature_names, features.shape[1])
    table = pd.DataFrame(means, columns=names, index=pd.RangeIndex(K, name="cluster"))
    table["weight"] = total
    return table


def coefficient_size_association(coef_draws, size) -> AssociationDraws:
    r"""Per regression draw, the correlation and OLS slope of a coefficient on worksite size.

    For draw r with coefficients :math:`b^{(r)} \in \mathbb R^n` and sizes
    :math:`s`: :math:`\rho^{(r)} = \operatorname{corr}(b^{(r)}, s)` and
    :math:`\beta^{(r)} = \operatorname{cov}(b^{(r)}, s) / \operatorname{var}(s)`.
    The spread of these draws carries the regression's uncertainty; the
    study's claim that organizer attention matters more at larger worksites
    predicts :math:`\rho > 0` for the organizer-attention coefficients.
    Pass ``np.log(size)`` to measure size on the log scale.

    Args:
        coef_draws: (D, n) draws of one coefficient at each worksite.
        size: (n,) worksite size.
    """
    coef = np.asarray(coef_draws, dtype=float)
    size = np.asarray(size, dtype=float)
    if coef.ndim != 2:
        raise ValueError(f"coef_draws must have shape (D, n); got {coef.shape}")
    if size.ndim != 1 or size.shape[0] != coef.shape[1]:
        raise ValueError(f"size must have shape ({coef.shape[1]},); got {size.shape}")
    if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(size))):
        raise ValueError("coef_draws and size must be finite")
    if coef.shape[1] < 3:
        raise ValueError("at least 3 worksites are needed")
    s = size - size.mean()
    if not np.any(s):
        raise ValueError("size is constant; the association is undefined")
    b = coef - coef.mean(1, keepdims=True)
    cov = b @ s
    slope = cov / (s @ s)
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = cov / np.sqrt((b**2).sum(1) * (s @ s))
    return AssociationDraws(correlation=correlation, slope=slope)


# --------------------------------------------------------------------------- cross-check


def sklearn_crosscheck(x, labels, K: int, seed: int = 0) -> float:
    r"""Adjusted Rand index between ``labels`` and a spherical ``GaussianMixture`` fit.

    An independent, maximum-likelihood check of the Gibbs modal assignments
    (``labels``, e.g. from :func:`modal_assignments`): EM fits
    :math:`\sum_k \pi_k \mathcal N(\mu_k, \sigma_k^2 I)` (best of 5 starts) and its
    hard assignments are compared by the ARI, which is invariant to label
    permutations (1: identical partitions, about 0: chance agreement).
    """
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import GaussianMixture

    x = as_vectors(x)
    K = check_count(K, "K")
    labels = np.asarray(labels)
    if labels.shape != (x.shape[0],):
        raise ValueError(f"labels must have shape ({x.shape[0]},); got {labels.shape}")
    gmm = GaussianMixture(n_components=K, covariance_type="spherical", n_init=5, random_state=seed)
    return float(adjusted_rand_score(labels, gmm.fit_predict(x)))


def withhold_small_clusters(table: pd.DataFrame, min_count: int) -> pd.DataFrame:
    """:func:`features_by_cluster` with the averages of every cluster holding fewer than
    ``min_count`` worksites (its ``weight``) set to NaN: a cluster of one or two stores
    would print those stores' own values, so clusters follow the k-rule of worksite
    rates (:mod:`organizing.data.disclosure`). The weights stay."""
    out = table.copy()
    small = out["weight"].to_numpy(dtype=float) < min_count
    features = [c for c in out.columns if c != "weight"]
    out.loc[small, features] = np.nan
    return out
