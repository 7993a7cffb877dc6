"""The files of a randomized trial: store and worker lists, the assignment, the outcomes.

All are CSV files with a header row. IDs are read as text (``"0042"`` stays
``"0042"``). Every problem raises :class:`TrialFileError` with one line naming the
file, the column and the line numbers (never an ID value: IDs can identify people).

======================  =======================================================
file                    columns
======================  =======================================================
stores                  ``store_id``, ``workers`` (on the roster), optional
                        ``forecast`` (a predicted signing rate in (0, 1))
workers (worker design) ``worker_id``, ``store_id``
assignment (written)    worksite design: ``store_id``, ``workers``, ``forecast``,
                        ``block``, ``arm``; worker design: ``worker_id``,
                        ``store_id``, ``block``, ``arm`` (``arm`` is ``treated``
                        or ``control``)
outcomes                per worker: ``worker_id``, ``signed`` (0/1), and
                        ``store_id`` in the worksite design; or counts per store
                        (worksite design): ``store_id``, ``workers``, ``signed``;
                        or per store and arm (worker design): ``store_id``,
                        ``arm``, ``workers``, ``signed``. Optional
                        ``window_start`` and ``window_end`` must match the
                        protocol's window.
======================  =======================================================
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

ARMS = ("control", "treated")
STORE_COLUMNS = ("store_id", "workers")
WORKER_COLUMNS = ("worker_id", "store_id")
WINDOW_COLUMNS = ("window_start", "window_end")


class TrialFileError(ValueError):
    """A trial file that cannot be used as it is; the message is one line."""


def _lines(mask) -> str:
    rows = np.flatnonzero(np.asarray(mask)) + 2  # header is line 1
    shown = ", ".join(str(r) for r in rows[:5])
    return f"line{'s' if rows.size > 1 else ''} {shown}" + (
        f" and {rows.size - 5} more" if rows.size > 5 else "")


def read_csv(path, required: tuple[str, ...], optional: tuple[str, ...] = (),
             what: str = "file") -> pd.DataFrame:
    """A CSV as text columns, with the required columns present and no empty ID cell."""
    path = Path(path)
    if not path.is_file():
        raise TrialFileError(f"{path}: no such {what}")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, csv.Error) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise TrialFileError(f"{path}: cannot be read as CSV ({reason})") from None
    except pd.errors.EmptyDataError:
        raise TrialFileError(f"{path}: the {what} is empty") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise TrialFileError(f"{path}: the {what} needs the column(s) {', '.join(missing)} "
                             f"(it has {', '.join(frame.columns) or 'none'})")
    if frame.empty:
        raise TrialFileError(f"{path}: the {what} has no rows")
    frame = frame[[c for c in frame.columns if c in required or c in optional]].copy()
    for column in frame.columns:
        frame[column] = frame[column].str.strip()
    for column in (c for c in frame.columns if c.endswith("_id")):
        empty = frame[column] == ""
        if empty.any():
            raise TrialFileError(f"{path}: empty {column} on {_lines(empty)}")
    return frame


def whole_numbers(frame: pd.DataFrame, column: str, path, low: int = 0) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values != np.round(values)) | (values < low)
    if bad.any():
        raise TrialFileError(f"{path}: {column} must be a whole number >= {low} "
                             f"({_lines(bad)})")
    return values.astype(np.int64)


def rates(frame: pd.DataFrame, column: str, path) -> np.ndarray:
    """A column of rates in (0, 1); empty cells are NaN (unknown)."""
    text = frame[column]
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    bad = (text != "").to_numpy() & ~((values > 0) & (values < 1))
    if bad.any():
        raise TrialFileError(f"{path}: {column} must be a rate strictly between 0 and 1, "
                             f"or empty ({_lines(bad)})")
    return values


def unique_ids(frame: pd.DataFrame, column: str, path) -> None:
    duplicated = frame[column].duplicated(keep=False)
    if duplicated.any():
        raise TrialFileError(f"{path}: {column} appears more than once ({_lines(duplicated)})")


def read_stores(path) -> pd.DataFrame:
    """Columns store_id (text), workers (int >= 1), forecast (float, NaN if unknown)."""
    frame = read_csv(path, STORE_COLUMNS, ("forecast",), "store list")
    unique_ids(frame, "store_id", path)
    out = pd.DataFrame({"store_id": frame["store_id"],
                        "workers": whole_numbers(frame, "workers", path, low=1)})
    out["forecast"] = (rates(frame, "forecast", path) if "forecast" in frame.columns
                       else np.nan)
    return out.reset_index(drop=True)


def read_workers(path) -> pd.DataFrame:
    """Columns worker_id, store_id (text); every worker once."""
    frame = read_csv(path, WORKER_COLUMNS, (), "worker list")
    unique_ids(frame, "worker_id", path)
    return frame[list(WORKER_COLUMNS)].reset_index(drop=True)


def read_arms(frame: pd.DataFrame, path) -> np.ndarray:
    bad = ~frame["arm"].isin(ARMS)
    if bad.any():
        raise TrialFileError(f"{path}: arm must be 'treated' or 'control' ({_lines(bad)})")
    return (frame["arm"] == "treated").to_numpy()


def read_window(frame: pd.DataFrame, path) -> tuple[str, str] | None:
    """The window the outcome file states (one value per column), or None."""
    present = [c for c in WINDOW_COLUMNS if c in frame.columns]
    if not present:
        return None
    if len(present) == 1:
        raise TrialFileError(f"{path}: give both window_start and window_end, or neither")
    values = {c: frame[c].unique() for c in WINDOW_COLUMNS}
    for column, seen in values.items():
        if seen.size != 1 or seen[0] == "":
            raise TrialFileError(f"{path}: {column} must hold one date for the whole file")
    return values["window_start"][0], values["window_end"][0]


def write_csv(frame: pd.DataFrame, path) -> None:
    """Write atomically: a reader never sees half a file."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    frame.to_csv(temporary, index=False)
    temporary.replace(path)
