"""The calibrated test of clusters (organizing.clustering.heldout_test)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from organizing.clustering import gibbs_mixture, heldout_log_predictive
from organizing.clustering.heldout_test import (
    ClusterTestSettings,
    cluster_test,
    cross_validate,
    gaussian_heldout_density,
    heldout_density,
    scaled_vectors,
)
from organizing.clustering.selection import CLUSTERS_SUPPORTED

FAST = ClusterTestSettings(sigmas=(0.5, 1.0, 1.5), Ks=(1, 2, 3), folds=3, draws=3, iterations=120,
                    burn_in=40, chains=2)
TAU = np.array([0.2, 0.6, 1.5, 0.4])


def _posterior_draws(rng, truth, noise, draws):
    """Posterior draws of a Gaussian toy: y = b + e, e ~ N(0, noise²), b ~ N(0, τ²)."""
    y = truth + rng.normal(size=truth.shape) * noise
    w = TAU**2 / (TAU**2 + noise**2)
    return w * y + np.sqrt(w * noise**2) * rng.normal(size=(draws, *truth.shape))


def test_the_batched_sampler_scores_like_the_study_sampler():
    """Same model, same held-out density (within Monte Carlo error)."""
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(-2, 0.5, (30, 2)), rng.normal(2, 0.5, (30, 2))]
    test = rng.normal(0, 2, (8, 2))
    ours = heldout_density(x[None], test[None], K=2, sigma=0.6, eta=3.0, iterations=600,
                           burn_in=200, chains=4, seed=1)[0]
    theirs = heldout_log_predictive(
        gibbs_mixture(x, K=2, sigma=0.6, eta=3.0, n_iter=600, n_chains=4, seed=2), test,
        burn_in=200).per_point
    np.testing.assert_allclose(ours, theirs, atol=0.1)
    # one sigma per data set: two data sets with two sigmas equal two separate calls
    both = heldout_density(np.stack([x, x]), np.stack([test, test]), K=1,
                           sigma=np.array([0.5, 2.0]), iterations=200, burn_in=50, seed=3)
    assert both[0].sum() < both[1].sum()  # test points far from the data prefer a wide sigma


def test_inputs_are_checked():
    with pytest.raises(ValueError, match="x_train"):
        heldout_density(np.zeros((3, 2)), np.zeros((1, 3, 2)), K=1, sigma=1.0)
    with pytest.raises(ValueError, match="sigma"):
        heldout_density(np.zeros((1, 3, 2)), np.zeros((1, 2, 2)), K=1, sigma=-1.0)
    with pytest.raises(ValueError, match="scale"):
        scaled_vectors(np.zeros((2, 5, 3)), np.array([1.0, 0.0, 1.0]), np.arange(3))
    with pytest.raises(ValueError, match="at least 2 training worksites"):
        cross_validate(np.zeros((2, 1, 3)), FAST)


def test_fewer_training_worksites_than_folds_are_left_out_one_at_a_time():
    """A campaign at validate's minimum (2 training worksites) is cross-validated leaving
    one out, whatever the configured folds: every worksite is scored once."""
    rng = np.random.default_rng(4)
    cv = cross_validate(rng.normal(size=(2, 3, 2)), replace(FAST, folds=5))
    assert set(cv["K"]) == set(FAST.Ks)
    assert all(len(p) == 3 and np.isfinite(p).all() for p in cv["cv_lpd_pointwise"])


def test_one_gaussian_of_any_shape_is_the_reference_posterior_predictive():
    """The baseline's density equals SciPy's multivariate t with ν = n − d, location x̄ and
    shape (n + 1) S / (n ν); with too few vectors for a covariance, independent univariate
    t's with ν = n − 1."""
    from scipy import stats

    rng = np.random.default_rng(7)
    train = rng.normal(size=(2, 30, 3)) @ np.array([[1.0, 0.6, 0.0], [0, 1, 0.3], [0, 0, 2]])
    test = rng.normal(size=(2, 4, 3))
    got = gaussian_heldout_density(train, test)
    for b in range(2):
        n, d = 30, 3
        centred = train[b] - train[b].mean(axis=0)
        shape = centred.T @ centred * (n + 1) / (n * (n - d))
        want = stats.multivariate_t(train[b].mean(axis=0), shape, df=n - d).logpdf(test[b])
        np.testing.assert_allclose(got[b], want, rtol=1e-9)
    few = train[:, :3]  # n = 3 ≤ d + 1
    got = gaussian_heldout_density(few, test)
    scale = np.sqrt(few.var(axis=1, ddof=1) * 4 / 3)[:, None]
    want = stats.t(df=2, loc=few.mean(axis=1)[:, None], scale=scale).logpdf(test).sum(axis=-1)
    np.testing.assert_allclose(got, want, rtol=1e-9)
    with pytest.raises(ValueError, match="at least 2"):
        gaussian_heldout_density(train[:, :1], test)
    with pytest.raises(ValueError, match="shaped"):
        gaussian_heldout_density(train, test[:, :, :2])


def test_one_elongated_gaussian_is_not_called_clustered():
    """Slopes from one strongly correlated Gaussian, which round mixtures can mimic: the
    held-out test against one Gaussian of any shape does not call clusters."""
    rng = np.random.default_rng(11)
    cov = np.array([[1.0, 0.9, 0.0, 0.0], [0.9, 1.0, 0.0, 0.0], [0, 0, 1.0, 0.0],
                    [0, 0, 0, 0.3]])
    slopes = rng.multivariate_normal(np.zeros(4), cov, size=(3, 90)) * TAU
    test = cluster_test(slopes, TAU, np.arange(70), np.arange(70, 90), FAST)
    assert test.verdict != CLUSTERS_SUPPORTED


def test_scaled_vectors_centre_on_training_sites_and_divide_by_the_spread():
    rng = np.random.default_rng(1)
    b = rng.normal(3.0, 1.0, (2, 10, 4)) * TAU
    v = scaled_vectors(b, TAU, np.arange(6))
    np.testing.assert_allclose(v[:, :6].mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(v * TAU + b[:, :6].mean(axis=1, keepdims=True), b)


def test_false_cluster_and_detection_rates_on_small_simulated_sets():
    """One Gaussian with unequal spreads, seen through noisy posterior draws: clusters are
    not called (an isotropic baseline on raw slopes would call them); two well-separated
    clusters are found by cross-validation."""
    rng = np.random.default_rng(2)
    n_sites, train = 60, np.arange(48)
    held = np.arange(48, 60)
    false, chosen_two = 0, 0
    for rep in range(6):
        noise = rng.uniform(0.2, 1.0, (n_sites, 1)) * TAU
        one = rng.normal(size=(n_sites, 4)) * TAU
        result = cluster_test(_posterior_draws(rng, one, noise, 3), TAU, train, held,
                              ClusterTestSettings(**{**FAST.__dict__, "seed": rep}))
        false += result.verdict == CLUSTERS_SUPPORTED
        side = np.where(np.arange(n_sites) % 2 == 0, 1.0, -1.0)[:, None]
        two = side * 1.2 * TAU + rng.normal(size=(n_sites, 4)) * 0.3 * TAU
        result = cluster_test(_posterior_draws(rng, two, 0.3 * noise, 3), TAU, train, held,
                              ClusterTestSettings(**{**FAST.__dict__, "seed": rep}))
        chosen_two += result.chosen_K >= 2 and result.two_difference > 0
    assert false <= 1
    assert chosen_two >= 5
