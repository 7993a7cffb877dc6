"""Disclosure control on a small simulated campaign: no count of workers below k is shown.

The campaign is small enough that many worksites have fewer than k signers, and
histogram bins hold one or two workers; every table and figure of the data
chapter, and the per-worksite and binned figures of the results chapter, are
built from it and checked.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from organizing.data import load_campaign
from organizing.data.disclosure import (
    merge_small_bins,
    pooled_rate,
    rate_shown,
    withhold_count,
    withhold_site_rates,
    withhold_small_bins,
)
from organizing.data.splits import study_split
from organizing.evaluation import calibration_table, site_rate_check
from organizing.features import build_design
from organizing.models import HEADLINE_MODEL, ModelId
from organizing.pipeline.data_summary import describe_data
from organizing.report import figures, tables
from organizing.simulate import simulate_campaign

K = 5


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small-campaign")
    simulate_campaign(n_sites=12, n_workers=400, seed=0).write(folder)
    return load_campaign(folder)


@pytest.fixture(scope="module")
def summary(campaign):
    return describe_data(campaign, build_design(campaign, drop_reference=True), K)


@pytest.fixture(scope="module")
def per_site(campaign):
    """The true counts behind every worksite's rate (computed here, not by the package)."""
    workers = np.bincount(campaign.site_index, minlength=campaign.n_sites)
    signed = np.bincount(campaign.site_index, campaign.signed, campaign.n_sites)
    return workers, signed


# ------------------------------------------------------------------ the rules


def test_rate_needs_k_signers_and_k_non_signers():
    signed = np.array([0, 4, 5, 5, 10, 15])
    workers = np.array([20, 20, 9, 10, 15, 15])
    np.testing.assert_array_equal(rate_shown(signed, workers, min_count=5),
                                  [False, False, False, True, True, False])
    assert rate_shown(1, 2, min_count=1)


def test_pooled_rate_follows_the_same_rule():
    assert pooled_rate([2, 2], [10, 10], min_count=5) is None  # 4 signers in the pool
    assert pooled_rate([3, 2], [10, 10], min_count=5) == pytest.approx(0.25)
    assert pooled_rate([], [], min_count=5) is None


def test_counts_below_k_are_withheld():
    assert withhold_count(3, min_count=5) is None
    assert withhold_count(0, min_count=5) == 0
    assert withhold_count(12345, min_count=5) == 12345


def test_merged_bins_keep_the_total_and_reach_k():
    rng = np.random.default_rng(1)
    counts, edges = np.histogram(rng.standard_cauchy(60), bins=40)
    assert (counts[counts > 0] < K).any()  # the raw histogram would disclose
    merged, new_edges = merge_small_bins(counts, edges, min_count=K)
    assert merged.sum() == counts.sum() and len(new_edges) == len(merged) + 1
    assert (merged[merged > 0] >= K).all()


# ----------------------------------------------------- the data summary itself


def test_summary_withholds_small_worksites_and_merges_bins(summary, per_site):
    workers, signed = per_site
    shown = (signed >= K) & (workers - signed >= K)
    assert shown.any() and (~shown).any()  # the campaign exercises both cases
    rates = summary.sites["signing rate"].to_numpy()
    np.testing.assert_allclose(rates[shown], signed[shown] / workers[shown])
    assert np.isnan(rates[~shown]).all()
    assert summary.sites["No. workers signed"][~shown].isna().all()
    assert summary.disclosure.rates_withheld == int((~shown).sum())
    pooled = summary.disclosure.pooled_rate
    pool_s, pool_n = signed[~shown].sum(), workers[~shown].sum()
    if pool_s >= K and pool_n - pool_s >= K:
        assert pooled == pytest.approx(pool_s / pool_n)
    else:
        assert pooled is None
    for name, histogram in summary.histograms.items():
        counts = histogram.counts
        assert (counts[counts > 0] >= K).all(), name
        assert counts.sum() == summary.n_workers
    assert sum(summary.disclosure.bins_merged.values()) > 0


# ---------------------------------------------------- what the book draws and prints


def test_site_rate_figure_draws_only_disclosable_worksites(summary, per_site):
    workers, signed = per_site
    shown = (signed >= K) & (workers - signed >= K)
    fig = figures.site_signing_rates(summary)
    left, right = fig.axes
    points = right.collections[0].get_offsets()
    assert len(points) == shown.sum()
    np.testing.assert_allclose(np.sort(np.asarray(points)[:, 1]),
                               np.sort(signed[shown] / workers[shown]))
    assert sum(p.get_height() for p in left.patches) == shown.sum()
    assert any("Not shown" in t.get_text() for t in fig.texts)


def test_feature_histograms_draw_no_bar_below_k(summary):
    fig = figures.worker_feature_distributions(summary)
    for ax in fig.axes:
        for patch in ax.patches:
            values = patch.get_data().values
            assert (values[values > 0] >= K).all(), ax.get_title()


def test_overview_table_prints_no_count_or_rate_below_k(summary, per_site):
    workers, signed = per_site
    fake = SimpleNamespace(data=summary, meta=SimpleNamespace(n_train=320, n_test=80))
    html = tables.data_overview(fake).as_raw_html()
    shown = (signed >= K) & (workers - signed >= K)
    allowed = {f"{100 * r:.1f}%" for r in (*signed[shown] / workers[shown],
                                           summary.signing_rate,
                                           summary.disclosure.pooled_rate or 0)}
    for rate in signed[~shown] / workers[~shown]:  # no withheld worksite's own rate
        text = f"{100 * rate:.1f}%"
        assert text not in html or text in allowed
    assert "rate withheld" in html
    if summary.unknown_gender < K:
        assert f"fewer than {K}" in html


def _ppc(campaign):
    _, test = study_split(campaign.n_workers)
    rng = np.random.default_rng(0)
    draws = rng.random((50, len(test))) < 0.2
    return site_rate_check(draws, campaign.signed[test], campaign.site_index[test],
                           campaign.n_sites)


def test_withheld_site_rates_never_leave_the_check(campaign):
    raw = _ppc(campaign)
    ppc = withhold_site_rates(raw, min_count=K)
    signers = np.rint(raw["observed"] * raw["workers"])
    shown = (signers >= K) & (raw["workers"] - signers >= K)
    assert (~shown).any() and shown.any()
    assert ppc["shown"].tolist() == shown.tolist()
    assert ppc.loc[~shown, "observed"].isna().all()  # what the cache holds
    assert ppc.loc[shown, "observed"].tolist() == raw.loc[shown, "observed"].tolist()
    assert ppc["inside"].tolist() == raw["inside"].tolist()


def test_ppc_figure_draws_only_the_rates_shown(campaign):
    ppc = withhold_site_rates(_ppc(campaign), min_count=K)
    ax = figures.ppc_worksites(ppc, min_count=K).axes[0]
    drawn = sum(len(line.get_xdata()) for line in ax.lines)
    assert drawn == ppc["shown"].sum()
    assert any(f"fewer than {K} signers" in t.get_text() for t in ax.get_legend().get_texts())


def test_reliability_figure_draws_no_bin_below_k(campaign):
    # equal-count bins hold fewer than k workers when the held-out part is small
    rng = np.random.default_rng(2)
    p = rng.random(36)
    small = calibration_table((rng.random(36) < p).astype(float), p)
    assert (small["count"] < K).all()
    large = calibration_table((rng.random(90) < 0.3).astype(float), rng.random(90))
    raw = pd.concat([small.head(3), large.tail(4)], ignore_index=True)
    table = withhold_small_bins(raw, min_count=K)
    assert table.loc[~table["shown"], ["observed", "count"]].isna().all().all()
    assert table["shown"].sum() == int((raw["count"] >= K).sum())
    curves = SimpleNamespace(calibration=table)
    evaluation = SimpleNamespace(curves={HEADLINE_MODEL: curves,
                                         ModelId.POOLED_LOGISTIC: curves})
    top, bottom = figures.reliability(evaluation).axes
    heights = [bar.get_height() for bar in bottom.patches]
    assert heights and min(heights) >= K
    assert len(heights) == int((raw["count"] >= K).sum())


def test_disclosure_table_reports_what_was_withheld(campaign, summary):
    ppc = withhold_site_rates(_ppc(campaign), min_count=K)
    calibration = withhold_small_bins(pd.DataFrame(
        {"predicted": [0.1, 0.5], "observed": [0.0, 0.5], "count": [3, 40]}), min_count=K)
    fake = SimpleNamespace(
        data=summary,
        evaluation=SimpleNamespace(ppc=ppc, curves={
            HEADLINE_MODEL: SimpleNamespace(calibration=calibration)}))
    html = tables.disclosure_table(fake).as_raw_html()
    assert f"{summary.disclosure.rates_withheld} of {summary.n_sites} worksites" in html
    assert "1 of 2 bins" in html
    for name, merged in summary.disclosure.bins_merged.items():
        assert f"{name}: {merged} of 40 bins merged" in html


def test_disclosure_record_survives_the_cache_format(summary):
    import json

    from organizing.results.codec import decode, encode
    from organizing.results.sections import DataSummary

    arrays: dict = {}
    tree = json.loads(json.dumps(encode(summary, arrays)))
    back = decode(DataSummary, tree, arrays)
    assert back.disclosure == summary.disclosure
    pd.testing.assert_series_equal(back.sites["signing rate"], summary.sites["signing rate"])


def test_no_single_workers_value_in_the_data_summary(campaign, summary):
    """The feature table gives the 1st and 99th percentiles, never a minimum or maximum;
    the histograms' edges are percentiles too, so the most notes about one worker (a
    known leader, say) appears nowhere in the summary."""
    assert {"p1", "p99"} <= set(summary.feature_summary.columns)
    assert not {"min", "max"} & set(summary.feature_summary.columns)
    stored = set(summary.feature_summary[["mean", "sd", "p1", "median", "p99"]]
                 .to_numpy().ravel().round(12))
    for j, feature in enumerate(campaign.worker_features):
        values = campaign.worker_x[:, j]
        for extreme in (values.min(), values.max()):
            if np.sum(values == extreme) < K:  # held by fewer than k workers
                assert round(float(extreme), 12) not in stored, feature
                if feature in summary.histograms:
                    assert extreme not in summary.histograms[feature].edges, feature
    notes = campaign.worker_x[:, list(campaign.worker_features).index("No. Notes")]
    assert np.sum(notes == notes.max()) < K  # the case the test is about is present
    assert summary.log_centrality_p1 == pytest.approx(np.percentile(
        campaign.worker_x[:, list(campaign.worker_features).index("Log(Eigen. Centrality)")], 1))
    assert sum(h.counts.sum() for h in summary.histograms.values()) == campaign.n_workers * len(
        summary.histograms)  # the tails are counted, in the end bins


def test_cluster_averages_follow_the_k_rule():
    """A cluster holding fewer worksites than the threshold prints no averages."""
    import numpy as np

    from organizing.clustering.summaries import features_by_cluster, withhold_small_clusters

    features = np.arange(24.0).reshape(12, 2)
    probabilities = np.zeros((12, 2))
    probabilities[:10, 0] = probabilities[10:, 1] = 1.0  # ten stores and two
    table = withhold_small_clusters(features_by_cluster(features, probabilities), 5)
    assert table.loc[0].notna().all()
    assert table.loc[1].drop("weight").isna().all() and table.loc[1, "weight"] == 2
