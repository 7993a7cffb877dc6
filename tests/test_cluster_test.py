"""The calibrated test of clusters (organizing.clustering.heldout_test) and the mixtures
it fits to each worksite's likelihood for its slopes (organizing.clustering.deconvolution)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.special import expit
from scipy.stats import multivariate_normal

from organizing.clustering.deconvolution import (
    DIAGONAL,
    FULL,
    Mixture,
    SlopeLikelihoods,
    component_means,
    fit_mixture,
    log_marginal,
    responsibilities,
    slope_likelihoods,
)
from organizing.clustering.heldout_test import (
    ClusterTestSettings,
    cluster_test,
    cross_validate,
)
from organizing.clustering.selection import CLUSTERS_SUPPORTED

FAST = ClusterTestSettings(Ks=(1, 2, 3), folds=3, restarts=2, iterations=150)
TAU = np.array([0.2, 0.6, 1.5, 0.4])


def _measured(rng, truth, information):
    """Gaussian measurements of each worksite's (scaled) slopes: y_s ~ N(b_s, H_s⁻¹), as
    likelihoods in information form (h_s = H_s y_s)."""
    S, d = truth.shape
    H = np.einsum("s,ij->sij", information, np.eye(d))
    y = truth + rng.standard_normal((S, d)) / np.sqrt(information)[:, None]
    return SlopeLikelihoods(H, np.einsum("sij,sj->si", H, y), y)


# --------------------------------------------------------------- each store's likelihood


def test_the_store_likelihood_is_the_logistic_likelihood_to_second_order():
    """Gradient and curvature of -1/2 b'Hb + h'b at the expansion point equal those of the
    Bernoulli log-likelihood (finite differences), in units of tau."""
    rng = np.random.default_rng(0)
    n, d = 60, 3
    x = rng.standard_normal((n, d))
    site = np.repeat([0, 1], n // 2)
    offset = rng.normal(-1.0, 0.3, n)
    expansion = rng.normal(0, 0.5, (2, d))
    scale = np.array([0.5, 1.0, 2.0])
    y = (rng.random(n) < expit(offset + (x * expansion[site]).sum(1))).astype(float)
    lik = slope_likelihoods(x, site, y, offset, expansion, scale)

    def loglik(b_scaled, s):
        rows = site == s
        eta = offset[rows] + x[rows] @ (b_scaled * scale)
        return float((y[rows] * eta - np.logaddexp(0, eta)).sum())

    for s in (0, 1):
        x0, eps = expansion[s] / scale, 1e-4
        grad = np.array([(loglik(x0 + eps * e, s) - loglik(x0 - eps * e, s)) / (2 * eps)
                         for e in np.eye(d)])
        hess = np.array([[(loglik(x0 + eps * (ei + ej), s) - loglik(x0 + eps * (ei - ej), s)
                           - loglik(x0 - eps * (ei - ej), s) + loglik(x0 - eps * (ei + ej), s))
                          / (4 * eps**2) for ej in np.eye(d)] for ei in np.eye(d)])
        np.testing.assert_allclose(lik.precision[s], -hess, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(lik.shift[s] - lik.precision[s] @ x0, grad, rtol=1e-5,
                                   atol=1e-6)


def test_bad_store_inputs_are_rejected_with_readable_messages():
    x, site, y = np.zeros((4, 2)), np.array([0, 0, 1, 1]), np.array([0.0, 1, 0, 1])
    good = dict(offset=np.zeros(4), expansion=np.zeros((2, 2)), scale=np.ones(2))
    with pytest.raises(ValueError, match="one value per worker"):
        slope_likelihoods(x, site[:3], y, **good)
    with pytest.raises(ValueError, match="expansion must be"):
        slope_likelihoods(x, site, y, **{**good, "expansion": np.zeros((2, 3))})
    with pytest.raises(ValueError, match="scale must be positive"):
        slope_likelihoods(x, site, y, **{**good, "scale": np.array([1.0, 0.0])})
    with pytest.raises(ValueError, match="site_index must index"):
        slope_likelihoods(x, np.array([0, 0, 1, 2]), y, **good)
    with pytest.raises(ValueError, match="signed must be 0 or 1"):
        slope_likelihoods(x, site, np.array([0.0, 1, 2, 1]), **good)


# ----------------------------------------------------------------- the marginal likelihood


def test_the_marginal_equals_numerical_integration_even_with_a_singular_curvature():
    """log ∫ N(b; μ, Σ) exp(-1/2 b'Hb + h'b) db on a 2-D grid, with H of rank one (a
    feature that does not vary inside the store)."""
    mu, cov = np.array([0.3, -0.5]), np.array([[0.8, 0.3], [0.3, 0.5]])
    H = np.array([[2.0, 0.0], [0.0, 0.0]])
    h = np.array([1.5, 0.0])
    grid = np.linspace(-7, 7, 701)
    b1, b2 = np.meshgrid(grid, grid, indexing="ij")
    points = np.stack([b1, b2], axis=-1)
    integrand = multivariate_normal(mu, cov).pdf(points) * np.exp(
        -0.5 * np.einsum("...i,ij,...j->...", points, H, points) + points @ h)
    numeric = np.log(integrand.sum() * (grid[1] - grid[0]) ** 2)
    lik = SlopeLikelihoods(H[None], h[None], np.zeros((1, 2)))
    mixture = Mixture(np.array([1.0]), mu[None], cov[None], 0.0)
    assert float(log_marginal(lik, mixture)[0]) == pytest.approx(numeric, abs=1e-6)
    # a second component with no weight changes nothing
    two = Mixture(np.array([1.0, 0.0]), np.stack([mu, mu + 3]), np.stack([cov, cov]), 0.0)
    assert float(log_marginal(lik, two)[0]) == pytest.approx(numeric, abs=1e-6)


# -------------------------------------------------------------------------- the mixture


def test_one_gaussian_is_deconvolved_not_inflated_by_the_noise():
    """Slopes from one Gaussian seen with noise as large as their spread: the fitted
    variance is the slopes' own, not slopes' plus noise."""
    rng = np.random.default_rng(1)
    truth = rng.standard_normal((400, 2)) * np.array([1.0, 0.5])
    lik = _measured(rng, truth, rng.uniform(0.5, 4.0, 400))
    fit = fit_mixture(lik, 1)
    np.testing.assert_allclose(np.diag(fit.covariances[0]), [1.0, 0.25], rtol=0.25)
    assert np.var(lik.expansion[:, 1]) > 1.8 * 0.25  # the raw estimates are far wider


def test_two_clusters_are_recovered_and_each_store_assigned():
    rng = np.random.default_rng(2)
    side = np.where(np.arange(200) % 2 == 0, 1.0, -1.0)
    truth = side[:, None] * np.array([1.5, -1.0]) + 0.3 * rng.standard_normal((200, 2))
    lik = _measured(rng, truth, np.full(200, 25.0))
    fit = fit_mixture(lik, 2, seed=3)
    order = np.argsort(fit.means[:, 0])
    np.testing.assert_allclose(fit.means[order], [[-1.5, 1.0], [1.5, -1.0]], atol=0.15)
    np.testing.assert_allclose(fit.weights, [0.5, 0.5], atol=0.08)
    labels = responsibilities(lik, fit).argmax(axis=1)
    assert np.mean((labels == order[1]) == (side > 0)) > 0.97
    means = component_means(lik, fit, feature_names=["a", "b"])
    assert list(means.columns) == ["cluster", "feature", "mean", "lower", "upper"]
    assert (means["lower"] < means["mean"]).all() and (means["mean"] < means["upper"]).all()
    # the intervals are those of a mean of 100 stores of spread about 0.36
    width = float((means["upper"] - means["lower"]).mean())
    assert 2 * 1.645 * 0.3 / 10 < width < 2 * 1.645 * 0.5 / 10


def test_em_never_lowers_the_fit_and_more_restarts_never_hurt():
    rng = np.random.default_rng(4)
    truth = np.r_[rng.normal(-1, 0.4, (40, 2)), rng.normal(1, 0.4, (40, 2))]
    lik = _measured(rng, truth, rng.uniform(1, 10, 80))
    by_iterations = [fit_mixture(lik, 3, iterations=i, restarts=1, tolerance=0, seed=5)
                     .log_likelihood for i in (1, 5, 20, 80)]
    assert np.all(np.diff(by_iterations) > -1e-6)
    assert (fit_mixture(lik, 3, restarts=6, seed=5).log_likelihood
            >= fit_mixture(lik, 3, restarts=1, seed=5).log_likelihood - 1e-6)


def test_bad_mixture_inputs_are_rejected_with_readable_messages():
    lik = _measured(np.random.default_rng(0), np.zeros((3, 2)), np.ones(3))
    with pytest.raises(ValueError, match="covariance must be"):
        fit_mixture(lik, 1, covariance="spherical")
    with pytest.raises(ValueError, match="at least 4 worksites"):
        fit_mixture(lik, 4)
    with pytest.raises(ValueError, match="K must be at least 1"):
        fit_mixture(lik, 0)
    with pytest.raises(ValueError, match="K must be an integer"):
        fit_mixture(lik, 1.5)
    with pytest.raises(ValueError, match="level"):
        component_means(lik, fit_mixture(lik, 1), level=1.5)


# ----------------------------------------------------------------------------- the test


def test_test_inputs_are_checked():
    lik = _measured(np.random.default_rng(0), np.zeros((10, 2)), np.ones(10))
    with pytest.raises(ValueError, match="at least 2 training worksites"):
        cross_validate(lik.subset([0]), FAST)
    with pytest.raises(ValueError, match="two held-out worksites"):
        cluster_test(lik, np.arange(9), np.array([9]), FAST)
    with pytest.raises(ValueError, match="must not overlap"):
        cluster_test(lik, np.arange(8), np.arange(7, 10), FAST)


def test_fewer_training_worksites_than_folds_leave_one_out():
    lik = _measured(np.random.default_rng(6), np.random.default_rng(7).normal(size=(3, 2)),
                    np.ones(3))
    cv = cross_validate(lik, replace(FAST, folds=5))
    assert np.isfinite(cv.loc[cv["K"] == 1, "cv_lpd"]).all()
    assert (cv.loc[cv["K"] == 3, "cv_lpd"] == -np.inf).all()  # 2 worksites cannot carry 3
    # the test reports the folds it used, not the folds asked for
    more = _measured(np.random.default_rng(9), np.zeros((5, 2)), np.ones(5))
    assert cluster_test(more, np.arange(3), np.arange(3, 5), replace(FAST, folds=5)).folds == 3
    assert cluster_test(more, np.arange(3), np.arange(3, 5), replace(FAST, folds=2)).folds == 2


def test_one_elongated_gaussian_is_not_called_clustered():
    """Slopes from one strongly correlated Gaussian, which diagonal mixtures can mimic: the
    held-out test against one Gaussian of any shape does not call clusters."""
    rng = np.random.default_rng(11)
    cov = np.array([[1.0, 0.9, 0.0, 0.0], [0.9, 1.0, 0.0, 0.0], [0, 0, 1.0, 0.0],
                    [0, 0, 0, 0.3]])
    truth = rng.multivariate_normal(np.zeros(4), cov, size=120)
    test = cluster_test(_measured(rng, truth, rng.uniform(1, 8, 120)), np.arange(100),
                        np.arange(100, 120), FAST)
    assert test.verdict != CLUSTERS_SUPPORTED


def test_false_cluster_and_detection_rates_on_small_simulated_sets():
    """One Gaussian, seen through heterogeneous noise (small and large stores): clusters
    are not called; two clusters of the same overall spread, as the error-rate stage
    plants them, are found when the stores are informative (the campaign's own stores are
    less so: the error-rate stage measures the rates there)."""
    rng = np.random.default_rng(2)
    n_sites, train, held = 100, np.arange(80), np.arange(80, 100)
    false, found = 0, 0
    for rep in range(5):
        information = rng.uniform(2.0, 20.0, n_sites)
        settings = replace(FAST, seed=rep)
        one = rng.standard_normal((n_sites, 4))
        false += cluster_test(_measured(rng, one, information), train, held,
                              settings).verdict == CLUSTERS_SUPPORTED
        side = np.where(rng.random(n_sites) < 0.5, 1.0, -1.0)[:, None]
        two = 0.9 * side + np.sqrt(1 - 0.9**2) * rng.standard_normal((n_sites, 4))
        found += cluster_test(_measured(rng, two, information), train, held,
                              settings).verdict == CLUSTERS_SUPPORTED
    assert false == 0
    assert found >= 4


def test_the_chosen_model_s_covariance():
    from organizing.clustering.heldout_test import ClusterTest

    def test(K):
        return ClusterTest(cv=None, chosen_K=K, one_cluster=FULL, difference=0.0,
                           difference_se=1.0, two_difference=0.0, two_difference_se=1.0,
                           verdict="no clusters", n_train=10, n_heldout=4, folds=2)

    assert test(1).covariance == FULL and test(3).covariance == DIAGONAL


def test_the_one_cluster_models_are_both_tried_and_named():
    rng = np.random.default_rng(8)
    lik = _measured(rng, rng.standard_normal((40, 2)), np.full(40, 3.0))
    cv = cross_validate(lik, FAST)
    assert set(zip(cv["K"], cv["covariance"], strict=True)) == {
        (1, DIAGONAL), (2, DIAGONAL), (3, DIAGONAL), (1, FULL)}
