"""pandera schemas for the two campaign files.

One class-based ``DataFrameModel`` per file. Column checks cover types, ranges
and allowed values; cross-column rules (one-hot groups, ``Log(X)`` agreeing
with ``log(X)``) are ``@pa.dataframe_check`` methods that return a boolean
frame, so a failure names the offending column and row. Validation is always
lazy: one run reports every failure. Numeric columns are coerced to float (a
value that cannot be read as a number is reported, never dropped); ID columns
are text (``store-12``, ``007``), read as they are written: casting would
truncate an ID like ``99.5`` or drop the zeros of ``007``. ``12`` and
``12.0`` are the same ID.

Every column whose log is a regression feature must be positive. What a
schema cannot see (an infinite value, a column named twice, a campaign with no
signer, settings that do not fit the campaign) is checked after validation by
:mod:`organizing.data.checks`, in the same report. Reading and validating a
large file happens in chunks (:mod:`organizing.data.io`); the ``unique`` rules
of the ID columns are then applied to the whole file, and an ID column's values
never appear in a message (line numbers only).

Columns that the analysis does not use may be present and pass through
unchecked (``strict = False``), so another campaign's export with extra
columns still validates; ``organizing prepare`` leaves them out of the files it
writes. ``Never Contacted`` and ``Outside network`` are optional (the study's
file has the first; ``prepare --records`` writes both).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

QUARTILES = tuple(f"Time To First Convo (Quart. {k})" for k in range(1, 5))
QUINTILES = tuple(f"Campaign length (Quint. {k})" for k in range(1, 6))

# Tolerance for Log(X) == log(X): the files store both with float64 precision.
_LOG_RTOL = 1e-7
_LOG_ATOL = 1e-9


def _one_hot_rows(df: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Element-wise: False in the group's first column where a row does not have
    exactly one of ``columns`` equal to 1 and the others 0; True elsewhere.

    One failure per bad row (a row-wise result would repeat every other value of
    the row, its worker ID included, in pandera's failure cases).
    """
    block = df[list(columns)]
    binary = block.isin([0, 1]).all(axis=1)
    result = pd.DataFrame(True, index=df.index, columns=df.columns)
    result[columns[0]] = binary & (block.sum(axis=1) == 1)
    return result


def _log_agrees(df: pd.DataFrame) -> pd.DataFrame:
    """Element-wise check that every ``Log(X)`` column equals ``log(X)``.

    Only pairs where both columns exist are checked; ``log(0) = -inf`` is
    accepted where the file stores ``-inf``.
    """
    pairs = {
        col: col[4:-1]
        for col in df.columns
        if isinstance(col, str) and col.startswith("Log(") and col[4:-1] in df.columns
    }
    result = pd.DataFrame(True, index=df.index, columns=df.columns)
    for log_col, level_col in pairs.items():
        stored = pd.to_numeric(df[log_col], errors="coerce").to_numpy(dtype=float)
        level = pd.to_numeric(df[level_col], errors="coerce").to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = np.log(level)
        result[log_col] = np.isclose(stored, expected, rtol=_LOG_RTOL, atol=_LOG_ATOL) | (
            np.isneginf(stored) & np.isneginf(expected)
        )
    return result


def Number(**kwargs) -> float:  # noqa: N802 - reads like pa.Field in the class bodies
    """A numeric column, coerced to float; a value that is not a number is reported."""
    return pa.Field(coerce=True, **kwargs)


def _whole(series: pd.Series) -> pd.Series:
    return np.isfinite(series) & (series == np.round(series))


class WorkerSchema(pa.DataFrameModel):
    """``WorkerRegressionData.csv``: one row per worker."""

    worker_id: Series[str] = pa.Field(alias="Worker ID", unique=True)
    worksite_id: Series[str] = pa.Field(alias="Worksite ID")
    is_male: Series[float] = Number(alias="Is Male", isin=[0.0, 0.5, 1.0])
    centrality: Series[float] = Number(alias="Eigen. Centrality", gt=0, le=1)
    notes: Series[float] = Number(alias="No. Notes", ge=0)
    quart_1: Series[float] = Number(alias=QUARTILES[0], isin=[0.0, 1.0])
    quart_2: Series[float] = Number(alias=QUARTILES[1], isin=[0.0, 1.0])
    quart_3: Series[float] = Number(alias=QUARTILES[2], isin=[0.0, 1.0])
    quart_4: Series[float] = Number(alias=QUARTILES[3], isin=[0.0, 1.0])
    signed: Series[float] = Number(alias="Signed", isin=[0.0, 1.0])
    log_centrality: Series[float] = Number(alias="Log(Eigen. Centrality)", le=0)
    log_notes: Series[float] = Number(alias="Log(No. Notes)")
    never_contacted: Series[float] | None = Number(alias="Never Contacted", isin=[0.0, 1.0])
    outside: Series[float] | None = Number(alias="Outside network", isin=[0.0, 1.0])

    class Config:
        name = "WorkerRegressionData.csv"
        strict = False
        coerce = False  # per column: numbers are coerced (Number), IDs are not

    @pa.check("No. Notes", name="whole_number")
    def notes_are_counts(cls, series: Series[float]) -> Series[bool]:
        return _whole(series)

    @pa.dataframe_check(name="one_hot_time_to_first_convo")
    def quartiles_one_hot(cls, df: pd.DataFrame) -> pd.DataFrame:
        return _one_hot_rows(df, QUARTILES)

    @pa.dataframe_check(name="log_column_equals_log_of_level")
    def logs_agree(cls, df: pd.DataFrame) -> pd.DataFrame:
        return _log_agrees(df)


_SHARE = {"ge": 0.0, "le": 1.0}
_CORRELATION = {"ge": -1.0, "le": 1.0}


class WorksiteSchema(pa.DataFrameModel):
    """``WorksiteNetworkData.csv``: one row per worksite."""

    worksite_id: Series[str] = pa.Field(alias="Worksite ID", unique=True)
    discovered: Series[float] = Number(alias="No. workers discovered", gt=0)
    conversations: Series[float] = Number(alias="No. organizer convers.", gt=0)
    contacted: Series[float] = Number(alias="No. workers contacted", gt=0)
    signed: Series[float] = Number(alias="No. workers signed", ge=0)
    edges: Series[float] = Number(alias="No. edges", gt=0)
    campaign_weeks: Series[float] = Number(alias="Campaign length", gt=0)
    pct_black: Series[float] = Number(alias="Percent black in ZIP", **_SHARE)
    pct_latino: Series[float] = Number(alias="Percent Latino in ZIP", **_SHARE)
    pct_male: Series[float] = Number(alias="Percent male", **_SHARE)
    mean_agi: Series[float] = Number(alias="Mean AGI in ZIP", gt=0)
    log_mean_agi: Series[float] = Number(alias="Log(Mean AGI in ZIP)")
    mean_degree: Series[float] = Number(alias="Mean degree", gt=0)
    centrality_mean: Series[float] = Number(alias="Centrality mean", gt=0)
    centrality_variance: Series[float] = Number(alias="Centrality variance", gt=0)
    ndo: Series[float] = Number(alias="NDO (Eigen., Pearson)", **_CORRELATION)
    mobilizing: Series[float] = Number(alias="Mobilizing (Pearson)", **_CORRELATION)
    quint_1: Series[float] = Number(alias=QUINTILES[0], isin=[0.0, 1.0])
    quint_2: Series[float] = Number(alias=QUINTILES[1], isin=[0.0, 1.0])
    quint_3: Series[float] = Number(alias=QUINTILES[2], isin=[0.0, 1.0])
    quint_4: Series[float] = Number(alias=QUINTILES[3], isin=[0.0, 1.0])
    quint_5: Series[float] = Number(alias=QUINTILES[4], isin=[0.0, 1.0])
    log_conversations: Series[float] = Number(alias="Log(No. organizer convers.)")
    log_contacted: Series[float] = Number(alias="Log(No. workers contacted)")
    log_discovered: Series[float] = Number(alias="Log(No. workers discovered)")
    log_edges: Series[float] = Number(alias="Log(No. edges)")
    log_mean_degree: Series[float] = Number(alias="Log(Mean degree)")
    log_centrality_variance: Series[float] = Number(alias="Log(Centrality variance)")
    log_centrality_mean: Series[float] = Number(alias="Log(Centrality mean)")

    class Config:
        name = "WorksiteNetworkData.csv"
        strict = False
        coerce = False  # per column: numbers are coerced (Number), IDs are not

    @pa.check(
        "No. workers discovered",
        "No. organizer convers.",
        "No. workers contacted",
        "No. workers signed",
        "No. edges",
        name="whole_number",
    )
    def counts_are_whole(cls, series: Series[float]) -> Series[bool]:
        return _whole(series)

    @pa.dataframe_check(name="one_hot_campaign_length")
    def quintiles_one_hot(cls, df: pd.DataFrame) -> pd.DataFrame:
        return _one_hot_rows(df, QUINTILES)

    @pa.dataframe_check(name="log_column_equals_log_of_level")
    def logs_agree(cls, df: pd.DataFrame) -> pd.DataFrame:
        return _log_agrees(df)


# Meaning of every column the analysis uses, for data/README.md and the data chapter.
COLUMN_MEANINGS: dict[str, str] = {
    "Worker ID": "Worker key (text or a number); never shown in any output.",
    "Worksite ID": "Store key (text or a number); links a worker to the worksite file.",
    "Never Contacted": "1 for a worker no organizer had a conversation with (optional).",
    "Outside network": "1 for a worker outside the network's core (optional).",
    "Is Male": "1 male, 0 female, 0.5 gender unknown.",
    "Eigen. Centrality": "Eigenvector centrality in the worksite's coworker network.",
    "No. Notes": "Organizer notes that mention the worker (organizer effort).",
    "Time To First Convo (Quart. k)": "One-hot quartile of how early a worker was first contacted.",
    "Signed": "Outcome: 1 if the worker signed a membership card.",
    "Log(Eigen. Centrality)": "Natural log of the centrality (as low as about -600).",
    "No. workers discovered": "Workers identified at the store by organizers.",
    "No. workers contacted": "Workers an organizer spoke with.",
    "No. organizer convers.": "Organizer conversations at the store.",
    "No. edges": "Ties in the reconstructed coworker network.",
    "Campaign length (Quint. k)": "One-hot quintile of the campaign's length in weeks.",
    "Percent black in ZIP": "Share of Black residents in the store's ZIP code.",
    "Percent Latino in ZIP": "Share of Latino residents in the store's ZIP code.",
    "Percent male": "Share of known-gender workers at the store who are men.",
    "Mean AGI in ZIP": "Mean adjusted gross income in the ZIP code (thousands of dollars).",
    "NDO (Eigen., Pearson)": "Network-driven organizing: correlation of notes with centrality.",
    "Mobilizing (Pearson)": "Correlation of conversations with how early workers were reached.",
    "Mean degree": "Edges per worker in the network (half the mean number of ties).",
    "Centrality mean": "Average eigenvector centrality at the store.",
    "Centrality variance": "Variance of eigenvector centrality at the store.",
}
