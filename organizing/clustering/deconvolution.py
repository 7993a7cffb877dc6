r"""Clusters of worksite slopes, fitted to each worksite's data rather than its estimate.

A worksite's slopes :math:`b_s` are seen only through its workers. Small worksites say
little about them, so any point estimate is noisy (or, from a hierarchical fit, shrunk
toward the population in proportion to that noise), and clustering estimates finds
structure in the noise, or hides it. The mixture here is fitted to what each worksite's
data say about its slopes, with their uncertainty, as in extreme deconvolution (Bovy,
Hogg and Roweis 2011, *Annals of Applied Statistics* 5:1657):

* **Each worksite's likelihood** (:func:`slope_likelihoods`). With the intercepts held
  at their posterior means, the log-likelihood of worksite s's signing in its slopes is
  expanded to second order at the posterior mean :math:`m_s`,

  .. math:: \log L_s(b) ≈ -\tfrac12 b^\top H_s b + h_s^\top b + c_s,\qquad
     H_s = \sum_{i∈s} p_i(1-p_i)\, z_i z_i^\top,\quad h_s = H_s m_s + \sum_{i∈s}(y_i - p_i) z_i,

  :math:`p_i = \operatorname{logit}^{-1}(o_i + z_i^\top m_s)`, :math:`o_i` the worker's
  offset (intercept, worksite features, worksite effect). :math:`H_s` is the Fisher
  information: near zero for a worksite of three workers, large for one of three hundred,
  and singular where a feature does not vary inside the worksite. Slopes are measured in
  units of the population's spread :math:`τ_b` (the headline posterior mean).
* **The population** (:func:`fit_mixture`): :math:`b_s \sim \sum_k π_k \mathcal N(μ_k,
  Σ_k)`, each :math:`Σ_k` diagonal (or, for one cluster, of any shape), fitted by EM on
  the *marginal* likelihood of the worksites' data,

  .. math:: \log \int \mathcal N(b; μ, Σ)\, e^{-\frac12 b^\top H b + h^\top b}\, db
     = -\tfrac12 \log|I + Σ H| - \tfrac12 μ^\top Σ^{-1} μ
       + \tfrac12 c^\top (Σ^{-1} + H)^{-1} c,\quad c = Σ^{-1}μ + h

  (:func:`log_marginal`; the constants :math:`c_s` are the same for every population
  model, so they cancel from every comparison and are dropped). A weak inverse-gamma
  prior keeps each variance away from zero (:data:`VARIANCE_PRIOR`).

The K = 1 population with diagonal Σ is the headline model's own
(:math:`b_s \sim \mathcal N(μ_b, \operatorname{diag} τ_b^2)`), so "clusters" means a
mixture that predicts held-out worksites' signing better than the model the book fits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logsumexp

from organizing.clustering.sampler import check_count

#: A weak inverse-gamma prior on every component variance (in units of τ_b²): ``weight``
#: pseudo-worksites with variance ``variance``. It keeps a component that holds a few
#: worksites from collapsing onto them.
VARIANCE_PRIOR = {"weight": 2.0, "variance": 0.05}
DIAGONAL, FULL = "diagonal", "full"


@dataclass(frozen=True)
class SlopeLikelihoods:
    r"""Every worksite's Gaussian likelihood for its scaled slopes, in information form:
    :math:`\log L_s(b) = -\frac12 b^\top H_s b + h_s^\top b + \text{const}`.

    ``precision``: (S, d, d) the :math:`H_s`; ``shift``: (S, d) the :math:`h_s`;
    ``expansion``: (S, d) the point each was expanded at (scaled)."""

    precision: np.ndarray
    shift: np.ndarray
    expansion: np.ndarray

    def __len__(self) -> int:
        return len(self.shift)

    def subset(self, sites) -> SlopeLikelihoods:
        sites = np.asarray(sites)
        return SlopeLikelihoods(self.precision[sites], self.shift[sites],
                                self.expansion[sites])


@dataclass(frozen=True)
class Mixture:
    """A fitted population of slopes: ``weights`` (K,), ``means`` (K, d), ``covariances``
    (K, d, d), and the training log marginal likelihood it reached."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    log_likelihood: float


def slope_likelihoods(worker_x: np.ndarray, site_index: np.ndarray, signed: np.ndarray,
                      offset: np.ndarray, expansion: np.ndarray, scale: np.ndarray
                      ) -> SlopeLikelihoods:
    r"""Each worksite's likelihood for its slopes, expanded at ``expansion`` (module
    docstring).

    ``worker_x``: (N, d) the workers' features; ``site_index``: (N,) each worker's
    worksite; ``signed``: (N,) 0/1; ``offset``: (N,) each worker's logit without the
    slope term; ``expansion``: (S, d) each worksite's slopes to expand at (the posterior
    means); ``scale``: (d,) positive, the unit of each slope (:math:`τ_b`). The result is
    in scaled slopes :math:`b / τ_b`.
    """
    worker_x = np.asarray(worker_x, dtype=float)
    site_index = np.asarray(site_index)
    signed = np.asarray(signed, dtype=float)
    offset = np.asarray(offset, dtype=float)
    expansion = np.asarray(expansion, dtype=float)
    scale = np.asarray(scale, dtype=float)
    n, d = worker_x.shape
    if site_index.shape != (n,) or signed.shape != (n,) or offset.shape != (n,):
        raise ValueError(f"site_index, signed and offset need one value per worker ({n})")
    if expansion.ndim != 2 or expansion.shape[1] != d or scale.shape != (d,):
        raise ValueError(f"expansion must be (S, {d}) and scale ({d},), got {expansion.shape}"
                         f" and {scale.shape}")
    if not np.all(scale > 0):
        raise ValueError("every slope's scale must be positive")
    if np.any(site_index < 0) or np.any(site_index >= len(expansion)):
        raise ValueError("site_index must index the rows of expansion")
    if not np.all((signed == 0) | (signed == 1)):
        raise ValueError("signed must be 0 or 1")
    z = worker_x * scale  # features times τ: the slopes in units of τ
    x0 = expansion / scale
    p = expit(offset + (z * x0[site_index]).sum(axis=1))
    S = len(expansion)
    weight = p * (1 - p)
    precision = np.zeros((S, d, d))
    np.add.at(precision, site_index, weight[:, None, None] * z[:, :, None] * z[:, None, :])
    score = np.zeros((S, d))
    np.add.at(score, site_index, (signed - p)[:, None] * z)
    shift = np.einsum("sij,sj->si", precision, x0) + score
    return SlopeLikelihoods(precision, shift, x0)


def _component_terms(lik: SlopeLikelihoods, means: np.ndarray, covariances: np.ndarray):
    """Per worksite and component: the log marginal (R, S, K), and the posterior of the
    slopes given the component, its mean (R, S, K, d) and covariance (R, S, K, d, d).
    ``means`` (R, K, d), ``covariances`` (R, K, d, d): R mixtures at once."""
    inv = np.linalg.inv(covariances)  # (R, K, d, d)
    _, logdet_cov = np.linalg.slogdet(covariances)  # (R, K)
    a = inv[:, None] + lik.precision[None, :, None]  # (R, S, K, d, d)
    post_cov = np.linalg.inv(a)
    _, logdet_a = np.linalg.slogdet(a)
    prior_shift = np.einsum("rkij,rkj->rki", inv, means)  # Σ⁻¹μ
    c = prior_shift[:, None] + lik.shift[None, :, None]  # (R, S, K, d)
    post_mean = np.einsum("rskij,rskj->rski", post_cov, c)
    log_m = (-0.5 * (logdet_cov[:, None] + logdet_a)
             - 0.5 * np.einsum("rki,rki->rk", means, prior_shift)[:, None]
             + 0.5 * np.einsum("rski,rski->rsk", c, post_mean))
    return log_m, post_mean, post_cov


def log_marginal(lik: SlopeLikelihoods, mixture: Mixture) -> np.ndarray:
    r"""Each worksite's log marginal likelihood under ``mixture``,
    :math:`\log \sum_k π_k \int \mathcal N(b; μ_k, Σ_k) L_s(b)\,db` less the worksite's
    constant :math:`c_s` (module docstring). Returns (S,)."""
    log_m, _, _ = _component_terms(lik, mixture.means[None], mixture.covariances[None])
    return logsumexp(log_m[0] + np.log(np.maximum(mixture.weights, 1e-300)), axis=-1)


def _initial_means(x: np.ndarray, K: int, restarts: int, rng: np.random.Generator):
    """k-means++ seeds among the expansion points, one set per restart: (R, K, d)."""
    out = np.empty((restarts, K, x.shape[1]))
    for r in range(restarts):
        chosen = [rng.integers(len(x))]
        for _ in range(1, K):
            d2 = ((x[:, None] - x[chosen][None]) ** 2).sum(-1).min(axis=1)
            total = d2.sum()
            chosen.append(rng.choice(len(x), p=d2 / total) if total > 0
                          else rng.integers(len(x)))
        out[r] = x[chosen]
    return out


def fit_mixture(lik: SlopeLikelihoods, K: int, *, covariance: str = DIAGONAL,
                restarts: int = 4, iterations: int = 300, tolerance: float = 1e-6,
                seed: int = 0) -> Mixture:
    r"""The mixture of K Gaussians that best explains the worksites' data (EM on the
    marginal likelihood, :func:`log_marginal`), the best of ``restarts`` starts.

    E step: responsibilities :math:`r_{sk} ∝ π_k M_{sk}` and the slopes' posterior given
    the component, :math:`\mathcal N(m_{sk}, C_{sk})`,
    :math:`C_{sk} = (Σ_k^{-1} + H_s)^{-1}`, :math:`m_{sk} = C_{sk}(Σ_k^{-1}μ_k + h_s)`.
    M step: :math:`π_k = N_k / S`, :math:`μ_k = Σ_s r_{sk} m_{sk} / N_k`,
    :math:`Σ_k = \big(Σ_s r_{sk}[(m_{sk} - μ_k)(m_{sk} - μ_k)^\top + C_{sk}] + w v I\big)
    / (N_k + w)` (its diagonal when ``covariance`` is "diagonal"; w, v:
    :data:`VARIANCE_PRIOR`). Each step raises the penalized marginal likelihood.
    """
    if covariance not in (DIAGONAL, FULL):
        raise ValueError(f"covariance must be {DIAGONAL!r} or {FULL!r}, got {covariance!r}")
    K = check_count(K, "K")
    S = len(lik)
    if S < K:
        raise ValueError(f"{K} components need at least {K} worksites, got {S}")
    d = lik.shift.shape[1]
    rng = np.random.default_rng(seed)
    R = restarts if K > 1 else 1
    means = _initial_means(lik.expansion, K, R, rng)
    covariances = np.broadcast_to(np.eye(d), (R, K, d, d)).copy()
    weights = np.full((R, K), 1.0 / K)
    w, v = VARIANCE_PRIOR["weight"], VARIANCE_PRIOR["variance"]
    eye = np.eye(d)
    previous = np.full(R, -np.inf)
    for _ in range(iterations):
        log_m, post_mean, post_cov = _component_terms(lik, means, covariances)
        joint = log_m + np.log(np.maximum(weights, 1e-300))[:, None]
        total = logsumexp(joint, axis=-1)  # (R, S)
        resp = np.exp(joint - total[..., None])  # (R, S, K)
        counts = resp.sum(axis=1)  # (R, K)
        weights = counts / S
        means = np.einsum("rsk,rski->rki", resp, post_mean) / np.maximum(counts, 1e-12)[..., None]
        dev = post_mean - means[:, None]
        scatter = np.einsum("rsk,rski,rskj->rkij", resp, dev, dev) + np.einsum(
            "rsk,rskij->rkij", resp, post_cov)
        covariances = (scatter + w * v * eye) / (counts + w)[..., None, None]
        if covariance == DIAGONAL:
            covariances = covariances * eye
        ll = total.sum(axis=1)
        if np.all(np.abs(ll - previous) <= tolerance * np.abs(ll)):
            break
        previous = ll
    log_m, _, _ = _component_terms(lik, means, covariances)
    ll = logsumexp(log_m + np.log(np.maximum(weights, 1e-300))[:, None], axis=-1).sum(axis=1)
    best = int(np.argmax(ll))
    return Mixture(weights[best], means[best], covariances[best], float(ll[best]))


def responsibilities(lik: SlopeLikelihoods, mixture: Mixture) -> np.ndarray:
    """Each worksite's probability of belonging to each component, given its data: (S, K)."""
    log_m, _, _ = _component_terms(lik, mixture.means[None], mixture.covariances[None])
    joint = log_m[0] + np.log(np.maximum(mixture.weights, 1e-300))
    return np.exp(joint - logsumexp(joint, axis=-1, keepdims=True))


def component_means(lik: SlopeLikelihoods, mixture: Mixture, *, level: float = 0.9,
                    feature_names=None) -> pd.DataFrame:
    r"""Each component's mean slope vector with a central interval (normal, from the
    observed information of the marginal likelihood at the fit):

    .. math:: I_k = \sum_s r_{sk} \big(Σ_k^{-1} - Σ_k^{-1} C_{sk} Σ_k^{-1}\big)
       = \sum_s r_{sk} (Σ_k + H_s^{-1})^{-1},

    the information about :math:`μ_k` with the responsibilities :math:`r_{sk}` and
    :math:`Σ_k` held at their fitted values. Returns a long table: cluster, feature,
    mean, lower, upper."""
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    from scipy.stats import norm

    resp = responsibilities(lik, mixture)  # (S, K)
    _, _, post_cov = _component_terms(lik, mixture.means[None], mixture.covariances[None])
    inv = np.linalg.inv(mixture.covariances)  # (K, d, d)
    info = np.einsum("sk,kij->kij", resp, inv) - np.einsum(
        "sk,kia,skab,kbj->kij", resp, inv, post_cov[0], inv)
    sd = np.sqrt(np.diagonal(np.linalg.inv(info), axis1=1, axis2=2))  # (K, d)
    z = norm.ppf(0.5 + level / 2)
    K, d = mixture.means.shape
    names = list(feature_names) if feature_names is not None else [str(j) for j in range(d)]
    if len(names) != d:
        raise ValueError(f"{d} feature names are needed, got {len(names)}")
    return pd.DataFrame({"cluster": np.repeat(np.arange(K), d), "feature": np.tile(names, K),
                         "mean": mixture.means.ravel(),
                         "lower": (mixture.means - z * sd).ravel(),
                         "upper": (mixture.means + z * sd).ravel()})
