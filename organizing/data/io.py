"""The data layer: find, read and validate the two campaign files.

This is the only module that knows file names and column names. Everything
downstream receives a :class:`Campaign` of NumPy arrays with no worker IDs in
it, so no later stage can leak one into the book.

Files are found, in order, in an explicit directory, in ``$ORGANIZING_DATA_DIR``,
and in ``data/`` under the project root (the folder holding ``pyproject.toml``
and ``_quarto.yml``; never the working directory). Only when asked
(``organizing fetch-data``, ``make report``) are the study's public files
downloaded into the project's ``data/`` and checked against pinned sha256
checksums. Outside the project, with no explicit folder, nothing is found and
the message says where the package looked.

Validation produces one :class:`ValidationReport` with every failure:

1. the file itself (missing, a directory, unreadable, not a CSV, a column
   named twice in the header), as a one-line reason;
2. the pandera schemas (:mod:`organizing.data.schemas`), applied to chunks of
   ``CHUNK_ROWS`` rows so that memory stays bounded however large the file and
   however many rows fail; uniqueness of IDs and the link from workers to
   worksites are checked over the whole file. Every failure is counted, and
   each check keeps its first ``MAX_EXAMPLES`` examples;
3. with a configuration, whether the validated campaign can be analysed with
   those settings (:mod:`organizing.data.checks`).

No message shows a value of an ID column: such failures give line numbers only
(the header is line 1).
"""

from __future__ import annotations

import csv
import difflib
import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pandera.pandas as pa

from organizing.data.schemas import QUARTILES, QUINTILES, WorkerSchema, WorksiteSchema

if TYPE_CHECKING:
    pass

WORKER_FILE = "WorkerRegressionData.csv"
WORKSITE_FILE = "WorksiteNetworkData.csv"
DATA_DIR_ENV = "ORGANIZING_DATA_DIR"

_BASE_URL = (
    "https://raw.githubusercontent.com/rfspringer/walmart-modelling-bayesian/"
    "9c5472806a747eb4e9a06f40448266f29843cbd0/"
)
SOURCES: dict[str, dict[str, str]] = {
    WORKER_FILE: {
        "url": _BASE_URL + WORKER_FILE,
        "sha256": "d9cd6d6c1011ff018695dfa78de4e20b8b1c454c461522b61074e9f29d6a76ca",
    },
    WORKSITE_FILE: {
        "url": _BASE_URL + WORKSITE_FILE,
        "sha256": "0de1d7c3a51b4b1f4e627dbbe9d1932b9b479372fac6d7bbd76f0ab06c15bb6f",
    },
}

# The study's regression features, in the study's order.
WORKER_FEATURES: tuple[str, ...] = (
    "Is Male",
    *QUARTILES,
    "Log(Eigen. Centrality)",
    "No. Notes",
)
SITE_FEATURES: tuple[str, ...] = (
    "Percent black in ZIP",
    "Percent Latino in ZIP",
    "Percent male",
    "Log(Mean AGI in ZIP)",
    "NDO (Eigen., Pearson)",
    "Mobilizing (Pearson)",
    *QUINTILES,
    "Log(No. organizer convers.)",
    "Log(No. workers contacted)",
    "Log(No. workers discovered)",
    "Log(No. edges)",
    "Log(Mean degree)",
    "Log(Centrality variance)",
    "Log(Centrality mean)",
)
# One-hot groups among the features: the extended model drops the first level.
ONE_HOT_GROUPS: dict[str, tuple[str, ...]] = {
    "Time to first conversation": QUARTILES,
    "Campaign length": QUINTILES,
}
# Worksite descriptors used to interpret results (not regression inputs).
SITE_DESCRIPTORS: tuple[str, ...] = (
    "No. workers discovered",
    "No. workers contacted",
    "No. organizer convers.",
    "No. workers signed",
    "No. edges",
    "Campaign length",
    "Percent black in ZIP",
    "Percent Latino in ZIP",
    "Percent male",
    "Mean AGI in ZIP",
    "NDO (Eigen., Pearson)",
    "Mobilizing (Pearson)",
    "Centrality mean",
)
UNKNOWN_GENDER = 0.5


CHUNK_ROWS = 50_000  # rows validated at a time
MAX_EXAMPLES = 3  # example lines kept per failed check; every failure is still counted
SETTINGS = "settings"  # Problem.file for settings that do not fit the campaign
_MAX_VALUE_CHARS = 40  # longer cell values are shortened in messages


class DataError(Exception):
    """A data file is missing, unreadable, failed validation or cannot be analysed."""


def id_text(values: pd.Series) -> pd.Series:
    """IDs as text: stripped, blank as missing, and a whole number written as one
    (``12``, ``12.0`` and `` 12 `` are one ID; ``007`` keeps its zeros)."""
    text = values.astype(object).where(values.notna(), None)
    text = text.map(lambda v: v if v is None else (
        str(int(v)) if isinstance(v, float | np.floating) and float(v).is_integer()
        else str(v).strip()), na_action="ignore")
    text = text.where(text.notna() & (text != ""), None)
    whole = text.str.fullmatch(r"[+-]?\d+\.0*", na=False)
    return text.where(~whole, text.str.replace(r"\.0*$", "", regex=True))


def is_identifier(column: object) -> bool:
    """True for an ID column (``Worker ID``, ``Worksite ID``): its values are never shown."""
    return str(column).strip().upper().endswith("ID")


@dataclass(frozen=True)
class Problem:
    """One failed check: where, what, how many rows, a few examples, and the fix.

    ``count`` is None for a check about a whole column or the whole campaign.
    """

    file: str
    column: str
    check: str
    count: int | None
    examples: str = ""
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.column}: {self.check}"
        if self.count is not None:
            text += f" in {self.count:,} {'row' if self.count == 1 else 'rows'}"
        if self.examples:
            text += f" ({self.examples})"
        if self.fix:
            text += f"; fix: {self.fix}"
        return text


@dataclass
class ValidationReport:
    """Outcome of validating both files (and, with settings, of the analysability
    checks); ``ok`` when nothing failed."""

    files: dict[str, int | None] = field(default_factory=dict)  # file -> rows read
    problems: list[Problem] = field(default_factory=list)
    fatal: dict[str, str] = field(default_factory=dict)  # file -> one-line reason
    settings: str | None = None  # the settings checked against the campaign, if any
    analysed: bool = False  # the analysability checks ran

    @property
    def ok(self) -> bool:
        return not self.problems and not self.fatal

    def render(self) -> str:
        lines = []
        for name, rows in self.files.items():
            if name in self.fatal:
                lines.append(f"✗ {name}: {self.fatal[name]}")
                continue
            mine = [p for p in self.problems if p.file == name]
            if mine:
                lines.append(f"✗ {name}: {len(mine)} problem(s) in {_rows(rows)}")
                lines.extend(f"    - {p}" for p in mine)
            else:
                lines.append(f"✓ {name}: valid ({_rows(rows)})")
        settings = [p for p in self.problems if p.file not in self.files]
        label = self.settings or "settings"
        if settings:
            lines.append(f"✗ {label}: {len(settings)} problem(s) with this campaign")
            lines.extend(f"    - {p}" for p in settings)
        elif self.settings is not None and not self.analysed:
            lines.append(f"· {label}: checked against the campaign once both files are valid")
        if not self.ok:
            lines.append("Validation failed.")
        elif self.analysed:
            lines.append(f"All files valid; the campaign can be analysed with {label}.")
        else:
            lines.append("All files valid.")
        return "\n".join(lines)


def _rows(n: int | None) -> str:
    return f"{n or 0:,} {'row' if n == 1 else 'rows'}"


@dataclass(frozen=True)
class Campaign:
    """Validated campaign data as arrays, with no worker identifiers.

    ``worker_x`` (N, P) and ``site_x`` (S, Q) hold the study's raw regression
    features; ``site_index`` maps each worker to a row of ``site_x``. Row i of
    each array is line i + 2 of its file.
    """

    worker_x: np.ndarray
    worker_features: tuple[str, ...]
    site_x: np.ndarray
    site_features: tuple[str, ...]
    site_index: np.ndarray
    signed: np.ndarray
    site_ids: np.ndarray
    site_descriptors: pd.DataFrame  # one row per worksite, indexed like site_x
    checksums: dict[str, str]

    @property
    def n_workers(self) -> int:
        return len(self.signed)

    @property
    def n_sites(self) -> int:
        return len(self.site_ids)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- the file system


def _os_reason(error: OSError) -> str:
    if isinstance(error, PermissionError):
        return "permission denied"
    if error.errno == errno.ELOOP:
        return "symbolic link loop (the link leads back to itself)"
    return f"cannot be read ({error.strerror or type(error).__name__})"


def unreadable(path: Path, *, directory: bool = False) -> str | None:
    """Why ``path`` cannot be read as a file (or a ``directory``), in a few words;
    None when it can."""
    path = Path(path)
    try:
        mode = path.stat().st_mode  # follows symbolic links
    except FileNotFoundError:
        if path.is_symlink():
            return "broken symbolic link (its target does not exist)"
        return "directory not found" if directory else "file not found"
    except OSError as error:
        return _os_reason(error)
    if directory:
        if not stat.S_ISDIR(mode):
            return "is a file, not a directory"
        try:
            next(os.scandir(path), None)
        except OSError as error:
            return _os_reason(error)
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        return _os_reason(error)
    return None


def locate_data(data_dir: str | os.PathLike | None = None, *, download: bool = False) -> Path:
    """Return the directory holding both campaign files.

    Looks in ``data_dir``, then ``$ORGANIZING_DATA_DIR``, then ``data/`` under the
    project root (:func:`organizing.config.project_root`: never the working
    directory). Only with ``download`` (``organizing fetch-data``, ``make
    report``) are the study's files downloaded into the project's ``data/``
    when it lacks them. An explicitly named directory is never replaced by a
    download. Every problem is a one-line :class:`DataError` that says where the
    package looked.
    """
    from organizing.config import PathError, require_root

    explicit = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        source = "the argument" if data_dir is not None else DATA_DIR_ENV
        why = unreadable(path, directory=True)
        if why:
            raise DataError(f"{path} (set by {source}): {why}.")
        _check_files(path, f"set by {source}")
        return path
    try:
        local = require_root("campaign data", f"{DATA_DIR_ENV} (or pass --data)") / "data"
    except PathError as error:
        raise DataError(str(error)) from None
    reasons = [unreadable(local / name) for name in SOURCES]
    if not any(reasons):
        return local
    if any(why != "file not found" for why in reasons if why):  # there, but unreadable
        _check_files(local, "the project's data folder")
    if not download:
        raise DataError(
            f"The campaign files are not in {local}; run `organizing fetch-data` to download "
            f"the study's files there, or set {DATA_DIR_ENV} (or --data) to your campaign's "
            "folder.")
    return download_data(local)


def _check_files(path: Path, source: str) -> None:
    reasons = {name: unreadable(path / name) for name in SOURCES}
    missing = [name for name, why in reasons.items() if why == "file not found"]
    other = [f"{name} in {path}: {why}" for name, why in reasons.items()
             if why and why != "file not found"]
    parts = ([f"{', '.join(missing)} not found in {path}"] if missing else []) + other
    if parts:
        raise DataError(f"{'; '.join(parts)} ({source}).")


def download_data(target: Path) -> Path:
    """Download both files into ``target`` and check their sha256."""
    import pooch

    target.mkdir(parents=True, exist_ok=True)
    for name, source in SOURCES.items():
        try:
            pooch.retrieve(
                source["url"],
                known_hash=f"sha256:{source['sha256']}",
                fname=name,
                path=target,
                progressbar=False,
            )
        except ValueError as error:  # pooch's checksum mismatch
            raise DataError(
                f"{name} downloaded from {source['url']} does not match its pinned sha256; "
                f"the copy was discarded. Details: {error}"
            ) from error
        except Exception as error:  # network failures of every kind
            raise DataError(
                f"Could not download {name} from {source['url']} ({type(error).__name__}: "
                f"{error}). Copy the two CSVs into {target.resolve()} or set {DATA_DIR_ENV}."
            ) from error
    return target


# --------------------------------------------------------------------------- reading


_SNIFF_BYTES = 1 << 16
_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def column_key(name: object) -> str:
    """A column name without case and with its spaces collapsed (for near misses)."""
    return " ".join(str(name).split()).casefold()


def near_miss(expected: str, header: Iterable[str]) -> str | None:
    """The header cell that is ``expected`` up to capitalization, spaces or a small typo."""
    cells = [str(h) for h in header if h != expected]
    for cell in cells:
        if column_key(cell) == column_key(expected):
            return cell
    keys = {column_key(c): c for c in cells}
    close = difflib.get_close_matches(column_key(expected), list(keys), n=1, cutoff=0.85)
    return keys[close[0]] if close else None


def missing_fix(expected: str, header: Iterable[str]) -> str:
    """The fix for a missing column: the near miss in the header, if there is one."""
    cell = near_miss(expected, header)
    return "" if cell is None else f"did you mean the file's column {cell!r}? rename it"


def sniff_text(path: Path) -> str:
    """The encoding to read ``path`` with; a one-line DataError, in plain words, for a file
    that is empty or blank, not UTF-8 text, or not separated by commas."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError as error:
        raise DataError(_os_reason(error)) from None
    if not head:
        raise DataError("file is empty")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:200].count(b"\x00") > 2:
        raise DataError("the file is UTF-16 text (as Excel's 'Unicode Text' saves it); save "
                        "it as 'CSV UTF-8 (comma delimited)'")
    if b"\x00" in head:
        raise DataError("not a text file (it holds NUL bytes); export the table as CSV")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:  # not just a character cut at the end of the sample
            line = head[:error.start].count(b"\n") + 1
            raise DataError(
                f"not UTF-8 text (byte 0x{head[error.start]:02x} on line {line}; probably "
                "Windows-1252 or Latin-1): save it as 'CSV UTF-8'") from None
        text = head[:error.start].decode("utf-8")
    if not text.strip(" \t\r\n\ufeff,"):
        raise DataError("file is empty (it holds only blank lines)")
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip()]
    first = lines[0]
    for separator, words in _SEPARATORS.items():
        if first.count(separator) > first.count(","):
            decimal = any(re.search(r"\d,\d", line) for line in lines[1:20])
            raise DataError(
                f"columns are separated by {words}, not commas"
                + (", and numbers have decimal commas" if decimal else "")
                + "; save it as CSV with commas between columns"
                + (" and points in numbers" if decimal else ""))
    return "utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else "utf-8"


def read_header(path: Path, expected: Iterable[str]) -> list[str]:
    """The header row of one CSV; a one-line DataError when it cannot be read as the
    expected file (the header's cells are never quoted: a file without its header
    line would show a worker's ID)."""
    path = Path(path)
    why = unreadable(path)
    if why:
        raise DataError(why)
    encoding = sniff_text(path)
    try:
        with open(path, encoding=encoding, newline="") as handle:
            header = next(csv.reader(handle), [])
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"not a readable CSV file ({type(error).__name__})") from None
    except OSError as error:
        raise DataError(_os_reason(error)) from None
    if not {column_key(c) for c in expected} & {column_key(c) for c in header}:
        raise DataError(
            f"not the expected CSV: none of its {len(header)} column(s) is one the analysis "
            "uses (is the header line missing?)"
        )
    return header


ID_COLUMNS = ("Worker ID", "Worksite ID")


def _chunks(path: Path, *, dtype=None) -> Iterator[pd.DataFrame]:
    """The file in chunks of ``CHUNK_ROWS`` rows, indexed by row (line = row + 2); ID
    columns are read as text (``dtype``: other columns' types)."""
    dtype = dict.fromkeys(ID_COLUMNS, str) if dtype is None else dtype
    try:
        encoding = sniff_text(path)
        with pd.read_csv(path, chunksize=CHUNK_ROWS, encoding=encoding,
                         dtype=dtype) as reader:
            yield from reader
    except (UnicodeDecodeError, csv.Error, pd.errors.ParserError) as error:
        found = re.search(r"line (\d+)", str(error))
        where = f" near line {found.group(1)}" if found else ""
        raise DataError(f"not a readable CSV file ({type(error).__name__}{where})") from None
    except pd.errors.EmptyDataError:
        raise DataError("file is empty") from None
    except OSError as error:
        raise DataError(_os_reason(error)) from None


def read_table(path: Path, expected: tuple[str, ...]) -> pd.DataFrame:
    """Read one whole CSV, turning every unreadable case into a one-line DataError."""
    read_header(path, expected)
    frame = pd.concat(list(_chunks(Path(path))), ignore_index=True)
    if frame.empty:
        raise DataError("file has a header but no rows")
    return frame


def read_text_table(path: Path, expected: tuple[str, ...]) -> pd.DataFrame:
    """Read one whole CSV with every cell as text (blank cells as ""), for tables whose
    IDs, ZIP codes and dates must not be read as numbers."""
    read_header(path, expected)
    parts = list(_chunks(Path(path), dtype=str))
    frame = pd.concat(parts, ignore_index=True).fillna("")
    if frame.empty:
        raise DataError("file has a header but no rows")
    return frame


# --------------------------------------------------------------------------- validation


def _shown(value: object) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 1] + "…"


@dataclass
class _Failures:
    count: int | None = 0
    examples: list[tuple[int, str | None]] = field(default_factory=list)  # (row, value)
    text: str = ""  # for a whole-column failure
    fix: str = ""


class FailureTally:
    """One file's failures: every one counted, the first few kept as examples."""

    def __init__(self, file: str):
        self.file = file
        self.entries: dict[tuple[str, str], _Failures] = {}

    def __bool__(self) -> bool:
        return bool(self.entries)

    def rows(self, column: str, check: str, rows, values=None, fix: str = "") -> None:
        """Failures at ``rows`` (positions from 0); ``values`` are shown unless the
        column is an ID column."""
        rows = np.asarray(rows)
        if not len(rows):
            return
        entry = self.entries.setdefault((column, check), _Failures(fix=fix))
        entry.count += len(rows)
        room = MAX_EXAMPLES - len(entry.examples)
        if room > 0:
            first = np.argsort(rows, kind="stable")[:room]
            show = values is not None and not is_identifier(column)
            for i in first:
                entry.examples.append((int(rows[i]), _shown(values[i]) if show else None))
            entry.examples.sort()

    def whole(self, column: str, check: str, text: str = "", fix: str = "") -> None:
        """A failure of a whole column (recorded once)."""
        self.entries.setdefault((column, check), _Failures(count=None, text=text, fix=fix))

    def problems(self) -> list[Problem]:
        out = []
        for (column, check), entry in self.entries.items():
            if entry.count is None:
                examples = entry.text
            elif all(value is None for _, value in entry.examples):
                lines = [str(row + 2) for row, _ in entry.examples]
                more = ", …" if entry.count > len(lines) else ""
                examples = (f"line {lines[0]}" if len(lines) == 1 and not more
                            else f"e.g. lines {', '.join(lines)}{more}")
            else:
                shown = "; ".join(f"line {row + 2}: {value}" for row, value in entry.examples)
                examples = shown if entry.count == len(entry.examples) else f"e.g. {shown}"
            out.append(Problem(self.file, column, check, entry.count, examples, entry.fix))
        return out


_CHECK_WORDS = (
    (r"coerce_dtype\('float64'\)", "is not a number"),
    (r"dtype\('float64'\)", "is not a number"),
    (r"field_uniqueness", "duplicate ID"),
    (r"not_nullable", "missing value (NaN)"),
    (r"isin\((.*)\)", r"value not in \1"),
    (r"greater_than_or_equal_to\((.*)\)", r"must be >= \1"),
    (r"greater_than\((.*)\)", r"must be > \1"),
    (r"less_than_or_equal_to\((.*)\)", r"must be <= \1"),
    (r"less_than\((.*)\)", r"must be < \1"),
    (r"in_range\((.*)\)", r"must be in range \1"),
    (r"whole_number", "must be a non-negative whole number"),
    (r"log_column_equals_log_of_level", "does not equal the log of its level column"),
    (r"one_hot_time_to_first_convo", "exactly one quartile must be 1"),
    (r"one_hot_campaign_length", "exactly one quintile must be 1"),
)
_ONE_HOT = {"one_hot_time_to_first_convo": QUARTILES, "one_hot_campaign_length": QUINTILES}


def _in_words(check: str) -> str:
    for pattern, words in _CHECK_WORDS:
        if re.fullmatch(pattern, check):
            return re.sub(pattern, words, check)
    return check


@dataclass
class _FileCheck:
    """Validation of one file, chunk by chunk."""

    name: str
    schema: type[pa.DataFrameModel]
    keep: tuple[str, ...] | None  # columns kept for the analysis (no worker IDs); None: all
    optional: tuple[str, ...] = ()  # schema columns that may be absent
    tally: FailureTally = field(init=False)
    columns: list[str] = field(default_factory=list)  # the file's header
    rows: int = 0
    kept: list[pd.DataFrame] | None = field(default_factory=list)
    ids: dict[str, list[np.ndarray]] = field(default_factory=dict)  # ID values, as text

    def __post_init__(self):
        self.tally = FailureTally(self.name)
        full = self.schema.to_schema()
        if self.optional:  # columns that may be absent (prepare's input lacks derived ones)
            full = full.update_columns({n: {"required": False} for n in self.optional})
        columns = full.columns
        self.numbers = [n for n, c in columns.items() if c.coerce]
        self.identifiers = [n for n, c in columns.items() if not c.coerce]
        self.unique = [n for n, c in columns.items() if c.unique]
        # pandera checks the columns; uniqueness is checked over the whole file, and the
        # cross-column checks run here, vectorized (pandera collects their failures row by
        # row, in Python: about 30 µs per failing row).
        self.column_schema = full.update_columns({n: {"unique": False} for n in self.unique})
        self.column_schema.checks = []
        self.frame_checks = list(full.checks)

    def header(self, header: list[str]) -> None:
        """A column named twice: pandas would silently read the second as ``name.1``."""
        self.columns = list(header)
        for name in dict.fromkeys(header):
            places = [i + 1 for i, h in enumerate(header) if h == name]
            if len(places) > 1:
                self.tally.whole(
                    name, f"the header names this column {len(places)} times",
                    f"columns {', '.join(map(str, places))}",
                    "keep one of them (the analysis would read only the first)")

    def chunk(self, frame: pd.DataFrame) -> None:
        if not self.columns:
            self.columns = list(frame.columns)
        frame = frame.set_axis(pd.RangeIndex(self.rows, self.rows + len(frame)))
        self.rows += len(frame)
        frame, shown = self._numbers(frame)
        try:
            validated = self.column_schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as error:
            self._record(error.failure_cases, shown)
            validated = None
        self._cross_column(frame)
        if self.tally or validated is None:
            self.kept = None
        elif self.kept is not None:
            keep = validated.columns if self.keep is None else self.keep
            self.kept.append(validated[[c for c in keep if c in validated]])

    def _numbers(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, pd.Index]]:
        """Read numbers and IDs ourselves: a cell that is not a number (or not a whole-
        number ID) is reported once, by line, and becomes NaN for the schema's checks."""
        frame = frame.copy()
        reported: dict[str, pd.Index] = {}
        for column in self.numbers:
            if column in frame and frame[column].dtype.kind not in "fiub":
                raw = frame[column]
                numeric = pd.to_numeric(raw, errors="coerce")
                bad = numeric.isna() & raw.notna()
                self.tally.rows(column, "is not a number", frame.index[bad], raw[bad].to_numpy())
                frame[column] = numeric.astype(float)
                reported[column] = frame.index[bad]
        for column in self.identifiers:
            if column not in frame:
                continue
            frame[column] = id_text(frame[column])
            if column in self.unique or column == "Worksite ID":
                self.ids.setdefault(column, []).append(frame[column].to_numpy(dtype=object))
        return frame, reported

    def _record(self, cases: pd.DataFrame, reported: dict[str, pd.Index]) -> None:
        cases = cases[["column", "check", "failure_case", "index"]]
        keep = cases["check"] != "field_uniqueness"  # applied to the whole file instead
        keep &= ~(cases["column"].isin(self.identifiers) & cases["check"].str.startswith("dtype"))
        for column, rows in reported.items():  # already reported as not a number / not an ID
            keep &= ~((cases["column"] == column) & cases["index"].isin(rows))
        cases = cases[keep]
        for (column, check), group in cases.groupby(["column", "check"], sort=False):
            words = _in_words(check)
            if check == "column_in_dataframe":
                for missing in group["failure_case"]:
                    self.tally.whole(str(missing), "column missing", "required by the analysis",
                                     missing_fix(str(missing), self.columns))
                continue
            located = group[group["index"].notna()].drop_duplicates("index")
            rows = located["index"].astype(int).to_numpy()
            if len(rows):
                values = None if check == "not_nullable" else located["failure_case"].to_numpy()
                self.tally.rows(str(column), words, rows, values)
            else:  # a failure of the whole column
                value = group["failure_case"].iloc[0]
                self.tally.whole(str(column), words, f"the column holds {value}")

    def _cross_column(self, frame: pd.DataFrame) -> None:
        """The schema's ``@pa.dataframe_check`` rules, with pandera's semantics (a
        missing value passes; a boolean frame marks each failing cell)."""
        for check in self.frame_checks:
            words = _in_words(check.name)
            label = f"{_ONE_HOT[check.name][0][:-2]}k)" if check.name in _ONE_HOT else None
            try:
                output = check._check_fn(frame)  # the rule itself, without pandera's bookkeeping
            except KeyError:  # a column of the rule is missing: reported as such
                continue
            except Exception as error:
                self.tally.whole(label or check.name, words,
                                 f"could not be checked ({type(error).__name__})")
                continue
            if isinstance(output, pd.Series):  # one result per row
                failed = ~(output.to_numpy(dtype=bool) | frame.isna().all(axis=1).to_numpy())
                self.tally.rows(label or check.name, words, frame.index[failed])
                continue
            failed = ~(output.to_numpy(dtype=bool) | frame[output.columns].isna().to_numpy())
            for j in np.flatnonzero(failed.any(axis=0)):
                rows = np.flatnonzero(failed[:, j])
                column = output.columns[j]
                shown = None if label else frame[column].to_numpy()[rows]
                self.tally.rows(label or str(column), words, frame.index[rows], shown)

    def finish(self) -> None:
        """Checks over the whole file: IDs that must be unique."""
        for column in self.unique:
            if column not in self.ids:
                continue
            values = pd.Series(np.concatenate(self.ids[column]))
            duplicated = values.duplicated(keep=False) & values.notna()
            self.tally.rows(column, "duplicate ID", np.flatnonzero(duplicated.to_numpy()))
            if column != "Worksite ID":
                del self.ids[column]
        if self.tally:
            self.kept = None

    def frame(self) -> pd.DataFrame | None:
        if not self.kept:
            return None
        frame = pd.concat(self.kept, ignore_index=True)
        self.kept = None
        return frame

    def site_ids(self) -> np.ndarray | None:
        parts = self.ids.get("Worksite ID")
        return None if parts is None else np.concatenate(parts)


_KEEP = {
    WORKER_FILE: ("Worksite ID", *WORKER_FEATURES, "Signed"),
    WORKSITE_FILE: ("Worksite ID", *dict.fromkeys((*SITE_FEATURES, *SITE_DESCRIPTORS))),
}
_SCHEMAS = {WORKER_FILE: WorkerSchema, WORKSITE_FILE: WorksiteSchema}
_EXPECTED = {WORKER_FILE: WORKER_FEATURES, WORKSITE_FILE: SITE_FEATURES}


def _link(report: ValidationReport, checks: dict[str, _FileCheck]) -> None:
    """Every worker's worksite must be a row of the worksite file (line numbers only)."""
    workers, sites = checks.get(WORKER_FILE), checks.get(WORKSITE_FILE)
    if workers is None or sites is None:
        return
    worker_sites, site_ids = workers.site_ids(), sites.site_ids()
    if worker_sites is None or site_ids is None:
        return
    known = set(pd.Series(site_ids).dropna())
    orphan = ~pd.Series(worker_sites).isin(known).to_numpy() & pd.notna(worker_sites)
    tally = FailureTally(WORKER_FILE)
    tally.rows("Worksite ID", "not found in the worksite file", np.flatnonzero(orphan))
    report.problems.extend(tally.problems())
    if tally:
        workers.kept = None


def _validate(sources: dict[str, Iterable[pd.DataFrame] | None],
              headers: dict[str, list[str]] | None = None, *,
              optional: dict[str, tuple[str, ...]] | None = None, keep_all: bool = False
              ) -> tuple[ValidationReport, dict[str, pd.DataFrame]]:
    """Validate both files from their chunks; never raises on bad data.

    ``optional``: per file, schema columns that may be absent; ``keep_all``: the
    frames keep every column (with IDs), for ``prepare``.
    """
    report = ValidationReport()
    checks: dict[str, _FileCheck] = {}
    for name, chunks in sources.items():
        report.files[name] = None
        if chunks is None:
            continue
        check = _FileCheck(name, _SCHEMAS[name], None if keep_all else _KEEP[name],
                           (optional or {}).get(name, ()))
        if headers and name in headers:
            check.header(headers[name])
        try:
            for chunk in chunks:
                check.chunk(chunk)
        except DataError as error:
            report.fatal[name] = str(error)
            continue
        if check.rows == 0:
            report.fatal[name] = "file has a header but no rows"
            continue
        check.finish()
        report.files[name] = check.rows
        report.problems.extend(check.tally.problems())
        checks[name] = check
    _link(report, checks)
    frames = {}
    if report.ok:
        frames = {name: check.frame() for name, check in checks.items()}
    return report, frames


def validate_tables(workers: pd.DataFrame | None, sites: pd.DataFrame | None) -> ValidationReport:
    """Validate both tables (in memory) lazily, plus the link from workers to worksites."""
    sources = {WORKER_FILE: None if workers is None else [workers],
               WORKSITE_FILE: None if sites is None else [sites]}
    return _validate(sources)[0]


def _read_and_validate(data_dir: Path, **options
                       ) -> tuple[ValidationReport, dict[str, pd.DataFrame]]:
    sources: dict[str, Iterable[pd.DataFrame] | None] = {}
    headers: dict[str, list[str]] = {}
    fatal = {}
    for name in SOURCES:
        path = Path(data_dir) / name
        try:
            headers[name] = read_header(path, _EXPECTED[name])
            sources[name] = _chunks(path)
        except DataError as error:
            sources[name], fatal[name] = None, str(error)
    report, frames = _validate(sources, headers, **options)
    report.fatal.update(fatal)
    return report, frames


def campaign_from_frames(frames: dict[str, pd.DataFrame],
                         checksums: dict[str, str] | None = None) -> Campaign:
    """The Campaign of validated frames (keyed by file name); no worker IDs kept."""
    workers, sites = frames[WORKER_FILE], frames[WORKSITE_FILE]
    position = pd.Series(np.arange(len(sites)), index=sites["Worksite ID"].to_numpy())
    return Campaign(
        worker_x=workers[list(WORKER_FEATURES)].to_numpy(dtype=float),
        worker_features=WORKER_FEATURES,
        site_x=sites[list(SITE_FEATURES)].to_numpy(dtype=float),
        site_features=SITE_FEATURES,
        site_index=position.loc[workers["Worksite ID"].to_numpy()].to_numpy(),
        signed=workers["Signed"].to_numpy(dtype=float),
        site_ids=sites["Worksite ID"].to_numpy(),
        site_descriptors=sites[list(SITE_DESCRIPTORS)].reset_index(drop=True),
        checksums=dict(checksums or {}),
    )
