"""The model functions: logits against NumPy references, the published audit, Predictive."""

from __future__ import annotations

import numpy as np
import pyro
import pytest
import torch
from pyro.infer import Predictive

from organizing.models.pyro_models import (
    LATENT_SITES,
    MODELS,
    add_deterministic_sites,
    corrected_logits,
    logits_from_draws,
    published_logits,
    published_logits_literal,
)

SHAPES = [(3, 2, 10, 1), (7, 4, 50, 3), (12, 18, 200, 7)]  # (S, Q, N, P)


def random_inputs(num_sites, num_site_features, num_workers, num_worker_features, seed=0):
    rng = np.random.default_rng(seed)
    inputs = {
        "alpha": rng.normal(),
        "beta_group": rng.normal(size=num_site_features),
        "beta_individual": rng.normal(size=(num_sites, num_worker_features)),
        "site_x": rng.normal(size=(num_sites, num_site_features)),
        "worker_x": rng.normal(size=(num_workers, num_worker_features)),
        "site_index": rng.integers(0, num_sites, size=num_workers),
    }
    return inputs


def as_torch(inputs):
    out = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in inputs.items()}
    out["site_index"] = torch.as_tensor(inputs["site_index"], dtype=torch.long)
    return out


def numpy_published(alpha, beta_group, beta_individual, site_x, worker_x, site_index):
    """The study's formula, term by term, with explicit loops over the sums."""
    site_term = sum(site_x[s] @ beta_group for s in range(site_x.shape[0]))
    return np.array(
        [
            alpha
            + site_term
            + sum(beta_individual[site_index[i]] @ worker_x[j] for j in range(worker_x.shape[0]))
            for i in range(worker_x.shape[0])
        ]
    )


def numpy_corrected(alpha, beta_group, beta_individual, site_x, worker_x, site_index):
    return np.array(
        [
            alpha + site_x[s] @ beta_group + worker_x[i] @ beta_individual[s]
            for i, s in enumerate(site_index)
        ]
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_published_efficient_equals_literal_equals_numpy(shape):
    inputs = random_inputs(*shape, seed=sum(shape))
    tensors = as_torch(inputs)
    efficient = published_logits(**tensors).numpy()
    literal = published_logits_literal(**tensors).numpy()
    reference = numpy_published(**inputs)
    np.testing.assert_allclose(efficient, literal, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(efficient, reference, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("shape", SHAPES)
def test_corrected_logits_equal_numpy(shape):
    inputs = random_inputs(*shape, seed=1 + sum(shape))
    corrected = corrected_logits(**as_torch(inputs)).numpy()
    np.testing.assert_allclose(corrected, numpy_corrected(**inputs), rtol=1e-10, atol=1e-10)
    # and the published logits are a different function of the same parameters
    assert not np.allclose(corrected, numpy_published(**inputs))


def test_published_worksite_term_vanishes_only_for_standardized_columns():
    inputs = random_inputs(120, 18, 30, 7, seed=5)
    raw = inputs["site_x"] * 3.0 + 1.5
    standardized = (raw - raw.mean(0)) / raw.std(0)
    rng = np.random.default_rng(6)
    for _ in range(5):
        beta_group = torch.as_tensor(rng.normal(size=18))
        zero_b = torch.zeros(120, 7, dtype=torch.float64)
        terms = {}
        for name, site_x in {"standardized": standardized, "raw": raw}.items():
            tensors = as_torch({**inputs, "site_x": site_x})
            args = (torch.tensor(0.0, dtype=torch.float64), beta_group, zero_b)
            logits = published_logits_literal(
                *args, tensors["site_x"], tensors["worker_x"], tensors["site_index"]
            )
            # one scalar shared by every worker
            assert torch.allclose(logits, logits[0].expand_as(logits))
            terms[name] = float(logits[0])
        assert abs(terms["standardized"]) < 1e-10
        assert abs(terms["raw"]) > 1.0
        assert terms["raw"] == pytest.approx(float(beta_group @ torch.as_tensor(raw).sum(0)))


def test_published_worker_term_ignores_each_workers_own_features():
    inputs = random_inputs(4, 2, 20, 3, seed=8)
    tensors = as_torch(inputs)
    logits = published_logits(**tensors)
    # workers of one worksite get the same logit whatever their own features
    for site in range(4):
        members = logits[tensors["site_index"] == site]
        assert torch.allclose(members, members[0].expand_as(members))


def small_data(seed=0, num_sites=6, num_site_features=3, num_workers=60, num_worker_features=2):
    generator = torch.Generator().manual_seed(seed)
    site_x = torch.randn(num_sites, num_site_features, generator=generator)
    worker_x = torch.randn(num_workers, num_worker_features, generator=generator)
    site_index = torch.randint(0, num_sites, (num_workers,), generator=generator)
    return site_x, worker_x, site_index


@pytest.mark.parametrize("name", sorted(MODELS))
def test_predictive_samples_binary_outcomes(name):
    site_x, worker_x, site_index = small_data()
    pyro.set_rng_seed(0)
    samples = Predictive(MODELS[name], num_samples=25)(site_x, worker_x, site_index)
    y = samples["y"]
    assert y.shape == (25, worker_x.shape[0])
    assert set(torch.unique(y).tolist()) == {0.0, 1.0}
    assert set(LATENT_SITES[name]) <= set(samples)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_sites_and_plates(name):
    site_x, worker_x, site_index = small_data()
    trace = pyro.poutine.trace(MODELS[name]).get_trace(site_x, worker_x, site_index)
    sample_sites = [n for n, node in trace.nodes.items() if node["type"] == "sample"]
    assert tuple(s for s in sample_sites if s in LATENT_SITES[name]) == LATENT_SITES[name]
    assert trace.nodes["y"]["value"].shape == (worker_x.shape[0],)
    assert trace.nodes["beta_individual"]["value"].shape == (site_x.shape[0], worker_x.shape[1])
    plates = {
        n: {frame.name for frame in node["cond_indep_stack"]}
        for n, node in trace.nodes.items()
        if node["type"] == "sample"
    }
    assert plates["y"] == {"worker"}
    non_centered = name in ("extended", "headline")
    coefficient_site = "beta_individual_raw" if non_centered else "beta_individual"
    assert plates[coefficient_site] == {"worksite"}
    if name == "headline":
        assert plates["site_effect_raw"] == {"worksite"}


def test_extended_coefficients_are_mean_plus_scaled_raw():
    site_x, worker_x, site_index = small_data(1)
    trace = pyro.poutine.trace(MODELS["extended"]).get_trace(site_x, worker_x, site_index)
    values = {n: node["value"] for n, node in trace.nodes.items() if node["type"] == "sample"}
    expected = (
        values["beta_individual_mean"]
        + values["beta_individual_scale"] * values["beta_individual_raw"]
    )
    torch.testing.assert_close(values["beta_individual"], expected)
    latent = {k: values[k].numpy()[None] for k in LATENT_SITES["extended"]}
    derived = add_deterministic_sites("extended", latent)["beta_individual"][0]
    np.testing.assert_allclose(derived, expected.numpy(), rtol=1e-6)


# The headline model's logits are checked against the NumPyro mirror in test_models_numpyro.
@pytest.mark.parametrize("name", sorted(set(MODELS) - {"headline"}))
def test_logits_from_draws_matches_per_draw_formula(name):
    site_x, worker_x, site_index = small_data(2, num_worker_features=3)
    pyro.set_rng_seed(3)
    num_draws = 7
    draws = {}
    for _ in range(num_draws):
        trace = pyro.poutine.trace(MODELS[name]).get_trace(site_x, worker_x, site_index)
        for site in dict.fromkeys((*LATENT_SITES[name], "beta_individual")):
            draws.setdefault(site, []).append(trace.nodes[site]["value"])
    draws = {k: torch.stack(v) for k, v in draws.items()}
    formula = published_logits if name == "published" else corrected_logits
    expected = torch.stack(
        [
            formula(
                draws["alpha_mean"][d],
                draws["beta_group"][d],
                draws["beta_individual"][d],
                site_x,
                worker_x,
                site_index,
            )
            for d in range(num_draws)
        ]
    )
    got = logits_from_draws(name, draws, site_x, worker_x, site_index, chunk_size=3)
    assert got.shape == (num_draws, worker_x.shape[0])
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    if name == "extended":  # also from the parts alone, as numpy arrays
        parts = {k: draws[k].numpy() for k in LATENT_SITES[name]}
        torch.testing.assert_close(
            logits_from_draws(name, parts, site_x, worker_x, site_index),
            expected,
            rtol=1e-5,
            atol=1e-5,
        )


def test_published_prediction_sums_over_the_batch_it_is_given():
    site_x, worker_x, site_index = small_data(4, num_workers=80, num_worker_features=3)
    pyro.set_rng_seed(5)
    trace = pyro.poutine.trace(MODELS["published"]).get_trace(site_x, worker_x, site_index)
    draws = {k: trace.nodes[k]["value"][None] for k in LATENT_SITES["published"]}
    held_out = torch.arange(60, 80)
    on_batch = logits_from_draws(
        "published", draws, site_x, worker_x[held_out], site_index[held_out]
    )[0]
    expected = published_logits(
        draws["alpha_mean"][0],
        draws["beta_group"][0],
        draws["beta_individual"][0],
        site_x,
        worker_x[held_out],
        site_index[held_out],
    )
    torch.testing.assert_close(on_batch, expected)
    on_everyone = logits_from_draws("published", draws, site_x, worker_x, site_index)[0]
    assert not torch.allclose(on_batch, on_everyone[held_out])
