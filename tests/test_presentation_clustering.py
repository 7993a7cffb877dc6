"""The clustering chapter's tables, figures and sentences, built from real cached results."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from organizing.clustering import HeldoutDensity
from organizing.data import SITE_DESCRIPTORS, WORKER_FEATURES
from organizing.report import figures, narrative, tables


@pytest.fixture(scope="session")
def r(quick_results):
    return quick_results


@pytest.fixture(scope="session")
def two_clusters(r):
    """The real results with the corrected clustering replaced by a constructed K = 2 one."""
    fake = copy.copy(r)
    clusters = dict(r.clustering)
    n = len(clusters["modal"])
    modal = np.arange(n) % 2
    probabilities = np.where(modal[:, None] == np.arange(2), 0.9, 0.1)
    matrix = np.where(modal[:, None] == modal[None, :], 0.85, 0.2)
    np.fill_diagonal(matrix, 1.0)
    means = clusters["cluster_means"].copy()
    means = pd.concat([means, means.assign(cluster=1, mean=-means["mean"])], ignore_index=True)
    by_cluster = pd.concat([clusters["features_by_cluster"]] * 2, ignore_index=True)
    by_cluster.index.name = "cluster"
    clusters.update(
        modal=modal,
        assignment_probabilities=probabilities,
        over_draws=SimpleNamespace(coassignment=matrix),
        cluster_means=means,
        features_by_cluster=by_cluster,
    )
    fake.clustering = clusters
    return fake


def _text(gt) -> str:
    return gt.as_raw_html()


# ------------------------------------------------------------------------------ tables


def test_selection_table(r):
    html = _text(tables.clustering_selection(r))
    assert "Published coefficients" in html and "Corrected coefficients" in html
    assert html.count(">chosen") == 2
    K_grid = r.meta["config"]["clustering"]["K_grid"]
    assert html.count("<tr") >= 2 * len(K_grid)


def test_chosen_mark():
    chosen = {"K": 2, "sigma": 0.5}
    assert tables._chosen_mark(chosen, 1, 0.5) == ""
    assert tables._chosen_mark(chosen, 2, 0.5) == "chosen"
    assert tables._chosen_mark(chosen, 2, 0.1) == "chosen, at σ = 0.5"


def test_cluster_features_table(r, two_clusters):
    html = _text(tables.cluster_features(r))
    assert "Worksites (expected number)" in html and "Cluster 1" in html
    for name in SITE_DESCRIPTORS:
        assert name in html
    assert "Cluster 2" in _text(tables.cluster_features(two_clusters))


# ----------------------------------------------------------------------------- figures


def test_logjoint_figure(r):
    fig = figures.clustering_logjoint(r)
    axes = fig.get_axes()
    assert len(axes) == 2
    chains = r.clustering["study"]["samples"].log_joint.shape[0]
    for ax in axes:
        assert ax.get_xlabel() == "Gibbs sweep"
        assert len(ax.get_lines()) == chains + 1  # one per chain and the burn-in line


def test_selection_figure(r):
    fig = figures.clustering_selection(r)
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["Published coefficients", "Corrected coefficients"]
    for ax in axes:
        assert ax.get_xscale() == "log" and ax.get_yscale() == "symlog"
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "chosen" in labels and "K = 1" in labels


def test_symlog_ticks():
    ticks = figures._symlog_ticks([-1e9, -50.0, 300.0], linthresh=10.0)
    assert 0.0 in ticks and ticks == sorted(ticks)
    assert sum(t < 0 for t in ticks) <= 4 and sum(t > 0 for t in ticks) <= 4


def test_cluster_means_figure(r, two_clusters):
    ax = figures.cluster_means(r).get_axes()[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(WORKER_FEATURES)
    ax = figures.cluster_means(two_clusters).get_axes()[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["cluster 1", "cluster 2"]


def test_coassignment_figure(r, two_clusters):
    n = len(r.clustering["modal"])
    ax = figures.coassignment_heatmap(r).get_axes()[0]
    assert ax.get_images()[0].get_array().shape == (n, n)
    ax = figures.coassignment_heatmap(two_clusters).get_axes()[0]
    image = np.asarray(ax.get_images()[0].get_array())
    assert image[0, 0] == 1.0 and image[0, -1] == pytest.approx(0.2)  # ordered by cluster
    assert len(ax.get_lines()) == 2  # one boundary, horizontal and vertical


def test_size_association_figure(r):
    axes = figures.size_association(r).get_axes()
    assert len(axes) == 2
    for ax in axes:
        assert ax.get_xlabel() == "correlation with log(workers discovered)"
        assert ax.get_xlim()[0] < 0 < ax.get_xlim()[1]


# --------------------------------------------------------------------------- narrative


def test_setting_and_log_density():
    assert narrative.setting(1e-4) == "10⁻⁴"
    assert narrative.setting(2.5e-3) == "2.5 × 10⁻³"
    assert narrative.setting(1.8587) == "1.86"
    assert narrative.setting(0.1) == "0.1"
    assert narrative.log_density(-4128209.2) == "−4,128,209"
    assert narrative.log_density(383.49) == "383.5"


def test_coefficient_scale():
    assert narrative.coefficient_scale(np.array([[1.0, 5.0], [-1.0, 3.0]])) == pytest.approx(1.0)


def test_clusters_found_and_grid_edge():
    assert "no support" in narrative.clusters_found(1)
    assert "support 3 distinct" in narrative.clusters_found(3)
    table = pd.DataFrame({"sigma": [0.1, 1.0, 10.0]})
    assert "largest" in narrative.grid_edge(table, 10.0)
    assert "smallest" in narrative.grid_edge(table, 0.1)
    assert narrative.grid_edge(table, 1.0) == ""


def test_sklearn_agreement():
    assert "automatic" in narrative.sklearn_agreement(1.0, 1)
    assert "close" in narrative.sklearn_agreement(0.9, 2)
    assert "partial" in narrative.sklearn_agreement(0.5, 2)
    assert "poor" in narrative.sklearn_agreement(0.1, 3)


def test_probability():
    assert narrative.probability(1.0) == "more than 99%"
    assert narrative.probability(0.0) == "less than 1%"
    assert narrative.probability(0.42) == "42%"


def test_gibbs_mixing():
    frozen = SimpleNamespace(z=np.zeros((2, 10, 5), dtype=int),
                             log_joint=np.array([[-10.0] * 10, [-30.0] * 10]))
    assert "no worksite ever changes" in narrative.gibbs_mixing(frozen, 5)
    assert "20.0 apart" in narrative.gibbs_mixing(frozen, 5)
    moving = SimpleNamespace(z=np.tile([0, 1], (2, 5, 1)).transpose(0, 2, 1).reshape(2, 10, 1),
                             log_joint=np.zeros((2, 10)))
    assert "still move" in narrative.gibbs_mixing(moving, 0)


def test_flawed_score():
    same = HeldoutDensity(per_point=np.full(4, 19.2), total=76.8)
    assert "same value, 19.2" in narrative.flawed_score(same)
    spread = HeldoutDensity(per_point=np.array([1.0, 5.0]), total=6.0)
    assert "range from 1.0 to 5.0" in narrative.flawed_score(spread)


@pytest.mark.parametrize(
    ("p", "words"),
    [(0.99, "clearly positive"), (0.9, "leans positive"), (0.5, "no clear sign"),
     (0.1, "leans negative"), (0.01, "clearly negative")],
)
def test_association_direction(p, words):
    draws = np.where(np.arange(1000) < p * 1000, 1.0, -1.0)
    assert narrative.association_direction(draws) == (
        "is " + words if "clearly" in words else
        "has " + words if words == "no clear sign" else words + " without settling the sign"
    )


def test_association_sentence_and_verdict(r):
    notes = r.clustering["association"]["notes"]
    sentence = narrative.association_sentence(notes, "No. Notes")
    assert sentence.startswith("for No. Notes, the correlation") and "90% interval" in sentence
    up, down, flat = np.full(100, 0.3), np.full(100, -0.3), np.linspace(-1, 1, 100)
    assert "for both" in narrative.association_verdict(up, up)
    assert "away from" in narrative.association_verdict(up, down)
    assert "but not the other" in narrative.association_verdict(up, flat)
    assert "do not settle" in narrative.association_verdict(flat, flat)


def test_heldout_at_and_second_component(r):
    table = pd.DataFrame({"sigma": [0.1, 0.1, 1.0, 1.0], "K": [1, 2, 1, 2],
                          "heldout_lpd": [-50.0, -40.0, -10.0, -9.5],
                          "heldout_lpd_se": [3.0, 3.0, 2.0, 2.0]})
    assert narrative.heldout_at(table, 0.1, 2) == -40.0
    with pytest.raises(KeyError):
        narrative.heldout_at(table, 0.5, 1)
    one = {"K": 1, "sigma": 1.0, "heldout_lpd": -10.0}
    text = narrative.second_component(table, one)
    assert text.startswith("The best") and "−9.5, 0.5 higher" in text and "is 2.0" in text
    assert narrative.second_component(table, {**one, "K": 2}) == ""
    corrected = r.clustering["tables"]["corrected"]
    chosen = r.clustering["selection"]["corrected"]
    assert narrative.heldout_at(corrected, chosen["sigma"], chosen["K"]) == pytest.approx(
        chosen["heldout_lpd"])


def test_largest_cluster_mean(r, two_clusters):
    assert "in cluster" not in narrative.largest_cluster_mean(r.clustering["cluster_means"])
    assert "in cluster" in narrative.largest_cluster_mean(two_clusters.clustering["cluster_means"])


def test_coassignment_summary(two_clusters):
    modal = np.zeros(3, dtype=int)
    assert "uniform" in narrative.coassignment_summary(np.ones((3, 3)), modal)
    assert "same most probable" in narrative.coassignment_summary(np.full((3, 3), 0.6), modal)
    clusters = two_clusters.clustering
    text = narrative.coassignment_summary(clusters["over_draws"].coassignment, clusters["modal"])
    assert "85% of draws" in text and "different ones in 20%" in text
