"""Simulation-based calibration: the rank, coverage and uniformity machinery on synthetic
posteriors (no NUTS), and small NUTS runs of the headline model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from organizing.inference.calibration import (
    SBCResult,
    calibration_tables,
    choose_thinning,
    default_bins,
    interval_coverage,
    monitored_parameters,
    rank_histogram,
    rank_statistics,
    simulate_design,
    simulation_based_calibration,
    uniformity_test,
)

# ------------------------------------------------ synthetic posteriors, no NUTS

R, L = 400, 99  # replications; draws per posterior (ranks 0..L)
NAMES = ("theta", "theta_copy")


def conjugate_case(posterior_shift=0.0, posterior_sd=0.5**0.5, seed=0):
    """θ ~ N(0, 1), y | θ ~ N(θ, 1): the posterior is N(y/2, 1/2).

    Returns truth (R, 2) and draws (R, L, 2) from N(y/2 + shift, sd); the exact
    posterior has shift 0 and sd √0.5. Two identical columns check the reshaping.
    """
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(R)
    y = theta + rng.standard_normal(R)
    draws = y[:, None] / 2 + posterior_shift + posterior_sd * rng.standard_normal((R, L))
    return np.stack([theta, theta], 1), np.stack([draws, draws], 2)


def test_rank_counts_the_draws_below_the_truth():
    truth = np.array([[0.5, -3.0]])
    draws = np.array([[[0.1, 0.0], [0.6, -1.0], [0.2, -2.0]]])  # (1, L=3, K=2)
    assert rank_statistics(truth, draws).tolist() == [[2, 0]]
    with pytest.raises(ValueError):
        rank_statistics(truth[0], draws)


def test_interval_coverage_uses_central_quantiles():
    draws = np.linspace(0, 1, 101)[None, :, None]  # quantiles of level q are q
    truth = np.array([[0.2]])
    assert not interval_coverage(truth, draws, 0.5)[0, 0]  # [0.25, 0.75]
    assert interval_coverage(truth, draws, 0.9)[0, 0]  # [0.05, 0.95]


def test_calibrated_posterior_gives_uniform_ranks_and_nominal_coverage():
    truth, draws = conjugate_case()
    ranks, coverage = calibration_tables(truth, draws, NAMES)
    assert list(ranks.columns) == ["parameter", "replication", "rank"]
    assert len(ranks) == R * len(NAMES)
    assert ranks["rank"].between(0, L).all()
    assert list(coverage["parameter"]) == list(NAMES)
    assert (coverage["replications"] == R).all()
    # Binomial sd of a share near 0.5 over 400 replications is 0.025.
    assert np.allclose(coverage["coverage_50"], 0.5, atol=0.075)
    assert np.allclose(coverage["coverage_90"], 0.9, atol=0.05)
    tests = uniformity_test(ranks, L)
    assert (tests["bins"] == 20).all()
    assert (tests["pvalue"] > 0.01).all()
    # The prior is also a calibrated "posterior" (of a model that ignores y).
    rng = np.random.default_rng(1)
    prior_ranks, prior_coverage = calibration_tables(
        truth[:, :1], rng.standard_normal((R, L, 1)), ["theta"]
    )
    assert uniformity_test(prior_ranks, L)["pvalue"].iloc[0] > 0.01
    assert abs(prior_coverage["coverage_90"].iloc[0] - 0.9) < 0.05


def test_a_posterior_around_a_wrong_centre_is_detected():
    """Draws from N(0, 0.2) whatever the data: most true values fall outside them."""
    truth, _ = conjugate_case()
    rng = np.random.default_rng(2)
    draws = 0.2 * rng.standard_normal((R, L, 2))
    ranks, coverage = calibration_tables(truth, draws, NAMES)
    assert (uniformity_test(ranks, L)["pvalue"] < 1e-6).all()
    assert (coverage["coverage_90"] < 0.5).all()
    histogram = rank_histogram(ranks, L)
    theta = histogram[histogram["parameter"] == "theta"]["count"].to_numpy()
    assert theta[0] + theta[-1] > 0.5 * R  # ∪-shaped: ranks pile up at 0 and L


def test_a_shifted_posterior_is_detected_and_lopsided():
    truth, draws = conjugate_case(posterior_shift=0.7)
    ranks, coverage = calibration_tables(truth, draws, NAMES)
    assert (uniformity_test(ranks, L)["pvalue"] < 1e-6).all()
    assert (coverage["coverage_50"] < 0.4).all()
    # Draws too high: the truth ranks low.
    assert ranks["rank"].mean() < 0.35 * L


def test_a_too_narrow_posterior_is_detected():
    truth, draws = conjugate_case(posterior_sd=0.25)
    ranks, coverage = calibration_tables(truth, draws, NAMES)
    assert (uniformity_test(ranks, L)["pvalue"] < 1e-6).all()
    assert (coverage["coverage_90"] < 0.7).all()


def test_rank_histogram_partitions_all_ranks():
    truth, draws = conjugate_case()
    ranks, _ = calibration_tables(truth, draws[:, :10], NAMES)  # L = 10: 11 rank values
    histogram = rank_histogram(ranks, 10, bins=4)
    for _, group in histogram.groupby("parameter"):
        assert group["count"].sum() == R
        assert group["expected"].sum() == pytest.approx(R)
        assert group["lower"].iloc[0] == 0 and group["upper"].iloc[-1] == 10
        assert (group["lower"].to_numpy()[1:] == group["upper"].to_numpy()[:-1] + 1).all()
    with pytest.raises(ValueError):
        rank_histogram(ranks, 10, bins=12)  # more bins than rank values


def test_default_bins_and_thinning_rules():
    assert default_bins(100, 99) == 20
    assert default_bins(100, 9) == 10  # no more bins than the L + 1 rank values
    assert default_bins(60, 99) == 12
    assert default_bins(8, 99) == 2
    ess = np.array([[300.0, 50.0], [200.0, 100.0], [250.0, 25.0], [np.nan, 80.0]] * 5)
    # Worst parameter per replication: 50, 100, 25, 1 (nan) → lower decile 1 → thin 300.
    assert choose_thinning(ess, 300) == 300
    finite = np.array([[300.0, 50.0], [200.0, 100.0], [250.0, 25.0]] * 4)
    assert choose_thinning(finite, 300) == 12  # lower decile of 50, 100, 25, ...: 25
    assert choose_thinning(np.full((4, 3), 600.0), 300) == 1


def test_simulated_design_is_standardized():
    site_x, worker_x, site_index = simulate_design(np.random.default_rng(0), 5, 8, 3, 2)
    assert site_x.shape == (5, 3) and worker_x.shape == (40, 2)
    assert site_index.tolist() == np.repeat(np.arange(5), 8).tolist()
    for a in (site_x, worker_x):
        assert np.allclose(a.mean(0), 0) and np.allclose(a.std(0), 1)
    assert len(np.unique(worker_x[:, 0])) == 2  # the binary feature
    assert monitored_parameters(3, 2) == (
        "alpha", "site_scale", "beta_group_scale", "beta_individual_mean[0]",
        "beta_individual_mean[1]", "beta_group[0]", "beta_group[1]",
    )


# ------------------------------------------------------------ NUTS, small runs

SMALL = dict(sites=6, workers_per_site=10, num_site_features=2, num_worker_features=2,
             warmup=60, samples=60)


@pytest.fixture(scope="module")
def small_run() -> SBCResult:
    return simulation_based_calibration(3, **SMALL, seed=7)


def test_small_run_has_ranks_in_range_and_every_parameter(small_run):
    result = small_run
    parameters = monitored_parameters(2, 2)
    assert result.replications == 3 and result.sites == 6 and result.workers_per_site == 10
    assert result.draws == 60 // result.thin >= 1
    assert set(result.ranks["parameter"]) == set(parameters)
    assert len(result.ranks) == 3 * len(parameters)
    assert result.ranks["rank"].between(0, result.draws).all()
    assert list(result.coverage["parameter"]) == list(parameters)
    assert result.coverage[["coverage_50", "coverage_90"]].stack().between(0, 1).all()
    assert (result.coverage["replications"] == 3).all()
    assert len(result.diagnostics) == 3
    assert result.diagnostics["signing_rate"].between(0, 1).all()
    assert (result.diagnostics["mean_steps"] >= 1).all()
    pvalues = result.uniformity_pvalues()
    assert list(pvalues["parameter"]) == list(parameters)
    assert pvalues["pvalue"].between(0, 1).all()
    assert result.seconds > 0


def test_same_seed_reproduces_and_replications_do_not_depend_on_each_other(small_run):
    again = simulation_based_calibration(3, **SMALL, seed=7)
    pd.testing.assert_frame_equal(again.ranks, small_run.ranks)
    pd.testing.assert_frame_equal(again.coverage, small_run.coverage)
    pd.testing.assert_frame_equal(again.diagnostics, small_run.diagnostics)
    # With a fixed thinning, replications 0 and 1 are the same in a run of two.
    three = simulation_based_calibration(3, **SMALL, seed=7, thin=6)
    two = simulation_based_calibration(2, **SMALL, seed=7, thin=6)
    assert three.draws == two.draws == 10
    pd.testing.assert_frame_equal(
        three.ranks[three.ranks["replication"] < 2].reset_index(drop=True), two.ranks
    )
    other = simulation_based_calibration(2, **SMALL, seed=8, thin=6)
    assert not other.ranks.equals(two.ranks)


@pytest.mark.slow
def test_quick_profile_is_roughly_calibrated():
    """8 replications of 20 worksites × 40 workers (the quick profile's size)."""
    result = simulation_based_calibration(
        8, 20, 40, 4, 3, warmup=150, samples=150, seed=0
    )
    # 8 replications × 9 parameters: about 65 of 72 intervals should cover the truth.
    assert result.coverage["coverage_90"].mean() >= 0.75
    assert result.coverage["coverage_50"].mean() >= 0.3
