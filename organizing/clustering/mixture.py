r"""Bayesian Gaussian mixture of worksite coefficient vectors, sampled by Gibbs.

The study clustered the 120 worksite-specific coefficient vectors of its
regression (one vector :math:`x_i \in \mathbb{R}^d` per worksite, :math:`d = 7`)
with a finite Gaussian mixture whose component scale :math:`\sigma` is fixed:

.. math::

    \pi &\sim \operatorname{Dirichlet}(\alpha_0 \mathbf 1_K), \\
    \mu_k &\sim \mathcal N(0, \eta^2 I_d), \qquad k = 1, \dots, K, \\
    z_i \mid \pi &\sim \operatorname{Categorical}(\pi), \\
    x_i \mid z_i = k, \mu &\sim \mathcal N(\mu_k, \sigma^2 I_d).

:math:`\sigma` is a standard deviation. All full conditionals are conjugate,
so one Gibbs sweep draws, in this order,

.. math::

    P(z_i = k \mid \cdot) &\propto \pi_k\, \mathcal N(x_i; \mu_k, \sigma^2 I_d), \\
    \mu_k \mid \cdot &\sim \mathcal N\!\left(
        \frac{n_k/\sigma^2}{n_k/\sigma^2 + 1/\eta^2}\, \bar x_k,\;
        \frac{1}{n_k/\sigma^2 + 1/\eta^2} I_d \right), \\
    \pi \mid z &\sim \operatorname{Dirichlet}(\alpha_0 + n_1, \dots, \alpha_0 + n_K),

with :math:`n_k = \#\{i : z_i = k\}` and :math:`\bar x_k` the mean of the
points in component :math:`k` (an empty component draws :math:`\mu_k` from its
prior). The chain starts from uniformly random :math:`z`, :math:`\mu_k` equal to
randomly chosen data points and :math:`\pi \sim \operatorname{Dirichlet}(\mathbf 1)`.
After every sweep the sampler records the log joint

.. math::

    \log p(x, z, \mu, \pi) = \log \operatorname{Dir}(\pi; \alpha_0 \mathbf 1)
      + \sum_k \log \mathcal N(\mu_k; 0, \eta^2 I)
      + \sum_i \bigl[\log \pi_{z_i} + \log \mathcal N(x_i; \mu_{z_i}, \sigma^2 I)\bigr].

**Label switching.** The likelihood is invariant to permuting the component
labels, so label :math:`k` can mean different clusters in different chains or
draws. Every draw is relabelled by the Hungarian algorithm
(:func:`scipy.optimize.linear_sum_assignment`) to minimise the squared
Euclidean distance between its means and a reference set of means. The
reference is the draw with the highest log joint over all chains and
iterations, its components ordered by decreasing size :math:`n_k` (ties by the
first coordinate of :math:`\mu_k`); one refinement pass then replaces the
reference by the mean of the aligned draws of the second half of the run and
aligns again. Cluster 0 is therefore "the largest cluster of the best draw".

**Held-out log predictive density.** For held-out points :math:`\tilde x_j`
and :math:`S` posterior draws :math:`(\pi^{(s)}, \mu^{(s)})` (after burn-in,
all chains),

.. math::

    \operatorname{lpd}_j = \log \frac1S \sum_{s=1}^S \sum_{k=1}^K
        \pi_k^{(s)} \mathcal N(\tilde x_j; \mu_k^{(s)}, \sigma^2 I),

computed as a log-mean-exp over draws of a log-sum-exp over components. The
total is :math:`\sum_j \operatorname{lpd}_j`. It contains no prior term.

**What the study's code did (facts for the audit, not reproduced here).**

(a) Its assignment step added the proportion :math:`\pi_k` itself, not
    :math:`\log \pi_k`, to the log likelihood of each component. Because
    :math:`0 \le \pi_k \le 1` while the log likelihoods differ by thousands
    when :math:`\sigma = 10^{-4}`, the mixing proportions had essentially no
    effect on the assignments.
(b) Its held-out log-likelihood (i) started the log-sum-exp accumulator at
    0 instead of :math:`-\infty`, so each point's value is
    :math:`\log(1 + \sum_k \pi_k \mathcal N(\tilde x; \mu_k, \sigma^2 I))`,
    which is about 0 whenever the density is tiny; (ii) added the log prior
    :math:`\log p(\pi) + \log p(\mu)` to every point, so the total carries
    :math:`m` times the log prior of :math:`m` held-out points; and (iii) used
    only the last Gibbs draw instead of averaging over the posterior. With a
    small :math:`\sigma` the "held-out log-likelihood" is therefore almost
    entirely :math:`m \log p(\pi, \mu)`, a statement about the prior, not about
    the fit. :func:`study_heldout_log_likelihood` reproduces (b) for the
    audit; whether the study used :math:`\log \pi_k` or :math:`\pi_k` inside
    that sum is not part of (b), and the reproduction uses :math:`\log\pi_k`.

The study ran :math:`\sigma = 10^{-4}`, :math:`\alpha_0 = 1`, :math:`\eta = 0.1`,
:math:`K = 2`, 400 iterations, the first 100 of 120 vectors for training and
the last 20 held out, and swept :math:`\sigma \in \{10^{-2}, \dots, 10^{-5}\}`.
Those values suited coefficients of scale ~0.006; corrected coefficients are of
order 1, so :func:`select_mixture` chooses :math:`(\sigma, K)` again by the
held-out log predictive density over a grid from :func:`sigma_grid`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.special import gammaln, logsumexp

__all__ = [
    "STUDY_SETTINGS",
    "STUDY_SIGMA_SWEEP",
    "AssociationDraws",
    "HeldoutDensity",
    "MixtureOverDraws",
    "MixtureSamples",
    "assignment_probabilities",
    "best_mixture",
    "cluster_mean_summary",
    "coassignment",
    "coefficient_size_association",
    "features_by_cluster",
    "gibbs_mixture",
    "heldout_log_predictive",
    "log_prior",
    "mixture_over_draws",
    "modal_assignments",
    "permute_labels",
    "select_mixture",
    "sigma_grid",
    "sklearn_crosscheck",
    "study_heldout_log_likelihood",
    "summarize_draws",
]

#: The study's clustering settings (report and README).
STUDY_SETTINGS = {"sigma": 1e-4, "alpha0": 1.0, "eta": 0.1, "K": 2, "n_iter": 400, "n_train": 100}
#: The study's sweep of the component scale.
STUDY_SIGMA_SWEEP = (1e-2, 1e-3, 1e-4, 1e-5)

_LOG_2PI = float(np.log(2.0 * np.pi))
_TINY = np.finfo(float).tiny


@dataclass
class MixtureSamples:
    """Gibbs draws of the mixture, with labels aligned across draws and chains.

    Attributes:
        z: assignments, shape (chains, iters, n), integers in ``[0, K)``.
        mu: component means, shape (chains, iters, K, d).
        pi: mixing proportions, shape (chains, iters, K).
        log_joint: log p(x, z, mu, pi) after each sweep, shape (chains, iters).
            Invariant to relabelling.
        x: the training vectors, shape (n, d).
        sigma, eta, alpha0: the fixed hyperparameters.
        seed: the seed passed to :func:`gibbs_mixture`.
    """

    z: np.ndarray
    mu: np.ndarray
    pi: np.ndarray
    log_joint: np.ndarray
    x: np.ndarray
    sigma: float
    eta: float
    alpha0: float
    seed: int

    @property
    def K(self) -> int:
        return self.pi.shape[-1]

    @property
    def n_chains(self) -> int:
        return self.z.shape[0]

    @property
    def n_iter(self) -> int:
        return self.z.shape[1]


class HeldoutDensity(NamedTuple):
    """Held-out log predictive density: one value per held-out point and their sum."""

    per_point: np.ndarray
    total: float


@dataclass
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


@dataclass
class AssociationDraws:
    """Draws of the association between a worksite's coefficient and its size.

    Attributes:
        correlation: Pearson correlation per regression draw, (D,).
        slope: OLS slope of the coefficient on size per regression draw, (D,).
    """

    correlation: np.ndarray
    slope: np.ndarray


# --------------------------------------------------------------------------- validation


def _as_vectors(x, name: str = "x") -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n points, d features); got {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have at least one row and one column; got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_positive(value, name: str) -> float:
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number; got {value}")
    return value


def _check_count(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(f"{name} must be an integer; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {value}")
    return int(value)


def _check_burn_in(samples: MixtureSamples, burn_in: int) -> int:
    burn_in = _check_count(burn_in, "burn_in", minimum=0)
    if burn_in >= samples.n_iter:
        raise ValueError(f"burn_in ({burn_in}) must be smaller than n_iter ({samples.n_iter})")
    return burn_in


# --------------------------------------------------------------------------- densities


def _component_log_density(x: np.ndarray, mu: np.ndarray, sigma: float) -> np.ndarray:
    r"""log N(x_i; mu_k, sigma^2 I) for every point and component.

    .. math:: -\tfrac d2 \log(2\pi\sigma^2) - \lVert x_i - \mu_k \rVert^2 / (2\sigma^2)

    Args:
        x: (n, d) points.
        mu: (..., K, d) means.
    Returns:
        (..., n, K).
    """
    d = x.shape[-1]
    sq_dist = ((x[:, None, :] - mu[..., None, :, :]) ** 2).sum(-1)
    return -0.5 * d * (_LOG_2PI + 2.0 * np.log(sigma)) - sq_dist / (2.0 * sigma**2)


def log_prior(pi: np.ndarray, mu: np.ndarray, *, eta: float, alpha0: float) -> np.ndarray:
    r"""Log prior density of the mixture parameters.

    .. math::

        \log p(\pi, \mu) = \log\Gamma(K\alpha_0) - K\log\Gamma(\alpha_0)
            + (\alpha_0 - 1)\sum_k \log\pi_k
            + \sum_k \left[-\tfrac d2 \log(2\pi\eta^2) - \lVert\mu_k\rVert^2 / (2\eta^2)\right]

    Args:
        pi: (..., K) proportions.
        mu: (..., K, d) means.
    Returns:
        An array of shape ``pi.shape[:-1]``.
    """
    K = pi.shape[-1]
    d = mu.shape[-1]
    log_dirichlet = (
        gammaln(K * alpha0)
        - K * gammaln(alpha0)
        + (alpha0 - 1.0) * np.log(np.maximum(pi, _TINY)).sum(-1)
    )
    log_normal = -0.5 * d * (_LOG_2PI + 2.0 * np.log(eta)) - (mu**2).sum(-1) / (2 * eta**2)
    return log_dirichlet + log_normal.sum(-1)


# --------------------------------------------------------------------------- sampler


def gibbs_mixture(
    x,
    *,
    K: int,
    sigma: float,
    eta: float = 0.1,
    alpha0: float = 1.0,
    n_iter: int = 400,
    n_chains: int = 4,
    seed: int = 0,
    align: bool = True,
) -> MixtureSamples:
    r"""Gibbs sampler for the fixed-scale Gaussian mixture, all chains at once.

    Model: :math:`\pi \sim \operatorname{Dir}(\alpha_0 \mathbf 1_K)`,
    :math:`\mu_k \sim \mathcal N(0, \eta^2 I)`, :math:`z_i \sim \operatorname{Cat}(\pi)`,
    :math:`x_i \mid z_i = k \sim \mathcal N(\mu_k, \sigma^2 I)`.
    Each sweep draws :math:`z \mid \pi, \mu` (by the Gumbel-max trick on
    :math:`\log\pi_k + \log\mathcal N(x_i; \mu_k, \sigma^2 I)`), then
    :math:`\mu_k \mid z \sim \mathcal N(m_k, v_k I)` with
    :math:`v_k = (n_k/\sigma^2 + 1/\eta^2)^{-1}`,
    :math:`m_k = v_k \sum_{i: z_i = k} x_i / \sigma^2`, then
    :math:`\pi \mid z \sim \operatorname{Dir}(\alpha_0 + n_k)`, and records the log
    joint :math:`\log p(x, z, \mu, \pi)`. The chains are vectorized; the only
    Python loop is over iterations.

    Args:
        x: (n, d) training vectors.
        K: number of components (>= 1).
        sigma: fixed component standard deviation (> 0).
        eta: prior standard deviation of each coordinate of mu_k.
        alpha0: symmetric Dirichlet concentration.
        n_iter: Gibbs sweeps per chain; every sweep is stored.
        n_chains: independent chains.
        seed: seed of ``np.random.default_rng``; all chains share one generator.
        align: relabel draws to a common reference (see the module docstring).

    Returns:
        :class:`MixtureSamples` with z (chains, iters, n), mu (chains, iters, K, d),
        pi (chains, iters, K) and log_joint (chains, iters).
    """
    x = _as_vectors(x)
    K = _check_count(K, "K")
    sigma = _check_positive(sigma, "sigma")
    eta = _check_positive(eta, "eta")
    alpha0 = _check_positive(alpha0, "alpha0")
    n_iter = _check_count(n_iter, "n_iter")
    n_chains = _check_count(n_chains, "n_chains")
    rng = np.random.default_rng(seed)
    n, d = x.shape
    C = n_chains

    # Initialisation as in the study: random z, means at random data points, pi ~ Dir(1).
    z = rng.integers(0, K, size=(C, n))
    mu = x[rng.integers(0, n, size=(C, K))]
    pi = rng.dirichlet(np.ones(K), size=C)

    z_draws = np.empty((C, n_iter, n), dtype=np.int64)
    mu_draws = np.empty((C, n_iter, K, d))
    pi_draws = np.empty((C, n_iter, K))

    inv_var = 1.0 / sigma**2
    prior_precision = 1.0 / eta**2
    const = -0.5 * d * (_LOG_2PI + 2.0 * np.log(sigma))
    x_t2 = 2.0 * x.T  # (d, n)
    labels = np.arange(K)
    # Noise that does not depend on the state is drawn up front, one block per sweep.
    gumbel = rng.gumbel(size=(n_iter, C, n, K))
    normal = rng.standard_normal((n_iter, C, K, d))
    for it in range(n_iter):
        # z | pi, mu: Gumbel-max over log pi_k + log N(x_i; mu_k, sigma^2 I); the
        # constant and ||x_i||^2 are the same for every k and drop out.
        score = (mu @ x_t2 - (mu**2).sum(-1)[..., None]).transpose(0, 2, 1)  # (C, n, K)
        score *= 0.5 * inv_var
        score += np.log(np.maximum(pi, _TINY))[:, None, :]
        score += gumbel[it]
        z = score.argmax(-1)

        # mu | z: conjugate normal update; an empty component draws from its prior.
        one_hot = (z[..., None] == labels).astype(float)  # (C, n, K)
        counts = one_hot.sum(1)  # (C, K)
        sums = one_hot.transpose(0, 2, 1) @ x  # (C, K, d)
        precision = counts * inv_var + prior_precision
        mu = (sums * inv_var + normal[it] * np.sqrt(precision)[..., None]) / precision[..., None]

        # pi | z ~ Dirichlet(alpha0 + n_k), via normalised gammas.
        gammas = rng.standard_gamma(alpha0 + counts)
        pi = gammas / gammas.sum(-1, keepdims=True)

        z_draws[:, it] = z
        mu_draws[:, it] = mu
        pi_draws[:, it] = pi

    # Log joint of every stored state, all sweeps at once.
    assigned_mu = np.take_along_axis(mu_draws, z_draws[..., None], axis=2)  # (C, T, n, d)
    sq_dist = ((x - assigned_mu) ** 2).sum(-1)
    log_pi_assigned = np.log(np.maximum(np.take_along_axis(pi_draws, z_draws, axis=2), _TINY))
    log_joint = log_prior(pi_draws, mu_draws, eta=eta, alpha0=alpha0) + (
        log_pi_assigned + const - 0.5 * inv_var * sq_dist
    ).sum(-1)

    samples = MixtureSamples(
        z=z_draws,
        mu=mu_draws,
        pi=pi_draws,
        log_joint=log_joint,
        x=x,
        sigma=sigma,
        eta=eta,
        alpha0=alpha0,
        seed=int(seed),
    )
    return _align_labels(samples) if align else samples


def _hungarian_permutations(mu: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """For each draw (S, K, d), the permutation perm with mu[perm[j]] matched to reference[j]."""
    cost = ((mu[:, None, :, :] - reference[None, :, None, :]) ** 2).sum(-1)  # (S, Kref, K)
    perms = np.empty(mu.shape[:2], dtype=np.int64)
    for s in range(mu.shape[0]):
        _, cols = linear_sum_assignment(cost[s])
        perms[s] = cols
    return perms


def _reference_order(mu: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Order components by decreasing size, ties by increasing first coordinate of the mean."""
    return np.lexsort((mu[:, 0], -sizes))


def _align_labels(samples: MixtureSamples) -> MixtureSamples:
    """Relabel every draw to a common reference (see the module docstring)."""
    C, T, n = samples.z.shape
    K = samples.K
    if K == 1:
        return samples
    flat_mu = samples.mu.reshape(C * T, K, -1)
    best = int(np.argmax(samples.log_joint))
    sizes = np.bincount(samples.z.reshape(C * T, n)[best], minlength=K)
    reference = flat_mu[best][_reference_order(flat_mu[best], sizes)]

    perms = _hungarian_permutations(flat_mu, reference)
    # One refinement: the reference becomes the mean of the aligned second half of the run.
    aligned = np.take_along_axis(flat_mu, perms[..., None], axis=1).reshape(samples.mu.shape)
    reference = aligned[:, T // 2 :].reshape(-1, K, flat_mu.shape[-1]).mean(0)
    perms = _hungarian_permutations(flat_mu, reference).reshape(C, T, K)

    return permute_labels(samples, perms)


def permute_labels(samples: MixtureSamples, perms: np.ndarray) -> MixtureSamples:
    """Relabel every draw: new label j holds old component ``perms[c, t, j]``."""
    inverse = np.argsort(perms, axis=-1)  # old label -> new label
    return replace(
        samples,
        z=np.take_along_axis(inverse, samples.z, axis=-1),
        mu=np.take_along_axis(samples.mu, perms[..., None], axis=2),
        pi=np.take_along_axis(samples.pi, perms, axis=2),
    )


# --------------------------------------------------------------------------- held-out density


def _flat_draws(samples: MixtureSamples, burn_in: int) -> tuple[np.ndarray, np.ndarray]:
    """(S, K) proportions and (S, K, d) means after burn-in, all chains pooled."""
    K, d = samples.mu.shape[-2:]
    pi = samples.pi[:, burn_in:].reshape(-1, K)
    mu = samples.mu[:, burn_in:].reshape(-1, K, d)
    return pi, mu


def _check_test(samples: MixtureSamples, x_test) -> np.ndarray:
    x_test = _as_vectors(x_test, "x_test")
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
        samples: output of :func:`gibbs_mixture`.
        x_test: (m, d) held-out vectors.
        sigma: component scale; defaults to the one the samples were drawn with.
        burn_in: number of initial sweeps of every chain to discard.

    Returns:
        :class:`HeldoutDensity` (per_point of shape (m,), total).
    """
    x_test = _check_test(samples, x_test)
    burn_in = _check_burn_in(samples, burn_in)
    sigma = samples.sigma if sigma is None else _check_positive(sigma, "sigma")
    pi, mu = _flat_draws(samples, burn_in)
    log_mix = _component_log_density(x_test, mu, sigma) + np.log(np.maximum(pi, _TINY))[:, None]
    per_draw = logsumexp(log_mix, axis=-1)  # (S, m)
    per_point = logsumexp(per_draw, axis=0) - np.log(per_draw.shape[0])
    return HeldoutDensity(per_point=per_point, total=float(per_point.sum()))


def study_heldout_log_likelihood(
    samples: MixtureSamples, x_test, *, sigma: float | None = None, chain: int = 0
) -> HeldoutDensity:
    r"""The study's flawed held-out log-likelihood, reproduced for the audit.

    Uses only the last draw :math:`(\pi, \mu)` of one chain and, for each
    held-out point, starts the log-sum-exp accumulator at 0 and adds the log prior:

    .. math::

        \ell_j = \log\Bigl(1 + \sum_k \pi_k \mathcal N(\tilde x_j; \mu_k, \sigma^2 I)\Bigr)
               + \log p(\pi) + \log p(\mu).

    The total therefore equals :math:`m \log p(\pi, \mu)` plus a non-negative
    term that vanishes when the density is tiny. Do not use it to choose a model.
    """
    x_test = _check_test(samples, x_test)
    sigma = samples.sigma if sigma is None else _check_positive(sigma, "sigma")
    chain = _check_count(chain, "chain", minimum=0)
    if chain >= samples.n_chains:
        raise ValueError(f"chain must be smaller than the number of chains ({samples.n_chains})")
    pi = samples.pi[chain, -1]
    mu = samples.mu[chain, -1]
    log_mix = _component_log_density(x_test, mu, sigma) + np.log(np.maximum(pi, _TINY))
    # Accumulator starting at 0 = an extra log(1) term inside the log-sum-exp.
    started_at_zero = np.logaddexp(0.0, logsumexp(log_mix, axis=-1))
    per_point = started_at_zero + log_prior(pi, mu, eta=samples.eta, alpha0=samples.alpha0)
    return HeldoutDensity(per_point=per_point, total=float(per_point.sum()))


# --------------------------------------------------------------------------- selection


def sigma_grid(
    x, *, study_sigmas=STUDY_SIGMA_SWEEP, n_above: int = 6, factor: float = 3.0
) -> np.ndarray:
    """The study's sigma sweep extended, log-spaced, up to ``factor`` × the data's scale.

    The data's scale is the pooled standard deviation of all entries of ``x``
    (the vectors centred per column). Returns the sorted union of
    ``study_sigmas`` and ``n_above`` values log-spaced from above the largest
    study value up to ``factor * scale``.
    """
    x = _as_vectors(x)
    n_above = _check_count(n_above, "n_above", minimum=0)
    factor = _check_positive(factor, "factor")
    study = np.asarray(study_sigmas, dtype=float)
    scale = float(np.sqrt(((x - x.mean(0)) ** 2).mean()))
    upper = factor * scale
    top = study.max()
    extra = np.geomspace(top, upper, n_above + 1)[1:] if upper > top and n_above else []
    return np.unique(np.concatenate([study, extra]))


def select_mixture(
    x_train,
    x_test,
    *,
    sigmas,
    Ks,
    eta: float = 0.1,
    alpha0: float = 1.0,
    n_iter: int = 400,
    n_chains: int = 4,
    seed: int = 0,
    burn_in: int | None = None,
) -> pd.DataFrame:
    r"""Fit the mixture over a grid of (sigma, K) and score each fit on held-out data.

    For each pair the score is the held-out log predictive density
    (:func:`heldout_log_predictive`); the study's flawed score
    (:func:`study_heldout_log_likelihood`) is reported beside it for the audit.
    Every fit uses the same ``seed``.

    Returns:
        One row per (sigma, K) with columns ``sigma``, ``K``, ``heldout_lpd``
        (total), ``heldout_lpd_per_point`` (mean over held-out points),
        ``heldout_lpd_se`` (standard error of the total, sqrt(m) × sd of the
        per-point values), ``log_joint_end`` (mean log joint over the last
        10% of sweeps, all chains), ``log_joint_end_sd_between_chains``,
        ``occupied_clusters`` (mean number of non-empty components after
        burn-in) and ``study_heldout``.
    """
    x_train = _as_vectors(x_train, "x_train")
    x_test = _as_vectors(x_test, "x_test")
    if x_test.shape[1] != x_train.shape[1]:
        raise ValueError("x_train and x_test must have the same number of columns")
    sigmas = [_check_positive(s, "sigma") for s in np.atleast_1d(sigmas)]
    Ks = [_check_count(k, "K") for k in np.atleast_1d(Ks)]
    n_iter = _check_count(n_iter, "n_iter")
    burn_in = n_iter // 4 if burn_in is None else burn_in
    tail = max(1, n_iter // 10)
    settings = {"eta": eta, "alpha0": alpha0, "n_iter": n_iter, "n_chains": n_chains, "seed": seed}
    rows = []
    for sigma in sigmas:
        for K in Ks:
            samples = gibbs_mixture(x_train, K=K, sigma=sigma, align=False, **settings)
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
                    "heldout_lpd_se": _total_standard_error(lpd.per_point),
                    "log_joint_end": float(end.mean()),
                    "log_joint_end_sd_between_chains": float(end.std(ddof=1))
                    if n_chains > 1
                    else np.nan,
                    "occupied_clusters": float(occupied),
                    "study_heldout": study_heldout_log_likelihood(samples, x_test).total,
                }
            )
    return pd.DataFrame(rows)


def _total_standard_error(per_point: np.ndarray) -> float:
    """Standard error of a sum of m per-point values: sqrt(m) × their standard deviation."""
    if len(per_point) < 2:
        return np.nan
    return float(np.sqrt(len(per_point)) * per_point.std(ddof=1))


def best_mixture(table: pd.DataFrame, *, rule: str = "max") -> tuple[float, int]:
    """Pick (sigma, K) from a :func:`select_mixture` table.

    ``rule="max"``: the highest held-out lpd (ties: smaller K, then larger sigma).
    ``rule="one_se"``: the smallest K, then the largest sigma, among the fits whose
    held-out lpd is within one standard error (``heldout_lpd_se`` of the best
    fit) of the best.
    """
    if table.empty:
        raise ValueError("the selection table is empty")
    best_row = table.sort_values(
        ["heldout_lpd", "K", "sigma"], ascending=[False, True, False]
    ).iloc[0]
    if rule == "max":
        chosen = best_row
    elif rule == "one_se":
        se = best_row["heldout_lpd_se"]
        se = 0.0 if not np.isfinite(se) else se
        close = table[table["heldout_lpd"] >= best_row["heldout_lpd"] - se]
        chosen = close.sort_values(["K", "sigma"], ascending=[True, False]).iloc[0]
    else:
        raise ValueError(f"rule must be 'max' or 'one_se'; got {rule!r}")
    return float(chosen["sigma"]), int(chosen["K"])


# --------------------------------------------------------------------------- assignments


def assignment_probabilities(samples: MixtureSamples, burn_in: int) -> np.ndarray:
    r"""Posterior assignment probabilities :math:`P(z_i = k \mid x)`, (n, K).

    The fraction of draws after burn-in (all chains) with :math:`z_i = k`,
    using the aligned labels of :func:`gibbs_mixture`.
    """
    burn_in = _check_burn_in(samples, burn_in)
    z = samples.z[:, burn_in:].reshape(-1, samples.z.shape[-1])
    return (z[..., None] == np.arange(samples.K)).mean(0)


def modal_assignments(samples: MixtureSamples, burn_in: int) -> np.ndarray:
    """The most probable (aligned) cluster of each point, (n,)."""
    return np.argmax(assignment_probabilities(samples, burn_in), axis=1)


def coassignment(samples: MixtureSamples, burn_in: int) -> np.ndarray:
    r"""Posterior co-assignment probabilities :math:`P(z_i = z_j \mid x)`, (n, n).

    The fraction of draws after burn-in (all chains) in which points i and j
    share a component. Invariant to relabelling, so it needs no alignment.
    """
    burn_in = _check_burn_in(samples, burn_in)
    z = samples.z[:, burn_in:].reshape(-1, samples.z.shape[-1])
    one_hot = (z[..., None] == np.arange(samples.K)).astype(float)  # (S, n, K)
    return np.einsum("sik,sjk->ij", one_hot, one_hot) / z.shape[0]


# --------------------------------------------------------------------------- regression draws


def mixture_over_draws(
    coef_draws,
    *,
    K: int,
    sigma: float,
    eta: float = 0.1,
    alpha0: float = 1.0,
    n_iter: int = 400,
    n_chains: int = 4,
    seed: int = 0,
    burn_in: int | None = None,
    x_test_draws=None,
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
        seed: seeds of the D samplers are derived from it by ``np.random.SeedSequence``.
        Other arguments: as in :func:`gibbs_mixture`; ``burn_in`` defaults to n_iter // 4.
    """
    draws = np.asarray(coef_draws, dtype=float)
    if draws.ndim != 3:
        raise ValueError(f"coef_draws must have shape (D, n, d); got {draws.shape}")
    if x_test_draws is not None:
        x_test_draws = np.asarray(x_test_draws, dtype=float)
        if x_test_draws.ndim != 3 or x_test_draws.shape[0] != draws.shape[0]:
            raise ValueError("x_test_draws must have shape (D, m, d) with the same D as coef_draws")
    n_iter = _check_count(n_iter, "n_iter")
    burn_in = n_iter // 4 if burn_in is None else burn_in
    D = draws.shape[0]
    seeds = np.random.SeedSequence(seed).generate_state(D).astype(np.int64)
    settings = {"eta": eta, "alpha0": alpha0, "n_iter": n_iter, "n_chains": n_chains}

    coassign, probs, means, sizes, lpd = [], [], [], [], []
    for r in range(D):
        samples = gibbs_mixture(draws[r], K=K, sigma=sigma, seed=int(seeds[r]), **settings)
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
        perms = _hungarian_permutations(means, means[0])
        aligned = np.take_along_axis(means, perms[..., None], axis=1)
        perms = _hungarian_permutations(means, aligned.mean(0))
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
    """Mean, central interval and P(value > 0) of draws along ``axis``."""
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


def cluster_mean_summary(mu_draws, *, level: float = 0.9, feature_names=None) -> pd.DataFrame:
    """Cluster means per feature with central intervals over draws.

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
    names = [str(j) for j in range(d)] if feature_names is None else list(feature_names)
    if len(names) != d:
        raise ValueError(f"feature_names has {len(names)} names for {d} features")
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
        (the effective number of worksites in the cluster).
    """
    features = _as_vectors(features, "features")
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
    F = features.shape[1]
    names = [str(j) for j in range(F)] if feature_names is None else list(feature_names)
    if len(names) != F:
        raise ValueError(f"feature_names has {len(names)} names for {F} features")
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
    """Adjusted Rand index between ``labels`` and a spherical ``GaussianMixture`` fit.

    An independent, maximum-likelihood check of the Gibbs modal assignments
    (``labels``, e.g. from :func:`modal_assignments`). The ARI is invariant
    to label permutations.
    """
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import GaussianMixture

    x = _as_vectors(x)
    K = _check_count(K, "K")
    labels = np.asarray(labels)
    if labels.shape != (x.shape[0],):
        raise ValueError(f"labels must have shape ({x.shape[0]},); got {labels.shape}")
    gmm = GaussianMixture(n_components=K, covariance_type="spherical", n_init=5, random_state=seed)
    return float(adjusted_rand_score(labels, gmm.fit_predict(x)))
