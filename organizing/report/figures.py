"""matplotlib figures for the book, built from typed results (``Results`` or one section).

Every public function returns a ``Figure`` drawn inside the book's style context
(:data:`HOUSE_STYLE`, applied with :func:`matplotlib.rc_context`, so importing
or calling this module never changes the global ``rcParams``). Figures never fit,
never read a data file and never plot a point per worker: distributions come from
precomputed histograms, scatter plots have one point per worksite. Model colours,
line styles and labels come from :mod:`organizing.report.labels`; captions and alt
text live in the chapters' cell options.
"""

from __future__ import annotations

import functools

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from organizing.models import HEADLINE_MODEL, ModelId
from organizing.report import labels
from organizing.report.labels import COLOURS, model_label, model_style

WIDTH = 7.0  # inches: fits the HTML column and an A4/letter page

#: The book's one figure style, applied around every figure function.
HOUSE_STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "legend.frameon": False,
    "font.size": 10,
}


def styled(function):
    """Run a figure function inside :data:`HOUSE_STYLE` (the global rcParams stay as they are)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(HOUSE_STYLE):
            return function(*args, **kwargs)

    return wrapper


def new_figure(nrows: int = 1, ncols: int = 1, height: float = 3.6, **kwargs):
    """A figure and its axes, without pyplot (no global figure state, no display backend)."""
    fig = Figure(figsize=(WIDTH, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, **kwargs)
    return fig, axes


def _interval_rows(ax, y, frame, colour, label, marker="o", filled=True):
    """Dots at ``mean`` and lines from ``q5`` to ``q95`` at heights ``y``."""
    ax.hlines(y, frame["q5"], frame["q95"], color=colour, lw=2)
    ax.plot(frame["mean"], y, marker, color=colour, ms=5, mfc=colour if filled else "white",
            ls="none", label=label)


# ---------------------------------------------------------------- data chapter


@styled
def site_signing_rates(data) -> Figure:
    """Signing rate by worksite: its distribution, and against worksite size (one point each).

    Worksites whose rate disclosure control withheld (``data.disclosure``: fewer
    than k signers or non-signers) are left out of both panels; their pooled rate
    is drawn as a dotted line when the pool passes the rule.
    """
    sites = data.sites[data.sites["signing rate"].notna()]
    withheld = data.disclosure
    colour = model_style(HEADLINE_MODEL).colour
    fig, (left, right) = new_figure(1, 2)
    left.hist(sites["signing rate"], bins=20, color=colour, alpha=0.85)
    left.axvline(data.signing_rate, color=COLOURS["accent"], ls="--", label="all workers")
    if withheld.rates_withheld and withheld.pooled_rate is not None:
        left.axvline(withheld.pooled_rate, color=COLOURS["reference"], ls=":",
                     label=f"{withheld.rates_withheld} withheld worksites, pooled")
    left.set(xlabel="share of workers who signed", ylabel="worksites",
             title="Signing rate across worksites")
    left.legend(fontsize=8)
    right.scatter(sites["No. workers discovered"], sites["signing rate"], s=14, color=colour,
                  alpha=0.8)
    right.set_xscale("log")
    right.set(xlabel="workers discovered (log scale)", ylabel="share who signed",
              title="Signing rate and worksite size")
    if withheld.rates_withheld:
        fig.text(0.01, -0.02, f"Not shown: {withheld.rates_withheld} worksite(s) with fewer "
                 f"than {withheld.min_count} signers or non-signers.", fontsize=8,
                 ha="left", va="top")
    return fig


@styled
def worker_feature_distributions(data) -> Figure:
    """Histograms of the continuous worker features, from precomputed (disclosure-safe) bins."""
    names = list(data.histograms)
    colour = model_style(HEADLINE_MODEL).colour
    fig, axes = new_figure(1, len(names), height=3.0)
    for ax, name in zip(np.atleast_1d(axes), names, strict=True):
        histogram = data.histograms[name]
        ax.stairs(histogram.counts, histogram.edges, fill=True, color=colour, alpha=0.85)
        ax.set(title=name, xlabel="value", ylabel="workers")
        if name == "No. Notes":
            ax.set_yscale("log")
            ax.set_ylabel("workers (log scale)")
    return fig


# -------------------------------------------------------------- methods chapter


def _node(ax, xy, label, observed=False, radius=0.36):
    """One node of a plate diagram: a circle, shaded when observed."""
    from matplotlib.patches import Circle

    ax.add_patch(Circle(xy, radius, facecolor="#d9d9d9" if observed else "white",
                        edgecolor="black", linewidth=1.2, zorder=3))
    ax.text(*xy, label, ha="center", va="center", fontsize=12, zorder=4)


def _edge(ax, start, end, radius=0.36):
    """An arrow between two nodes' rims."""
    from matplotlib.patches import FancyArrowPatch

    (x0, y0), (x1, y1) = start, end
    length = np.hypot(x1 - x0, y1 - y0)
    dx, dy = (x1 - x0) / length, (y1 - y0) / length
    ax.add_patch(FancyArrowPatch(
        (x0 + radius * dx, y0 + radius * dy), (x1 - radius * dx, y1 - radius * dy),
        arrowstyle="-|>", mutation_scale=11, linewidth=1.0, color="#333333", zorder=2))


def _plate(ax, corner, width, height, label, top=False):
    """A plate: a rounded box with its label in its lower (or upper) right corner."""
    from matplotlib.patches import FancyBboxPatch

    x, y = corner
    ax.add_patch(FancyBboxPatch(corner, width, height,
                                boxstyle="round,pad=0,rounding_size=0.12", fill=False,
                                edgecolor="#555555", linewidth=1.0, zorder=1))
    ax.text(x + width - 0.15, y + height - 0.15 if top else y + 0.12, label, ha="right",
            va="top" if top else "bottom", fontsize=9, color="#333333")


#: The headline model's nodes: position, symbol, observed.
PLATE_NODES = {
    "tau_beta": ((0.7, 4.9), r"$\tau_\beta$", False),
    "alpha": ((0.7, 1.2), r"$\alpha$", False),
    "beta": ((2.2, 3.3), r"$\beta,\gamma$", False),
    "sigma_u": ((4.6, 4.9), r"$\sigma_u$", False),
    "mu_b": ((7.2, 4.9), r"$\mu_b$", False),
    "tau_b": ((9.0, 4.9), r"$\tau_b$", False),
    "u": ((4.6, 3.2), r"$u_s$", False),
    "x": ((6.0, 3.2), r"$x_s,\tilde z_s$", True),
    "b": ((8.1, 3.2), r"$b_s$", False),
    "y": ((6.0, 1.2), r"$y_i$", True),
    "z": ((8.1, 1.2), r"$z_i$", True),
}
PLATE_EDGES = (("tau_beta", "beta"), ("sigma_u", "u"), ("mu_b", "b"), ("tau_b", "b"),
               ("alpha", "y"), ("beta", "y"), ("u", "y"), ("x", "y"), ("b", "y"), ("z", "y"))


@styled
def plate_diagram(data) -> Figure:
    """The headline model as a plate diagram: latent nodes white, observed shaded."""
    fig, ax = new_figure(height=4.0)
    ax.set(xlim=(0, 10.4), ylim=(-0.1, 5.6), aspect="equal")
    ax.axis("off")
    _plate(ax, (3.9, 0.05), 6.4, 4.0, f"worksites $s = 1, \\ldots, {data.n_sites}$", top=True)
    _plate(ax, (5.2, 0.3), 4.9, 1.75, r"workers $i$ at worksite $s$")
    for start, end in PLATE_EDGES:
        _edge(ax, PLATE_NODES[start][0], PLATE_NODES[end][0])
    for xy, label, observed in PLATE_NODES.values():
        _node(ax, xy, label, observed)
    from organizing.report.narrative import model_site_features

    n_worker, n_site = len(data.reduced_worker_features), len(model_site_features(data))
    below = {"alpha": "intercept", "beta": f"{n_site} + {n_worker} worksite\ncoefficients",
             "u": "intercept", "x": f"{n_site} features,\n{n_worker} worker means",
             "b": f"{n_worker} slopes", "y": "signed (0/1)"}
    for key, text in below.items():
        (x, y), _, _ = PLATE_NODES[key]
        ax.text(x, y - 0.47, text, ha="center", va="top", fontsize=8, color="#444444")
    (x, y), _, _ = PLATE_NODES["z"]
    ax.text(x + 0.48, y, f"{n_worker}\nfeatures", ha="left", va="center", fontsize=8,
            color="#444444")
    return fig


#: The colours of the prior predictive check's two sets of priors (labels.PRIOR_SETS).
PRIOR_COLOURS = {"corrected": COLOURS["outside"], "headline": model_style(HEADLINE_MODEL).colour}


@styled
def prior_predictive(prior) -> Figure:
    """Signing rates implied by each set of priors alone: overall rate and extreme workers."""
    table = prior.table
    fig, (left, right) = new_figure(1, 2, height=3.3, sharey=True)
    bins = np.linspace(0, 1, 26)
    for key, label in labels.PRIOR_SETS.items():
        colour = PRIOR_COLOURS[key]
        rows = table[table["model"] == key]
        if rows.empty:
            continue
        left.hist(rows["overall_rate"], bins=bins, color=colour, alpha=0.55, label=label)
        right.hist(rows["share_extreme"], bins=bins, color=colour, alpha=0.55, label=label)
    left.set(xlabel="share of workers who sign, per prior draw", ylabel="prior draws",
             title="Overall signing rate")
    right.set(xlabel="share of workers with p < 1% or p > 99%", title="Extreme workers")
    left.legend(fontsize=8, loc="upper center")
    return fig


def _window_means(losses: np.ndarray, window: int) -> np.ndarray:
    """Mean of each run of ``window`` consecutive losses, ending at step window, window+1, ..."""
    total = np.concatenate([[0.0], np.cumsum(losses)])
    return (total[window:] - total[:-window]) / window


@styled
def elbo_traces(results) -> Figure:
    """Each SVI fit's smoothed ELBO loss, and its stopping rule's statistic where checked."""
    rtol = results.meta.settings.svi.rtol
    fig, (left, right) = new_figure(1, 2, height=3.4)
    for model in labels.model_order(results.svi):
        fit, style = results.svi[model], model_style(model)
        losses = np.asarray(fit.losses, dtype=float)
        smooth = _window_means(losses, min(50, len(losses)))
        steps = np.arange(len(losses) - len(smooth) + 1, len(losses) + 1)
        left.plot(steps, smooth, color=style.colour, ls=style.linestyle, lw=1.3,
                  label=style.label)
        marker = "o" if fit.converged else "x"
        left.plot(steps[-1], smooth[-1], marker=marker, color=style.colour, ms=6)
        checks = fit.rule_checks.dropna()  # where the rule was asked, to where it stopped
        rule_steps, statistic = checks["step"].to_numpy(), checks["change"].to_numpy()
        if len(rule_steps):
            right.plot(rule_steps, statistic, color=style.colour, ls=style.linestyle, lw=1.3)
            right.plot(rule_steps[-1], statistic[-1], marker=marker, color=style.colour, ms=6)
    left.set_yscale("log")
    left.set(xlabel="SVI step", ylabel="ELBO loss (log scale)", title="Smoothed ELBO loss")
    left.legend(fontsize=8)
    right.axhline(rtol, color="black", lw=0.9, ls=":")
    right.annotate("stopping threshold", (right.get_xlim()[0], rtol), xytext=(4, 4),
                   textcoords="offset points", fontsize=8)
    right.set_yscale("log")
    right.set(xlabel="SVI step", ylabel="relative change between windows",
              title="Stopping rule")
    return fig


#: The corrected model's three posteriors compared in the methods chapter.
APPROXIMATIONS = (ModelId.CORRECTED, ModelId.CORRECTED_MEAN_FIELD, ModelId.CORRECTED_LOW_RANK)


@styled
def approximations_forest(posteriors) -> Figure:
    """Worksite coefficients of the corrected model: NUTS against the two SVI guides."""
    frames = {m: posteriors[m].coefficients.worksite.set_index("feature") for m in APPROXIMATIONS}
    features = list(frames[ModelId.CORRECTED].index)
    y = np.arange(len(features))[::-1].astype(float)
    offsets = np.linspace(0.22, -0.22, len(APPROXIMATIONS))
    fig, ax = new_figure(height=5.6)
    ax.axvline(0, color=COLOURS["reference"], lw=0.8)
    for model, offset in zip(APPROXIMATIONS, offsets, strict=True):
        style = model_style(model)
        frame = frames[model].loc[features]
        label = f"{style.label} (NUTS)" if model is ModelId.CORRECTED else style.label
        _interval_rows(ax, y + offset, frame, style.colour, label,
                       filled=model is ModelId.CORRECTED)
    ax.set_yticks(y, features, fontsize=8)
    ax.grid(axis="y", visible=False)
    ax.set(xlabel="log-odds of signing per SD of the worksite feature (mean, 90% interval)",
           title="Corrected model: NUTS and two SVI guides")
    fig.legend(loc="outside lower center", ncols=3, fontsize=8)
    return fig


@styled
def sbc_ranks(calibration) -> Figure:
    """Rank histograms of simulation-based calibration, one panel per parameter.

    Each panel bins the rank of the true value among the posterior draws; a
    calibrated posterior gives uniform ranks, inside the band (the central 99% of
    a binomial count per bin).
    """
    from scipy.stats import binom

    ranks = calibration.ranks
    parameters = list(dict.fromkeys(ranks["parameter"]))
    replications = ranks.groupby("parameter")["replication"].nunique().max()
    bins = int(min(10, max(2, replications // 4)))
    edges = np.linspace(0, calibration.draws + 1, bins + 1)
    low, high = binom.ppf([0.005, 0.995], replications, 1 / bins)
    ncols = min(4, len(parameters))
    nrows = int(np.ceil(len(parameters) / ncols))
    fig, axes = new_figure(nrows, ncols, height=1.7 * nrows + 0.6, sharex=True, sharey=True,
                           squeeze=False)
    colour = model_style(HEADLINE_MODEL).colour
    for ax, name in zip(axes.flat, parameters, strict=False):
        values = ranks.loc[ranks["parameter"] == name, "rank"].to_numpy(dtype=float)
        ax.axhspan(low, high, color=COLOURS["reference"], alpha=0.2, lw=0)
        ax.axhline(replications / bins, color=COLOURS["reference"], lw=0.8)
        ax.hist(values, bins=edges, color=colour, alpha=0.85)
        ax.set_title(labels.parameter_label(name, short=True), fontsize=9)
        ax.grid(False)
    for ax in axes.flat[len(parameters):]:
        ax.set_visible(False)
    fig.supxlabel(f"rank of the true value among {calibration.draws} posterior draws",
                  fontsize=9)
    fig.supylabel("replications", fontsize=9)
    return fig


@styled
def published_sign_flip(audit, data) -> Figure:
    """What the published worker term projects onto, in training and at prediction time.

    Left: Σ_j z_j per worker feature over the training and the held-out workers.
    Right: each worksite's learned intercept b_s·Σ_train z against the one applied
    to held-out workers, b_s·Σ_test z (posterior means), one point per worksite.
    """
    features = list(data.worker_features)
    train, test = model_style(ModelId.CORRECTED).colour, model_style(ModelId.PUBLISHED).colour
    fig, (left, right) = new_figure(1, 2, height=3.6, gridspec_kw={"width_ratios": [1.25, 1]})
    rows = np.arange(len(features))
    left.barh(rows + 0.2, audit.train_projection, height=0.4, color=train,
              label="training workers")
    left.barh(rows - 0.2, audit.test_projection, height=0.4, color=test,
              label="held-out workers")
    left.axvline(0, color="black", lw=0.8)
    left.set_yticks(rows, features, fontsize=8)
    left.invert_yaxis()
    left.set(xlabel=r"$\Sigma_j\, z_j$, summed standardized values",
             title="What the worker term sums")
    left.legend(fontsize=8, ncols=2, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    x, y = audit.intercept_train, audit.intercept_test
    bound = 1.08 * float(max(np.abs(x).max(), np.abs(y).max(), 1e-12))
    right.plot([-bound, bound], [bound, -bound], color=COLOURS["reference"], ls="--", lw=0.9,
               label="applied = − learned")
    right.scatter(x, y, s=14, color=test, alpha=0.8, zorder=3)
    right.set(xlim=(-bound, bound), ylim=(-bound, bound), aspect="equal",
              xlabel="learned (training), log-odds", ylabel="applied (held out), log-odds",
              title="Worksite intercepts")
    right.legend(fontsize=8, loc="upper right")
    return fig


# -------------------------------------------------------------- results chapter

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
    ax.set_yticks(y, features, fontsize=8)
    ax.grid(axis="y", visible=False)
    ax.set(xlabel="log-odds of signing per SD of the worksite feature (mean, 90% interval)",
           title="Worksite coefficients")
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


# ----------------------------------------------------------- clustering chapter

CLUSTER_COLOURS = ("#1b6ca8", "#e09f3e", "#4a9c5d", "#c2452d", "#7f7f7f")


def _logjoint_panel(ax, samples, burn_in, colour, title):
    trace = np.asarray(samples.log_joint, dtype=float)
    sweeps = np.arange(1, trace.shape[1] + 1)
    for chain, values in enumerate(trace):
        ax.plot(sweeps, values, lw=1.0, color=colour,
                alpha=1.0 - 0.6 * chain / max(len(trace) - 1, 1),
                label=f"{len(trace)} chains" if chain == 0 else None)
    ax.axvline(burn_in, color=COLOURS["reference"], ls="--", lw=1, label="end of burn-in")
    kept = trace[:, burn_in:]  # zoom on the kept draws; the first sweeps can be far lower
    low, high = float(kept.min()), float(kept.max())
    pad = max(high - low, 1e-6 * abs(high), 1.0)
    ax.set_ylim(low - 2 * pad, high + pad)
    ax.set(xlabel="Gibbs sweep", ylabel="log joint",
           title=f"{title}\nσ = {samples.sigma:.3g}, K = {samples.K}")
    ax.title.set_fontsize(10)
    ax.legend(loc="lower right", fontsize=8)


@styled
def clustering_logjoint(clustering, burn_in: int) -> Figure:
    """Log joint of every Gibbs chain of the study's mixture at the study's settings."""
    fig, ax = new_figure(height=3.4)
    _logjoint_panel(ax, clustering.study_samples, burn_in, model_style(ModelId.PUBLISHED).colour,
                    "Published refit's coefficients, study's settings")
    return fig


def _symlog_ticks(values, linthresh: float, most: int = 4) -> list[float]:
    """Powers of ten for a symlog axis, at most ``most`` on each side of zero."""
    ticks = [0.0]
    for sign in (-1.0, 1.0):
        side = np.asarray(values, dtype=float) * sign
        side = side[side > linthresh]
        if not side.size:
            continue
        low, high = int(np.log10(linthresh)), int(np.ceil(np.log10(side.max())))
        step = max(1, int(np.ceil((high - low + 1) / most)))
        ticks += [sign * 10.0**e for e in range(low, high + 1, step)]
    return sorted(ticks)


@styled
def clustering_selection(clustering, study_sigma: float) -> Figure:
    """Held-out log predictive density against σ, one line per K, for the published refit's
    vectors (the headline model's slopes have their own test,
    :mod:`organizing.report.clustering`)."""
    runs = ["published"]
    fig, axes = new_figure(1, len(runs), height=3.8, squeeze=False)
    for ax, key in zip(axes.flat, runs, strict=True):
        run = clustering.runs[key]
        table = run.selection
        for i, K in enumerate(sorted(table["K"].unique())):
            rows = table[table["K"] == K].sort_values("sigma")
            ax.plot(rows["sigma"], rows["heldout_lpd"], marker="o", ms=3.5, lw=1.2,
                    color=CLUSTER_COLOURS[i % len(CLUSTER_COLOURS)], label=f"K = {K}")
        ax.axvline(study_sigma, color=COLOURS["reference"], ls="--", lw=1, label="study's σ")
        ax.scatter([run.sigma], [run.heldout_lpd], s=160, facecolor="none", edgecolor="black",
                   lw=1.5, zorder=4, label="fitted")
        ax.set_xscale("log")
        # The density spans many orders of magnitude: linear near zero, logarithmic beyond.
        ax.set_yscale("symlog", linthresh=10.0)
        ax.set_yticks(_symlog_ticks(table["heldout_lpd"], linthresh=10.0))
        low, high = float(table["heldout_lpd"].min()), float(table["heldout_lpd"].max())
        top = 4.0 * high + 10.0 if high > 0 else high / 4.0 + 10.0
        ax.set_ylim(2.0 * low - 10.0 if low < 0 else low - 10.0, top)
        ax.set(xlabel="component scale σ (log scale)",
               ylabel="held-out log predictive density", title=labels.CLUSTERING_RUNS[key])
        ax.title.set_fontsize(10)
        ax.legend(fontsize=8, loc="lower right")
    return fig


def _draw_cluster_means(ax, frame: pd.DataFrame) -> None:
    features = list(dict.fromkeys(frame["feature"]))
    clusters = sorted(frame["cluster"].unique())
    positions = np.arange(len(features))[::-1].astype(float)
    offsets = np.linspace(-0.18, 0.18, len(clusters)) if len(clusters) > 1 else [0.0]
    for k, offset in zip(clusters, offsets, strict=True):
        rows = frame[frame["cluster"] == k].set_index("feature").loc[features]
        colour = CLUSTER_COLOURS[int(k) % len(CLUSTER_COLOURS)]
        ax.hlines(positions + offset, rows["lower"], rows["upper"], color=colour, lw=2)
        ax.plot(rows["mean"], positions + offset, "o", color=colour, label=f"cluster {k + 1}")
    ax.axvline(0, color=COLOURS["reference"], lw=1)
    ax.set_yticks(positions, features, fontsize=8)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("cluster mean of the slope (log-odds per SD)")
    if len(clusters) > 1:
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=len(clusters),
                  fontsize=8)


def _draw_coassignment(fig, ax, clustering) -> None:
    matrix = np.asarray(clustering.coassignment, dtype=float)
    probabilities = np.asarray(clustering.assignment_probabilities, dtype=float)
    modal, certainty = probabilities.argmax(axis=1), probabilities.max(axis=1)
    order = np.lexsort((-certainty, modal))
    image = ax.imshow(matrix[np.ix_(order, order)], cmap="Blues", vmin=0, vmax=1,
                      interpolation="nearest")
    for edge in np.flatnonzero(np.diff(modal[order])) + 0.5:
        ax.axhline(edge, color=COLOURS["accent"], lw=1.2)
        ax.axvline(edge, color=COLOURS["accent"], lw=1.2)
    ax.set(xlabel="worksites, by most probable cluster", ylabel="worksites, same order",
           xticks=[], yticks=[])
    ax.grid(False)
    fig.colorbar(image, ax=ax, shrink=0.85, label="probability of sharing a cluster")


@styled
def cluster_pair(clustering) -> Figure:
    """Cluster means (left) and co-assignment probabilities (right) of the fitted mixture."""
    fig, (left, right) = new_figure(1, 2, height=4.0, gridspec_kw={"width_ratios": [1.1, 1]})
    _draw_cluster_means(left, clustering.cluster_means)
    _draw_coassignment(fig, right, clustering)
    return fig


# ---------------------------------------------------------- conclusions chapter


@styled
def variance_decomposition(variance) -> Figure:
    """Spread over workers of each part of the logit, under each NUTS model."""
    terms = [t for t in labels.VARIANCE_TERMS if t != "features: worksite minus worker"]
    models = labels.model_order(variance["model"].unique())
    y = np.arange(len(terms))[::-1].astype(float)
    offsets = np.linspace(0.2, -0.2, len(models)) if len(models) > 1 else [0.0]
    fig, ax = new_figure(height=2.9)
    for model, offset in zip(models, offsets, strict=True):
        style = model_style(model)
        frame = variance[variance["model"] == model.value].set_index("term")
        kept = [t for t in terms if t in frame.index]
        rows = y[[terms.index(t) for t in kept]] + offset
        _interval_rows(ax, rows, frame.loc[kept], style.colour, style.label,
                       filled=model is HEADLINE_MODEL)
    ax.set_yticks(y, [labels.VARIANCE_TERMS[t] for t in terms])
    ax.grid(axis="y", visible=False)
    ax.set(xlabel="sd over training workers of the term (logit scale; mean, 90% interval)",
           xlim=(0, None))
    fig.legend(loc="outside lower center", ncols=len(models), fontsize=8)
    return fig
