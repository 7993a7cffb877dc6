"""The variance decomposition and disclosure control (verdicts: tests/test_claims.py)."""

from __future__ import annotations

import numpy as np
import pytest

from organizing import audit
from organizing.data.disclosure import merge_small_bins
from organizing.models import ModelId


def test_variance_decomposition_matches_a_direct_computation():
    rng = np.random.default_rng(2)
    n_draws, n_sites, q, p, n = 50, 6, 3, 2, 120
    site_x, worker_x = rng.normal(size=(n_sites, q)), rng.normal(size=(n, p))
    site_index = rng.integers(0, n_sites, n)
    draws = {"alpha": rng.normal(size=n_draws), "beta_group": rng.normal(size=(n_draws, q)),
             "site_effect": rng.normal(size=(n_draws, n_sites)),
             "site_scale": np.ones(n_draws),
             "beta_individual": rng.normal(size=(n_draws, n_sites, p))}
    table = audit.variance_decomposition(ModelId.HEADLINE, draws, site_x, worker_x, site_index)
    terms = table.set_index("term")["mean"]
    site = np.mean([np.std(site_x[site_index] @ draws["beta_group"][d]) for d in range(n_draws)])
    worker = np.mean([np.std((worker_x * draws["beta_individual"][d][site_index]).sum(1))
                      for d in range(n_draws)])
    intercept = np.mean([np.std(draws["site_effect"][d][site_index]) for d in range(n_draws)])
    assert terms["worksite features"] == pytest.approx(site)
    assert terms["worker features"] == pytest.approx(worker)
    assert terms["worksite intercepts"] == pytest.approx(intercept)
    assert terms["features: worksite minus worker"] == pytest.approx(site - worker)


def test_variance_decomposition_counts_worksite_means_as_worker_features():
    """In the headline design the worksite means of worker features are worker terms."""
    rng = np.random.default_rng(4)
    n_draws, n_sites, q, p, n = 40, 6, 3, 2, 120
    site_x, worker_x = rng.normal(size=(n_sites, q + p)), rng.normal(size=(n, p))
    site_index = rng.integers(0, n_sites, n)
    composition = np.array([False] * q + [True] * p)
    draws = {"alpha": rng.normal(size=n_draws), "beta_group": rng.normal(size=(n_draws, q + p)),
             "beta_individual": rng.normal(size=(n_draws, n_sites, p))}
    table = audit.variance_decomposition(ModelId.EXTENDED, draws, site_x, worker_x, site_index,
                                         composition=composition).set_index("term")["mean"]
    own = [np.std(site_x[site_index][:, :q] @ draws["beta_group"][d, :q])
           for d in range(n_draws)]
    mix = [site_x[site_index][:, q:] @ draws["beta_group"][d, q:] for d in range(n_draws)]
    worker = [np.std(mix[d] + (worker_x * draws["beta_individual"][d][site_index]).sum(1))
              for d in range(n_draws)]
    assert table["worksite features"] == pytest.approx(np.mean(own))
    assert table["worker composition"] == pytest.approx(np.mean([np.std(m) for m in mix]))
    assert table["worker features"] == pytest.approx(np.mean(worker))
    assert "worksite intercepts" not in table


@pytest.mark.parametrize("seed", range(5))
def test_merged_histogram_has_no_small_bins(seed):
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.normal(size=60), rng.normal(8, 0.1, 3)])  # a tiny far group
    counts, edges = np.histogram(values, bins=40)
    merged, new_edges = merge_small_bins(counts, edges, min_count=5)
    assert merged.sum() == counts.sum()
    assert len(new_edges) == len(merged) + 1
    assert np.all((merged == 0) | (merged >= 5))
    assert new_edges[0] == edges[0] and new_edges[-1] == edges[-1]
    assert np.all(np.diff(new_edges) > 0)
