"""The data layer: find, read and validate the two campaign files.

This is the only module that knows file names and column names. Everything
downstream receives a :class:`Campaign` of NumPy arrays with no worker IDs in
it, so no later stage can leak one into the book.

Files are found, in order, in an explicit directory, in ``$ORGANIZING_DATA_DIR``,
in ``data/`` under the working directory (the project root when Quarto runs a
chapter), and otherwise downloaded from the study's public repository into
``data/`` and checked against pinned sha256 checksums.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from organizing.data.schemas import QUARTILES, QUINTILES, WorkerSchema, WorksiteSchema

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


class DataError(Exception):
    """A data file is missing, unreadable or failed validation."""


@dataclass(frozen=True)
class Problem:
    """One failed check, with a few example rows."""

    file: str
    column: str
    check: str
    count: int
    examples: str

    def __str__(self) -> str:
        if self.check == "column missing":
            return f"{self.column}: column missing ({self.examples})"
        rows = "row" if self.count == 1 else "rows"
        return f"{self.column}: {self.check} in {self.count} {rows} ({self.examples})"


@dataclass
class ValidationReport:
    """Outcome of validating both files; ``ok`` when nothing failed."""

    files: dict[str, int | None] = field(default_factory=dict)  # file -> rows read
    problems: list[Problem] = field(default_factory=list)
    fatal: dict[str, str] = field(default_factory=dict)  # file -> one-line reason

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
                lines.append(f"✗ {name}: {len(mine)} problem(s) in {rows:,} rows")
                lines.extend(f"    - {p}" for p in mine)
            else:
                lines.append(f"✓ {name}: valid ({rows:,} rows)")
        lines.append("All files valid." if self.ok else "Validation failed.")
        return "\n".join(lines)


@dataclass(frozen=True)
class Campaign:
    """Validated campaign data as arrays, with no worker identifiers.

    ``worker_x`` (N, P) and ``site_x`` (S, Q) hold the study's raw regression
    features; ``site_index`` maps each worker to a row of ``site_x``.
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


def locate_data(data_dir: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """Return the directory holding both campaign files.

    Looks in ``data_dir``, then ``$ORGANIZING_DATA_DIR``, then ``./data``; if
    none holds both files, downloads them into ``./data`` (with ``download``).
    An explicitly named directory is never replaced by a download.
    """
    explicit = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        missing = [n for n in SOURCES if not (path / n).is_file()]
        if missing:
            raise DataError(
                f"{', '.join(missing)} not found in {path} "
                f"(set by {'the argument' if data_dir is not None else DATA_DIR_ENV})."
            )
        return path
    local = Path("data")
    if all((local / n).is_file() for n in SOURCES):
        return local
    if not download:
        raise DataError(
            f"The campaign files are not in {local.resolve()}; set {DATA_DIR_ENV} "
            "or copy them there."
        )
    return download_data(local)


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


def read_table(path: Path, expected: tuple[str, ...]) -> pd.DataFrame:
    """Read one CSV, turning every unreadable case into a one-line DataError."""
    if not path.is_file():
        raise DataError("file not found")
    if path.stat().st_size == 0:
        raise DataError("file is empty")
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle), [])
        frame = pd.read_csv(path)
    except (UnicodeDecodeError, csv.Error, pd.errors.ParserError) as error:
        raise DataError(f"not a readable CSV file ({type(error).__name__})") from error
    except pd.errors.EmptyDataError as error:
        raise DataError("file is empty") from error
    if not set(expected) & set(header):
        first = ",".join(header)[:60]
        raise DataError(f"not the expected CSV: none of its columns found (header: {first!r})")
    if frame.empty:
        raise DataError("file has a header but no rows")
    return frame


def _examples(cases: pd.DataFrame, limit: int = 3) -> str:
    """Describe a few failing rows by file line number (header is line 1)."""
    shown = []
    for _, case in cases.drop_duplicates("index").head(limit).iterrows():
        value = case["failure_case"]
        if isinstance(value, dict):
            value = next(iter(value.values()))
        if pd.isna(case["index"]):  # a column-level failure, e.g. its type
            shown.append(f"the column holds {value}")
        else:
            shown.append(f"line {int(case['index']) + 2}: {value!r}")
    return "e.g. " + "; ".join(shown)


_CHECK_WORDS = (
    (r"coerce_dtype\('float64'\)", "is not a number"),
    (r"dtype\('int64'\)", "must be a whole-number ID"),
    (r"dtype\('float64'\)", "is not a number"),
    (r"field_uniqueness", "duplicate ID"),
    (r"not_nullable", "missing value (NaN)"),
    (r"isin\((.*)\)", r"value not in \1"),
    (r"greater_than_or_equal_to\((.*)\)", r"must be >= \1"),
    (r"greater_than\((.*)\)", r"must be > \1"),
    (r"less_than_or_equal_to\((.*)\)", r"must be <= \1"),
    (r"in_range\((.*)\)", r"must be in range \1"),
    (r"whole_number", "must be a non-negative whole number"),
    (r"log_column_equals_log_of_level", "does not equal the log of its level column"),
    (r"one_hot_time_to_first_convo", "exactly one quartile must be 1"),
    (r"one_hot_campaign_length", "exactly one quintile must be 1"),
)


def _in_words(check: str) -> str:
    for pattern, words in _CHECK_WORDS:
        if re.fullmatch(pattern, check):
            return re.sub(pattern, words, check)
    return check


def _problems(name: str, error: pa.errors.SchemaErrors) -> list[Problem]:
    """Collapse pandera's failure cases into one problem per column and check."""
    cases = error.failure_cases.copy()
    # Element-wise frame checks put the column inside the failure value.
    is_dict = cases["failure_case"].map(lambda v: isinstance(v, dict))
    cases.loc[is_dict, "column"] = cases.loc[is_dict, "failure_case"].map(lambda v: next(iter(v)))
    # Once a column cannot be read as numbers, its other checks only repeat that.
    uncoerced = set(cases.loc[cases["check"].str.startswith("coerce_dtype"), "column"])
    cases = cases[~cases["column"].isin(uncoerced) | cases["check"].str.startswith("coerce")]
    problems = []
    for check, group in cases.groupby("check", sort=False):
        if check.startswith("one_hot"):
            columns = QUARTILES if "convo" in check else QUINTILES
            column = f"{columns[0][:-2]}k)"
            group = group[group["column"] == columns[0]]
            group = group.assign(failure_case="not exactly one 1")
            count = group["index"].nunique()
            problems.append(Problem(name, column, _in_words(check), count, _examples(group)))
            continue
        if check == "column_in_dataframe":
            problems.extend(
                Problem(name, str(missing), "column missing", 1, "required by the analysis")
                for missing in group["failure_case"]
            )
            continue
        for column, cases_ in group.groupby("column", sort=False):
            count = max(cases_["index"].nunique(), 1)
            problems.append(Problem(name, str(column), _in_words(check), count, _examples(cases_)))
    return problems


def validate_tables(workers: pd.DataFrame | None, sites: pd.DataFrame | None) -> ValidationReport:
    """Validate both tables lazily, plus the link from workers to worksites."""
    report = ValidationReport()
    validated = {}
    for name, frame, schema in (
        (WORKER_FILE, workers, WorkerSchema),
        (WORKSITE_FILE, sites, WorksiteSchema),
    ):
        report.files[name] = None if frame is None else len(frame)
        if frame is None:
            continue
        try:
            validated[name] = schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as error:
            report.problems.extend(_problems(name, error))
    if workers is not None and sites is not None and {"Worksite ID"} <= set(workers) & set(sites):
        known = set(sites["Worksite ID"].tolist())
        orphan = workers.loc[~workers["Worksite ID"].isin(known), "Worksite ID"]
        if len(orphan):
            lines = ", ".join(f"line {i + 2}: {v!r}" for i, v in orphan.head(3).items())
            report.problems.append(
                Problem(WORKER_FILE, "Worksite ID", "not found in the worksite file", len(orphan),
                        f"e.g. {lines}")
            )
    return report


def read_and_validate(data_dir: Path) -> tuple[ValidationReport, dict[str, pd.DataFrame]]:
    """Read both files from ``data_dir`` and validate them; never raises on bad data."""
    frames: dict[str, pd.DataFrame | None] = {}
    fatal = {}
    for name, expected in ((WORKER_FILE, WORKER_FEATURES), (WORKSITE_FILE, SITE_FEATURES)):
        try:
            frames[name] = read_table(Path(data_dir) / name, expected)
        except DataError as error:
            frames[name], fatal[name] = None, str(error)
    report = validate_tables(frames[WORKER_FILE], frames[WORKSITE_FILE])
    report.fatal.update(fatal)
    return report, {k: v for k, v in frames.items() if v is not None}


def load_campaign(data_dir: str | os.PathLike | None = None) -> Campaign:
    """Locate, read and validate the campaign; raise DataError with the full report."""
    path = locate_data(data_dir)
    report, frames = read_and_validate(path)
    if not report.ok:
        raise DataError(f"The campaign data in {path} is not valid:\n{report.render()}")
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
        checksums={name: sha256(path / name) for name in SOURCES},
    )
