"""Figures of the book: data chapter."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from organizing.models import HEADLINE_MODEL
from organizing.report.figures.style import new_figure, styled
from organizing.report.labels import COLOURS, model_style


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
