"""Figures of the book: conclusions chapter."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from organizing.models import HEADLINE_MODEL
from organizing.report import labels
from organizing.report.figures.style import _interval_rows, new_figure, styled
from organizing.report.labels import model_style


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
