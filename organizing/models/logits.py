r"""Each model's logits, written once, for numpy (posterior draws) and JAX (the NumPyro models).

Notation as in :mod:`organizing.models.pyro_models`: worker :math:`i` at worksite
:math:`s(i)`, standardized worksite features :math:`x_s \in \mathbb{R}^Q` (``site_x``,
(S, Q)), standardized worker features :math:`z_i \in \mathbb{R}^P` (``worker_x``,
(N, P)), ``site_index`` (N,) the row of ``site_x`` for each worker.

* corrected, extended: :math:`\ell_i = α + x_{s(i)}·β + z_i·b_{s(i)}`
* headline: :math:`\ell_i = α + x_{s(i)}·β + u_{s(i)} + z_i·b_{s(i)}`; the book fits it on
  the within-between design (:func:`organizing.features.within_between`), where
  :math:`z_i` is measured from its worksite's mean and :math:`x_s` ends with the
  standardized worksite means, whose coefficients the book calls :math:`γ`
* published (the study's formula):
  :math:`\ell_i = α + β·\sum_s x_s + b_{s(i)}·\sum_j z_j`, both sums over the rows passed in.

The formula functions (:func:`corrected_logits`, :func:`headline_logits`,
:func:`published_logits`) use only operators, indexing and ``.sum``, so the same
code runs on numpy arrays here, on ``jax.numpy`` arrays in
:mod:`organizing.models.numpyro_models` and on torch tensors in
:mod:`organizing.models.pyro_models`; every parameter may carry leading draw
dimensions. :func:`logits` applies them to a batch of posterior draws in chunks
(to bound the (draws, N, P) intermediate), and :func:`log_likelihood` gives the
pointwise Bernoulli log-likelihood :math:`y_i \ell_i - \log(1 + e^{\ell_i})`,
computed stably as :math:`-\log(1 + e^{-(2y_i - 1)\ell_i})`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.special import expit

#: Model names :func:`logits` knows.
MODEL_NAMES = ("corrected", "published", "extended", "headline")

#: The intercept's site name in each model (the headline model's α has its own prior).
INTERCEPT_SITE = {
    "corrected": "alpha_mean",
    "published": "alpha_mean",
    "extended": "alpha_mean",
    "headline": "alpha",
}


def sigmoid(logit):
    r"""The logistic function :math:`1 / (1 + e^{-\ell})` (``scipy.special.expit``)."""
    return expit(logit)


def corrected_logits(alpha, beta_group, beta_individual, site_x, worker_x, site_index):
    r""":math:`\ell_i = α + x_{s(i)}·β + z_i·b_{s(i)}`, shape (*draw dims, N).

    ``alpha`` (*D), ``beta_group`` (*D, Q), ``beta_individual`` (*D, S, P).
    """
    site_term = (beta_group @ site_x.T)[..., site_index]
    worker_term = (worker_x * beta_individual[..., site_index, :]).sum(-1)
    return alpha[..., None] + site_term + worker_term


def headline_logits(alpha, beta_group, site_effect, beta_individual, site_x, worker_x, site_index):
    r""":math:`\ell_i = α + x_{s(i)}·β + u_{s(i)} + z_i·b_{s(i)}`, shape (*draw dims, N).

    As :func:`corrected_logits` plus the worksite intercepts ``site_effect`` (*D, S).
    """
    corrected = corrected_logits(alpha, beta_group, beta_individual, site_x, worker_x, site_index)
    return corrected + site_effect[..., site_index]


def published_logits(alpha, beta_group, beta_individual, site_x, worker_x, site_index):
    r"""The study's :math:`\ell_i = α + β·\sum_s x_s + b_{s(i)}·\sum_j z_j`, shape (*D, N).

    Both sums run over the rows passed in. The first term is one number per draw
    (zero when ``site_x`` was standardized over its own rows); the second gives each
    worksite's coefficients one projection, a per-worksite intercept. Equal, up to
    summation order, to the study's N×N formula
    (:func:`organizing.models.pyro_models.published_logits_literal`).
    """
    site_term = beta_group @ site_x.sum(0)
    worker_term = (beta_individual @ worker_x.sum(0))[..., site_index]
    return (alpha + site_term)[..., None] + worker_term


def complete_draws(model_name: str, draws: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    r"""Add the deterministic sites a model's logits need, if only their parts are given.

    extended, headline: :math:`b_s = μ_b + τ_b ⊙ ε_s` (``beta_individual``);
    headline: :math:`u_s = σ_u ε_s` (``site_effect``).
    """
    out = {k: np.asarray(v) for k, v in draws.items()}
    if model_name in ("extended", "headline") and "beta_individual" not in out:
        mean = out["beta_individual_mean"][..., None, :]
        scale = out["beta_individual_scale"][..., None, :]
        out["beta_individual"] = mean + scale * out["beta_individual_raw"]
    if model_name == "headline" and "site_effect" not in out:
        out["site_effect"] = out["site_scale"][..., None] * out["site_effect_raw"]
    return out


def _check_model(model_name: str) -> None:
    if model_name not in MODEL_NAMES:
        raise KeyError(f"unknown model {model_name!r}; expected one of {MODEL_NAMES}")


def _prepare(model_name, draws, site_x, worker_x, site_index):
    """Flatten draws to one leading dimension; returns the formula, its parameters, lead dims."""
    _check_model(model_name)
    draws = complete_draws(model_name, draws)
    alpha = np.asarray(draws[INTERCEPT_SITE[model_name]], dtype=np.float64)
    lead = alpha.shape
    num_draws = int(np.prod(lead, dtype=np.int64))

    def flat(name: str, event_ndim: int) -> np.ndarray:
        value = np.asarray(draws[name], dtype=np.float64)
        if value.shape[: value.ndim - event_ndim] != lead:
            raise ValueError(f"{name!r} has draw dimensions {value.shape}, expected {lead}")
        return value.reshape((num_draws, *value.shape[value.ndim - event_ndim :]))

    parameters = [alpha.reshape(num_draws), flat("beta_group", 1)]
    if model_name == "headline":
        parameters.append(flat("site_effect", 1))
    parameters.append(flat("beta_individual", 2))
    formula = {"headline": headline_logits, "published": published_logits}.get(
        model_name, corrected_logits
    )
    data = (
        np.asarray(site_x, dtype=np.float64),
        np.asarray(worker_x, dtype=np.float64),
        np.asarray(site_index, dtype=np.int64),
    )
    return formula, parameters, data, lead, num_draws


def _fill(model_name, draws, site_x, worker_x, site_index, chunk_size, transform=None):
    formula, parameters, data, lead, num_draws = _prepare(
        model_name, draws, site_x, worker_x, site_index
    )
    num_workers = data[1].shape[0]
    out = np.empty((num_draws, num_workers))
    for start in range(0, num_draws, chunk_size):
        chunk = formula(*(p[start : start + chunk_size] for p in parameters), *data)
        out[start : start + chunk_size] = chunk if transform is None else transform(chunk)
    return out.reshape((*lead, num_workers))


def logits(
    model_name: str,
    draws: Mapping[str, np.ndarray],
    site_x: np.ndarray,
    worker_x: np.ndarray,
    site_index: np.ndarray,
    *,
    chunk_size: int = 200,
) -> np.ndarray:
    r"""Logits of every worker under every draw, shape (*draw dims, N), float64.

    ``draws`` maps site names to arrays with the same leading draw dimensions, e.g.
    (D,) or (chains, samples); ``"extended"`` and ``"headline"`` draws may give the
    non-centered parts instead of ``beta_individual`` / ``site_effect``. For
    ``"published"`` the study's sums run over the workers passed in, which is what
    its code did when it predicted held-out workers. Draws are processed
    ``chunk_size`` at a time, so memory beyond the output is O(chunk_size·N·P).
    """
    return _fill(model_name, draws, site_x, worker_x, site_index, chunk_size)


def bernoulli_log_likelihood(logit: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Pointwise :math:`\log p(y_i \mid \ell_i) = -\log(1 + e^{-(2y_i - 1)\ell_i})`, stable."""
    sign = 2.0 * np.asarray(y, dtype=np.float64) - 1.0
    return -np.logaddexp(0.0, -sign * logit)


def log_likelihood(
    model_name: str,
    draws: Mapping[str, np.ndarray],
    site_x: np.ndarray,
    worker_x: np.ndarray,
    site_index: np.ndarray,
    y: np.ndarray,
    *,
    chunk_size: int = 200,
) -> np.ndarray:
    """Pointwise log-likelihood of every worker under every draw, (*draw dims, N), float64.

    Computed chunk by chunk, like :func:`logits`, without holding the logits too.
    """
    y = np.asarray(y, dtype=np.float64)
    return _fill(
        model_name,
        draws,
        site_x,
        worker_x,
        site_index,
        chunk_size,
        transform=lambda chunk: bernoulli_log_likelihood(chunk, y),
    )
