r"""What the mixture says about the worksites: assignments, clusters, features, size.

All summaries take aligned draws from
:func:`~organizing.clustering.sampler.gibbs_mixture` (labels comparable across
draws and chains) and pool the draws after burn-in of all chains. With
:math:`S` such draws :math:`z^{(s)}`,

.. math::

    P(z_i = k \mid x) \approx \frac1S \sum_s [z_i^{(s)} = k], \qquad
    P(z_i = z_j \mid x) \approx \frac1S \sum_s [z_i^{(s)} = z_j^{(s)}].

:func:`features_by_cluster` reads clusters through worksite features (for any
assignment probabilities, the calibrated test's mixture's too).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from organizing.clustering.sampler import (
    MixtureSamples,
    as_vectors,
    check_burn_in,
    check_count,
)


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


def _feature_names(names, count: int) -> list[str]:
    names = [str(j) for j in range(count)] if names is None else list(names)
    if len(names) != count:
        raise ValueError(f"feature_names has {len(names)} names for {count} features")
    return names


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


def pooled_sd(vectors: np.ndarray) -> float:
    """The pooled standard deviation of coefficient vectors (n, d), each column centred:
    the typical size of one coefficient's departure from its mean."""
    values = np.asarray(vectors, dtype=float)
    centred = values - values.mean(axis=0)
    return float(np.sqrt(np.mean(centred**2)))
