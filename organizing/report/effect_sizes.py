"""Effects in words and tables: the average change in the chance of signing, in real units.

Presents the effects of :class:`~organizing.results.sections.Claims` (computed by
:mod:`organizing.effects`, with the robustness columns of
:func:`organizing.sensitivity.direction_holds`): each feature's move in its own units
(:func:`move_words`), the average change in percentage points with its 90% interval and
the range across stores (:func:`change_words`), and the table for the conclusions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from great_tables import GT

from organizing.data.meaning import (
    BINARY,
    CORRELATION,
    COUNT,
    LEVEL,
    LOG_COUNT,
    LOG_INDEX,
    LOG_MONEY,
    SHARE,
    meaning,
)
from organizing.features import COMPOSITION_SUFFIX, is_composition
from organizing.report import formatting as fmt
from organizing.report.tables import house_style, new_table, probabilities


def _number(x: float) -> str:
    """A raw value as a reader would write it: 1,234 or 56 or 0.9."""
    x = float(x)
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.0f}"
    return f"{x:.1f}".rstrip("0").rstrip(".") if abs(x) >= 1 else f"{x:.2f}"


def _singular(unit: str) -> str:
    return unit[:-1] if unit.endswith("s") and " " not in unit else unit


def move_words(row) -> str:
    """A feature's move in its own units, without parentheses: ``one more note, from 1 to
    2``; ``3.0 times the workers discovered, 56 → 166, the stores' 25th to 75th
    percentile``; ``from the reference level, Time To First Convo (Quart. 1)``."""
    feature = row["feature"]
    base = feature.removesuffix(COMPOSITION_SUFFIX)
    m = meaning(feature)
    start, end = float(row["start"]), float(row["end"])
    if row["kind"] == "set":
        if m.kind == LEVEL and row.get("reference"):
            return f"from the reference level, {row['reference']}, to this level"
        return "from no to yes" if m.kind == BINARY else "from 0 to 1"
    who = "stores" if is_composition(feature) or row["level"] == "worksite" else "workers"
    iqr = f"the {who}' 25th to 75th percentile"
    if is_composition(feature):
        if m.kind == SHARE:
            return (f"the share of the store's workers with {base} from {fmt.share(start, 0)} "
                    f"to {fmt.share(end, 0)}, {iqr}")
        return f"the store's mean of {base} from {_number(start)} to {_number(end)}, {iqr}"
    if m.kind == COUNT:
        return f"one more {_singular(m.unit)}, from {_number(start)} to {_number(end)}"
    if m.kind in (LOG_COUNT, LOG_MONEY):
        money = m.kind == LOG_MONEY
        low = f"${_number(start)}k" if money else _number(start)
        high = f"${_number(end)}k" if money else _number(end)
        what = "mean income in the ZIP code" if money else m.unit
        return f"{fmt.number(end / start, 1)} times the {what}, {low} → {high}, {iqr}"
    if m.kind == SHARE:
        return f"{m.unit} from {fmt.share(start, 0)} to {fmt.share(end, 0)}, {iqr}"
    if m.kind == CORRELATION:
        return f"from {fmt.number(start, 2)} to {fmt.number(end, 2)}, {iqr}"
    if m.kind == LOG_INDEX:
        return f"{m.unit} from the 25th to the 75th percentile of {who}"
    return f"from {_number(start)} to {_number(end)}"


def points(x: float, decimals: int = 1) -> str:
    """Percentage points, signed: ``+3.2`` or ``−1.0``."""
    text = fmt.number(abs(float(x)), decimals)
    return ("+" if x > 0 else "−" if x < 0 else "") + text


def change_words(row) -> str:
    """``a rise of 3.2 percentage points on average (90% interval 2.1 to 4.4; from 0.5 to
    8.0 across stores)``."""
    mean = float(row["mean"])
    word = "a rise" if mean > 0 else "a drop" if mean < 0 else "no change"
    return (f"{word} of {fmt.number(abs(mean), 1)} percentage points on average (90% "
            f"interval {points(row['q5'])} to {points(row['q95'])}; from "
            f"{points(row['store_q5'])} to {points(row['store_q95'])} across stores)")


def effect(claims, feature: str) -> pd.Series:
    """The effects row of one feature."""
    rows = claims.effects[claims.effects["feature"] == feature]
    if len(rows) != 1:
        raise KeyError(f"no effect for the feature {feature!r}")
    return rows.iloc[0]


def effect_points(claims, feature: str) -> str:
    """One feature's average change: ``+3.2 points (2.1 to 4.4)``."""
    row = effect(claims, feature)
    return (f"{points(row['mean'])} points ({points(row['q5'])} to {points(row['q95'])})")


def largest_effects(claims, n: int = 3) -> str:
    """The ``n`` features with the largest average changes, with their moves."""
    frame = claims.effects.assign(size=claims.effects["mean"].abs()).sort_values(
        "size", ascending=False).head(n)
    return fmt.listing(f"{r['feature']}, {move_words(r)}: {effect_points(claims, r['feature'])}"
                       for _, r in frame.iterrows())


def notes_per_sd(claims) -> str:
    """What one standard deviation of No. Notes is in notes, for the technical tables."""
    row = effect(claims, "No. Notes")
    step = float(row["step"])
    per_note = 1.0 / step if np.isfinite(step) and step > 0 else np.nan
    return fmt.number(per_note, 1)


def effects_table(claims) -> GT:
    """Each feature's average change in the chance of signing (headline model).

    The move in the feature's own units, the average change over the campaign's workers
    in percentage points with its 90% interval, the range of the stores' own average
    changes (5th to 95th percentile), the posterior probability that the change is
    positive, and whether its direction holds under every sensitivity analysis.
    """
    effects = claims.effects.reset_index(drop=True)
    frame = pd.DataFrame({
        "level": effects["level"], "feature": effects["feature"],
        "move": [move_words(r) for _, r in effects.iterrows()],
        "mean": effects["mean"], "q5": effects["q5"], "q95": effects["q95"],
        "store_q5": effects["store_q5"], "store_q95": effects["store_q95"],
        "prob_positive": effects["prob_positive"],
        "robust": ["yes" if r else f"no ({f})" for r, f in
                   zip(effects.get("robust", [True] * len(effects)),
                       effects.get("fragile_under", [""] * len(effects)), strict=True)],
    })
    return (
        new_table(frame, groupname_col="level")
        .cols_label(feature="Feature", move="Move", mean="Average change (points)",
                    q5="90% interval", store_q5="Across stores (5th to 95th percentile)",
                    prob_positive="P(positive)", robust="Direction holds in every analysis")
        .fmt_number(columns=["mean", "q5", "q95", "store_q5", "store_q95"], decimals=1)
        .cols_merge_range(col_begin="q5", col_end="q95", sep=" to ")
        .cols_merge_range(col_begin="store_q5", col_end="store_q95", sep=" to ")
        .pipe(probabilities, "prob_positive")
        .pipe(house_style)
    )
