"""Tests of the Gibbs mixture sampler, its held-out scores, the verdict and the summaries."""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from scipy.stats import dirichlet, norm
from sklearn.metrics import adjusted_rand_score

from organizing import clustering as cl

CENTERS = np.array([[3.0, 3.0, 0.0, 0.0], [-3.0, 0.0, 3.0, 0.0], [0.0, -3.0, -3.0, 3.0]])
SPREAD = 0.3


def simulate(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.arange(n) % len(CENTERS)
    rng.shuffle(truth)
    return CENTERS[truth] + SPREAD * rng.standard_normal((n, CENTERS.shape[1])), truth


@pytest.fixture(scope="module")
def separated():
    x, truth = simulate(90, seed=11)
    samples = cl.gibbs_mixture(x, K=3, sigma=SPREAD, eta=5.0, n_iter=200, n_chains=4, seed=3)
    return x, truth, samples


def relabel(samples: cl.MixtureSamples, perms: np.ndarray) -> cl.MixtureSamples:
    """Permute the labels of every draw: new label j holds old component perms[..., j]."""
    return cl.permute_labels(samples, perms)


# ----------------------------------------------------------------------------- sampler


def test_recovers_known_clusters(separated):
    x, truth, samples = separated
    assert samples.z.shape == (4, 200, 90)
    assert samples.mu.shape == (4, 200, 3, 4)
    assert samples.pi.shape == (4, 200, 3)
    assert samples.log_joint.shape == (4, 200)
    labels = cl.modal_assignments(samples, burn_in=50)
    assert adjusted_rand_score(truth, labels) > 0.99
    assert cl.sklearn_crosscheck(x, labels, K=3, seed=0) > 0.99
    # Every true center is matched by a posterior mean cluster mean.
    means = samples.mu[:, 50:].mean((0, 1))
    assert np.abs(means[:, None, :] - CENTERS[None]).max(-1).min(0).max() < 0.3


def test_labels_consistent_across_chains(separated):
    _, _, samples = separated
    per_chain = np.stack(
        [np.argmax((samples.z[c, 50:, :, None] == np.arange(3)).mean(0), axis=1) for c in range(4)]
    )
    assert np.all(per_chain == per_chain[0])
    # Same cluster, same mean in every chain, and the ordering is by size (ties broken by mu).
    chain_means = samples.mu[:, 50:].mean(1)
    assert np.abs(chain_means - chain_means[0]).max() < 0.3


def test_alignment_undoes_arbitrary_label_permutations(separated):
    x, _, _ = separated
    raw = cl.gibbs_mixture(
        x, K=3, sigma=SPREAD, eta=5.0, n_iter=200, n_chains=4, seed=3, align=False
    )
    rng = np.random.default_rng(0)
    perms = np.argsort(rng.random(raw.z.shape[:2] + (3,)), axis=-1)
    scrambled = relabel(raw, perms)
    first = cl.align_labels(raw)
    second = cl.align_labels(scrambled)
    np.testing.assert_array_equal(first.z, second.z)
    np.testing.assert_allclose(first.mu, second.mu)
    np.testing.assert_allclose(first.pi, second.pi)


def test_reference_order_is_by_cluster_size():
    rng = np.random.default_rng(5)
    sizes = np.array([10, 40, 25])
    x = np.concatenate(
        [c + 0.2 * rng.standard_normal((s, 4)) for c, s in zip(CENTERS, sizes, strict=True)]
    )
    samples = cl.gibbs_mixture(x, K=3, sigma=0.2, eta=5.0, n_iter=150, n_chains=2, seed=1)
    counts = np.bincount(cl.modal_assignments(samples, burn_in=50), minlength=3)
    np.testing.assert_array_equal(counts, np.sort(sizes)[::-1])


def test_log_joint_rises_to_a_plateau():
    # Surplus components (K = 8 for 3 clusters) make the chains climb for a while.
    x, _ = simulate(200, seed=11)
    samples = cl.gibbs_mixture(x, K=8, sigma=SPREAD, eta=5.0, n_iter=300, n_chains=4, seed=3)
    trace = samples.log_joint.mean(0)
    early, late = trace[:5].mean(), trace[-100:]
    rise = late.mean() - early
    assert rise > 5 * late.std()
    assert abs(late[:50].mean() - late[50:].mean()) < 0.1 * rise


def test_log_joint_matches_scipy():
    x, _ = simulate(12, seed=2)
    s = cl.gibbs_mixture(x, K=2, sigma=0.7, eta=2.0, alpha0=1.5, n_iter=5, n_chains=2, seed=4)
    c, t = 1, 3
    z, mu, pi = s.z[c, t], s.mu[c, t], s.pi[c, t]
    expected = (
        dirichlet.logpdf(pi, [1.5, 1.5])
        + norm.logpdf(mu, 0, 2.0).sum()
        + np.log(pi[z]).sum()
        + norm.logpdf(x, mu[z], 0.7).sum()
    )
    assert s.log_joint[c, t] == pytest.approx(expected, rel=1e-10)


def test_conditional_mean_update_shrinks_toward_prior():
    # One point, K = 1, sigma = eta: mu | x ~ N(x / 2, 1/2 * sigma^2 I).
    x = np.full((1, 3), 4.0)
    s = cl.gibbs_mixture(x, K=1, sigma=1.0, eta=1.0, n_iter=4000, n_chains=2, seed=0)
    draws = s.mu[..., 0, :].ravel()
    assert draws.mean() == pytest.approx(2.0, abs=0.03)
    assert draws.var() == pytest.approx(0.5, rel=0.05)


def test_seeds_reproduce_and_differ():
    x, _ = simulate(30, seed=1)
    kwargs = {"K": 3, "sigma": 0.5, "eta": 3.0, "n_iter": 30, "n_chains": 2}
    a = cl.gibbs_mixture(x, seed=7, **kwargs)
    b = cl.gibbs_mixture(x, seed=7, **kwargs)
    c = cl.gibbs_mixture(x, seed=8, **kwargs)
    for field in ("z", "mu", "pi", "log_joint"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.mu, c.mu)
    assert not np.array_equal(a.log_joint, c.log_joint)
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.mu, a.mu)


# ----------------------------------------------------------------------------- held-out density


def tiny_fit():
    rng = np.random.default_rng(9)
    x_train = rng.normal(size=(8, 2))
    x_test = rng.normal(size=(3, 2))
    samples = cl.gibbs_mixture(x_train, K=2, sigma=0.8, eta=1.0, n_iter=6, n_chains=2, seed=2)
    return samples, x_test


def test_heldout_matches_brute_force():
    samples, x_test = tiny_fit()
    burn_in, sigma = 2, 0.8
    result = cl.heldout_log_predictive(samples, x_test, sigma=sigma, burn_in=burn_in)
    expected = []
    for point in x_test:
        densities = []
        for c in range(samples.n_chains):
            for t in range(burn_in, samples.n_iter):
                mixture = 0.0
                for k in range(samples.K):
                    mixture += samples.pi[c, t, k] * np.prod(
                        norm.pdf(point, loc=samples.mu[c, t, k], scale=sigma)
                    )
                densities.append(mixture)
        expected.append(np.log(np.mean(densities)))
    np.testing.assert_allclose(result.per_point, expected, rtol=1e-10)
    assert result.total == pytest.approx(sum(expected), rel=1e-10)
    # sigma defaults to the one the samples were drawn with.
    default = cl.heldout_log_predictive(samples, x_test, burn_in=burn_in)
    np.testing.assert_allclose(default.per_point, result.per_point)


# A transcription of the study's code (rfspringer/walmart-modelling-bayesian, clustering.py at
# d4f2f7f, lines 101-146), kept as written apart from names: the reference for the port.


def study_log_prior(proportions, means, params):
    log_prob = 0
    for k in range(params["K"]):
        f = lambda x: scipy.stats.norm.logpdf(x, loc=0, scale=params["eta"])  # noqa: E731
        log_prob += f(means[k]).sum()
    alpha = np.full(params["K"], params["alpha_0"])
    log_prob += scipy.stats.dirichlet.logpdf(proportions, alpha)
    return log_prob


def study_held_out_log_likelihood(new_data, means, proportions, params):
    probs = []
    for i in range(len(new_data)):
        log_local_likelihood = 0
        for k in range(params["K"]):
            f = lambda x: scipy.stats.norm.logpdf(x, loc=means[k], scale=params["sigma"])  # noqa: E731, B023
            log_local_cluster_likelihood = np.log(proportions[k]) + f(new_data[i])
            log_local_likelihood = np.logaddexp(log_local_likelihood, log_local_cluster_likelihood)
        probs.append(log_local_likelihood + study_log_prior(proportions, means, params))
    probs = np.array(probs)
    max_val = np.max(probs)
    shifted_arr = probs - max_val
    result = max_val + np.log(np.sum(np.exp(shifted_arr)))
    return result, probs


@pytest.mark.parametrize(
    ("K", "sigma", "alpha0", "chain"), [(2, 0.8, 1.0, 1), (3, 0.3, 1.5, 0), (2, 1e-4, 1.0, 0)]
)
def test_study_score_matches_a_transcription_of_its_loop(K, sigma, alpha0, chain):
    rng = np.random.default_rng(9)
    x_train, x_test = rng.normal(size=(10, 3)), rng.normal(size=(4, 3))
    samples = cl.gibbs_mixture(
        x_train, K=K, sigma=sigma, eta=1.0, alpha0=alpha0, n_iter=6, n_chains=2, seed=2
    )
    params = {"K": K, "sigma": sigma, "eta": 1.0, "alpha_0": alpha0}
    expected, probs = study_held_out_log_likelihood(
        x_test, samples.mu[chain, -1], samples.pi[chain, -1], params
    )
    score = cl.study_heldout_log_likelihood(samples, x_test, chain=chain)
    assert score.entries.shape == (4, 3)  # one entry per held-out point and coordinate
    np.testing.assert_allclose(score.entries, probs, rtol=1e-12)
    assert score.total == pytest.approx(expected, rel=1e-12)
    assert score.log_prior == pytest.approx(
        study_log_prior(samples.pi[chain, -1], samples.mu[chain, -1], params), rel=1e-12
    )


def test_study_score_is_the_prior_when_the_density_vanishes():
    samples, x_test = tiny_fit()
    tight = cl.gibbs_mixture(samples.x, K=2, sigma=1e-4, n_iter=3, n_chains=1, seed=0)
    score = cl.study_heldout_log_likelihood(tight, x_test)
    prior = cl.log_prior(tight.pi[0, -1], tight.mu[0, -1], eta=0.1, alpha0=1.0)
    # log p(pi, mu) + log(m d): one draw's prior density, whatever the held-out data.
    assert score.total == pytest.approx(prior + np.log(x_test.size), rel=1e-12)
    assert cl.heldout_log_predictive(tight, x_test, burn_in=0).total < -1e6

# ----------------------------------------------------------------------------- selection


def test_select_mixture_table():
    x, _ = simulate(120, seed=4)
    grid = cl.sigma_grid(x[:100], n_above=3)
    assert set(cl.STUDY_SIGMA_SWEEP) <= set(grid)
    assert grid.max() > x[:100].std()
    table = cl.select_mixture(
        x[:100], x[100:], sigmas=grid, Ks=[1, 2, 3, 4], eta=5.0, n_iter=120, n_chains=2, seed=0
    )
    assert len(table) == len(grid) * 4
    assert {"sigma", "K", "heldout_lpd", "log_joint_end", "study_heldout"} <= set(table.columns)
    np.testing.assert_allclose(table["heldout_lpd"], 20 * table["heldout_lpd_per_point"])
    pointwise = np.stack(table["heldout_lpd_pointwise"])
    assert pointwise.shape == (len(table), 20)
    np.testing.assert_allclose(pointwise.sum(1), table["heldout_lpd"])
    verdict = cl.cluster_verdict(table)
    assert verdict.verdict == cl.CLUSTERS_SUPPORTED
    assert verdict.K == 3  # three true clusters
    assert 0.1 < verdict.sigma < 1.0
    # The tiny sigmas of the study's sweep predict held-out points terribly.
    assert table.loc[table["sigma"] == 1e-4, "heldout_lpd"].max() < table["heldout_lpd"].max() - 1e3


def two_clusters(n: int, seed: int, separation: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centre = np.zeros(5)
    centre[:2] = separation / 2
    signs = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)[:, None]
    return signs * centre + 0.5 * rng.standard_normal((n, 5))


@pytest.mark.parametrize(
    ("separation", "expected_K", "expected"),
    [(4.0, 2, cl.CLUSTERS_SUPPORTED), (0.0, 1, cl.NO_CLUSTERS)],
)
def test_paired_verdict_on_simulated_sets(separation, expected_K, expected):
    x = two_clusters(100, seed=21, separation=separation)
    table = cl.select_mixture(
        x[:70], x[70:], sigmas=[0.3, 0.5, 0.8, 1.5], Ks=[1, 2, 3], eta=3.0,
        n_iter=100, n_chains=2, seed=0,
    )
    verdict = cl.cluster_verdict(table)
    assert (verdict.verdict, verdict.K) == (expected, expected_K)
    assert verdict.n_heldout == 30
    assert list(verdict.table["K"]) == [1, 2, 3]
    assert verdict.table.loc[verdict.table["K"] == 1, "diff_vs_one"].item() == 0.0


def hand_table(pointwise: dict[tuple[float, int], list[float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"sigma": s, "K": k, "heldout_lpd": float(np.sum(p)),
             "heldout_lpd_pointwise": np.asarray(p, dtype=float)}
            for (s, k), p in pointwise.items()
        ]
    )


def test_paired_standard_error_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    one = rng.normal(-6.0, 2.0, size=20)
    two = one + rng.normal(0.2, 0.3, size=20)  # better at most points, correlated with K = 1
    table = hand_table({(0.5, 1): one, (1.0, 1): one - 1, (0.5, 2): two, (1.0, 2): two - 3})
    verdict = cl.cluster_verdict(table)
    diff = two - one
    se = np.sqrt(sum((d - diff.mean()) ** 2 for d in diff) / 19) * np.sqrt(20)
    assert verdict.difference == pytest.approx(diff.sum())
    assert verdict.difference_se == pytest.approx(se)
    assert cl.paired_difference(two, one) == pytest.approx((diff.sum(), se))
    # Unpaired, the totals' standard errors dwarf the difference; paired, it is clear.
    assert verdict.table["heldout_lpd_se"].min() > diff.sum()
    assert verdict.verdict == cl.CLUSTERS_SUPPORTED and verdict.K == 2
    assert (verdict.sigma, verdict.best_sigma) == (0.5, 0.5)
    assert verdict.runner_up_K == 1
    assert verdict.runner_up_difference == pytest.approx(diff.sum())
    np.testing.assert_allclose(verdict.pointwise, [one, two])


@pytest.mark.parametrize(
    ("shift", "expected", "chosen_K"),
    [
        (3.0, cl.CLUSTERS_SUPPORTED, 2),
        (1.5, cl.INCONCLUSIVE, 1),
        (0.5, cl.NO_CLUSTERS, 1),
        (-1.0, cl.NO_CLUSTERS, 1),
    ],
)
def test_verdict_thresholds(shift, expected, chosen_K):
    # Differences d_j = c + e_j with sum(e) = 0 and sd(e) = 1: difference / se = c sqrt(m).
    m = 16
    e = np.tile([1.0, -1.0], m // 2) * np.sqrt((m - 1) / m)
    c = shift / np.sqrt(m)
    one = np.linspace(-3, -1, m)
    table = hand_table({(1.0, 1): one, (1.0, 2): one + c + e, (1.0, 3): one + c + e - 0.01})
    verdict = cl.cluster_verdict(table)
    two = verdict.table.set_index("K").loc[2]
    assert two["diff_vs_one"] / two["diff_vs_one_se"] == pytest.approx(shift)
    assert (verdict.verdict, verdict.K) == (expected, chosen_K)
    assert verdict.best_K == (1 if shift < 0 else 2)


# ----------------------------------------------------------------------------- assignments


def test_coassignment_and_probabilities(separated):
    _, truth, samples = separated
    co = cl.coassignment(samples, burn_in=50)
    probs = cl.assignment_probabilities(samples, burn_in=50)
    assert co.shape == (90, 90)
    np.testing.assert_allclose(np.diag(co), 1.0)
    np.testing.assert_allclose(co, co.T)
    np.testing.assert_allclose(probs.sum(1), 1.0)
    same = truth[:, None] == truth[None, :]
    assert co[same].min() > 0.95
    assert co[~same].max() < 0.05


def test_coassignment_brute_force():
    samples, _ = tiny_fit()
    z = samples.z[:, 2:].reshape(-1, samples.z.shape[-1])
    expected = np.array([[np.mean(z[:, i] == z[:, j]) for j in range(8)] for i in range(8)])
    np.testing.assert_allclose(cl.coassignment(samples, burn_in=2), expected)


# ----------------------------------------------------------------------------- interpretation


def test_features_by_cluster():
    features = np.array([[1.0, 10.0], [3.0, 20.0], [5.0, 30.0], [7.0, 40.0]])
    probs = np.array([[1.0, 0.0], [0.8, 0.2], [0.0, 1.0], [0.5, 0.5]])
    soft = cl.features_by_cluster(features, probs, feature_names=["a", "b"])
    np.testing.assert_allclose(soft.loc[0, "a"], (1 + 0.8 * 3 + 0.5 * 7) / 2.3)
    np.testing.assert_allclose(soft["weight"], [2.3, 1.7])
    modal = cl.features_by_cluster(features, probs, modal=True)
    # Ties (row 3) go to the first cluster.
    np.testing.assert_allclose(modal.loc[0, "0"], (1 + 3 + 7) / 3)
    np.testing.assert_allclose(modal.loc[1, "1"], 30.0)


# ----------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("x", "kwargs", "message"),
    [
        (np.zeros(5), {}, "2-D"),
        (np.zeros((5, 2)), {"K": 0}, "K must be at least 1"),
        (np.zeros((5, 2)), {"K": 1.5}, "K must be an integer"),
        (np.zeros((5, 2)), {"sigma": 0.0}, "sigma must be a positive"),
        (np.zeros((5, 2)), {"sigma": -1.0}, "sigma must be a positive"),
        (np.zeros((5, 2)), {"eta": np.nan}, "eta must be a positive"),
        (np.array([[0.0, np.nan], [1.0, 1.0]]), {}, "NaN"),
        (np.zeros((5, 2)), {"n_iter": 0}, "n_iter must be at least 1"),
    ],
)
def test_bad_inputs_raise(x, kwargs, message):
    arguments = {"K": 2, "sigma": 1.0} | kwargs
    with pytest.raises(ValueError, match=message):
        cl.gibbs_mixture(x, **arguments)


def test_bad_heldout_and_helper_inputs():
    samples, x_test = tiny_fit()
    with pytest.raises(ValueError, match="columns"):
        cl.heldout_log_predictive(samples, np.zeros((3, 5)), burn_in=1)
    with pytest.raises(ValueError, match="burn_in"):
        cl.heldout_log_predictive(samples, x_test, burn_in=6)
    with pytest.raises(ValueError, match="NaN"):
        cl.heldout_log_predictive(samples, np.full((2, 2), np.nan), burn_in=1)
    with pytest.raises(ValueError, match="K = 1"):
        cl.cluster_verdict(hand_table({(1.0, 2): [0.0, 1.0]}))
    with pytest.raises(ValueError, match="lacks columns"):
        cl.cluster_verdict(pd.DataFrame({"sigma": [1.0], "K": [1], "heldout_lpd": [0.0]}))
    with pytest.raises(ValueError, match="same length"):
        cl.paired_difference(np.zeros(3), np.zeros(4))


# ----------------------------------------------------------------------------- benchmark reference


def test_loop_reference_is_the_same_algorithm():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_clustering.py"
    spec = importlib.util.spec_from_file_location("bench_clustering", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    x, truth = simulate(30, seed=12)
    z, mu, pi, log_joint = bench.gibbs_mixture_loop(x, K=3, sigma=SPREAD, eta=5.0, n_iter=25)
    assert adjusted_rand_score(truth, z[-1]) > 0.99
    # Its log joint at the final state agrees with the vectorized formula.
    expected = (
        cl.log_prior(pi[-1], mu[-1], eta=5.0, alpha0=1.0)
        + np.log(pi[-1][z[-1]]).sum()
        + norm.logpdf(x, mu[-1][z[-1]], SPREAD).sum()
    )
    assert log_joint[-1] == pytest.approx(expected, rel=1e-10)
