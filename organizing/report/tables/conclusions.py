"""Tables of the book: conclusions chapter."""

from __future__ import annotations

from great_tables import GT

from organizing.report import labels
from organizing.report.formatting import (
    COEFFICIENT_DECIMALS,
)
from organizing.report.tables.style import house_style, interval, new_table, probabilities


def variance_table(variance) -> GT:
    """The spread over workers of each part of the logit, under each NUTS model."""
    models = labels.model_order(variance["model"].unique())
    frame = variance.copy()
    frame["term"] = frame["term"].map(labels.VARIANCE_TERMS).fillna(frame["term"])
    frame["model"] = frame["model"].map(labels.model_label)
    frame = frame.set_index("model").loc[[labels.model_label(m) for m in models]].reset_index()
    return (
        new_table(frame[["model", "term", "mean", "q5", "q95", "prob_positive"]],
           rowname_col="term", groupname_col="model")
        .cols_label(mean="Mean sd", q5="90% interval", prob_positive="P(> 0)")
        .fmt_number(columns="mean", decimals=COEFFICIENT_DECIMALS)
        .pipe(interval, "q5", "q95")
        .pipe(probabilities, "prob_positive")
        .pipe(house_style)
    )
