r"""Hierarchical logistic regressions of card signing, as Pyro model functions.

Notation. Worker :math:`i` works at worksite :math:`s(i)`. The worksite has
standardized features :math:`x_s \in \mathbb{R}^Q` (``site_x``, shape (S, Q));
the worker has standardized features :math:`z_i \in \mathbb{R}^P` (``worker_x``,
shape (N, P)); :math:`y_i \in \{0, 1\}` says whether the worker signed a card.

**The corrected model** (the study's priors, logits computed per worker)::

    τ_b ~ HalfCauchy(5)                       beta_individual_scale
    τ_β ~ HalfCauchy(5)                       beta_group_scale
    β_q ~ Normal(0, τ_β),   q = 1..Q          beta_group
    α   ~ Normal(0, τ_β)                      alpha_mean
    b_sp ~ Normal(0, τ_b),  s = 1..S, p = 1..P  beta_individual (plate "worksite")
    y_i ~ Bernoulli(logit⁻¹(α + x_{s(i)}·β + z_i·b_{s(i)}))   (plate "worker")

**The published model** has the same priors but the study's logits::

    logit_i = α + Σ_s x_s·β + b_{s(i)}·Σ_j z_j

where both sums run over the rows passed in (all S worksites; every worker
:math:`j` of the batch). The first term is one scalar shared by every worker,
and it is zero whenever the worksite columns were standardized over those S
rows. The second gives each worksite's seven coefficients a single projection
onto the batch's summed features: in effect a per-worksite intercept. The study
wrote it as an N×N matrix product (:func:`published_logits_literal`); the model
here computes the identical logits in O(N·P).

**The extended model** adds a population mean and per-feature scales for the
worker coefficients, non-centered::

    μ_b,p ~ Normal(0, 2.5)                    beta_individual_mean
    τ_b,p ~ HalfCauchy(5)                     beta_individual_scale (shape P)
    ε_sp  ~ Normal(0, 1)                      beta_individual_raw (plate "worksite")
    b_s   = μ_b + τ_b ⊙ ε_s                   beta_individual (deterministic)

with τ_β, β, α and the likelihood as in the corrected model. Normal(0, 2.5) is
the usual weakly-informative prior for a coefficient of a standardized feature
(Gelman et al., 2008): a shift of 2.5 log-odds per standard deviation is already
a very large effect, so the prior rules out only absurd values.

**The headline model** (:func:`headline_model`) adds a per-worksite intercept
to the extended model and gives every scale a half-normal prior, non-centered::

    α     ~ Normal(logit 0.2, 1.5)             alpha
    τ_β   ~ HalfNormal(0.5)                    beta_group_scale
    β_q   ~ Normal(0, τ_β)                     beta_group
    σ_u   ~ HalfNormal(1)                      site_scale
    ε_s   ~ Normal(0, 1),  u_s = σ_u ε_s       site_effect_raw, site_effect (deterministic)
    μ_b,p ~ Normal(0, 1.5),  τ_b,p ~ HalfNormal(1)
    b_s   = μ_b + τ_b ⊙ ε^b_s                  as in the extended model
    y_i ~ Bernoulli(logit⁻¹(α + x_{s(i)}·β + u_{s(i)} + z_i·b_{s(i)}))

It is fitted on the design with one reference level dropped from each one-hot
group. Its docstring justifies the priors.

Every model takes ``(site_x, worker_x, site_index, y=None)``; with ``y=None``
it samples ``y``, which makes it a posterior-predictive sampler through
:class:`pyro.infer.Predictive` (as in Pyro's ``examples/baseball.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pyro
import pyro.distributions as dist
import torch

# The logits formulas work on torch tensors as on numpy and JAX arrays: written once.
from organizing.models.logits import (
    complete_draws,
    corrected_logits,
    headline_logits,
    published_logits,
)
from organizing.models.logits import logits as numpy_logits
from organizing.models.priors import (  # the constants live in one place, torch-free
    HALF_CAUCHY_SCALE,
    HEADLINE_PRIORS,
    MEAN_PRIOR_SCALE,
    HeadlinePriors,
)

Draws = Mapping[str, "torch.Tensor | np.ndarray"]


def _const(value: float, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(value, dtype=like.dtype, device=like.device)


def _half_cauchy(like: torch.Tensor) -> dist.HalfCauchy:
    return dist.HalfCauchy(_const(HALF_CAUCHY_SCALE, like))


def _site_level(
    site_x: torch.Tensor, beta_group_scale: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample β (Q,) and α, both Normal(0, τ_β)."""
    zero = _const(0.0, site_x)
    beta_group = pyro.sample(
        "beta_group", dist.Normal(zero, beta_group_scale).expand([site_x.shape[1]]).to_event(1)
    )
    alpha = pyro.sample("alpha_mean", dist.Normal(zero, beta_group_scale))
    return alpha, beta_group


def _study_priors(
    site_x: torch.Tensor, num_worker_features: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The study's priors, sampled in the study's order; returns α, β (Q,), b (S, P)."""
    beta_individual_scale = pyro.sample("beta_individual_scale", _half_cauchy(site_x))
    beta_group_scale = pyro.sample("beta_group_scale", _half_cauchy(site_x))
    alpha, beta_group = _site_level(site_x, beta_group_scale)
    with pyro.plate("worksite", site_x.shape[0]):
        beta_individual = pyro.sample(
            "beta_individual",
            dist.Normal(_const(0.0, site_x), beta_individual_scale)
            .expand([num_worker_features])
            .to_event(1),
        )
    return alpha, beta_group, beta_individual


def _observe(logits: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    with pyro.plate("worker", logits.shape[-1]):
        return pyro.sample("y", dist.Bernoulli(logits=logits), obs=y)


def published_logits_literal(
    alpha: torch.Tensor,
    beta_group: torch.Tensor,
    beta_individual: torch.Tensor,
    site_x: torch.Tensor,
    worker_x: torch.Tensor,
    site_index: torch.Tensor,
) -> torch.Tensor:
    """The study's formula exactly as written, with its (N, N) matrix. Tests and benchmarks only."""
    return (
        alpha
        + torch.matmul(beta_group, site_x.T).sum(dim=-1)
        + torch.matmul(beta_individual[site_index], worker_x.T).sum(dim=-1)
    )


def corrected_model(
    site_x: torch.Tensor,
    worker_x: torch.Tensor,
    site_index: torch.Tensor,
    y: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""The study's priors with per-worker logits.

    .. math::

        τ_b, τ_β &\sim \mathrm{HalfCauchy}(5) \\
        β_q, α &\sim \mathcal{N}(0, τ_β), \qquad b_{sp} \sim \mathcal{N}(0, τ_b) \\
        y_i &\sim \mathrm{Bernoulli}\big(\mathrm{logit}^{-1}(α + x_{s(i)}·β + z_i·b_{s(i)})\big)
    """
    alpha, beta_group, beta_individual = _study_priors(site_x, worker_x.shape[1])
    logits = corrected_logits(alpha, beta_group, beta_individual, site_x, worker_x, site_index)
    return _observe(logits, y)


def published_model(
    site_x: torch.Tensor,
    worker_x: torch.Tensor,
    site_index: torch.Tensor,
    y: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""The study's specification, same priors as :func:`corrected_model`, with its logits.

    .. math::

        y_i \sim \mathrm{Bernoulli}\Big(\mathrm{logit}^{-1}\big(α + \textstyle\sum_s x_s·β
            + b_{s(i)}·\sum_j z_j\big)\Big)

    Sums run over the rows passed in, as in the study's code; computed without the
    study's N×N matrix (see :func:`published_logits_literal`).
    """
    alpha, beta_group, beta_individual = _study_priors(site_x, worker_x.shape[1])
    logits = published_logits(alpha, beta_group, beta_individual, site_x, worker_x, site_index)
    return _observe(logits, y)


def extended_model(
    site_x: torch.Tensor,
    worker_x: torch.Tensor,
    site_index: torch.Tensor,
    y: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Corrected model with a population mean and per-feature scales, non-centered.

    .. math::

        μ_{b,p} &\sim \mathcal{N}(0, 2.5), \qquad τ_{b,p} \sim \mathrm{HalfCauchy}(5) \\
        ε_{sp} &\sim \mathcal{N}(0, 1), \qquad b_s = μ_b + τ_b ⊙ ε_s \\
        τ_β &\sim \mathrm{HalfCauchy}(5), \qquad β_q, α \sim \mathcal{N}(0, τ_β) \\
        y_i &\sim \mathrm{Bernoulli}\big(\mathrm{logit}^{-1}(α + x_{s(i)}·β + z_i·b_{s(i)})\big)

    ``beta_individual`` (b) is recorded as a deterministic site.
    """
    num_worker_features = worker_x.shape[1]
    zero = _const(0.0, site_x)
    scale = pyro.sample(
        "beta_individual_scale", _half_cauchy(site_x).expand([num_worker_features]).to_event(1)
    )
    beta_group_scale = pyro.sample("beta_group_scale", _half_cauchy(site_x))
    alpha, beta_group = _site_level(site_x, beta_group_scale)
    mean = pyro.sample(
        "beta_individual_mean",
        dist.Normal(zero, _const(MEAN_PRIOR_SCALE, site_x))
        .expand([num_worker_features])
        .to_event(1),
    )
    with pyro.plate("worksite", site_x.shape[0]):
        raw = pyro.sample(
            "beta_individual_raw",
            dist.Normal(zero, _const(1.0, site_x)).expand([num_worker_features]).to_event(1),
        )
    beta_individual = pyro.deterministic("beta_individual", mean + scale * raw, event_dim=2)
    logits = corrected_logits(alpha, beta_group, beta_individual, site_x, worker_x, site_index)
    return _observe(logits, y)


def headline_model(
    site_x: torch.Tensor,
    worker_x: torch.Tensor,
    site_index: torch.Tensor,
    y: torch.Tensor | None = None,
    *,
    moderator: torch.Tensor | None = None,
    priors: HeadlinePriors = HEADLINE_PRIORS,
) -> torch.Tensor:
    r"""The headline model: varying worksite intercepts and worker slopes, non-centered.

    .. math::

        α &\sim \mathcal{N}(m_α, s_α), \qquad τ_β \sim \mathcal{N}^+(0, s_β), \qquad
            β_q \sim \mathcal{N}(0, τ_β) \\
        σ_u &\sim \mathcal{N}^+(0, s_u), \qquad ε_s \sim \mathcal{N}(0, 1), \qquad
            u_s = σ_u ε_s \\
        μ_{b,p} &\sim \mathcal{N}(0, s_μ), \qquad τ_{b,p} \sim \mathcal{N}^+(0, s_τ), \qquad
            ε^b_{sp} \sim \mathcal{N}(0, 1), \qquad b_s = μ_b + τ_b ⊙ ε^b_s \\
        y_i &\sim \mathrm{Bernoulli}\big(\mathrm{logit}^{-1}(α + x_{s(i)}·β + u_{s(i)}
            + z_i·b_{s(i)})\big)

    Sites: ``alpha``; ``beta_group_scale``, ``beta_group``; ``site_scale``,
    ``site_effect_raw`` (plate "worksite"), deterministic ``site_effect``;
    ``beta_individual_mean``, ``beta_individual_scale`` (P,), ``beta_individual_raw``
    (plate "worksite"), deterministic ``beta_individual``. Fit it on the design
    with one reference level dropped from each one-hot group
    (``build_design(campaign, drop_reference=True)``): with every level kept,
    two groups are collinear with the intercept.

    Priors (:data:`HEADLINE_PRIORS`), chosen as brms, rstanarm and the Stan
    prior-choice wiki recommend (weakly informative, half-normal on scales) and
    checked by prior predictive simulation; every feature is standardized, so a
    coefficient is a change in log-odds per standard deviation:

    * α ~ Normal(logit 0.2, 1.5): α is the log-odds of signing for a worker with
      average features at a typical worksite. Before seeing data we expect a
      minority of workers to sign; the 95% prior range of that worker's
      probability is about 1% to 82%. α has its own prior, no longer the
      worksite coefficients' scale τ_β, which has nothing to do with it.
    * τ_β ~ HalfNormal(0.5), β_q ~ Normal(0, τ_β): with 17 standardized worksite
      features the worksite part of the logit has prior variance 17 τ_β², so
      τ_β = 0.5 already lets it vary by about ±2 log-odds between worksites;
      HalfCauchy(5) lets it vary by dozens.
    * σ_u ~ HalfNormal(1): worksites may differ beyond their features by about a
      log-odds unit (odds ratios of ~7 between worksites one σ_u either side of
      the mean); larger values stay possible.
    * μ_b,p ~ Normal(0, 1.5): a slope of 3 log-odds per standard deviation is
      two prior standard deviations out, so real large effects (notes, about
      3.3) are reached by the data (13,000 workers): the posterior mean of the
      notes slope moves by 0.03 between Normal(0, 1.5) and Normal(0, 2.5).
    * τ_b,p ~ HalfNormal(1): how much a worker feature's slope differs between
      worksites (about 1.1 and 1.6 for centrality and notes in the posterior).

    **Size interaction.** With ``moderator`` m (S,), a standardized worksite measure
    (the book passes log workers discovered), the slopes get a cross-level interaction,

    .. math:: λ_p \sim \mathcal{N}(0, s_λ), \qquad b_s = μ_b + λ\, m_s + τ_b ⊙ ε^b_s,

    so that λ_p is the change of feature p's slope per standard deviation of m
    (site ``size_slope``). s_λ = 1 lets size account for as much of a slope's spread
    between worksites as τ_b's prior allows. ``priors`` replaces the constants (the
    prior sensitivity analysis widens and narrows τ_β's and τ_b's priors,
    :meth:`~organizing.models.priors.HeadlinePriors.scaled`).

    On the campaign's workers these priors imply an overall signing rate of
    19% to 62% (90% of prior draws) and, in a typical prior draw, about a third
    of workers with p < 1% or p > 99% (about as many as the posterior finds);
    the study's HalfCauchy(5) priors put about 90% of workers there in a
    typical draw. See :func:`organizing.models.numpyro_models.prior_predictive_rates`.
    """
    num_worker_features = worker_x.shape[1]
    zero, one = _const(0.0, site_x), _const(1.0, site_x)
    alpha = pyro.sample(
        "alpha", dist.Normal(_const(priors.alpha_loc, site_x), _const(priors.alpha_scale, site_x))
    )
    beta_group_scale = pyro.sample(
        "beta_group_scale", dist.HalfNormal(_const(priors.group_scale, site_x))
    )
    beta_group = pyro.sample(
        "beta_group", dist.Normal(zero, beta_group_scale).expand([site_x.shape[1]]).to_event(1)
    )
    site_scale = pyro.sample("site_scale", dist.HalfNormal(_const(priors.site_scale, site_x)))
    mean = pyro.sample(
        "beta_individual_mean",
        dist.Normal(zero, _const(priors.mean_scale, site_x))
        .expand([num_worker_features])
        .to_event(1),
    )
    scale = pyro.sample(
        "beta_individual_scale",
        dist.HalfNormal(_const(priors.individual_scale, site_x))
        .expand([num_worker_features])
        .to_event(1),
    )
    with pyro.plate("worksite", site_x.shape[0]):
        site_raw = pyro.sample("site_effect_raw", dist.Normal(zero, one))
        raw = pyro.sample(
            "beta_individual_raw", dist.Normal(zero, one).expand([num_worker_features]).to_event(1)
        )
    site_effect = pyro.deterministic("site_effect", site_scale * site_raw, event_dim=1)
    slopes = mean + scale * raw
    if moderator is not None:
        size_slope = pyro.sample(
            "size_slope",
            dist.Normal(zero, _const(priors.interaction_scale, site_x))
            .expand([num_worker_features])
            .to_event(1),
        )
        slopes = slopes + moderator[..., :, None] * size_slope[..., None, :]
    beta_individual = pyro.deterministic("beta_individual", slopes, event_dim=2)
    logits = headline_logits(
        alpha, beta_group, site_effect, beta_individual, site_x, worker_x, site_index
    )
    return _observe(logits, y)


MODELS: dict[str, Callable[..., torch.Tensor]] = {
    "corrected": corrected_model,
    "published": published_model,
    "extended": extended_model,
    "headline": headline_model,
}

#: Latent (sampled, unobserved) sites of each model, in a fixed order.
LATENT_SITES: dict[str, tuple[str, ...]] = {
    "corrected": (
        "beta_individual_scale",
        "beta_group_scale",
        "beta_group",
        "alpha_mean",
        "beta_individual",
    ),
    "published": (
        "beta_individual_scale",
        "beta_group_scale",
        "beta_group",
        "alpha_mean",
        "beta_individual",
    ),
    "extended": (
        "beta_individual_scale",
        "beta_group_scale",
        "beta_group",
        "alpha_mean",
        "beta_individual_mean",
        "beta_individual_raw",
    ),
    "headline": (
        "alpha",
        "beta_group_scale",
        "beta_group",
        "site_scale",
        "beta_individual_mean",
        "beta_individual_scale",
        "site_effect_raw",
        "beta_individual_raw",
    ),
}


def model_name_of(model: Callable[..., torch.Tensor]) -> str | None:
    """The registry name of a model function, or None if it is not registered."""
    for name, function in MODELS.items():
        if function is model:
            return name
    return None


def add_deterministic_sites(
    model_name: str, draws: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Add deterministic sites to latent draws (leading draw dims), as numpy arrays.

    extended and headline: b = μ + τ ⊙ ε; headline: u = σ_u ε (see
    :func:`organizing.models.logits.complete_draws`).
    """
    return complete_draws(model_name, draws)


def _numpy_draws(draws: Draws) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy() if torch.is_tensor(v) else v for k, v in draws.items()}


def logits_from_draws(
    model_name: str,
    draws: Draws,
    site_x: torch.Tensor,
    worker_x: torch.Tensor,
    site_index: torch.Tensor,
    *,
    chunk_size: int = 250,
) -> torch.Tensor:
    r"""Logits of every worker under every posterior draw, shape (D, N), as a tensor.

    A torch front end to :func:`organizing.models.logits.logits` (computed in
    float64, returned in ``site_x``'s dtype). ``draws`` maps site names to tensors
    or arrays with one leading draw dimension (D). For ``"published"`` the study's
    formula is applied to the batch given, summing :math:`z_j` over the workers
    passed in, which is what the study's code did when it predicted the held-out
    workers. ``"extended"`` and ``"headline"`` draws may carry either the
    deterministic sites or their parts.
    """
    if model_name not in MODELS:
        raise KeyError(f"unknown model {model_name!r}; expected one of {sorted(MODELS)}")
    out = numpy_logits(
        model_name,
        _numpy_draws(draws),
        _numpy_draws({"x": site_x})["x"],
        _numpy_draws({"x": worker_x})["x"],
        _numpy_draws({"x": site_index})["x"],
        chunk_size=chunk_size,
    )
    return torch.as_tensor(out).to(dtype=site_x.dtype, device=site_x.device)
