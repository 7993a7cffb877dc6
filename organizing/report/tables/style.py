"""Tables of the book: common."""

from __future__ import annotations

import numpy as np
import pandas as pd
from great_tables import GT, loc, style

from organizing.report import labels
from organizing.report.formatting import (
    COEFFICIENT_DECIMALS,
    INTERVAL_SEPARATOR,
)

SOURCE = "Source: OUR Walmart campaign data (2010-2015), computed by the organizing package."
DIVERGING = ["#2166ac", "#f7f7f7", "#b2182b"]


def house_style(table: GT) -> GT:
    """The book's one table style: compact, striped, light rules, a source note."""
    return (
        table.opt_row_striping()
        .opt_vertical_padding(scale=0.6)
        .tab_options(table_font_size="13px", column_labels_font_weight="bold",
                     table_width="100%")
        .tab_source_note(SOURCE)
    )


def new_table(frame: pd.DataFrame, **kwargs) -> GT:
    """A ``GT`` whose missing values print blank (a later ``sub_missing`` can say otherwise)."""
    return GT(frame, **kwargs).sub_missing(missing_text="")


def interval(table: GT, low: str, high: str, decimals: int = COEFFICIENT_DECIMALS) -> GT:
    """Format and merge a 5%/95% pair into one column."""
    return table.fmt_number(columns=[low, high], decimals=decimals).cols_merge_range(
        col_begin=low, col_end=high, sep=INTERVAL_SEPARATOR)


def probabilities(table: GT, columns) -> GT:
    """Posterior probabilities as the prose gives them (:func:`~organizing.report.formatting.
    probability`: rounded toward 50%, never a bare 0% or 100%); a missing one is blank."""
    from organizing.report.formatting import probability

    return table.fmt(lambda p: probability(p) if p is not None and np.isfinite(p) else "",
                     columns=columns)


def log_odds_colour(table: GT, columns: list[str], values, rows=None) -> GT:
    """Colour log-odds columns on a domain symmetric around zero (white at zero)."""
    values = np.asarray(values, dtype=float)
    bound = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    return table.data_color(columns=columns, rows=rows, palette=DIVERGING,
                            domain=[-(bound or 1.0), bound or 1.0], na_color="#ffffff")


def verdict_fills(table: GT, frame: pd.DataFrame, column: str) -> GT:
    """Each verdict cell of ``column`` in its colour (:data:`organizing.report.labels.VERDICTS`)."""
    for verdict, (_, colour) in labels.VERDICTS.items():
        rows = frame.index[frame[column] == verdict].tolist()
        if rows:
            table = table.tab_style(style=style.fill(color=colour),
                                    locations=loc.body(columns=column, rows=rows))
    return table
