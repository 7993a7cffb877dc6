"""matplotlib figures for the book, built from :class:`~organizing.results.Results`.

Every function returns a ``Figure`` in one house style (:func:`house_style`
is applied on import), never fits or reads a data file, and never plots a
point per worker: distributions are drawn from precomputed histograms, and
scatter plots have one point per worksite. Captions and alt text live in the
chapters' cell options.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

# One palette for the book: corrected analysis, published specification, baselines.
COLOURS = {
    "corrected": "#1b6ca8",
    "published": "#c2452d",
    "baseline": "#7f7f7f",
    "extended": "#4a9c5d",
    "accent": "#e09f3e",
}
WIDTH = 7.0  # inches: fits the HTML column and an A4/letter page


def house_style() -> None:
    """The book's one figure style."""
    mpl.rcParams.update({
        "figure.dpi": 110,
        "savefig.dpi": 150,
        "figure.figsize": (WIDTH, 3.6),
        "figure.constrained_layout.use": True,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.25,
        "axes.titlesize": 11,
        "axes.titleweight": "bold",
        "axes.labelsize": 10,
        "legend.frameon": False,
        "font.size": 10,
    })


house_style()


def new_figure(nrows: int = 1, ncols: int = 1, height: float = 3.6, **kwargs):
    """A figure and its axes in the house style.

    Built without pyplot, so no global figure state leaks between calls and no
    display backend is needed; Jupyter shows a returned ``Figure`` as an image.
    """
    fig = Figure(figsize=(WIDTH, height))
    axes = fig.subplots(nrows, ncols, **kwargs)
    return fig, axes


# ---------------------------------------------------------------- data chapter


def site_signing_rates(results) -> Figure:
    """Signing rate by worksite: its distribution, and against worksite size."""
    sites = results.data["sites"]
    fig, (left, right) = new_figure(1, 2)
    left.hist(sites["signing rate"], bins=20, color=COLOURS["corrected"], alpha=0.85)
    left.axvline(results.data["signing_rate"], color=COLOURS["accent"], ls="--",
                 label="all workers")
    left.set(xlabel="share of workers who signed", ylabel="worksites",
             title="Signing rate across worksites")
    left.legend()
    right.scatter(sites["No. workers discovered"], sites["signing rate"], s=14,
                  color=COLOURS["corrected"], alpha=0.8)
    right.set_xscale("log")
    right.set(xlabel="workers discovered (log scale)", ylabel="share who signed",
              title="Signing rate and worksite size")
    return fig


def worker_feature_distributions(results) -> Figure:
    """Histograms of the continuous worker features (precomputed counts)."""
    histograms = results.data["histograms"]
    names = list(histograms)
    fig, axes = new_figure(1, len(names), height=3.0)
    for ax, name in zip(np.atleast_1d(axes), names, strict=True):
        counts, edges = histograms[name]["counts"], histograms[name]["edges"]
        ax.stairs(counts, edges, fill=True, color=COLOURS["corrected"], alpha=0.85)
        ax.set(title=name, xlabel="value", ylabel="workers")
        if name == "No. Notes":
            ax.set_yscale("log")
            ax.set_ylabel("workers (log scale)")
    return fig


# -------------------------------------------------------------- methods chapter


def _node(ax, xy, label, observed=False, radius=0.36):
    """One node of a plate diagram: a circle, shaded when observed."""
    from matplotlib.patches import Circle

    ax.add_patch(Circle(
        xy, radius, facecolor="#d9d9d9" if observed else "white", edgecolor="black",
        linewidth=1.2, zorder=3))
    ax.text(*xy, label, ha="center", va="center", fontsize=12, zorder=4)


def _edge(ax, start, end, radius=0.36):
    """An arrow between two nodes' rims."""
    (x0, y0), (x1, y1) = start, end
    length = np.hypot(x1 - x0, y1 - y0)
    dx, dy = (x1 - x0) / length, (y1 - y0) / length
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(FancyArrowPatch(
        (x0 + radius * dx, y0 + radius * dy), (x1 - radius * dx, y1 - radius * dy),
        arrowstyle="-|>", mutation_scale=11, linewidth=1.0, color="#333333", zorder=2))


def _plate(ax, corner, width, height, label, top=False):
    """A plate: a rounded box with its label in its lower (or upper) right corner."""
    x, y = corner
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch(
        corner, width, height, boxstyle="round,pad=0,rounding_size=0.12", fill=False,
        edgecolor="#555555", linewidth=1.0, zorder=1))
    ax.text(x + width - 0.15, y + height - 0.15 if top else y + 0.12, label, ha="right",
            va="top" if top else "bottom", fontsize=9, color="#333333")


def plate_diagram(results) -> Figure:
    """The corrected model as a plate diagram: latent nodes white, observed shaded."""
    n_sites = results.data["n_sites"]
    n_worker = len(results.data["worker_features"])
    n_site = len(results.data["site_features"])
    fig, ax = new_figure(height=3.9)
    ax.set(xlim=(0, 10.4), ylim=(-0.1, 5.5), aspect="equal")
    ax.axis("off")
    nodes = {
        "tau_beta": ((1.6, 4.8), r"$\tau_\beta$", False),
        "tau_b": ((7.6, 4.8), r"$\tau_b$", False),
        "alpha": ((0.9, 1.4), r"$\alpha$", False),
        "beta": ((2.5, 3.0), r"$\beta$", False),
        "x": ((4.9, 3.2), r"$x_s$", True),
        "b": ((7.6, 3.2), r"$b_s$", False),
        "y": ((4.9, 1.2), r"$y_i$", True),
        "z": ((7.6, 1.2), r"$z_i$", True),
    }
    _plate(ax, (3.9, 0.05), 6.4, 4.0, f"worksites $s = 1, \\ldots, {n_sites}$", top=True)
    _plate(ax, (4.15, 0.3), 5.9, 1.75, r"workers $i$ at worksite $s$")
    for start, end in (("tau_beta", "alpha"), ("tau_beta", "beta"), ("tau_b", "b"),
                       ("alpha", "y"), ("beta", "y"), ("x", "y"), ("b", "y"), ("z", "y")):
        _edge(ax, nodes[start][0], nodes[end][0])
    for xy, label, observed in nodes.values():
        _node(ax, xy, label, observed)
    notes = {
        "tau_beta": r"HalfCauchy(5)",
        "tau_b": r"HalfCauchy(5)",

        "x": f"{n_site} worksite\nfeatures",
        "b": f"{n_worker} coefficients\nper worksite",
        "z": f"{n_worker} worker\nfeatures",
    }
    for key, text in notes.items():
        (x, y), _, _ = nodes[key]
        ax.text(x + 0.48, y, text, ha="left", va="center", fontsize=8, color="#444444")
    for key, text in (("alpha", "intercept"), ("beta", f"{n_site} shared\ncoefficients"),
                      ("y", "signed (0/1)")):
        (x, y), _, _ = nodes[key]
        ax.text(x, y - 0.47, text, ha="center", va="top", fontsize=8, color="#444444")
    return fig


#: How the book names each SVI fit, and the colour and line style it draws it in.
METHODS_FIT_STYLES = {
    "corrected": ("corrected, mean-field", COLOURS["corrected"], "-"),
    "corrected_lowrank": ("corrected, low-rank", COLOURS["accent"], "--"),
    "extended": ("extended, mean-field", COLOURS["extended"], "-"),
    "published": ("published spec., mean-field", COLOURS["published"], "-"),
}


def _window_means(losses: np.ndarray, window: int) -> np.ndarray:
    """Mean of each run of ``window`` consecutive losses, ending at step window, window+1, ..."""
    total = np.concatenate([[0.0], np.cumsum(losses)])
    return (total[window:] - total[:-window]) / window


def convergence_statistic(losses: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Steps and the relative change between the last two windows that the rule compares.

    At step t (t ≥ 2·window) it is |L̄₀ − L̄₁| / max(|L̄₁|, 1), as in
    :func:`organizing.inference.elbo_converged`.
    """
    means = _window_means(np.asarray(losses, dtype=float), window)
    recent, previous = means[window:], means[:-window]
    steps = np.arange(2 * window, len(losses) + 1)
    return steps, np.abs(previous - recent) / np.maximum(np.abs(recent), 1.0)


def elbo_traces(results) -> Figure:
    """Each SVI fit's smoothed ELBO loss, and its stopping rule's statistic where it was checked."""
    svi = results.meta["config"]["svi"]
    window, rtol = svi["window"], svi["rtol"]
    every = svi.get("check_every", 50)  # fit_svi's default: the rule is asked every 50 steps
    fig, (left, right) = new_figure(1, 2, height=3.4)
    for name, fit in results.fits.items():
        label, colour, style = METHODS_FIT_STYLES.get(name, (name, COLOURS["baseline"], "-"))
        losses = np.asarray(fit.losses, dtype=float)
        smooth = _window_means(losses, min(50, len(losses)))
        steps = np.arange(len(losses) - len(smooth) + 1, len(losses) + 1)
        left.plot(steps, smooth, color=colour, ls=style, lw=1.3, label=label)
        marker = "o" if fit.converged else "x"
        left.plot(steps[-1], smooth[-1], marker=marker, color=colour, ms=6)
        rule_steps, statistic = convergence_statistic(losses, window)
        checked = (rule_steps >= svi["min_steps"]) & (rule_steps % every == 0)
        if len(checked):
            checked[-1] = True  # where the fit stopped
        rule_steps, statistic = rule_steps[checked], statistic[checked]
        if len(rule_steps):
            right.plot(rule_steps, statistic, color=colour, ls=style, lw=1.3)
            right.plot(rule_steps[-1], statistic[-1], marker=marker, color=colour, ms=6)
    left.set_yscale("log")
    left.set(xlabel="SVI step", ylabel="ELBO loss (log scale)",
             title="Smoothed ELBO loss")
    left.legend(fontsize=8)
    right.axhline(rtol, color="black", lw=0.9, ls=":")
    right.annotate("stopping threshold", (right.get_xlim()[0], rtol), xytext=(4, 4),
                   textcoords="offset points", fontsize=8)
    right.set_yscale("log")
    right.set(xlabel="SVI step", ylabel="relative change between windows",
              title="Stopping rule")
    return fig


def published_sign_flip(results) -> Figure:
    """What the published worker term projects onto, in training and at prediction time.

    Left: Σ_j z_j per worker feature over the training and the held-out workers.
    Right: each worksite's learned intercept b_s·Σ_train z against the one applied
    to held-out workers, b_s·Σ_test z (posterior means), one point per worksite.
    """
    audit = results.audit
    features = list(results.data["worker_features"])
    fig, (left, right) = new_figure(1, 2, height=3.6, gridspec_kw={"width_ratios": [1.25, 1]})
    rows = np.arange(len(features))
    left.barh(rows + 0.2, audit.train_projection, height=0.4, color=COLOURS["corrected"],
              label="training workers")
    left.barh(rows - 0.2, audit.test_projection, height=0.4, color=COLOURS["published"],
              label="held-out workers")
    left.axvline(0, color="black", lw=0.8)
    left.set_yticks(rows, features, fontsize=8)
    left.invert_yaxis()
    left.set(xlabel=r"$\Sigma_j\, z_j$, summed standardized values",
             title="What the worker term sums")
    left.legend(fontsize=8, ncols=2, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    x, y = audit.intercept_train, audit.intercept_test
    bound = 1.08 * float(max(np.abs(x).max(), np.abs(y).max(), 1e-12))
    right.plot([-bound, bound], [bound, -bound], color=COLOURS["baseline"], ls="--", lw=0.9,
               label="applied = − learned")
    right.scatter(x, y, s=14, color=COLOURS["published"], alpha=0.8, zorder=3)
    right.set(xlim=(-bound, bound), ylim=(-bound, bound), aspect="equal",
              xlabel="learned (training), log-odds", ylabel="applied (held out), log-odds",
              title="Worksite intercepts")
    right.legend(fontsize=8, loc="upper right")
    return fig


# -------------------------------------------------------------- results chapter

# Line colour and style of each model in the held-out figures.
MODEL_STYLES = {
    "corrected": (COLOURS["corrected"], "-"),
    "corrected (low-rank guide)": (COLOURS["corrected"], "--"),
    "extended": (COLOURS["extended"], "-"),
    "published (study's prediction)": (COLOURS["published"], "-"),
    "published (as learned)": (COLOURS["published"], "--"),
    "pooled logistic": (COLOURS["accent"], "-"),
    "intercept only": (COLOURS["baseline"], ":"),
}
MODEL_NAMES = {
    "published (study's prediction)": "published spec., study's prediction",
    "published (as learned)": "published spec., as learned",
}


def forest_plot(results) -> Figure:
    """Worksite coefficients: NUTS mean and 90% interval, mean-field SVI mean beside."""
    nuts = results.nuts["coefficients"]["worksite"].set_index("feature")
    mean_field = results.coefficients["corrected"]["worksite"].set_index("feature")["mean"]
    features = list(results.data["site_features"])
    y = np.arange(len(features))[::-1]
    fig, ax = new_figure(height=5.4)
    ax.axvline(0, color=COLOURS["baseline"], lw=0.8)
    ax.hlines(y, nuts.loc[features, "q5"], nuts.loc[features, "q95"],
              color=COLOURS["corrected"], lw=2, label="NUTS 90% interval")
    ax.plot(nuts.loc[features, "mean"], y, "o", color=COLOURS["corrected"], ms=5,
            label="NUTS mean")
    ax.plot(mean_field.loc[features], y, "D", mfc="none", color=COLOURS["accent"], ms=5,
            label="mean-field SVI mean")
    ax.set_yticks(y, features)
    ax.grid(axis="y", visible=False)
    ax.set(xlabel="log-odds of signing per SD of the worksite feature",
           title="Worksite coefficients (corrected model)")
    fig.legend(loc="outside lower center", ncols=3, fontsize=8)
    return fig


def worker_effects_plot(results) -> Figure:
    """Worker coefficients: interval of their average and the band where worksites lie."""
    worker = results.nuts["coefficients"]["worker"]
    y = np.arange(len(worker))[::-1]
    band = 1.645 * worker["spread"]
    fig, ax = new_figure(height=3.6)
    ax.axvline(0, color=COLOURS["baseline"], lw=0.8)
    ax.hlines(y, worker["mean"] - band, worker["mean"] + band, color=COLOURS["corrected"],
              lw=9, alpha=0.2, label="middle 90% of worksites (mean ± 1.645 SD)")
    ax.hlines(y, worker["q5"], worker["q95"], color=COLOURS["corrected"], lw=2.5,
              label="average: 90% interval")
    ax.plot(worker["mean"], y, "o", color=COLOURS["corrected"], ms=5, label="average: mean")
    ax.set_yticks(y, worker["feature"])
    ax.grid(axis="y", visible=False)
    ax.set(xlabel="log-odds of signing per SD of the worker feature",
           title="Worker coefficients across worksites")
    fig.legend(loc="outside lower center", ncols=3, fontsize=8)
    return fig


def roc_curves(results) -> Figure:
    """ROC curve of every model on the held-out workers of the study's split."""
    fig, ax = new_figure(height=4.4)
    ax.plot([0, 1], [0, 1], color=COLOURS["baseline"], lw=0.6)
    auc = results.metrics.set_index("model")["auc"]
    for model, curves in results.curves.items():
        colour, style = MODEL_STYLES.get(model, (COLOURS["baseline"], "-."))
        roc = curves["roc"]
        ax.plot(roc["fpr"], roc["tpr"], color=colour, ls=style, lw=1.5,
                label=f"{MODEL_NAMES.get(model, model)} (AUC {auc[model]:.3f})")
    ax.set(xlabel="false-positive rate (non-signers flagged)",
           ylabel="true-positive rate (signers flagged)", xlim=(0, 1), ylim=(0, 1.01),
           title="ROC curves, held-out workers")
    ax.set_aspect("equal")
    ax.legend(loc="lower right", fontsize=8)
    return fig


CALIBRATION_MODELS = ("corrected", "extended", "published (study's prediction)",
                      "published (as learned)", "pooled logistic")


def calibration_plot(results) -> Figure:
    """Observed signing rate against mean predicted probability, in decile bins."""
    fig, ax = new_figure(height=4.4)
    ax.plot([0, 1], [0, 1], color=COLOURS["baseline"], lw=0.6, label="perfect calibration")
    for model in CALIBRATION_MODELS:
        if model not in results.curves:
            continue
        colour, style = MODEL_STYLES[model]
        table = results.curves[model]["calibration"]
        ax.plot(table["predicted"], table["observed"], marker="o", ms=4, color=colour,
                ls=style, lw=1.2, label=MODEL_NAMES.get(model, model))
    ax.set(xlabel="mean predicted probability of signing (bins of equal size)",
           ylabel="share who signed", xlim=(0, 1), ylim=(0, 1), title="Calibration")
    ax.set_aspect("equal")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def ppc_worksites(results) -> Figure:
    """Per-worksite signing rate of held-out workers against its 90% predictive interval."""
    ppc = results.ppc.sort_values("q50").reset_index(drop=True)
    x = np.arange(len(ppc))
    inside = ppc["inside"].to_numpy(dtype=bool)
    fig, ax = new_figure(height=3.8)
    ax.vlines(x, ppc["q5"], ppc["q95"], color=COLOURS["corrected"], alpha=0.35, lw=2.5,
              label="90% predictive interval")
    ax.plot(x[inside], ppc.loc[inside, "observed"], "o", ms=3.5, color=COLOURS["corrected"],
            label="observed, inside")
    ax.plot(x[~inside], ppc.loc[~inside, "observed"], "o", ms=4.5, color=COLOURS["published"],
            label="observed, outside")
    ax.set(xlabel="worksites with held-out workers, ordered by predicted median rate",
           ylabel="signing rate of held-out workers",
           title="Posterior predictive check of worksite signing rates")
    ax.set_xticks([])
    ax.legend(loc="upper left", fontsize=8)
    return fig


# ----------------------------------------------------------- clustering chapter

CLUSTER_COLOURS = ("#1b6ca8", "#e09f3e", "#4a9c5d", "#c2452d", "#7f7f7f")
_RUN_TITLES = {"published": "Published coefficients", "corrected": "Corrected coefficients"}


def clustering_logjoint(results) -> Figure:
    """Log joint of every Gibbs chain: the study's settings and the chosen corrected run."""
    clusters = results.clustering
    burn_in = results.meta["config"]["clustering"]["burn_in"]
    runs = (
        ("published", clusters["study"]["samples"], "Published coefficients, study's settings"),
        ("corrected", clusters["chosen"]["corrected"], "Corrected coefficients, chosen"),
    )
    fig, axes = new_figure(1, 2, height=3.4)
    for ax, (run, samples, title) in zip(axes, runs, strict=True):
        trace = np.asarray(samples.log_joint, dtype=float)
        sweeps = np.arange(1, trace.shape[1] + 1)
        for chain, values in enumerate(trace):
            ax.plot(sweeps, values, lw=1.0, color=COLOURS[run],
                    alpha=1.0 - 0.6 * chain / max(len(trace) - 1, 1),
                    label=f"{len(trace)} chains" if chain == 0 else None)
        ax.axvline(burn_in, color=COLOURS["baseline"], ls="--", lw=1, label="end of burn-in")
        # Zoom on the kept draws; the first sweeps can be orders of magnitude lower.
        kept = trace[:, burn_in:]
        low, high = float(kept.min()), float(kept.max())
        pad = max(high - low, 1e-6 * abs(high), 1.0)
        ax.set_ylim(low - 2 * pad, high + pad)
        ax.set(xlabel="Gibbs sweep", ylabel="log joint",
               title=f"{title}\nσ = {samples.sigma:.3g}, K = {samples.K}")
        ax.title.set_fontsize(10)
        ax.legend(loc="lower right", fontsize=8)
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


def clustering_selection(results) -> Figure:
    """Held-out log predictive density against σ, one line per K, for both coefficient sets."""
    clusters = results.clustering
    study_sigma = results.meta["config"]["clustering"]["sigma"]
    fig, axes = new_figure(1, 2, height=3.8)
    for ax, run in zip(axes, ("published", "corrected"), strict=True):
        table = clusters["tables"][run]
        chosen = clusters["selection"][run]
        Ks = sorted(table["K"].unique())
        for i, K in enumerate(Ks):
            rows = table[table["K"] == K].sort_values("sigma")
            ax.plot(rows["sigma"], rows["heldout_lpd"], marker="o", ms=3.5, lw=1.2,
                    color=CLUSTER_COLOURS[i % len(CLUSTER_COLOURS)], label=f"K = {K}")
        ax.axvline(study_sigma, color=COLOURS["baseline"], ls="--", lw=1, label="study's σ")
        ax.scatter([chosen["sigma"]], [chosen["heldout_lpd"]], s=160, facecolor="none",
                   edgecolor="black", lw=1.5, zorder=4, label="chosen")
        ax.set_xscale("log")
        # The density spans many orders of magnitude: linear near zero, logarithmic beyond.
        ax.set_yscale("symlog", linthresh=10.0)
        ax.set_yticks(_symlog_ticks(table["heldout_lpd"], linthresh=10.0))
        low, high = float(table["heldout_lpd"].min()), float(table["heldout_lpd"].max())
        top = 4.0 * high + 10.0 if high > 0 else high / 4.0 + 10.0
        ax.set_ylim(2.0 * low - 10.0 if low < 0 else low - 10.0, top)
        ax.set(xlabel="component scale σ (log scale)",
               ylabel="held-out log predictive density", title=_RUN_TITLES[run])
        ax.legend(fontsize=8, loc="lower right")
    return fig


def cluster_means(results) -> Figure:
    """Posterior mean of each cluster's seven coefficients, with 90% intervals."""
    frame = results.clustering["cluster_means"]
    features = list(dict.fromkeys(frame["feature"]))
    clusters = sorted(frame["cluster"].unique())
    fig, ax = new_figure(height=0.42 * len(features) + 1.3)
    positions = np.arange(len(features))[::-1].astype(float)
    offsets = np.linspace(-0.18, 0.18, len(clusters)) if len(clusters) > 1 else [0.0]
    for k, offset in zip(clusters, offsets, strict=True):
        rows = frame[frame["cluster"] == k].set_index("feature").loc[features]
        colour = CLUSTER_COLOURS[int(k) % len(CLUSTER_COLOURS)]
        ax.hlines(positions + offset, rows["lower"], rows["upper"], color=colour, lw=2)
        ax.plot(rows["mean"], positions + offset, "o", color=colour, label=f"cluster {k + 1}")
    ax.axvline(0, color=COLOURS["baseline"], lw=1)
    ax.set_yticks(positions, features)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("cluster mean of the worksite's coefficient (log-odds per SD)")
    if len(clusters) > 1:
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=len(clusters))
    return fig


def coassignment_heatmap(results) -> Figure:
    """Posterior probability that two worksites share a cluster, over the regression's draws."""
    clusters = results.clustering
    matrix = np.asarray(clusters["over_draws"].coassignment, dtype=float)
    modal = np.asarray(clusters["modal"])
    certainty = np.asarray(clusters["assignment_probabilities"]).max(axis=1)
    order = np.lexsort((-certainty, modal))
    fig, ax = new_figure(height=4.2)
    image = ax.imshow(matrix[np.ix_(order, order)], cmap="Blues", vmin=0, vmax=1,
                      interpolation="nearest")
    for edge in np.flatnonzero(np.diff(modal[order])) + 0.5:
        ax.axhline(edge, color=COLOURS["accent"], lw=1.2)
        ax.axvline(edge, color=COLOURS["accent"], lw=1.2)
    if len(np.unique(modal)) == 1 and np.allclose(matrix, 1.0):
        ax.text(0.5, 0.5, "one cluster: every pair\nshares it in every draw",
                transform=ax.transAxes, ha="center", va="center", color="white", fontsize=11)
    ax.set(xlabel="worksite, ordered by most probable cluster", ylabel="worksite, same order",
           xticks=[], yticks=[])
    ax.grid(False)
    fig.colorbar(image, ax=ax, shrink=0.85, label="probability of sharing a cluster")
    return fig


def size_association(results) -> Figure:
    """Posteriors of the correlation between a worksite coefficient and log(workers discovered)."""
    association = results.clustering["association"]
    panels = (("notes", "No. Notes coefficient"),
              ("early_contact", "Early contact: first vs last quartile"))
    draws = {key: np.asarray(association[key], dtype=float) for key, _ in panels}
    draws = {key: values[np.isfinite(values)] for key, values in draws.items()}
    bound = min(1.0, 1.1 * max(np.abs(values).max() for values in draws.values()))
    bound = max(bound, 0.1)
    fig, axes = new_figure(1, 2, height=3.2, sharey=True)
    for ax, (key, title) in zip(axes, panels, strict=True):
        values = draws[key]
        ax.hist(values, bins=np.linspace(-bound, bound, 41), color=COLOURS["corrected"],
                alpha=0.85)
        q5, q95 = np.quantile(values, [0.05, 0.95])
        ax.axvspan(q5, q95, color=COLOURS["accent"], alpha=0.25, lw=0, zorder=0,
                   label="90% interval")
        ax.axvline(0, color=COLOURS["published"], lw=1.5, label="no association")
        ax.set(xlim=(-bound, bound), xlabel="correlation with log(workers discovered)",
               title=title)
        ax.legend(fontsize=8, loc="upper left")
    axes[0].set_ylabel("posterior draws")
    return fig


# ---------------------------------------------------------- conclusions chapter
