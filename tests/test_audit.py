"""Verdicts on the study's claims, the variance decomposition and disclosure control."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from organizing import audit
from organizing.data.disclosure import merge_small_bins
from organizing.models import ModelId


@pytest.mark.parametrize(("effect", "sign", "expected"), [
    (1.0, +1, "supported"),       # clearly positive, claimed positive
    (1.0, -1, "contradicted"),    # clearly positive, claimed negative
    (0.05, +1, "inconclusive"),   # too small to tell from its uncertainty
])
def test_a_known_effect_gets_the_right_verdict(effect, sign, expected):
    """Posterior draws of a coefficient with a known effect and sd 0.3."""
    rng = np.random.default_rng(1)
    draws = rng.normal(effect, 0.3, 4000)
    worksite = pd.DataFrame([{"feature": f, "mean": draws.mean(),
                              "q5": np.quantile(draws, 0.05), "q95": np.quantile(draws, 0.95),
                              "prob_positive": (draws > 0).mean()}
                             for f, _, _ in audit.PUBLISHED_FEATURE_CLAIMS])
    variance = pd.DataFrame([{"term": "features: worksite minus worker", "mean": 0.0,
                              "q5": -1.0, "q95": 1.0, "prob_positive": 0.5}])
    association = {"notes": draws, "early_contact": draws}
    table = audit.claims_table(ModelId.HEADLINE, worksite, variance, association)
    for feature, claimed, claim in audit.PUBLISHED_FEATURE_CLAIMS:
        row = table.set_index("claim").loc[claim]
        verdict = expected if claimed == sign or expected == "inconclusive" else {
            "supported": "contradicted", "contradicted": "supported"}[expected]
        assert row["verdict"] == verdict, feature
        assert 0 <= row["prob_claimed"] <= 1
    assert table.set_index("claim").loc[
        "Worksite features predict signing better than individual ones", "verdict"] == (
        "inconclusive")


def test_verdict_thresholds_are_symmetric():
    assert audit.verdict(audit.SUPPORT_THRESHOLD) == "supported"
    assert audit.verdict(1 - audit.SUPPORT_THRESHOLD) == "contradicted"
    assert audit.verdict(0.5) == "inconclusive"


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
