"""Tables, figures and sentences of the data, results and conclusions chapters.

Built from the real results of the quick profile (``organizing.pipeline.load``); the
narrative functions are also checked on constructed inputs so that every wording
branch is exercised.
"""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from organizing.models import BASELINES, HEADLINE_MODEL, NUTS_MODELS, ModelId
from organizing.report import effect_sizes, figures, labels, narrative, scorecard, tables


@pytest.fixture(scope="module")
def r(quick_results):
    return quick_results


def _html(label: str) -> str:
    return label.replace("'", "&#x27;")


# ------------------------------------------------------------------------ data chapter


def test_data_tables_and_figures(r):
    html = tables.column_table().as_raw_html()
    assert "Worker ID" in html and "Checked rules" in html
    overview = tables.data_overview(r).as_raw_html()
    assert f"{r.data.n_workers:,}" in overview and f"{r.meta.n_test:,}" in overview
    assert "Feature" in tables.feature_summary(r.data).as_raw_html()
    left, right = figures.site_signing_rates(r.data).axes
    # one point per worksite whose rate passes disclosure control
    shown = r.data.n_sites - r.data.disclosure.rates_withheld
    assert len(right.collections[0].get_offsets()) == shown
    axes = figures.worker_feature_distributions(r.data).axes
    assert [ax.get_title() for ax in axes] == list(r.data.histograms)


# --------------------------------------------------------------------- results chapter


def test_worksite_effects_table(r):
    html = tables.worksite_effects(r.headline).as_raw_html()
    for label in ("α, intercept", "σ_u", "τ_β", *narrative.model_site_features(r.data)):
        assert label in html
    assert "site_scale" not in html and "beta_group_scale" not in html


def test_worker_effects_table(r):
    html = tables.worker_effects(r.headline).as_raw_html()
    for feature in r.data.reduced_worker_features:
        assert feature in html
    assert "Spread across worksites" in html and "%" in html


def test_model_comparison_has_a_row_per_model_and_baseline(r):
    html = tables.model_comparison(r).as_raw_html()
    for model in r.evaluation.metrics["model"]:
        assert _html(labels.model_label(model)) in html
    for model in (*NUTS_MODELS, *BASELINES):
        assert _html(labels.model_label(model)) in html
    for heading in ("PSIS-LOO", "elpd", "AUC", "Brier", "Log loss", "ECE",
                    "Held-out worksites (mean)", "Fit (s)"):
        assert heading in html
    elpd = r.headline.loo.elpd
    assert f"{elpd:,.1f}".replace("-", "−") in html


def test_forest_plot_sets_headline_beside_corrected(r):
    fig = figures.worksite_effects(r.posteriors, r.data)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(r.data.site_features)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == [labels.model_label(m) for m in figures.WORKSITE_MODELS]


def test_worker_effects_plot(r):
    ax = figures.worker_effects(r.headline).axes[0]
    assert {t.get_text() for t in ax.get_yticklabels()} == set(r.data.reduced_worker_features)


def test_roc_reliability_and_folds(r):
    roc = figures.roc_curves(r.evaluation).axes[0]
    assert roc.get_xlim() == (0, 1) and "false-positive" in roc.get_xlabel()
    drawn = [m for m in labels.CURVE_MODELS if m in r.evaluation.curves]
    assert len(roc.get_legend().get_texts()) == len(drawn)
    top, bottom = figures.reliability(r.evaluation).axes
    assert "share who signed" in top.get_ylabel()
    calibration = r.evaluation.curves[HEADLINE_MODEL].calibration
    assert len(bottom.patches) == calibration["shown"].sum()
    left, right = figures.heldout_worksites(r.evaluation).axes
    models = r.evaluation.folds["model"].nunique()
    assert len(left.get_yticklabels()) == models


def test_ppc_figure_has_one_dot_per_disclosed_worksite(r):
    ppc, k = r.evaluation.ppc, r.data.disclosure.min_count
    # the results hold no withheld rate: disclosure control ran where they were computed
    assert ppc.loc[~ppc["shown"], "observed"].isna().all()
    assert ppc.loc[ppc["shown"], "observed"].notna().all()
    ax = figures.ppc_worksites(ppc, min_count=k).axes[0]
    observed = sum(len(line.get_xdata()) for line in ax.get_lines())
    assert observed == ppc["shown"].sum()


def test_results_sentences_on_the_real_results(r):
    evaluation = r.evaluation
    assert narrative.new_store_sentence(evaluation).startswith("a mean AUC of")
    assert "stores it has seen" in narrative.seen_store_sentence(evaluation)
    assert narrative.loo_sentence(r.posteriors).startswith("the ")
    assert "expected calibration error" in narrative.calibration_sentence(evaluation)
    assert narrative.disagreement_sentence(r.posteriors)
    worker = r.headline.coefficients.worker
    top = worker.loc[worker["mean"].abs().idxmax(), "feature"]
    assert narrative.largest_worker_effect(worker).startswith(top)
    assert narrative.best_fold_model(evaluation) in {
        labels.model_label(m) for m in evaluation.folds["model"]}


# ------------------------------------------------------------------------ narrative


class _Evaluation(SimpleNamespace):
    """The evaluation section's two frames, with its fold means (``Evaluation``'s own)."""

    def fold_means(self, features: str = "all"):
        from organizing.results.sections import Evaluation

        return Evaluation.fold_means(self, features)


def _evaluation(fold_auc, seen_auc):
    folds = pd.DataFrame({"model": ["headline", "pooled_logistic"] * 2, "fold": [0, 0, 1, 1],
                          "auc": [fold_auc[0], fold_auc[1]] * 2, "log_loss": [0.3, 0.4] * 2})
    metrics = pd.DataFrame({"model": ["headline", "pooled_logistic"],
                            "auc": seen_auc, "ece": [0.01, 0.02]})
    return _Evaluation(folds=folds, metrics=metrics)


def test_new_and_seen_store_sentences():
    better = narrative.new_store_sentence(_evaluation((0.85, 0.80), (0.9, 0.8)))
    assert "better than the pooled logistic regression's 0.800" in better
    assert "over 2 folds" in better and "0.300 against 0.400" in better
    same = narrative.new_store_sentence(_evaluation((0.802, 0.80), (0.9, 0.8)))
    assert "about the same as" in same
    worse = narrative.new_store_sentence(_evaluation((0.70, 0.80), (0.9, 0.8)))
    assert "worse than" in worse
    seen = narrative.seen_store_sentence(_evaluation((0.85, 0.80), (0.95, 0.8)))
    assert "0.950, higher than its 0.850 at new stores" in seen
    assert narrative.best_fold_model(_evaluation((0.85, 0.80), (0.9, 0.8))) == "headline"


def test_fold_convergence_sentence_counts_failed_fits():
    import numpy as np

    evaluation = _evaluation((0.85, 0.80), (0.9, 0.8))
    assert "not recorded" in narrative.fold_convergence_sentence(evaluation)
    evaluation.folds["checks_failed"] = [0, np.nan, 2, np.nan]  # baselines have no fit
    sentence = narrative.fold_convergence_sentence(evaluation)
    assert sentence.startswith("1 of the 2 NUTS fits") and "headline" in sentence
    evaluation.folds["checks_failed"] = [0, np.nan, 0, np.nan]
    assert narrative.fold_convergence_sentence(evaluation).startswith("All 2 NUTS fits")


def test_signed_effects_branches():
    frame = pd.DataFrame({"feature": ["a", "b", "c"], "q5": [0.1, -0.5, -0.2],
                          "q95": [0.4, -0.1, 0.3]})
    text = narrative.signed_effects(frame)
    assert text.startswith("2 features") and "a (positive)" in text and "b (negative)" in text
    assert "no feature" in narrative.signed_effects(frame.iloc[[2]])
    assert narrative.signed_effects(frame.iloc[[0]]).startswith("1 feature has")


def _posterior(rows):
    worksite = pd.DataFrame(rows, columns=["feature", "q5", "q95"])
    return SimpleNamespace(coefficients=SimpleNamespace(worksite=worksite))


def test_disagreement_sentence_branches():
    headline = _posterior([("a", -0.1, 0.5), ("b", 0.1, 0.4)])
    corrected = _posterior([("a", 0.2, 0.6), ("b", 0.1, 0.4), ("q1", 0.1, 0.2)])
    posteriors = {HEADLINE_MODEL: headline, ModelId.CORRECTED: corrected}
    text = narrative.disagreement_sentence(posteriors)
    assert "excludes zero and the headline model's does not for a" in text
    assert "q1" not in text  # a reference level the headline model does not have
    agree = {HEADLINE_MODEL: headline, ModelId.CORRECTED: headline}
    assert "agree" in narrative.disagreement_sentence(agree)


def test_ppc_verdict_branches():
    def ppc(share):
        n = 100
        return pd.DataFrame({"inside": [True] * int(share * n) + [False] * (n - int(share * n))})

    assert narrative.ppc_verdict(ppc(0.70)).startswith("below")
    assert narrative.ppc_verdict(ppc(0.90)).startswith("close to")
    assert narrative.ppc_verdict(ppc(0.99)).startswith("above")


# ------------------------------------------------------------------ conclusions chapter


def test_claims_table_and_verdict_matrix(r):
    html = scorecard.claims_table(r.claims).as_raw_html()
    for claim in r.claims.table["claim"]:
        assert _html(claim) in html
    assert "P(as claimed)" in html and "Identification" in html
    matrix = scorecard.verdict_matrix(r.claims).as_raw_html()
    for model in NUTS_MODELS:
        assert labels.model_label(model).capitalize() in matrix
    effects = effect_sizes.effects_table(r.claims).as_raw_html()
    for feature in r.headline.coefficients.worker["feature"]:
        assert _html(feature) in effects


def test_variance_table_and_figure(r):
    html = tables.variance_table(r.variance).as_raw_html()
    for term in r.variance["term"].unique():
        assert labels.VARIANCE_TERMS[term] in html
    ax = figures.variance_decomposition(r.variance).axes[0]
    assert "worksite intercepts, u_s" in [t.get_text() for t in ax.get_yticklabels()]


def test_conclusion_sentences_on_the_real_results(r):
    claims = r.claims
    status = scorecard.status(claims, "worksite_over_worker")
    assert status in scorecard.VERDICT_WORDS.values()
    assert "P(as claimed)" in scorecard.evidence(claims, "worksite_over_worker")
    bullets = scorecard.claim_sentences(claims).split("\n\n")
    tested = claims.table[claims.table["verdict"].isin(scorecard.TESTED)]
    assert len(bullets) == len(tested) and all(b.startswith("- *") for b in bullets)
    for claim in tested["claim"]:
        assert f"“{claim}”" in scorecard.verdict_classes(claims)
    assert " of the " in scorecard.changed_verdicts(claims)
    assert "worksite intercepts" in narrative.signal_sentence(r.variance)
    assert narrative.scale_direction(r.posteriors, "beta_group_scale") in (
        "understates", "overstates")
    # the determined worksite columns are named with their identity in the data chapter
    assert "Log(Mean degree)" in narrative.aliases_sentence(r.data)


def test_no_number_on_the_front_page_disagrees_with_the_same_quantity_elsewhere(r):
    """The brief's effects and new-store AUCs are the ones the conclusions' effects table and
    the results' comparison table print (one computation, two places)."""
    from organizing.evaluation import fold_means
    from organizing.report import brief

    effects_html = effect_sizes.effects_table(r.claims).as_raw_html()
    for _, row in brief.takeaway_rows(r.claims).iterrows():
        assert f"{abs(row['mean']):.1f}" in effects_html, row["feature"]
        assert effect_sizes.change_words(row) in brief.takeaways(r.claims)
    headline = brief.honest_headline(r.evaluation)
    comparison = tables.model_comparison(r).as_raw_html()
    means = fold_means(r.evaluation.folds)
    for model in (HEADLINE_MODEL, ModelId.POOLED_LOGISTIC, ModelId.GRADIENT_BOOSTING):
        value = f"{means.loc[model.value, 'auc']:.3f}"
        assert value in headline and value in comparison, model
