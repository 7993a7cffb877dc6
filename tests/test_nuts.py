"""NumPyro NUTS: parameter recovery, results, diagnostics that flag broken runs, PSIS-LOO."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from organizing.features import standardize
from organizing.inference import nuts
from organizing.inference.diagnostics import diagnose, loo_difference, psis_loo
from organizing.models import logits as formulas

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

TRUTH = {
    "alpha": -1.0,
    "beta_group": np.array([0.6, -0.4, 0.0, 0.3]),
    "site_scale": 0.8,
    "beta_individual_mean": np.array([1.2, -0.6, 0.3]),
    "beta_individual_scale": np.array([0.4, 0.5, 0.2]),
}


def simulate_headline(num_sites=30, workers_per_site=80, seed=0):
    """Data from the headline model's generative process with the known values in TRUTH."""
    rng = np.random.default_rng(seed)
    site_x = standardize(rng.normal(size=(num_sites, len(TRUTH["beta_group"]))))
    num_workers = num_sites * workers_per_site
    num_features = len(TRUTH["beta_individual_mean"])
    worker_x = standardize(rng.normal(size=(num_workers, num_features)))
    site_index = np.repeat(np.arange(num_sites), workers_per_site)
    site_effect = TRUTH["site_scale"] * rng.normal(size=num_sites)
    beta_individual = TRUTH["beta_individual_mean"] + TRUTH["beta_individual_scale"] * rng.normal(
        size=(num_sites, num_features)
    )
    truth = {**TRUTH, "site_effect": site_effect, "beta_individual": beta_individual}
    draws = {k: np.asarray(v)[None] for k, v in truth.items()}
    logit = formulas.logits("headline", draws, site_x, worker_x, site_index)[0]
    y = rng.binomial(1, formulas.sigmoid(logit)).astype(float)
    return (site_x, worker_x, site_index, y), truth


@pytest.fixture(scope="module")
def simulated():
    return simulate_headline()


@pytest.fixture(scope="module")
def healthy(simulated):
    data, _ = simulated
    # Stan's default warm-up: with 500 the chains of this seed end with one divergence
    return nuts.run_nuts("headline", *data, chains=4, warmup=1000, samples=500, seed=1, x64=True)


@pytest.mark.slow
def test_headline_recovers_the_parameters_of_simulated_data(simulated, healthy):
    _, truth = simulated
    draws = healthy.pooled_draws()
    covered, total = 0, 0
    for site in TRUTH:
        low, high = np.quantile(draws[site], [0.05, 0.95], axis=0)
        inside = (low <= truth[site]) & (truth[site] <= high)
        covered, total = covered + int(np.sum(inside)), total + inside.size
    assert covered >= 0.8 * total, f"only {covered} of {total} 90% intervals cover the truth"
    assert np.mean(draws["site_scale"]) == pytest.approx(TRUTH["site_scale"], abs=0.25)
    low, high = np.quantile(draws["site_effect"], [0.05, 0.95], axis=0)
    assert np.mean((low <= truth["site_effect"]) & (truth["site_effect"] <= high)) >= 0.75
    # the worksite intercepts are estimated, not shrunk to nothing
    assert np.corrcoef(draws["site_effect"].mean(0), truth["site_effect"])[0, 1] > 0.8


@pytest.mark.slow
def test_result_holds_every_site_by_chain_and_the_sampler_statistics(simulated, healthy):
    (site_x, worker_x, site_index, y), _ = simulated
    result = healthy
    assert result.settings.chains == 4 and result.settings.samples == 500
    assert result.settings.x64
    for site in ("alpha", "site_effect_raw", "site_effect", "beta_individual"):
        assert result.draws[site].shape[:2] == (4, 500)
    assert result.draws["beta_individual"].shape == (4, 500, 30, 3)
    assert result.energy.shape == result.diverging.shape == result.num_steps.shape == (4, 500)
    assert result.divergences.shape == (4,) and result.step_size.shape == (4,)
    assert result.seconds > 0
    np.testing.assert_allclose(
        result.draws["site_effect"],
        result.draws["site_scale"][..., None] * result.draws["site_effect_raw"],
        rtol=1e-10,
    )
    log_lik = result.log_likelihood(site_x, worker_x, site_index, y)
    assert log_lik.shape == (4, 500, len(y))
    # the numpy log-likelihood equals NumPyro's for the per-worker model
    from numpyro.infer.util import log_likelihood

    from organizing.models.numpyro_models import MODELS, model_arguments

    some = {k: v[0, :5] for k, v in result.draws.items()}
    expected = log_likelihood(MODELS["headline"], some, *model_arguments(site_x, worker_x,
                                                                         site_index, y))["y"]
    np.testing.assert_allclose(log_lik[0, :5], np.asarray(expected), rtol=1e-8, atol=1e-12)


@pytest.mark.slow
def test_diagnostics_pass_a_healthy_run_and_flag_a_broken_one(simulated, healthy):
    good = diagnose(healthy)
    assert good.ok, good.flags
    assert good.max_r_hat <= 1.01 and good.min_ess_bulk >= 400 and good.divergences == 0
    assert good.chains == 4 and good.draws == 500 and good.min_bfmi > 0.3

    data, _ = simulated
    broken = nuts.run_nuts("headline", *data, chains=2, warmup=5, samples=50, seed=1)
    bad = diagnose(broken)
    assert not bad.ok
    assert any(flag.startswith("R-hat") for flag in bad.flags), bad.flags
    assert any(flag.startswith("bulk ESS") for flag in bad.flags), bad.flags
    assert bad.max_r_hat > 1.01 and bad.min_ess_bulk < 200  # 100 per chain


def test_diagnose_flags_each_problem_in_words():
    rng = np.random.default_rng(0)
    chains, samples = 4, 500
    good = {"a": rng.normal(size=(chains, samples)), "b": rng.normal(size=(chains, samples, 3))}
    assert diagnose(good).flags == ()

    shifted = dict(good, b=good["b"] + np.arange(chains)[:, None, None])
    flags = diagnose(shifted).flags
    assert any(f.startswith("R-hat") and "(b[" in f for f in flags), flags

    sticky = {"a": np.cumsum(rng.normal(size=(chains, samples)), axis=1)}
    flags = diagnose(sticky).flags
    assert any(f.startswith("bulk ESS") for f in flags)
    assert any(f.startswith("tail ESS") for f in flags)

    diverging = np.zeros((chains, samples), dtype=bool)
    diverging[1, [3, 40, 41]] = True
    assert "3 divergences" in diagnose(good, diverging=diverging).flags

    energy = np.cumsum(rng.normal(size=(chains, samples)), axis=1)  # a random walk: E-BFMI ≈ 0
    result = diagnose(good, energy=energy)
    assert result.min_bfmi < 0.3 and any(f.startswith("E-BFMI") for f in result.flags)
    assert diagnose(good, energy=rng.normal(size=(chains, samples))).min_bfmi > 0.3

    constant = dict(good, c=np.ones((chains, samples)))  # constant by construction: skipped
    assert diagnose(constant).ok
    stuck = dict(good, d=np.repeat(rng.normal(size=(chains, 1)), samples, axis=1))
    assert not diagnose(stuck).ok  # each chain stuck at its own value


def test_chain_method_falls_back_when_devices_are_too_few():
    import jax

    devices = jax.local_device_count()
    assert nuts._chain_method(None, devices) == "parallel"
    assert nuts._chain_method("parallel", devices + 1) == "sequential"
    assert nuts._chain_method("vectorized", devices + 1) == "vectorized"
    with pytest.raises(ValueError):
        nuts._chain_method("threads", 2)


# ----------------------------------------------------------------------- PSIS-LOO


def logistic_log_lik(num_obs=120, chains=2, samples=400, seed=0):
    """Pointwise log-likelihoods of a small logistic regression under posterior-like draws."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=num_obs)
    y = rng.binomial(1, formulas.sigmoid(0.5 + 1.5 * x)).astype(float)
    a = 0.5 + 0.2 * rng.normal(size=(chains, samples, 1))
    b = 1.5 + 0.2 * rng.normal(size=(chains, samples, 1))
    posterior = {"a": a[..., 0], "b": b[..., 0]}
    return formulas.bernoulli_log_likelihood(a + b * x, y), posterior


def test_psis_loo_matches_arviz_when_nothing_is_constant():
    log_lik, posterior = logistic_log_lik()
    ours = psis_loo(log_lik, posterior=posterior)
    idata = az.from_dict(posterior=posterior, log_likelihood={"y": log_lik})
    theirs = az.loo(idata, pointwise=True)
    assert ours.elpd == pytest.approx(float(theirs["elpd_loo"]), rel=1e-10)
    assert ours.se == pytest.approx(float(theirs["se"]), rel=1e-10)
    assert ours.p_loo == pytest.approx(float(theirs["p_loo"]), rel=1e-8)
    np.testing.assert_allclose(ours.pareto_k, theirs["pareto_k"].values, rtol=1e-10)
    assert ours.exact == 0 and ours.n == 120 and ours.draws == 800
    assert ours.k_good + ours.k_bad + ours.k_very_bad == ours.n
    assert set(ours.as_dict()) == {"elpd", "se", "p_loo", "n", "k_good", "k_bad", "k_very_bad"}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # ArviZ's own fit on the raw columns
def test_psis_loo_handles_a_log_likelihood_near_zero_in_every_draw():
    """Workers whose log-likelihood is about -1e-40 in every draw: ArviZ's elpd_i is NaN."""
    log_lik, posterior = logistic_log_lik()
    rng = np.random.default_rng(1)
    tiny = -1e-40 * (1 + rng.uniform(size=log_lik.shape[:2] + (3,)))
    with_tiny = np.concatenate([log_lik, tiny], axis=-1)

    raw = az.loo(az.from_dict(posterior=posterior, log_likelihood={"y": with_tiny}),
                 pointwise=True)
    assert np.isnan(raw["loo_i"].values[-3:]).all()  # the problem this guards against

    ours = psis_loo(with_tiny, posterior=posterior)
    plain = psis_loo(log_lik, posterior=posterior)
    assert ours.exact == 3 and np.all(np.isfinite(ours.pointwise))
    np.testing.assert_array_equal(ours.pareto_k[-3:], 0.0)
    np.testing.assert_allclose(ours.pointwise[-3:], tiny.mean(axis=(0, 1)), rtol=1e-6)
    np.testing.assert_allclose(ours.pointwise[:-3], plain.pointwise, rtol=1e-12)
    assert ours.elpd == pytest.approx(plain.elpd, rel=1e-12)
    assert ours.p_loo == pytest.approx(plain.p_loo, rel=1e-10)
    assert ours.n == plain.n + 3 and ours.k_good == plain.k_good + 3


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
def test_loo_difference_is_the_paired_difference_as_in_arviz_compare():
    log_lik, posterior = logistic_log_lik(seed=2)
    rng = np.random.default_rng(3)
    worse = log_lik - 0.05 * rng.uniform(size=log_lik.shape[-1])  # a uniformly worse model
    a, b = psis_loo(log_lik, posterior=posterior), psis_loo(worse, posterior=posterior)
    difference = loo_difference(a, b)
    elpd_diff, se = difference
    assert elpd_diff == pytest.approx(a.elpd - b.elpd)
    assert elpd_diff > 0 and 0 < se < a.se
    table = az.compare(
        {
            "a": az.from_dict(posterior=posterior, log_likelihood={"y": log_lik}),
            "b": az.from_dict(posterior=posterior, log_likelihood={"y": worse}),
        },
        ic="loo",
    )
    assert table.loc["b", "elpd_diff"] == pytest.approx(elpd_diff, rel=1e-8)
    assert table.loc["b", "dse"] == pytest.approx(se, rel=1e-8)
    with pytest.raises(ValueError):
        loo_difference(a, psis_loo(log_lik[..., :10]))


# ------------------------------------------------ one compiled sampler for many fits


def test_padding_rows_leaves_the_log_density_unchanged():
    import jax
    from numpyro.infer.util import log_density

    jax.config.update("jax_enable_x64", True)
    (site_x, worker_x, site_index, y), truth = simulate_headline(num_sites=6, workers_per_site=20)
    params = {k: np.asarray(v) for k, v in TRUTH.items()} | {"beta_group_scale": np.asarray(0.5)}
    params["site_effect_raw"] = truth["site_effect"] / TRUTH["site_scale"]
    params["beta_individual_raw"] = (
        truth["beta_individual"] - TRUTH["beta_individual_mean"]) / TRUTH["beta_individual_scale"]
    model = nuts.MODELS["headline"]

    def density(data):
        return float(log_density(model, data[:4], {"trials": data[4]}, params)[0])

    plain = nuts.sampler_data(site_x, worker_x, site_index, y)
    rows = nuts.sampler_rows(worker_x, site_index, y)
    padded = nuts.sampler_data(site_x, worker_x, site_index, y, pad_rows=rows + 37)
    assert plain[1].shape[0] == rows and padded[1].shape[0] == rows + 37
    assert density(padded) == pytest.approx(density(plain), rel=1e-12)
    ungrouped = nuts.sampler_data(site_x, worker_x, site_index, y, group=False, pad_rows=150)
    assert ungrouped[1].shape[0] == 150 and float(ungrouped[4].sum()) == 120
    with pytest.raises(ValueError, match="pad_rows=3 is fewer"):
        nuts.sampler_data(site_x, worker_x, site_index, y, pad_rows=3)


@pytest.mark.slow
def test_compiled_sampler_matches_numpyros_loop_and_is_reused_across_data(monkeypatch):
    import sys

    (site_x, worker_x, site_index, y), _ = simulate_headline(num_sites=8, workers_per_site=25)
    settings = dict(chains=2, warmup=40, samples=30, seed=3, x64=True)
    nuts.compiled_sampler.cache_clear()
    compiled = nuts.run_nuts("headline", site_x, worker_x, site_index, y, **settings)

    class Terminal:  # progress on a terminal: NumPyro's own MCMC loop draws the bars
        def isatty(self):
            return True

        def write(self, text):
            return len(text)

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stderr", Terminal())
    looped = nuts.run_nuts("headline", site_x, worker_x, site_index, y, progress=True,
                           **settings)
    monkeypatch.undo()
    for site, values in compiled.draws.items():
        np.testing.assert_allclose(values, looped.draws[site], rtol=1e-4, atol=1e-5,
                                   err_msg=site)
    np.testing.assert_array_equal(compiled.num_steps, looped.num_steps)

    # Another fold of the same padded size reuses the executable: no new compilation.
    rows = max(nuts.sampler_rows(worker_x[keep], site_index[keep], y[keep])
               for keep in (site_index < 4, site_index >= 4))
    traced = nuts.TRACES["headline"]
    fits = [nuts.run_nuts("headline", site_x, worker_x[keep], site_index[keep], y[keep],
                          pad_rows=rows, **settings)
            for keep in (site_index < 4, site_index >= 4)]
    assert nuts.TRACES["headline"] == traced + 1  # one new shape, compiled once for both
    assert nuts.compiled_sampler.cache_info().currsize == 1
    assert not np.allclose(fits[0].draws["alpha"], fits[1].draws["alpha"])


@pytest.mark.slow
def test_block_wise_loo_equals_the_whole_matrix(simulated, healthy):
    """PSIS-LOO from a fit, block by block, equals PSIS-LOO of the whole log-likelihood."""
    from organizing.inference.diagnostics import result_psis_loo

    (site_x, worker_x, site_index, y), _ = simulated
    whole = psis_loo(healthy.log_likelihood(site_x, worker_x, site_index, y),
                     posterior=healthy.draws)
    blocks = result_psis_loo(healthy, site_x, worker_x, site_index, y, block=37)
    assert blocks.elpd == pytest.approx(whole.elpd, rel=1e-10)
    assert blocks.k_bad == whole.k_bad and blocks.k_very_bad == whole.k_very_bad


def test_a_released_sampler_compiles_again_to_the_same_draws():
    """``release_compiled`` (called by the pipeline after each stage) drops the compiled
    samplers; a later fit compiles again and gives exactly the same draws."""
    data, _ = simulate_headline(num_sites=6, workers_per_site=10, seed=1)
    settings = dict(chains=2, warmup=50, samples=50, seed=3)
    first = nuts.run_nuts("headline", *data, **settings)
    assert nuts.compiled_sampler.cache_info().currsize >= 1
    nuts.release_compiled()
    assert nuts.compiled_sampler.cache_info().currsize == 0
    again = nuts.run_nuts("headline", *data, **settings)
    assert nuts.compiled_sampler.cache_info().currsize == 1
    assert first.draws.keys() == again.draws.keys()
    for site, values in first.draws.items():
        np.testing.assert_array_equal(values, again.draws[site], err_msg=site)
