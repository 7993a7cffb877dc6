"""Figures of the book: common."""

from __future__ import annotations

import functools

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

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


def worksite_forest(ax, features, title: str):
    """Label a forest of worksite coefficients: one row per feature, top to bottom."""
    y = np.arange(len(features))[::-1].astype(float)
    ax.set_yticks(y, features, fontsize=8)
    ax.grid(axis="y", visible=False)
    ax.set(xlabel="log-odds of signing per SD of the worksite feature (mean, 90% interval)",
           title=title)
