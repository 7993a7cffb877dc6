r"""Bayesian Gaussian mixture of worksite coefficient vectors, sampled by Gibbs.

The study clustered the worksite-specific coefficient vectors of its
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
prior). The chain starts, as the study's did, from uniformly random :math:`z`,
:math:`\mu_k` equal to randomly chosen data points and
:math:`\pi \sim \operatorname{Dirichlet}(\mathbf 1)`. After every sweep the
sampler records the log joint

.. math::

    \log p(x, z, \mu, \pi) = \log p(\pi, \mu)
      + \sum_i \bigl[\log \pi_{z_i} + \log \mathcal N(x_i; \mu_{z_i}, \sigma^2 I)\bigr].

(The study's assignment step added :math:`\pi_k` where :math:`\log \pi_k`
belongs; this sampler uses :math:`\log \pi_k`.)

**Label switching.** The likelihood is invariant to permuting the component
labels, so label :math:`k` can mean different clusters in different chains or
draws. :func:`align_labels` relabels every draw by the Hungarian algorithm
(:func:`scipy.optimize.linear_sum_assignment`) to minimise the squared
Euclidean distance between its means and a reference set of means: the draw
with the highest log joint over all chains and iterations, its components
ordered by decreasing size :math:`n_k` (ties by the first coordinate of
:math:`\mu_k`); one refinement pass then replaces the reference by the mean of
the aligned draws of the second half of the run and aligns again. Cluster 0 is
therefore "the largest cluster of the best draw".

Held-out scores live in :mod:`organizing.clustering.selection`, summaries of
the draws in :mod:`organizing.clustering.summaries`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.special import gammaln

#: Gibbs sweeps per chain unless told otherwise (the study ran 400).
N_ITER = 400
LOG_2PI = float(np.log(2.0 * np.pi))
#: Floor for proportions inside a logarithm (a Dirichlet draw can underflow to 0).
TINY = np.finfo(float).tiny


@dataclass(frozen=True)
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

    def reassignments(self, burn_in: int) -> int:
        """How many times, after ``burn_in`` sweeps, a worksite moved to another cluster
        (over every chain): zero means the chains are stuck where they started."""
        z = self.z[:, burn_in:]
        return int((z[:, 1:] != z[:, :-1]).sum())

    @property
    def final_log_joint_spread(self) -> float:
        """How far apart the chains' last log joint densities are."""
        ends = self.log_joint[:, -1]
        return float(ends.max() - ends.min())


# --------------------------------------------------------------------------- validation
# Checks shared by the package's modules.


def as_vectors(x, name: str = "x") -> np.ndarray:
    """``x`` as a finite float array of shape (n, d) with n, d >= 1, else ValueError."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n points, d features); got {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have at least one row and one column; got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def check_positive(value, name: str) -> float:
    """``value`` as a positive finite float, else ValueError."""
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number; got {value}")
    return value


def check_count(value, name: str, minimum: int = 1) -> int:
    """``value`` as an integer of at least ``minimum``, else ValueError."""
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(f"{name} must be an integer; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {value}")
    return int(value)


def check_burn_in(samples: MixtureSamples, burn_in: int) -> int:
    """``burn_in`` as a count smaller than the number of sweeps, else ValueError."""
    burn_in = check_count(burn_in, "burn_in", minimum=0)
    if burn_in >= samples.n_iter:
        raise ValueError(f"burn_in ({burn_in}) must be smaller than n_iter ({samples.n_iter})")
    return burn_in


# --------------------------------------------------------------------------- densities


def component_log_density(x: np.ndarray, mu: np.ndarray, sigma: float) -> np.ndarray:
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
    return -0.5 * d * (LOG_2PI + 2.0 * np.log(sigma)) - sq_dist / (2.0 * sigma**2)


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
        + (alpha0 - 1.0) * np.log(np.maximum(pi, TINY)).sum(-1)
    )
    log_normal = -0.5 * d * (LOG_2PI + 2.0 * np.log(eta)) - (mu**2).sum(-1) / (2 * eta**2)
    return log_dirichlet + log_normal.sum(-1)


# --------------------------------------------------------------------------- sampler


def gibbs_mixture(
    x,
    *,
    K: int,
    sigma: float,
    eta: float = 0.1,
    alpha0: float = 1.0,
    n_iter: int = N_ITER,
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
        align: relabel draws to a common reference (:func:`align_labels`).

    Returns:
        :class:`MixtureSamples` with z (chains, iters, n), mu (chains, iters, K, d),
        pi (chains, iters, K) and log_joint (chains, iters).
    """
    x = as_vectors(x)
    K = check_count(K, "K")
    sigma = check_positive(sigma, "sigma")
    eta = check_positive(eta, "eta")
    alpha0 = check_positive(alpha0, "alpha0")
    n_iter = check_count(n_iter, "n_iter")
    n_chains = check_count(n_chains, "n_chains")
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
    const = -0.5 * d * (LOG_2PI + 2.0 * np.log(sigma))
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
        score += np.log(np.maximum(pi, TINY))[:, None, :]
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
    log_pi_assigned = np.log(np.maximum(np.take_along_axis(pi_draws, z_draws, axis=2), TINY))
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
    return align_labels(samples) if align else samples


# --------------------------------------------------------------------------- labels


def hungarian_permutations(mu: np.ndarray, reference: np.ndarray) -> np.ndarray:
    r"""For each draw, the relabelling that brings its means closest to a reference.

    For draw s with means :math:`\mu^{(s)} \in \mathbb R^{K \times d}` returns the
    permutation :math:`\rho_s` minimising
    :math:`\sum_j \lVert \mu^{(s)}_{\rho_s(j)} - r_j \rVert^2` (Hungarian algorithm).

    Args:
        mu: (S, K, d) means of S draws.
        reference: (K, d) reference means.
    Returns:
        (S, K) integers: new label j holds old component ``perms[s, j]``.
    """
    cost = ((mu[:, None, :, :] - reference[None, :, None, :]) ** 2).sum(-1)  # (S, Kref, K)
    perms = np.empty(mu.shape[:2], dtype=np.int64)
    for s in range(mu.shape[0]):
        _, cols = linear_sum_assignment(cost[s])
        perms[s] = cols
    return perms


def _reference_order(mu: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Order components by decreasing size, ties by increasing first coordinate of the mean."""
    return np.lexsort((mu[:, 0], -sizes))


def align_labels(samples: MixtureSamples) -> MixtureSamples:
    r"""Relabel every draw of every chain to one common reference.

    Reference: the draw :math:`s^* = \arg\max_s \log p(x, z^{(s)}, \mu^{(s)}, \pi^{(s)})`
    with its components sorted by decreasing :math:`n_k` (ties: first coordinate
    of :math:`\mu_k`). Each draw is matched to it by :func:`hungarian_permutations`;
    then the reference becomes the mean of the aligned second half of the run
    and every draw is matched again. The result does not depend on how the raw
    draws happened to be labelled.
    """
    C, T, n = samples.z.shape
    K = samples.K
    if K == 1:
        return samples
    flat_mu = samples.mu.reshape(C * T, K, -1)
    best = int(np.argmax(samples.log_joint))
    sizes = np.bincount(samples.z.reshape(C * T, n)[best], minlength=K)
    reference = flat_mu[best][_reference_order(flat_mu[best], sizes)]

    perms = hungarian_permutations(flat_mu, reference)
    # One refinement: the reference becomes the mean of the aligned second half of the run.
    aligned = np.take_along_axis(flat_mu, perms[..., None], axis=1).reshape(samples.mu.shape)
    reference = aligned[:, T // 2 :].reshape(-1, K, flat_mu.shape[-1]).mean(0)
    perms = hungarian_permutations(flat_mu, reference).reshape(C, T, K)

    return permute_labels(samples, perms)


def permute_labels(samples: MixtureSamples, perms: np.ndarray) -> MixtureSamples:
    r"""Relabel every draw: new label j holds old component ``perms[c, t, j]``.

    With :math:`\rho = ` ``perms[c, t]``: :math:`\mu'_j = \mu_{\rho(j)}`,
    :math:`\pi'_j = \pi_{\rho(j)}` and :math:`z'_i = \rho^{-1}(z_i)`; the log
    joint is unchanged.
    """
    inverse = np.argsort(perms, axis=-1)  # old label -> new label
    return replace(
        samples,
        z=np.take_along_axis(inverse, samples.z, axis=-1),
        mu=np.take_along_axis(samples.mu, perms[..., None], axis=2),
        pi=np.take_along_axis(samples.pi, perms, axis=2),
    )
