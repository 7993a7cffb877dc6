"""Figures of the book: methods chapter."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from organizing.models import HEADLINE_MODEL, ModelId
from organizing.report import labels
from organizing.report.figures.style import _interval_rows, new_figure, styled, worksite_forest
from organizing.report.labels import COLOURS, model_style


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
    worksite_forest(ax, features, "Corrected model: NUTS and two SVI guides")
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
