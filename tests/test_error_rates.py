"""The error-rate stage's simulators and summaries (organizing.error_rates)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from organizing.clustering.selection import CLUSTERS_SUPPORTED, NO_CLUSTERS
from organizing.error_rates import planted_truth, summarize_campaigns, upper_bound


@pytest.mark.parametrize(("hits", "n"), [(0, 30), (1, 20), (3, 40), (19, 20)])
def test_upper_bound_is_the_exact_one_sided_bound(hits, n):
    # a one-sided 95% bound is the upper end of the two-sided 90% Clopper-Pearson interval
    reference = binomtest(hits, n).proportion_ci(confidence_level=0.90, method="exact").high
    assert upper_bound(hits, n) == pytest.approx(reference, rel=1e-9)


def test_upper_bound_edges_and_bad_input():
    assert upper_bound(0, 30) == pytest.approx(1 - 0.05 ** (1 / 30))  # ≈ 3/30
    assert upper_bound(5, 5) == 1.0
    with pytest.raises(ValueError, match="hits must lie in"):
        upper_bound(4, 3)


def test_summary_counts_each_kind_of_campaign_apart():
    campaigns = pd.DataFrame({
        "kind": ["null"] * 4 + ["planted"] * 2,
        "false_verdicts": [0, 2, 1, 1, 0, 0],
        "cluster_verdict": [NO_CLUSTERS, CLUSTERS_SUPPORTED, NO_CLUSTERS, NO_CLUSTERS,
                            CLUSTERS_SUPPORTED, NO_CLUSTERS],
        "two_clusters": ["inconclusive", "supported", "", "", "", ""]})
    s = summarize_campaigns(campaigns)
    assert (s["null_campaigns"], s["planted_campaigns"]) == (4, 2)
    assert s["false_verdicts_mean"] == 1.0
    assert s["false_verdicts_se"] == pytest.approx(np.std([0, 2, 1, 1], ddof=1) / 2)
    assert s["false_cluster_rate"] == 0.25
    assert s["false_cluster_se"] == pytest.approx(np.sqrt(0.25 * 0.75 / 4))
    assert s["false_cluster_upper"] == pytest.approx(upper_bound(1, 4))
    assert s["detection_rate"] == 0.5 and s["false_two_cluster_rate"] == 0.25


def test_planted_clusters_split_by_size_keep_the_fitted_spread():
    rng = np.random.default_rng(0)
    n_sites, tau = 4000, np.array([0.5, 1.5])
    draws = {"beta_individual_mean": np.tile([0.2, -0.1], (3, 1)),
             "beta_individual_scale": np.tile(tau, (3, 1)), "alpha": np.zeros(3),
             "beta_group": np.zeros((3, 2)), "site_scale": np.ones(3)}
    design = SimpleNamespace(site_x=np.zeros((n_sites, 2)))
    size = rng.normal(size=n_sites)
    truth = planted_truth(draws, design, size, rng, separation=0.9)
    large = size > np.median(size)
    np.testing.assert_allclose(truth.slopes.std(axis=0), tau, rtol=0.05)
    np.testing.assert_allclose(truth.slopes[large].mean(0) - truth.slopes[~large].mean(0),
                               2 * 0.9 * tau, rtol=0.05)
