"""NumPyro mirrors against the Pyro models; numpy logits against both; the prior predictive."""

from __future__ import annotations

import jax
import numpy as np
import numpyro.distributions as dist
import pyro
import pytest
import torch
from numpyro import handlers
from numpyro.infer.util import log_density, potential_energy
from pyro.infer.mcmc.util import initialize_model

from organizing.models import logits as formulas
from organizing.models import numpyro_models, pyro_models
from organizing.models.numpyro_models import (
    group_workers,
    model_arguments,
    prior_predictive_rates,
)
from organizing.models.pyro_models import LATENT_SITES, MODELS


@pytest.fixture(autouse=True)
def float64_jax():
    """Compare in float64. JAX's precision is process-wide and other tests (a NUTS run
    sets it on every call) may change it after this module is imported, so each test
    sets it and puts back what it found."""
    before = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)


MIRRORED = ("corrected", "extended", "headline")
NUM_SITES, NUM_SITE_FEATURES, WORKERS_PER_SITE, NUM_WORKER_FEATURES = 6, 4, 40, 3


def small_data(seed: int = 0, *, discrete: bool = False):
    """6 worksites × 40 workers; ``discrete`` features repeat, so workers can be grouped."""
    rng = np.random.default_rng(seed)
    site_x = rng.normal(size=(NUM_SITES, NUM_SITE_FEATURES))
    num_workers = NUM_SITES * WORKERS_PER_SITE
    if discrete:
        worker_x = rng.integers(0, 2, size=(num_workers, NUM_WORKER_FEATURES)).astype(float)
    else:
        worker_x = rng.normal(size=(num_workers, NUM_WORKER_FEATURES))
    site_index = np.repeat(np.arange(NUM_SITES), WORKERS_PER_SITE)
    rng.shuffle(site_index)
    y = rng.integers(0, 2, size=num_workers).astype(float)
    return site_x, worker_x, site_index, y


def torch_args(site_x, worker_x, site_index, y):
    return (
        torch.as_tensor(site_x, dtype=torch.float64),
        torch.as_tensor(worker_x, dtype=torch.float64),
        torch.as_tensor(site_index, dtype=torch.long),
        torch.as_tensor(y, dtype=torch.float64),
    )


@pytest.mark.parametrize("name", MIRRORED)
def test_mirror_has_the_pyro_models_sites(name):
    site_x, worker_x, site_index, y = small_data()
    trace = handlers.trace(handlers.seed(numpyro_models.MODELS[name], 0)).get_trace(
        *model_arguments(site_x, worker_x, site_index, y)
    )
    latent = tuple(k for k, v in trace.items() if v["type"] == "sample" and not v["is_observed"])
    assert latent == LATENT_SITES[name]
    deterministic = {k for k, v in trace.items() if v["type"] == "deterministic"}
    assert deterministic == set(numpyro_models.DETERMINISTIC_SITES[name])
    assert trace["y"]["is_observed"] and trace["y"]["value"].shape == (len(y),)

    pyro_trace = pyro.poutine.trace(MODELS[name]).get_trace(*torch_args(*small_data()))
    for site in (*LATENT_SITES[name], *numpyro_models.DETERMINISTIC_SITES[name]):
        assert tuple(trace[site]["value"].shape) == tuple(pyro_trace.nodes[site]["value"].shape)


@pytest.mark.parametrize("name", MIRRORED)
def test_potential_energy_equals_pyros_at_random_unconstrained_points(name):
    """-log joint - log|Jacobian| in the unconstrained space, the quantity NUTS samples."""
    data = small_data(1)
    pyro.set_rng_seed(0)
    _, pyro_potential, transforms, _ = initialize_model(
        MODELS[name], model_args=torch_args(*data)
    )
    assert set(transforms) == set(LATENT_SITES[name])
    args = model_arguments(*data)
    rng = np.random.default_rng(2)
    shapes = {
        k: tuple(v["value"].shape)
        for k, v in handlers.trace(handlers.seed(numpyro_models.MODELS[name], 0))
        .get_trace(*args)
        .items()
        if k in LATENT_SITES[name]
    }
    for _ in range(5):
        point = {k: rng.normal(scale=1.5, size=shape) for k, shape in shapes.items()}
        expected = pyro_potential({k: torch.as_tensor(v) for k, v in point.items()}).item()
        got = float(potential_energy(numpyro_models.MODELS[name], args, {}, point))
        assert got == pytest.approx(expected, rel=1e-10, abs=1e-8)


@pytest.mark.parametrize("name", MIRRORED)
def test_log_joint_equals_pyros_at_the_same_constrained_values(name):
    data = small_data(3)
    args = model_arguments(*data)
    for seed in range(3):
        trace = handlers.trace(handlers.seed(numpyro_models.MODELS[name], seed)).get_trace(
            *args[:3]
        )
        values = {k: np.array(trace[k]["value"]) for k in LATENT_SITES[name]}
        got, _ = log_density(numpyro_models.MODELS[name], args, {}, values)
        conditioned = pyro.poutine.condition(
            MODELS[name], data={k: torch.as_tensor(v) for k, v in values.items()}
        )
        pyro_trace = pyro.poutine.trace(conditioned).get_trace(*torch_args(*data))
        expected = pyro_trace.log_prob_sum().item()
        assert float(got) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("name", MIRRORED)
def test_grouped_workers_leave_the_log_joint_unchanged(name):
    site_x, worker_x, site_index, y = small_data(4, discrete=True)
    grouped = group_workers(worker_x, site_index, y)
    assert len(grouped.signed) < len(y) / 2  # the discrete features do repeat
    assert grouped.trials.sum() == len(y) and grouped.signed.sum() == y.sum()
    assert np.all(np.diff(grouped.site_index) >= 0)
    model = numpyro_models.MODELS[name]
    args = model_arguments(site_x, worker_x, site_index, y)
    grouped_args = model_arguments(site_x, grouped.worker_x, grouped.site_index, grouped.signed)
    kwargs = {"trials": grouped.trials}
    rng = np.random.default_rng(5)
    for seed in range(3):
        trace = handlers.trace(handlers.seed(model, seed)).get_trace(*args[:3])
        values = {k: np.asarray(trace[k]["value"]) for k in LATENT_SITES[name]}
        values = {k: v + rng.normal(scale=0.1, size=v.shape) for k, v in values.items()}
        values = {k: np.abs(v) if "scale" in k else v for k, v in values.items()}
        per_worker, _ = log_density(model, args, {}, values)
        per_row, _ = log_density(model, grouped_args, kwargs, values)
        assert float(per_row) == pytest.approx(float(per_worker), rel=1e-10)
        # the grouped term is the Binomial density less its constant log C(trials, signed)
        binomial = dist.Binomial(total_count=grouped.trials, logits=np.linspace(-2, 2, len(
            grouped.trials))).log_prob(grouped.signed).sum()
        kernel = numpyro_models.GroupedBernoulli(logits=np.linspace(-2, 2, len(grouped.trials)),
                                                 total_count=grouped.trials)
        assert float(kernel.log_prob(grouped.signed).sum()) == pytest.approx(
            float(binomial) - grouped.log_binomial_constant, rel=1e-10)


def _pyro_draws_and_logits(name, data, num_draws, seed):
    """Latent and deterministic draws of the Pyro model and the logits its ``y`` site uses."""
    pyro.set_rng_seed(seed)
    sites = dict.fromkeys((*LATENT_SITES[name], "beta_individual", "site_effect"))
    draws, logits = {}, []
    for _ in range(num_draws):
        trace = pyro.poutine.trace(MODELS[name]).get_trace(*torch_args(*data)[:3])
        for site in sites:
            if site in trace.nodes:
                draws.setdefault(site, []).append(trace.nodes[site]["value"].numpy())
        logits.append(trace.nodes["y"]["fn"].logits.numpy())
    return {k: np.stack(v) for k, v in draws.items()}, np.stack(logits)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_numpy_logits_equal_the_pyro_models_logits(name):
    data = small_data(6)
    draws, expected = _pyro_draws_and_logits(name, data, num_draws=7, seed=7)
    got = formulas.logits(name, draws, *data[:3], chunk_size=3)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)  # Pyro runs in float32 here
    if name in ("extended", "headline"):  # from the non-centered parts alone
        parts = {k: draws[k] for k in LATENT_SITES[name]}
        np.testing.assert_allclose(
            formulas.logits(name, parts, *data[:3]), expected, rtol=1e-5, atol=1e-4
        )
    # leading (chains, samples) dimensions are kept
    two_dims = {k: v[:6].reshape(2, 3, *v.shape[1:]) for k, v in draws.items()}
    assert formulas.logits(name, two_dims, *data[:3]).shape == (2, 3, len(data[3]))


def test_logits_follow_the_formulas_worker_by_worker():
    """Independent loops: α + x_s·β (+ u_s) + z_i·b_s, and the study's sums."""
    site_x, worker_x, site_index, _ = small_data(10)
    rng = np.random.default_rng(10)
    draw = {
        "alpha": rng.normal(),
        "beta_group": rng.normal(size=NUM_SITE_FEATURES),
        "site_effect": rng.normal(size=NUM_SITES),
        "beta_individual": rng.normal(size=(NUM_SITES, NUM_WORKER_FEATURES)),
    }
    a, beta, u, b = (draw[k] for k in ("alpha", "beta_group", "site_effect", "beta_individual"))
    expected = {
        "corrected": [a + site_x[s] @ beta + worker_x[i] @ b[s] for i, s in enumerate(site_index)],
        "headline": [
            a + site_x[s] @ beta + u[s] + worker_x[i] @ b[s] for i, s in enumerate(site_index)
        ],
        "published": [
            a
            + sum(site_x[t] @ beta for t in range(NUM_SITES))
            + sum(b[s] @ worker_x[j] for j in range(len(site_index)))
            for s in site_index
        ],
    }
    for name, values in expected.items():
        draws = {k: np.asarray(v)[None] for k, v in draw.items()}
        draws[formulas.INTERCEPT_SITE[name]] = np.array([a])
        got = formulas.logits(name, draws, site_x, worker_x, site_index)[0]
        np.testing.assert_allclose(got, values, rtol=1e-10, atol=1e-10)


def test_published_logits_are_the_studys_formula_on_the_batch_given():
    """α + β·Σ_s x_s + b_s(i)·Σ_j z_j, with the sums over the rows passed in."""
    site_x, worker_x, site_index, _ = small_data(8)
    rng = np.random.default_rng(8)
    draws = {
        "alpha_mean": rng.normal(size=2),
        "beta_group": rng.normal(size=(2, NUM_SITE_FEATURES)),
        "beta_individual": rng.normal(size=(2, NUM_SITES, NUM_WORKER_FEATURES)),
    }
    batch = np.arange(50, 90)
    got = formulas.logits("published", draws, site_x, worker_x[batch], site_index[batch])
    literal = pyro_models.published_logits_literal(
        *(torch.as_tensor(draws[k][1]) for k in ("alpha_mean", "beta_group", "beta_individual")),
        torch.as_tensor(site_x),
        torch.as_tensor(worker_x[batch]),
        torch.as_tensor(site_index[batch]),
    )
    np.testing.assert_allclose(got[1], literal.numpy(), rtol=1e-10)


@pytest.mark.parametrize("name", MIRRORED)
def test_numpy_logits_equal_the_numpyro_models_logits(name):
    data = small_data(9)
    args = model_arguments(*data)
    trace = handlers.trace(handlers.seed(numpyro_models.MODELS[name], 3)).get_trace(*args[:3])
    draws = {
        k: np.asarray(v["value"])[None] for k, v in trace.items() if k != "y" and "value" in v
    }
    expected = np.asarray(trace["y"]["fn"].logits)
    np.testing.assert_allclose(formulas.logits(name, draws, *data[:3])[0], expected, rtol=1e-10)


def test_log_likelihood_is_stable_for_extreme_logits():
    logit = np.array([-800.0, -20.0, 0.0, 20.0, 800.0])
    for y in (0.0, 1.0):
        got = formulas.bernoulli_log_likelihood(logit, np.full(5, y))
        signed = logit if y else -logit  # log σ(±ℓ) = -log(1 + e^{∓ℓ})
        moderate = np.abs(logit) < 700
        np.testing.assert_allclose(got[moderate], -np.log1p(np.exp(-signed[moderate])))
        np.testing.assert_allclose(got[~moderate], np.minimum(signed[~moderate], 0.0))
    assert formulas.bernoulli_log_likelihood(np.array([92.0]), np.array([1.0]))[0] == (
        pytest.approx(-np.exp(-92.0), rel=1e-12)
    )


@pytest.fixture(scope="module")
def real_design(campaign):
    from organizing.features import build_design

    return build_design(campaign, drop_reference=True)


@pytest.mark.slow
def test_the_studys_priors_put_most_workers_at_zero_or_one_and_the_headline_priors_do_not(
    real_design,
):
    d = real_design
    args = (d.site_x, d.worker_x, d.site_index)
    study = prior_predictive_rates("corrected", *args, draws=200, seed=0)
    headline = prior_predictive_rates("headline", *args, draws=200, seed=0)
    assert study.overall_rate.shape == (200,) and study.share_extreme.shape == (200,)
    assert np.median(study.share_extreme) > 0.8
    assert np.mean(study.share_extreme > 0.5) > 0.8
    assert np.median(headline.share_extreme) < 0.45
    assert np.mean(headline.share_extreme > 0.5) < 0.25
    assert 0.1 < np.median(headline.overall_rate) < 0.6
    frame = headline.frame()
    assert list(frame.columns[:3]) == ["draw", "overall_rate", "share_extreme"]


@pytest.mark.parametrize("factor", [1.0, 2.0, 0.5])
def test_size_interaction_and_scaled_priors_mirror_pyro(factor):
    """The headline model with a size moderator and widened or narrowed priors: the
    NumPyro mirror's log joint equals Pyro's, the slopes carry λ·m, and the scales
    follow the factor (a wider prior scores a large τ_β higher)."""
    from functools import partial

    from organizing.models.priors import HEADLINE_PRIORS

    data = small_data(5)
    moderator = np.random.default_rng(6).normal(size=NUM_SITES)
    priors = HEADLINE_PRIORS.scaled(factor)
    assert priors.group_scale == pytest.approx(HEADLINE_PRIORS.group_scale * factor)
    jax_model = partial(numpyro_models.headline, moderator=jax.numpy.asarray(moderator),
                        priors=priors)
    torch_model = partial(pyro_models.headline_model, moderator=torch.as_tensor(moderator),
                          priors=priors)
    args = model_arguments(*data)
    latent = (*LATENT_SITES["headline"], "size_slope")
    for seed in range(3):
        trace = handlers.trace(handlers.seed(jax_model, seed)).get_trace(*args[:3])
        values = {k: np.array(trace[k]["value"]) for k in latent}
        expected_slopes = (values["beta_individual_mean"]
                           + values["beta_individual_scale"] * values["beta_individual_raw"]
                           + moderator[:, None] * values["size_slope"])
        np.testing.assert_allclose(trace["beta_individual"]["value"], expected_slopes,
                                   rtol=1e-12)
        got, _ = log_density(jax_model, args, {}, values)
        conditioned = pyro.poutine.condition(
            torch_model, data={k: torch.as_tensor(v) for k, v in values.items()})
        expected = pyro.poutine.trace(conditioned).get_trace(*torch_args(*data)).log_prob_sum()
        assert float(got) == pytest.approx(expected.item(), rel=1e-10)
    # the prior on τ_β follows the factor: at τ_β = 2 the wider prior has the higher density
    point = {**values, "beta_group_scale": np.array(2.0)}
    wide = partial(numpyro_models.headline, moderator=jax.numpy.asarray(moderator),
                   priors=HEADLINE_PRIORS.scaled(2.0))
    narrow = partial(numpyro_models.headline, moderator=jax.numpy.asarray(moderator),
                     priors=HEADLINE_PRIORS.scaled(0.5))
    assert float(log_density(wide, args, {}, point)[0]) > float(
        log_density(narrow, args, {}, point)[0])
