"""The clustering chapter's tables, figures and sentences, built from real cached results.

The quick results may fit one cluster; a constructed K = 2 variant (the real section
with its test's choice, assignments and cluster means replaced) exercises the figures
that only make sense with several clusters.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from organizing.data import SITE_DESCRIPTORS
from organizing.report import clustering as cw
from organizing.report import figures, labels, narrative, tables


@pytest.fixture(scope="module")
def r(quick_results):
    return quick_results


def _with_K(clustering, K: int):
    """The clustering section with the test's K, assignments and means set to K."""
    n = clustering.coassignment.shape[0]
    modal = np.arange(n) % K
    probabilities = np.where(modal[:, None] == np.arange(K), 0.9, 0.1 / max(K - 1, 1))
    matrix = np.where(modal[:, None] == modal[None, :], 0.85, 0.2)
    np.fill_diagonal(matrix, 1.0)
    one = clustering.cluster_means[clustering.cluster_means["cluster"] == 0]
    means = pd.concat([one.assign(cluster=k, mean=one["mean"] * (-1) ** k) for k in range(K)],
                      ignore_index=True)
    by_cluster = pd.concat([clustering.features_by_cluster.iloc[[0]]] * K, ignore_index=True)
    by_cluster.index.name = "cluster"
    test = replace(clustering.test, chosen_K=K, verdict="clusters supported")
    return replace(clustering, test=test, assignment_probabilities=probabilities,
                   coassignment=matrix, cluster_means=means, features_by_cluster=by_cluster)


@pytest.fixture(scope="module")
def two(r):
    return _with_K(r.clustering, 2)


# ------------------------------------------------------------------------------ tables


def test_cluster_comparison_table_is_the_published_runs(r):
    html = tables.cluster_comparison(r.clustering).as_raw_html()
    run = r.clustering.runs["published"]
    assert f"{labels.CLUSTERING_RUNS['published']}: {run.verdict}".replace("'", "&#x27;") in html
    assert html.count(">fitted<") == 1 and "Difference vs K = 1" in html


def test_cross_validation_table_and_sentences(r):
    t = r.clustering.test
    html = cw.cv_table(r.clustering).as_raw_html()
    assert "Cross-validated log marginal likelihood" in html
    assert html.count(">chosen<") == 1
    for K in sorted(t.cv["K"].unique()):
        assert f">{K} clusters<" in html if K > 1 else ">1, per-slope spreads<" in html
    assert ">1, any shape<" in html
    chosen = (f"{t.chosen_K} clusters" if t.chosen_K > 1
              else "any shape" if t.one_cluster == "full" else "its own spread")
    assert chosen in cw.choice_sentence(r.clustering)
    assert t.verdict in cw.test_sentence(r.clustering)
    assert "two clusters" in cw.two_clusters_sentence(r.clustering)
    rates = cw.calibration_sentence(r.error_rates)
    assert "called clusters in" in rates and "found them in" in rates
    assert "chains" in cw.settings_sentence(r.error_rates)
    ax = cw.cv_figure(r.clustering).axes[0]
    mixtures = t.cv[t.cv["covariance"] == "diagonal"].sort_values("K")
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), mixtures["K"])
    np.testing.assert_allclose(line.get_ydata(), mixtures["cv_lpd"] - mixtures["cv_lpd"].iloc[0])
    assert [x.get_text() for x in ax.get_legend().get_texts()] == [
        "clusters with per-slope spreads", "one cluster of any shape", "chosen"]


def test_the_chosen_model_is_marked_once_whatever_it_is(r):
    """Each choice the test can make (K clusters; one cluster of either shape) is the one
    row marked in the table."""
    t = r.clustering.test
    for chosen_K, one in ((1, "diagonal"), (1, "full"), (2, "diagonal")):
        section = replace(r.clustering, test=replace(t, chosen_K=chosen_K, one_cluster=one))
        frame = cw._cv_frame(section.test)
        marked = frame[frame["chosen"] == "chosen"]
        assert len(marked) == 1
        assert int(marked["K"].iloc[0]) == chosen_K
        assert marked["covariance"].iloc[0] == (one if chosen_K == 1 else "diagonal")


def test_size_interaction_figure_has_a_row_per_worker_feature(r):
    ax = cw.size_figure(r.sensitivity).axes[0]
    rows = cw.size_slopes(r.sensitivity)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(rows["feature"])
    assert set(rows["feature"]) == set(r.sensitivity.runs["size_interaction"].worker_features)


def test_cluster_features_table(two):
    # the chapter's table of worksite features by cluster (a Markdown table in its section)
    text = narrative.cluster_features_section(two)
    assert "Worksites (expected number)" in text and "Cluster 2" in text
    for name in SITE_DESCRIPTORS:
        assert name in text
    assert "{#tbl-cluster-features}" in text


# ----------------------------------------------------------------------------- figures


def test_logjoint_figure(r):
    burn_in = r.meta.settings.clustering.burn_in
    (ax,) = figures.clustering_logjoint(r.clustering, burn_in).axes
    assert ax.get_xlabel() == "Gibbs sweep"
    # one line per chain and the burn-in line
    assert len(ax.get_lines()) == r.clustering.study_samples.log_joint.shape[0] + 1


def test_selection_figure_is_the_published_runs(r):
    study_sigma = r.meta.settings.clustering.sigma
    (ax,) = figures.clustering_selection(r.clustering, study_sigma).axes
    assert ax.get_title() == labels.CLUSTERING_RUNS["published"]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "symlog"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "fitted" in legend and "K = 1" in legend


def test_cluster_pair_figure(two):
    left, right = figures.cluster_pair(two).axes[:2]
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["cluster 1", "cluster 2"]
    assert len(left.get_yticklabels()) == two.cluster_means["feature"].nunique()
    image = np.asarray(right.get_images()[0].get_array())
    n = two.coassignment.shape[0]
    assert image.shape == (n, n)
    assert image[0, 0] == 1.0 and image[0, -1] == pytest.approx(0.2)  # ordered by cluster
    assert len(right.get_lines()) == 2  # one boundary, horizontal and vertical


def test_symlog_ticks():
    ticks = figures._symlog_ticks([-1e9, -50.0, 300.0], linthresh=10.0)
    assert 0.0 in ticks and ticks == sorted(ticks)
    assert sum(t < 0 for t in ticks) <= 4 and sum(t > 0 for t in ticks) <= 4


# --------------------------------------------------------------------------- narrative


def test_formatting_of_settings_and_densities():
    from organizing.report import formatting as fmt

    assert fmt.setting(1e-4) == "10⁻⁴"
    assert fmt.setting(2.5e-3) == "2.5 × 10⁻³"
    assert fmt.setting(1.8587) == "1.86"
    assert fmt.log_density(-4128209.2) == "−4,128,209"
    assert fmt.log_density(383.49) == "383.5"


def test_coefficient_scale_and_scale_comparison(r):
    from organizing.clustering.summaries import pooled_sd

    assert pooled_sd(np.array([[1.0, 5.0], [-1.0, 3.0]])) == pytest.approx(1.0)
    assert r.clustering.slope_vector_sd == pytest.approx(pooled_sd(r.clustering.slope_vectors))
    assert "×" in narrative.scale_comparison(r.clustering)
    assert "to" in narrative.published_worker_spread()


def test_sklearn_agreement():
    assert "automatic" in narrative.sklearn_agreement(1.0, 1)
    assert "close" in narrative.sklearn_agreement(0.9, 2)
    assert "partial" in narrative.sklearn_agreement(0.5, 2)
    assert "poor" in narrative.sklearn_agreement(0.1, 3)


def test_gibbs_mixing():
    from organizing.clustering import MixtureSamples

    def samples(z, log_joint):
        chains, iters, _ = z.shape
        return MixtureSamples(z=z, mu=np.zeros((chains, iters, 2, 1)),
                              pi=np.full((chains, iters, 2), 0.5), log_joint=log_joint,
                              x=np.zeros((z.shape[2], 1)), sigma=1.0, eta=1.0, alpha0=1.0,
                              seed=0)

    frozen = samples(np.zeros((2, 10, 5), dtype=int),
                     np.array([[-10.0] * 10, [-30.0] * 10]))
    assert frozen.reassignments(5) == 0 and frozen.final_log_joint_spread == 20.0
    assert "no worksite ever changes" in narrative.gibbs_mixing(frozen, 5)
    assert "20.0 apart" in narrative.gibbs_mixing(frozen, 5)
    moving = samples(np.tile([0, 1], (2, 5, 1)).transpose(0, 2, 1).reshape(2, 10, 1),
                     np.zeros((2, 10)))
    assert moving.reassignments(0) == 2  # each chain moves its worksite once, at sweep 5
    assert "still move" in narrative.gibbs_mixing(moving, 0)


def test_cluster_verdict_and_shown(r, two):
    run = r.clustering.runs["published"]
    text = narrative.cluster_verdict_sentence(run)
    assert run.verdict in text and f"K = {run.K}" in text
    only_one = replace(run, comparison=run.comparison[run.comparison["K"] == 1])
    assert "only one cluster" in narrative.cluster_verdict_sentence(only_one)
    assert "cluster means" in narrative.clusters_shown(two.test.chosen_K)
    assert "cross-validated comparison" in narrative.clusters_shown(1)


def _section(K: int):
    """A constructed clustering section: K clusters over 6 worksites, two features."""
    probabilities = np.eye(K)[np.arange(6) % K] if K > 1 else np.ones((6, 1))
    by_cluster = pd.DataFrame({"Workers discovered": np.linspace(150.0, 2500.0, K),
                               "Percent male": np.linspace(0.41, 0.0, K),
                               "weight": probabilities.sum(axis=0)},
                              index=pd.RangeIndex(K, name="cluster"))
    test = SimpleNamespace(chosen_K=K, verdict="clusters supported")
    return SimpleNamespace(test=test, features_by_cluster=by_cluster,
                           assignment_probabilities=probabilities, sklearn_ari=0.9)


def test_features_section_with_one_cluster_points_to_the_comparison():
    text = narrative.cluster_features_section(_section(1))
    assert "@fig-clusters" in text and "tbl-cluster-features" not in text
    assert "|" not in text  # no table


def test_features_section_with_clusters_prints_a_captioned_table():
    text = narrative.cluster_features_section(_section(2))
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| Worksite feature"))
    assert lines[header] == "| Worksite feature | Cluster 1 | Cluster 2 |"
    assert lines[header + 1] == "|:--|--:|--:|"
    assert lines[header + 2] == "| Worksites (expected number) | 3.00 | 3.00 |"
    assert lines[header + 3] == "| Workers discovered | 150 | 2,500 |"
    assert lines[header + 4] == "| Percent male | 0.410 | 0 |"
    caption = f": {narrative.CLUSTER_FEATURES_CAPTION} {{#tbl-cluster-features}}"
    assert text.rstrip().endswith(caption)
    assert "@tbl-cluster-features" in text and "adjusted Rand index 0.90" in text


def test_cluster_rule_states_the_thresholds_of_the_verdict():
    from organizing.clustering import NO_CLUSTERS_SE, SUPPORTED_SE

    rule = narrative.cluster_rule()
    assert f"more than {SUPPORTED_SE:.0f} standard errors" in rule
    assert f"at most {NO_CLUSTERS_SE:.0f}" in rule and "*inconclusive*" in rule


@pytest.mark.parametrize(("false", "se", "upper", "detection", "kept", "power"), [
    (0.0, 0.0, 0.095, 0.8, "within the 10% the book allows, with 95%", "more often than not"),
    (0.0, 0.0, 0.78, 0.5, "too few to show", "more often than not"),
    (0.15, 0.08, 0.3, 0.0, "within two Monte Carlo", "says little"),
    (0.30, 0.05, 0.4, 0.8, "could not be trusted", "more often than not"),
    (0.0, 0.0, 0.095, 0.4, "with 95% confidence", "rests on 20 stores"),
])
def test_the_reading_of_the_rates_follows_the_measured_rates(false, se, upper, detection,
                                                             kept, power):
    from types import SimpleNamespace

    rates = SimpleNamespace(summary={"false_cluster_rate": false, "false_cluster_se": se,
                                     "false_cluster_upper": upper, "null_campaigns": 2,
                                     "detection_rate": detection})
    reading = cw.calibration_reading(rates, 20)
    assert kept in reading and power in reading
