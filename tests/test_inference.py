"""Inference: convergence rule, SVI fits and guides, the NUTS potential, recovery."""

from __future__ import annotations

import pickle

import numpy as np
import pyro
import pytest
import torch

from organizing.inference.svi import SVIFit, elbo_converged, fit_svi, guide_draw, posterior_draws
from organizing.models.pyro_models import LATENT_SITES, corrected_model


def simulate(
    seed,
    num_sites,
    num_site_features,
    workers_per_site,
    num_worker_features,
    beta_individual_scale=0.8,
    beta_group_scale=0.6,
    duplicate_features=False,
):
    """Data and true parameters drawn from the corrected model with chosen scales."""
    generator = torch.Generator().manual_seed(seed)
    site_x = torch.randn(num_sites, num_site_features, generator=generator)
    num_workers = num_sites * workers_per_site
    worker_x = torch.randn(num_workers, num_worker_features, generator=generator)
    if duplicate_features:  # few distinct feature rows, as in the campaign data
        worker_x = torch.round(worker_x)
    site_index = torch.arange(num_sites).repeat_interleave(workers_per_site)
    scales = {
        "beta_individual_scale": torch.tensor(beta_individual_scale),
        "beta_group_scale": torch.tensor(beta_group_scale),
    }
    pyro.set_rng_seed(seed)
    trace = pyro.poutine.trace(pyro.condition(corrected_model, data=scales)).get_trace(
        site_x, worker_x, site_index
    )
    truth = {k: trace.nodes[k]["value"].numpy() for k in LATENT_SITES["corrected"]}
    return (site_x, worker_x, site_index, trace.nodes["y"]["value"]), truth


# ------------------------------------------------------------------ convergence rule


def test_rule_checks_are_the_stopping_rule_where_it_was_asked():
    from organizing.inference.svi import rule_checks

    rng = np.random.default_rng(0)
    losses = 1000 * np.exp(-np.arange(630) / 80) + 500 + rng.normal(0, 1, 630)
    checks = rule_checks(losses, window=100, min_steps=250, check_every=50)
    assert checks["step"].tolist() == [250, 300, 350, 400, 450, 500, 550, 600, 630]
    for t, value in zip(checks["step"], checks["change"], strict=True):
        assert elbo_converged(losses[:t], 100, value * 1.0001)
        assert not elbo_converged(losses[:t], 100, value * 0.9999)
    early = rule_checks(losses[:150], window=100, min_steps=0, check_every=50)
    assert early["change"].isna().tolist() == [True, True, True]  # fewer than two windows
    assert rule_checks([], window=100, min_steps=0).empty


def test_elbo_converged_on_flat_trace_not_on_falling_trace():
    rng = np.random.default_rng(0)
    noise = rng.normal(scale=5.0, size=1000)
    flat = 2000.0 + noise
    falling = 4000.0 - 2.0 * np.arange(1000) + noise  # still dropping 400 per 200 steps
    assert elbo_converged(flat, window=200, rtol=1e-3)
    assert not elbo_converged(falling, window=200, rtol=1e-3)
    # the same falling trace, once it levels off, converges
    leveled = np.concatenate([falling, np.full(400, falling[-1]) + noise[:400]])
    assert elbo_converged(leveled, window=200, rtol=1e-3)


def test_elbo_converged_needs_two_full_windows_and_finite_losses():
    flat = np.full(399, 100.0)
    assert not elbo_converged(flat, window=200, rtol=1e-3)
    assert elbo_converged(np.append(flat, 100.0), window=200, rtol=1e-3)
    assert not elbo_converged(np.append(flat, np.nan), window=200, rtol=1e-3)


def test_fit_svi_stops_before_max_steps_on_an_easy_problem():
    args, _ = simulate(
        1, num_sites=5, num_site_features=2, workers_per_site=60, num_worker_features=2
    )
    fit = fit_svi(
        "corrected",
        args,
        max_steps=6000,
        min_steps=200,
        window=100,
        rtol=1e-3,
        seed=0,
        progress=False,
    )
    assert fit.converged
    assert fit.steps < 6000
    assert fit.steps == len(fit.losses)
    assert elbo_converged(fit.losses, 100, 1e-3)
    assert fit.losses[-100:].mean() < fit.losses[:100].mean()  # it did learn


def test_fixed_steps_run_past_the_point_where_the_rule_stops():
    """Without the rule a fit runs exactly max_steps, and its first steps are the same fit."""
    args, _ = simulate(
        1, num_sites=5, num_site_features=2, workers_per_site=60, num_worker_features=2
    )
    settings = dict(min_steps=200, window=100, rtol=1e-3, seed=0, progress=False)
    stopped = fit_svi("corrected", args, max_steps=6000, **settings)
    assert stopped.converged and stopped.stop_early
    fixed = fit_svi("corrected", args, max_steps=stopped.steps + 150, stop_early=False,
                    **settings)
    assert fixed.steps == stopped.steps + 150 and not fixed.converged and not fixed.stop_early
    np.testing.assert_array_equal(fixed.losses[: stopped.steps], stopped.losses)


def test_adam_betas_and_decay_reach_the_optimizer(small_args):
    """Adam's first update is lr * sign(gradient) whatever its betas (up to rounding); the
    decay acts from the second update on. So the first two losses agree and the third
    differs, for each setting."""
    def losses(**kwargs):
        fit = fit_svi("corrected", small_args, max_steps=6, min_steps=6, seed=5,
                      progress=False, **kwargs)
        return fit.losses, fit

    base, fit = losses(lr=0.05, lr_decay=0.999, betas=(0.9, 0.999))
    assert fit.betas == (0.9, 0.999) and fit.lr == 0.05 and fit.lr_decay == 0.999
    for changed in ({"betas": (0.5, 0.9)}, {"lr_decay": 0.5}):
        other, _ = losses(**{"lr": 0.05, "lr_decay": 0.999, "betas": (0.9, 0.999), **changed})
        np.testing.assert_allclose(other[:2], base[:2], rtol=1e-6)  # equal up to rounding
        assert abs(other[2] - base[2]) > 1e-4 * abs(base[2])


@pytest.mark.parametrize("kwargs, message", [
    ({"betas": (0.9,)}, "betas must be two numbers"),
    ({"betas": (0.9, 1.0)}, "betas must be two numbers"),
    ({"lr_decay": 0.0}, "lr_decay in"),
    ({"max_steps": 0}, "max_steps must be positive"),
])
def test_bad_optimizer_settings_raise(small_args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit_svi("corrected", small_args, progress=False, **kwargs)


# ----------------------------------------------------------------- guides and seeds


@pytest.fixture(scope="module")
def small_args():
    args, _ = simulate(
        2, num_sites=6, num_site_features=3, workers_per_site=40, num_worker_features=3
    )
    return args


def short_fit(args, seed, guide="normal", model="corrected"):
    return fit_svi(model, args, guide=guide, max_steps=80, min_steps=80, seed=seed, progress=False)


def test_same_seed_same_numbers_different_seed_different(small_args):
    first, second, other = (short_fit(small_args, s) for s in (0, 0, 1))
    np.testing.assert_array_equal(first.losses, second.losses)
    assert not np.array_equal(first.losses, other.losses)
    draws_a = posterior_draws(first, small_args, num_draws=50, seed=3)
    draws_b = posterior_draws(second, small_args, num_draws=50, seed=3)
    draws_c = posterior_draws(first, small_args, num_draws=50, seed=4)
    for site in LATENT_SITES["corrected"]:
        np.testing.assert_array_equal(draws_a[site], draws_b[site])
        assert not np.array_equal(draws_a[site], draws_c[site])


@pytest.mark.parametrize("guide", ["normal", "lowrank"])
def test_rebuilt_guide_draws_around_the_fitted_parameters(small_args, guide):
    fit = short_fit(small_args, seed=0, guide=guide)
    draws = posterior_draws(fit, small_args, num_draws=1000, seed=0)
    for site in LATENT_SITES["corrected"]:
        assert draws[site].shape[0] == 1000
    num_site_features = small_args[0].shape[1]
    if guide == "normal":
        loc = fit.guide_params["locs.beta_group_unconstrained"]
    else:  # latent order: two log-scales, then beta_group
        loc = fit.guide_params["loc"][2 : 2 + num_site_features]
    assert np.abs(loc).max() > 0.05  # moved away from the initial values
    standard_error = draws["beta_group"].std(0) / np.sqrt(1000)
    np.testing.assert_array_less(np.abs(draws["beta_group"].mean(0) - loc), 5 * standard_error)


def test_guide_draw_is_one_draw_and_the_fit_pickles(small_args):
    fit = short_fit(small_args, seed=0, model="extended")
    restored = pickle.loads(pickle.dumps(fit))
    assert isinstance(restored, SVIFit)
    assert all(isinstance(v, np.ndarray) for v in restored.guide_params.values())
    one = guide_draw(restored, small_args, seed=5)
    assert one["beta_individual"].shape == (6, 3)  # the site's shape, no draw dimension
    assert one["beta_group"].shape == (3,)
    again = guide_draw(restored, small_args, seed=5)
    np.testing.assert_array_equal(one["beta_individual"], again["beta_individual"])
    draws = posterior_draws(restored, small_args, num_draws=20, seed=5)
    assert draws["beta_individual"].shape == (20, 6, 3)
    with pytest.raises(ValueError):
        posterior_draws(restored, small_args, num_draws=1)


# NUTS runs in NumPyro: tests/test_nuts.py and tests/test_models_numpyro.py.


# ------------------------------------------------------------------------ summary


def test_quantile_row_summarizes_one_scalars_draws():
    from organizing.inference.summaries import quantile_row

    values = np.random.default_rng(0).normal(2.0, 3.0, size=4000)
    row = quantile_row(values)
    assert row["mean"] == pytest.approx(values.mean())
    assert row["sd"] == pytest.approx(values.std(ddof=1))
    assert row["q95"] == pytest.approx(np.quantile(values, 0.95))
    assert row["q5"] < row["q50"] < row["q95"]
    assert row["prob_positive"] == pytest.approx(np.mean(values > 0))


# ------------------------------------------------------------------- recovery


def test_known_parameters_fall_in_their_90_percent_intervals():
    """Simulate 40 worksites × 80 workers from known parameters, fit, check coverage.

    A calibrated posterior puts each true value inside its central 90% interval with
    probability 0.9; with 160 worker coefficients, coverage below 75% would be far
    outside the binomial spread (sd ≈ 2.4 points). The low-rank guide is used.
    """
    args, truth = simulate(
        11, num_sites=40, num_site_features=3, workers_per_site=80, num_worker_features=4
    )
    fit = fit_svi("corrected", args, guide="lowrank", max_steps=3000, seed=0, progress=False)
    assert fit.converged
    draws = posterior_draws(fit, args, num_draws=1000, seed=0)

    def inside(site):
        low, high = np.quantile(draws[site], [0.05, 0.95], axis=0)
        return (truth[site] >= low) & (truth[site] <= high)

    assert inside("beta_individual").mean() >= 0.75
    site_level = np.concatenate([inside("beta_group").ravel(), inside("alpha_mean").ravel()])
    assert site_level.mean() >= 0.75
    # and the posterior learned something: intervals much narrower than the prior's
    assert draws["beta_individual"].std(0).mean() < 0.5 * truth["beta_individual_scale"]
