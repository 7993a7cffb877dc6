"""Tables, figures and sentences of the regression-results chapter.

Built from the real cached results (``results.load()``, with the environment's data,
profile and cache directory); the narrative functions are also checked on constructed
inputs so that every wording branch is exercised.
"""

from __future__ import annotations

import pandas as pd
import pytest

from organizing.report import figures, narrative, tables


@pytest.fixture(scope="session")
def r(quick_results):
    return quick_results


# --------------------------------------------------------------------------- tables


def test_worksite_effects_table(r):
    html = tables.worksite_effects(r).as_raw_html()
    for label in ("α (intercept)", "τ_b", "τ_β", "NUTS (reference)", "Mean-field SVI",
                  *r.data["site_features"]):
        assert label in html
    assert "alpha_mean" not in html and "beta_group_scale" not in html


def test_worker_effects_table(r):
    html = tables.worker_effects(r).as_raw_html()
    for feature in r.data["worker_features"]:
        assert feature in html
    assert "Spread across worksites" in html and "%" in html


def test_heldout_table_has_every_model_and_the_published_figures(r):
    from organizing.data import published_reference

    html = tables.heldout_metrics(r).as_raw_html()
    assert "Reported by the study" in html and "predict that nobody signs" in html
    reported = published_reference()["metrics"].set_index("metric")["published_value"]
    assert f"{float(reported['heldout_auc']):.4f}" in html
    assert f"{float(reported['heldout_accuracy']):.4f}" in html
    for model in r.metrics["model"]:
        assert tables.RESULT_MODEL_LABELS.get(model, model).replace("'", "&#x27;") in html


def test_heldout_worksites_table(r):
    html = tables.heldout_worksites(r).as_raw_html()
    for model in r.folds["model"].unique():
        assert model in html
    assert "Range" in html and "AUC" in html


def test_scale_table(r):
    html = tables.scale_comparison(r).as_raw_html()
    for method in ("mean-field guide", "low-rank guide", "NUTS (reference)"):
        assert method in html
    assert "τ_b" in html and "τ_β" in html


# -------------------------------------------------------------------------- figures


def test_forest_plot(r):
    ax = figures.forest_plot(r).axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert set(labels) == set(r.data["site_features"])
    assert "log-odds" in ax.get_xlabel()


def test_worker_effects_plot(r):
    ax = figures.worker_effects_plot(r).axes[0]
    assert {t.get_text() for t in ax.get_yticklabels()} == set(r.data["worker_features"])


def test_roc_and_calibration(r):
    roc = figures.roc_curves(r).axes[0]
    assert roc.get_xlim() == (0, 1) and "false-positive" in roc.get_xlabel()
    assert len(roc.get_legend().get_texts()) == len(r.curves)
    calibration = figures.calibration_plot(r).axes[0]
    assert "share who signed" in calibration.get_ylabel()


def test_ppc_figure(r):
    ax = figures.ppc_worksites(r).axes[0]
    observed = sum(len(line.get_xdata()) for line in ax.get_lines())
    assert observed == len(r.ppc)  # one dot per worksite, inside or outside


# ------------------------------------------------------------------------ narrative


def _metrics(corrected, extended):
    return pd.DataFrame([
        {"model": "corrected", "log_loss": corrected[0], "auc": corrected[1]},
        {"model": "extended", "log_loss": extended[0], "auc": extended[1]},
    ])


def test_model_comparison_branches():
    assert narrative.model_comparison(_metrics((0.30, 0.80), (0.25, 0.90))).startswith(
        "The extended model fits the held-out workers better than the corrected")
    text = narrative.model_comparison(_metrics((0.25, 0.80), (0.30, 0.90)))
    assert text.startswith("The corrected model fits") and "although" in text
    assert "about equally well" in narrative.model_comparison(
        _metrics((0.2500, 0.8), (0.2504, 0.8)))


def test_signed_effects_branches():
    frame = pd.DataFrame({"feature": ["a", "b", "c"], "q5": [0.1, -0.5, -0.2],
                          "q95": [0.4, -0.1, 0.3]})
    text = narrative.signed_effects(frame)
    assert text.startswith("2 features") and "a (positive)" in text and "b (negative)" in text
    assert "no feature" in narrative.signed_effects(frame.iloc[[2]])
    assert narrative.signed_effects(frame.iloc[[0]]).startswith("1 feature has")
    assert "c" not in narrative.signed_worksite_effects(frame, ["a", "c"]).split(":")[1]


def test_fold_comparison_and_best_model():
    folds = pd.DataFrame({"model": ["corrected", "pooled logistic"] * 2,
                          "auc": [0.7, 0.8, 0.72, 0.82], "log_loss": [0.5, 0.4, 0.5, 0.4]})
    assert "worse than" in narrative.fold_comparison(folds)
    assert "better than" in narrative.fold_comparison(folds, "pooled logistic", "corrected")
    assert narrative.best_fold_model(folds) == "pooled logistic"
    assert narrative.best_fold_model(folds, "auc") == "pooled logistic"


def test_ppc_verdict_branches():
    def ppc(share):
        n = 100
        return pd.DataFrame({"inside": [True] * int(share * n) + [False] * (n - int(share * n))})

    assert narrative.ppc_verdict(ppc(0.70)).startswith("below")
    assert narrative.ppc_verdict(ppc(0.90)).startswith("close to")
    assert narrative.ppc_verdict(ppc(0.99)).startswith("above")


def test_scale_ratio_and_nuts_verdict(r):
    scales = pd.DataFrame({"method": ["NUTS", "mean-field"], "parameter": ["t", "t"],
                           "mean": [1.5, 1.0]})
    assert narrative.scale_ratio(scales, "t") == "1.50×"
    good = {"max_r_hat": 1.004, "min_ess": 1200.0, "divergences": 0}
    assert narrative.nuts_verdict(good).startswith("The chains pass")
    bad = {"max_r_hat": 1.08, "min_ess": 12.0, "divergences": 3}
    text = narrative.nuts_verdict(bad)
    assert text.startswith("Treat") and "3 transitions diverged" in text
    assert narrative.nuts_verdict(r.nuts)  # the real diagnostics give a sentence


def test_worker_and_width_sentences(r):
    worker = r.nuts["coefficients"]["worker"]
    top = worker.loc[worker["mean"].abs().idxmax(), "feature"]
    assert narrative.largest_worker_effect(worker).startswith(top)
    width = narrative.interval_width_ratio(r.nuts["coefficients"]["worksite"],
                                           r.coefficients["corrected"]["worksite"],
                                           r.data["site_features"])
    assert width.endswith("×") and float(width[:-1].replace(",", "")) > 0
    assert narrative.above_below(2, 1) == "above" and narrative.above_below(1, 2) == "below"
