"""Figures of the book: results chapter."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from organizing.models import HEADLINE_MODEL, ModelId
from organizing.report import labels
from organizing.report.figures.style import _interval_rows, new_figure, styled, worksite_forest
from organizing.report.labels import COLOURS, model_label, model_style

#: Models whose worksite coefficients the results chapter sets side by side.
WORKSITE_MODELS = (HEADLINE_MODEL, ModelId.CORRECTED)


@styled
def worksite_effects(posteriors, data) -> Figure:
    """Worksite coefficients: the headline model beside the corrected model (no intercepts).

    Features are in the order of the full design; a reference level that a model
    drops has no interval in that model's row.
    """
    features = list(data.site_features)
    y = np.arange(len(features))[::-1].astype(float)
    fig, ax = new_figure(height=5.6)
    ax.axvline(0, color=COLOURS["reference"], lw=0.8)
    for model, offset in zip(WORKSITE_MODELS, (0.16, -0.16), strict=True):
        style = model_style(model)
        frame = posteriors[model].coefficients.worksite.set_index("feature")
        kept = [f for f in features if f in frame.index]
        rows = y[[features.index(f) for f in kept]] + offset
        _interval_rows(ax, rows, frame.loc[kept], style.colour, style.label,
                       filled=model is HEADLINE_MODEL)
    worksite_forest(ax, features, "Worksite coefficients")
    fig.legend(loc="outside lower center", ncols=2, fontsize=8)
    return fig


@styled
def worker_effects(posterior) -> Figure:
    """Worker coefficients: interval of their average and the band where worksites lie."""
    worker = posterior.coefficients.worker
    colour = model_style(posterior.model).colour
    y = np.arange(len(worker))[::-1]
    band = 1.645 * worker["spread"]
    fig, ax = new_figure(height=3.6)
    ax.axvline(0, color=COLOURS["reference"], lw=0.8)
    ax.hlines(y, worker["mean"] - band, worker["mean"] + band, color=colour, lw=9, alpha=0.2,
              label="middle 90% of worksites (mean ± 1.645 SD)")
    ax.hlines(y, worker["q5"], worker["q95"], color=colour, lw=2.5,
              label="average: 90% interval")
    ax.plot(worker["mean"], y, "o", color=colour, ms=5, label="average: mean")
    ax.set_yticks(y, worker["feature"])
    ax.grid(axis="y", visible=False)
    ax.set(xlabel="log-odds of signing per SD of the worker feature",
           title=f"Worker coefficients across worksites ({model_label(posterior.model)} model)")
    fig.legend(loc="outside lower center", ncols=3, fontsize=8)
    return fig


@styled
def roc_curves(evaluation) -> Figure:
    """ROC curve of each model on the held-out workers of the study's split."""
    auc = evaluation.metrics.set_index("model")["auc"]
    fig, ax = new_figure(height=4.4)
    ax.plot([0, 1], [0, 1], color=COLOURS["reference"], lw=0.6)
    for model in labels.CURVE_MODELS:
        if model not in evaluation.curves:
            continue
        style, roc = model_style(model), evaluation.curves[model].roc
        ax.plot(roc["fpr"], roc["tpr"], color=style.colour, ls=style.linestyle,
                lw=2.2 if model is HEADLINE_MODEL else 1.2,
                label=f"{style.label} (AUC {auc[model.value]:.3f})")
    ax.set(xlabel="false-positive rate (non-signers flagged)",
           ylabel="true-positive rate (signers flagged)", xlim=(0, 1), ylim=(0, 1.01),
           title="ROC curves, held-out workers")
    ax.set_aspect("equal")
    ax.legend(loc="lower right", fontsize=7.5)
    return fig


@styled
def reliability(evaluation, models=(HEADLINE_MODEL, ModelId.POOLED_LOGISTIC)) -> Figure:
    """Reliability diagram: observed signing rate against mean prediction, in equal-count bins.

    The first model is drawn with the workers in each bin (lower panel). Bins of fewer
    than k workers were withheld where the table was computed
    (:func:`organizing.data.disclosure.withhold_small_bins`) and are not drawn.
    """

    def disclosable(table):
        return table[table["shown"]]

    fig, (top, bottom) = new_figure(2, 1, height=5.0, sharex=True,
                                    gridspec_kw={"height_ratios": [3, 1]})
    top.plot([0, 1], [0, 1], color=COLOURS["reference"], lw=0.6, label="perfect calibration")
    for model in models:
        style, table = model_style(model), disclosable(evaluation.curves[model].calibration)
        top.plot(table["predicted"], table["observed"], marker="o", ms=4, color=style.colour,
                 ls=style.linestyle, lw=1.6 if model is models[0] else 1.0, label=style.label)
    first = disclosable(evaluation.curves[models[0]].calibration)
    bottom.bar(first["predicted"], first["count"], width=0.015,
               color=model_style(models[0]).colour)
    top.set(ylabel="share who signed", xlim=(0, 1), ylim=(0, 1), title="Reliability diagram")
    bottom.set(xlabel="mean predicted probability of signing (bins of equal size)",
               ylabel="workers")
    top.legend(loc="upper left", fontsize=8)
    return fig


@styled
def ppc_worksites(ppc, min_count: int) -> Figure:
    """Per-worksite signing rate of held-out workers against its 90% predictive interval.

    A worksite whose observed rate was withheld where the check was computed (fewer
    than k = ``min_count`` signers or non-signers among its held-out workers,
    :func:`organizing.data.disclosure.withhold_site_rates`) is drawn as its interval
    alone, in grey.
    """
    k = min_count
    ppc = ppc.sort_values("q50").reset_index(drop=True)
    x = np.arange(len(ppc))
    shown = ppc["shown"].to_numpy(dtype=bool)
    inside = ppc["inside"].to_numpy(dtype=bool)
    colour = model_style(HEADLINE_MODEL).colour
    fig, ax = new_figure(height=3.8)
    ax.vlines(x[shown], ppc.loc[shown, "q5"], ppc.loc[shown, "q95"], color=colour, alpha=0.35,
              lw=2.5, label="90% predictive interval")
    if (~shown).any():
        ax.vlines(x[~shown], ppc.loc[~shown, "q5"], ppc.loc[~shown, "q95"],
                  color=COLOURS["reference"], alpha=0.35, lw=2.5,
                  label=f"interval; observed rate withheld (fewer than {k} signers or "
                  "non-signers)")
    ax.plot(x[inside & shown], ppc.loc[inside & shown, "observed"], "o", ms=3.5, color=colour,
            label="observed, inside")
    ax.plot(x[~inside & shown], ppc.loc[~inside & shown, "observed"], "o", ms=4.5,
            color=COLOURS["outside"], label="observed, outside")
    ax.set(xlabel="worksites with held-out workers, ordered by predicted median rate",
           ylabel="signing rate of held-out workers",
           title="Posterior predictive check of worksite signing rates")
    ax.set_xticks([])
    ax.legend(loc="upper left", fontsize=8)
    return fig


@styled
def heldout_worksites(evaluation) -> Figure:
    """AUC and log loss at worksites left out of training: one dot per fold, bar at the mean."""
    folds = evaluation.folds
    if "features" in folds:  # the comparison without No. Notes is the brief's
        folds = folds[folds["features"] == "all"]
    models = labels.model_order(folds["model"].unique())
    y = np.arange(len(models))[::-1]
    fig, axes = new_figure(1, 2, height=0.35 * len(models) + 1.4, sharey=True)
    for ax, metric, title in zip(axes, ("auc", "log_loss"), ("AUC (higher is better)",
                                                             "log loss (lower is better)"),
                                 strict=True):
        for row, model in zip(y, models, strict=True):
            values = folds.loc[folds["model"] == model.value, metric].to_numpy(dtype=float)
            colour = model_style(model).colour
            ax.plot(values, np.full(len(values), row), "o", color=colour, alpha=0.6, ms=4)
            ax.plot([values.mean()] * 2, [row - 0.3, row + 0.3], color=colour, lw=2.2)
        ax.set(title=title, xlabel=metric.replace("_", " ").replace("auc", "AUC"))
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(y, [model_label(m) for m in models], fontsize=8)
    return fig
