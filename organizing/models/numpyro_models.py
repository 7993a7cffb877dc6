r"""NumPyro mirrors of the Pyro models, for NUTS (JAX on the CPU).

Each function mirrors its namesake in :mod:`organizing.models.pyro_models`: the
same site names, priors (the prior constants are imported from there, so they
exist once), parameterization, plates (``"worksite"``, ``"worker"``) and
deterministic sites; the logits come from :mod:`organizing.models.logits`, the
same code that computes them in numpy. Each takes
``(site_x, worker_x, site_index, y=None)``; the observed site is ``"y"``, one
Bernoulli term per worker, so that :func:`numpyro.infer.util.log_likelihood`
gives the pointwise log-likelihood. With ``y=None`` a model samples ``y``, which
makes it a prior or posterior predictive sampler through
:class:`numpyro.infer.Predictive`. With the keyword ``trials``, each row stands
for ``trials[r]`` workers with identical features at one worksite and ``y[r]``
counts the signers (a Binomial term without its constant, :class:`GroupedBernoulli`,
so the log density is exactly the workers' Bernoulli sum; see :func:`group_workers`),
which NUTS uses to evaluate the likelihood on a third of the rows.

The tests prove each mirror's log joint equal to the Pyro model's at random
points, so a NUTS posterior here is a posterior of the Pyro model.

:func:`prior_predictive_rates` draws from a model's prior and reports, per draw,
the implied overall signing rate and the share of workers whose signing
probability is below 1% or above 99%: the study's HalfCauchy(5) priors put most
workers at 0 or 1 before seeing any data; the headline model's priors do not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pandas as pd

from organizing.models import logits as formulas
from organizing.models.priors import (
    HALF_CAUCHY_SCALE,
    HEADLINE_PRIORS,
    MEAN_PRIOR_SCALE,
    HeadlinePriors,
)


class GroupedBernoulli(dist.BinomialLogits):
    r"""Binomial(trials, logit⁻¹ ℓ) whose log density is the sum of its workers' Bernoulli terms.

    .. math::

        \log p(k \mid n, ℓ) = k ℓ - n \log(1 + e^{ℓ}),

    the Binomial log density without its constant :math:`\log\binom{n}{k}`: exactly
    :math:`\sum_i [y_i ℓ - \log(1 + e^{ℓ})]` over the row's n workers, k of whom signed.
    Leaving out the constant (three log-gamma functions per row, which NUTS would
    evaluate at every leapfrog step since the data are arguments of the compiled
    sampler) makes a gradient about a sixth cheaper. Samples as the Binomial.
    """

    def log_prob(self, value):
        return value * self.logits - self.total_count * jax.nn.softplus(self.logits)


def _observe(logit, y, trials) -> jnp.ndarray:
    """One Bernoulli term per worker; or, with ``trials``, one term per row of identical
    workers (:class:`GroupedBernoulli`)."""
    with numpyro.plate("worker", logit.shape[-1]):
        if trials is None:
            return numpyro.sample("y", dist.Bernoulli(logits=logit), obs=y)
        return numpyro.sample("y", GroupedBernoulli(logits=logit, total_count=trials), obs=y)


def corrected(site_x, worker_x, site_index, y=None, *, trials=None):
    r"""The study's priors with per-worker logits (mirror of ``corrected_model``).

    .. math::

        τ_b, τ_β \sim \mathrm{HalfCauchy}(5), \quad β_q, α \sim \mathcal{N}(0, τ_β), \quad
        b_{sp} \sim \mathcal{N}(0, τ_b), \quad
        y_i \sim \mathrm{Bernoulli}(\mathrm{logit}^{-1}(α + x_{s(i)}·β + z_i·b_{s(i)}))
    """
    num_sites, num_site_features = site_x.shape
    num_worker_features = worker_x.shape[1]
    scale_b = numpyro.sample("beta_individual_scale", dist.HalfCauchy(HALF_CAUCHY_SCALE))
    scale_group = numpyro.sample("beta_group_scale", dist.HalfCauchy(HALF_CAUCHY_SCALE))
    beta_group = numpyro.sample(
        "beta_group", dist.Normal(0.0, scale_group).expand([num_site_features]).to_event(1)
    )
    alpha = numpyro.sample("alpha_mean", dist.Normal(0.0, scale_group))
    with numpyro.plate("worksite", num_sites):
        beta_individual = numpyro.sample(
            "beta_individual",
            dist.Normal(0.0, scale_b).expand([num_worker_features]).to_event(1),
        )
    logit = formulas.corrected_logits(
        alpha, beta_group, beta_individual, site_x, worker_x, site_index
    )
    return _observe(logit, y, trials)


def extended(site_x, worker_x, site_index, y=None, *, trials=None):
    r"""Population mean and per-feature scales for b, non-centered (mirror of ``extended_model``).

    .. math::

        μ_{b,p} \sim \mathcal{N}(0, 2.5), \quad τ_{b,p} \sim \mathrm{HalfCauchy}(5), \quad
        ε_{sp} \sim \mathcal{N}(0, 1), \quad b_s = μ_b + τ_b ⊙ ε_s,

    τ_β, β, α and the likelihood as in :func:`corrected`.
    """
    num_sites, num_site_features = site_x.shape
    num_worker_features = worker_x.shape[1]
    scale_b = numpyro.sample(
        "beta_individual_scale",
        dist.HalfCauchy(HALF_CAUCHY_SCALE).expand([num_worker_features]).to_event(1),
    )
    scale_group = numpyro.sample("beta_group_scale", dist.HalfCauchy(HALF_CAUCHY_SCALE))
    beta_group = numpyro.sample(
        "beta_group", dist.Normal(0.0, scale_group).expand([num_site_features]).to_event(1)
    )
    alpha = numpyro.sample("alpha_mean", dist.Normal(0.0, scale_group))
    mean_b = numpyro.sample(
        "beta_individual_mean",
        dist.Normal(0.0, MEAN_PRIOR_SCALE).expand([num_worker_features]).to_event(1),
    )
    with numpyro.plate("worksite", num_sites):
        raw = numpyro.sample(
            "beta_individual_raw", dist.Normal(0.0, 1.0).expand([num_worker_features]).to_event(1)
        )
    beta_individual = numpyro.deterministic("beta_individual", mean_b + scale_b * raw)
    logit = formulas.corrected_logits(
        alpha, beta_group, beta_individual, site_x, worker_x, site_index
    )
    return _observe(logit, y, trials)


def headline(site_x, worker_x, site_index, y=None, *, trials=None, moderator=None,
             priors: HeadlinePriors = HEADLINE_PRIORS):
    r"""Varying worksite intercepts and worker slopes, non-centered (mirror of ``headline_model``).

    .. math::

        α &\sim \mathcal{N}(m_α, s_α), \qquad τ_β \sim \mathcal{N}^+(0, s_β), \qquad
        β_q \sim \mathcal{N}(0, τ_β) \\
        σ_u &\sim \mathcal{N}^+(0, s_u), \qquad ε_s \sim \mathcal{N}(0, 1), \qquad u_s = σ_u ε_s \\
        μ_{b,p} &\sim \mathcal{N}(0, s_μ), \qquad τ_{b,p} \sim \mathcal{N}^+(0, s_τ), \qquad
        b_s = μ_b + τ_b ⊙ ε^b_s \\
        y_i &\sim \mathrm{Bernoulli}\big(\mathrm{logit}^{-1}(α + x_{s(i)}·β + u_{s(i)}
            + z_i·b_{s(i)})\big)

    with the constants of ``priors`` (by default ``HEADLINE_PRIORS``, justified in
    ``headline_model``). With ``moderator`` m (S,), the slopes get the size interaction
    :math:`b_s = μ_b + λ m_s + τ_b ⊙ ε^b_s`, :math:`λ_p \sim \mathcal{N}(0, s_λ)` (site
    ``size_slope``), as in ``headline_model``.
    """
    num_sites, num_site_features = site_x.shape
    num_worker_features = worker_x.shape[1]
    alpha = numpyro.sample("alpha", dist.Normal(priors.alpha_loc, priors.alpha_scale))
    scale_group = numpyro.sample("beta_group_scale", dist.HalfNormal(priors.group_scale))
    beta_group = numpyro.sample(
        "beta_group", dist.Normal(0.0, scale_group).expand([num_site_features]).to_event(1)
    )
    site_scale = numpyro.sample("site_scale", dist.HalfNormal(priors.site_scale))
    mean_b = numpyro.sample(
        "beta_individual_mean",
        dist.Normal(0.0, priors.mean_scale).expand([num_worker_features]).to_event(1),
    )
    scale_b = numpyro.sample(
        "beta_individual_scale",
        dist.HalfNormal(priors.individual_scale).expand([num_worker_features]).to_event(1),
    )
    with numpyro.plate("worksite", num_sites):
        site_raw = numpyro.sample("site_effect_raw", dist.Normal(0.0, 1.0))
        raw = numpyro.sample(
            "beta_individual_raw", dist.Normal(0.0, 1.0).expand([num_worker_features]).to_event(1)
        )
    site_effect = numpyro.deterministic("site_effect", site_scale * site_raw)
    slopes = mean_b + scale_b * raw
    if moderator is not None:
        size_slope = numpyro.sample(
            "size_slope",
            dist.Normal(0.0, priors.interaction_scale).expand([num_worker_features]).to_event(1),
        )
        slopes = slopes + moderator[:, None] * size_slope
    beta_individual = numpyro.deterministic("beta_individual", slopes)
    logit = formulas.headline_logits(
        alpha, beta_group, site_effect, beta_individual, site_x, worker_x, site_index
    )
    return _observe(logit, y, trials)


MODELS: dict[str, Callable[..., jnp.ndarray]] = {
    "corrected": corrected,
    "extended": extended,
    "headline": headline,
}

#: Deterministic sites of each model (derived from the latent sites).
DETERMINISTIC_SITES: dict[str, tuple[str, ...]] = {
    "corrected": (),
    "extended": ("beta_individual",),
    "headline": ("site_effect", "beta_individual"),
}


def model_arguments(site_x, worker_x, site_index, y=None, *, dtype=None) -> tuple:
    """The arrays as the NumPyro models take them (JAX arrays; float64 if x64 is enabled)."""
    dtype = dtype or (jnp.float64 if jax.config.jax_enable_x64 else jnp.float32)
    return (
        jnp.asarray(np.asarray(site_x), dtype=dtype),
        jnp.asarray(np.asarray(worker_x), dtype=dtype),
        jnp.asarray(np.asarray(site_index), dtype=jnp.int32),
        None if y is None else jnp.asarray(np.asarray(y), dtype=dtype),
    )


@dataclass(frozen=True)
class GroupedWorkers:
    """Workers with identical features at the same worksite, merged into one row each.

    Row r stands for ``trials[r]`` workers, ``signed[r]`` of whom signed; rows are
    sorted by worksite. Exact: the workers' Bernoulli terms sum to
    ``signed·ℓ - trials·log(1 + e^ℓ)``, the Binomial log density without its
    constant log C(trials, signed) (:class:`GroupedBernoulli`).
    """

    worker_x: np.ndarray  # (R, P)
    site_index: np.ndarray  # (R,)
    signed: np.ndarray  # (R,) number who signed
    trials: np.ndarray  # (R,) number of workers

    @property
    def log_binomial_constant(self) -> float:
        """Σ_r log C(trials_r, signed_r): the Binomial log density minus the Bernoulli sum."""
        from scipy.special import gammaln

        n, k = self.trials, self.signed
        return float(np.sum(gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)))


def group_workers(worker_x, site_index, y) -> GroupedWorkers:
    """Merge workers with identical (worksite, features) rows (about 1 in 3 rows remain)."""
    worker_x = np.asarray(worker_x, dtype=np.float64)
    site_index = np.asarray(site_index, dtype=np.int64)
    rows = np.column_stack([site_index.astype(np.float64), worker_x])
    unique, group = np.unique(rows, axis=0, return_inverse=True)  # sorted by worksite first
    group = group.reshape(-1)
    return GroupedWorkers(
        worker_x=unique[:, 1:],
        site_index=unique[:, 0].astype(np.int64),
        signed=np.bincount(group, weights=np.asarray(y, dtype=np.float64)),
        trials=np.bincount(group).astype(np.float64),
    )


# ----------------------------------------------------------- prior predictive


@dataclass(frozen=True)
class PriorPredictiveRates:
    """Per prior draw: the implied overall signing rate and the shares of extreme workers.

    ``overall_rate`` is the mean over workers of p_i = logit⁻¹(ℓ_i); ``share_low``
    and ``share_high`` are the shares of workers with p_i < ``low`` and p_i > ``high``.
    """

    model_name: str
    overall_rate: np.ndarray  # (draws,)
    share_low: np.ndarray  # (draws,)
    share_high: np.ndarray  # (draws,)
    low: float = 0.01
    high: float = 0.99

    @property
    def share_extreme(self) -> np.ndarray:
        """Share of workers with p < low or p > high, per draw."""
        return self.share_low + self.share_high

    def frame(self) -> pd.DataFrame:
        """One row per prior draw: draw, overall_rate, share_extreme, share_low, share_high."""
        return pd.DataFrame(
            {
                "draw": np.arange(len(self.overall_rate)),
                "overall_rate": self.overall_rate,
                "share_extreme": self.share_extreme,
                "share_low": self.share_low,
                "share_high": self.share_high,
            }
        )

    def summary(self) -> dict[str, float]:
        """Medians and 5%/95% quantiles over draws; the share of draws mostly extreme."""
        out = {}
        for name, values in (("rate", self.overall_rate), ("share_extreme", self.share_extreme)):
            q05, q50, q95 = np.quantile(values, [0.05, 0.5, 0.95])
            out |= {f"{name}_q05": q05, f"{name}_median": q50, f"{name}_q95": q95}
        out["draws_mostly_extreme"] = float(np.mean(self.share_extreme > 0.5))
        return {k: float(v) for k, v in out.items()}


def prior_predictive_rates(
    model_name: str,
    site_x: np.ndarray,
    worker_x: np.ndarray,
    site_index: np.ndarray,
    draws: int = 500,
    seed: int = 0,
    *,
    low: float = 0.01,
    high: float = 0.99,
) -> PriorPredictiveRates:
    """Draw the latent sites from a model's prior and summarize the implied probabilities.

    ``model_name`` is ``"corrected"`` (the study's HalfCauchy(5) priors),
    ``"extended"`` or ``"headline"``. The probabilities use the numpy logits in float64.
    """
    if model_name not in MODELS:
        raise KeyError(f"no NumPyro model {model_name!r}; expected one of {sorted(MODELS)}")
    args = model_arguments(site_x, worker_x, site_index)
    predictive = numpyro.infer.Predictive(MODELS[model_name], num_samples=draws)
    samples = predictive(jax.random.PRNGKey(seed), *args)
    latent = {k: np.asarray(v, dtype=np.float64) for k, v in samples.items() if k != "y"}
    rate = np.empty(draws)
    share_low = np.empty(draws)
    share_high = np.empty(draws)
    chunk = 50
    for start in range(0, draws, chunk):
        part = {k: v[start : start + chunk] for k, v in latent.items()}
        p = formulas.sigmoid(formulas.logits(model_name, part, site_x, worker_x, site_index))
        rate[start : start + chunk] = p.mean(-1)
        share_low[start : start + chunk] = (p < low).mean(-1)
        share_high[start : start + chunk] = (p > high).mean(-1)
    return PriorPredictiveRates(model_name, rate, share_low, share_high, low, high)
