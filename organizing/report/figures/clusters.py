"""Figures of the book: clustering chapter."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from organizing.models import ModelId
from organizing.report import labels
from organizing.report.figures.style import new_figure, styled
from organizing.report.labels import COLOURS, model_style

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
