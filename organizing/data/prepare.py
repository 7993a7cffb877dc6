"""The data contract, and ``organizing prepare``: derived columns from required ones.

A campaign's two files hold two kinds of column:

- **required** columns come from the organizers' records, the coworker network
  or public statistics, and the package cannot compute them (a worker's
  centrality, the quartile of their first conversation, a store's ZIP-code
  shares, its number of edges);
- **derived** columns are functions of the required ones. Each is defined
  once here, in :data:`DERIVED`, by a formula (shown in the book's appendix)
  and the code that computes it.

The derived columns, with ``s(i)`` the worksite of worker ``i`` and
``W_s = {i : s(i) = s}`` the worker rows of worksite ``s``:

    Log(X)                      = ln X                  (−∞ where X = 0)
    No. workers signed_s        = Σ_{i ∈ W_s} Signed_i
    Percent male_s              = mean of Is Male_i over i ∈ W_s with Is Male_i ≠ 0.5
                                  (0.5 when no worker of the worksite has a known gender)
    Mean degree_s               = No. edges_s / |W_s|     (organizing.data.network.mean_degree)
    Campaign length (Quint. k)_s = 1[k − 1 of the 20/40/60/80% quantiles of Campaign
                                   length over the worksites lie strictly below
                                   Campaign length_s]   (measures.quantile_levels:
                                   equal lengths share a quintile)

On the study's files the counts, shares, mean degrees and logs agree with
these formulas to float precision. The quintiles do not, quite: the study's
cut points are not recoverable from its 120 worksites (a few worksites land
one quintile away). :func:`prepare` therefore computes a derived column only
when the files lack it, and keeps the file's own values otherwise, unless
asked to recompute every derived column.

:func:`prepare` checks before it computes: it validates ``IN_DIR``'s files
against the schemas (derived columns may be absent), with validate's words,
then computes the derived columns and validates the result as
``organizing validate`` would; only when both pass does it write both files
to ``OUT_DIR``, with the columns the analysis reads (others are left out, and
named in a notice, so that names or free text in an export do not travel).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from organizing.data import measures, network
from organizing.data.io import (
    SITE_DESCRIPTORS,
    UNKNOWN_GENDER,
    WORKER_FILE,
    WORKSITE_FILE,
    DataError,
    FailureTally,
    ValidationReport,
    _read_and_validate,
    unreadable,
)
from organizing.data.schemas import (
    COLUMN_MEANINGS,
    QUARTILES,
    QUINTILES,
    WorkerSchema,
    WorksiteSchema,
)

#: Levels whose natural log is a derived column, per file (in the files' order).
LOGGED: dict[str, tuple[str, ...]] = {
    WORKER_FILE: ("Eigen. Centrality", "No. Notes"),
    WORKSITE_FILE: ("Mean AGI in ZIP", "No. organizer convers.", "No. workers contacted",
                    "No. workers discovered", "No. edges", "Mean degree",
                    "Centrality variance", "Centrality mean"),
}


@dataclass(frozen=True)
class Derived:
    """One derived column: its file, its formula in words, the columns it needs, and
    the function computing it from the worker and worksite frames (row-aligned with
    its own file)."""

    column: str
    file: str
    formula: str
    inputs: tuple[str, ...]
    compute: Callable[[pd.DataFrame, pd.DataFrame], np.ndarray]


def _number(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def _site_rows(workers: pd.DataFrame, sites: pd.DataFrame) -> np.ndarray:
    """For every worker row, the position of its worksite in ``sites`` (−1: none)."""
    position = pd.Series(np.arange(len(sites)), index=sites["Worksite ID"].to_numpy())
    found = position.reindex(workers["Worksite ID"].to_numpy())
    return found.fillna(-1).to_numpy(dtype=int)


def _per_site_sum(workers, sites, values: np.ndarray) -> np.ndarray:
    rows = _site_rows(workers, sites)
    keep = rows >= 0
    return np.bincount(rows[keep], values[keep], minlength=len(sites))


def _workers_per_site(workers, sites) -> np.ndarray:
    return _per_site_sum(workers, sites, np.ones(len(workers)))


def _log(level: str, file: str) -> Derived:
    def compute(workers, sites):
        frame = workers if file == WORKER_FILE else sites
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(_number(frame, level))

    formula = f"ln({level})" + (", −∞ where it is 0" if level == "No. Notes" else "")
    return Derived(f"Log({level})", file, formula, (level,), compute)


def _signed(workers, sites):
    return _per_site_sum(workers, sites, _number(workers, "Signed"))


def _percent_male(workers, sites):
    male = _number(workers, "Is Male")
    known = (male != UNKNOWN_GENDER).astype(float)
    men = _per_site_sum(workers, sites, np.where(known > 0, male, 0.0))
    n_known = _per_site_sum(workers, sites, known)
    with np.errstate(divide="ignore", invalid="ignore"):  # no known gender: 0.5, as the study
        return np.where(n_known > 0, men / np.where(n_known > 0, n_known, 1), UNKNOWN_GENDER)


def _mean_degree(workers, sites):
    return network.mean_degree(_number(sites, "No. edges"), _workers_per_site(workers, sites))


def _quintile(k: int) -> Callable:
    def compute(workers, sites):
        fifth = measures.quantile_levels(_number(sites, "Campaign length"), 5)
        return (fifth == k - 1).astype(float)

    return compute


_BY_SITE = "over the worksite's rows in the worker file"
DERIVED: tuple[Derived, ...] = (
    *(_log(level, WORKER_FILE) for level in LOGGED[WORKER_FILE]),
    Derived("No. workers signed", WORKSITE_FILE, f"Σ Signed {_BY_SITE}",
            ("Signed", "Worksite ID"), _signed),
    Derived("Percent male", WORKSITE_FILE,
            f"mean of Is Male {_BY_SITE}, leaving out unknown gender (0.5); 0.5 when "
            "no worker's gender is known",
            ("Is Male", "Worksite ID"), _percent_male),
    Derived("Mean degree", WORKSITE_FILE,
            "No. edges / number of the worksite's rows in the worker file",
            ("No. edges", "Worksite ID"), _mean_degree),
    *(Derived(column, WORKSITE_FILE,
              "1 if k − 1 of the 20/40/60/80% quantiles of Campaign length over the "
              "worksites lie strictly below the worksite's length, else 0 (equal lengths "
              "share a quintile); kept from the file when present",
              ("Campaign length",), _quintile(k))
      for k, column in enumerate(QUINTILES, start=1)),
    *(_log(level, WORKSITE_FILE) for level in LOGGED[WORKSITE_FILE]),
)
DERIVED_BY_NAME: dict[tuple[str, str], Derived] = {(d.file, d.column): d for d in DERIVED}


def _schema_columns(file: str) -> tuple[str, ...]:
    schema = {WORKER_FILE: WorkerSchema, WORKSITE_FILE: WorksiteSchema}[file].to_schema()
    names = tuple(n for n, c in schema.columns.items() if c.required)
    if file == WORKSITE_FILE:  # descriptors the analysis reads beyond the schema's columns
        names += tuple(c for c in SITE_DESCRIPTORS if c not in names)
    return names


#: Every column the analysis reads, per file, in the schemas' order.
COLUMNS: dict[str, tuple[str, ...]] = {f: _schema_columns(f) for f in (WORKER_FILE,
                                                                      WORKSITE_FILE)}
#: Columns a file may hold and the package keeps (it writes them with --records).
OPTIONAL: dict[str, tuple[str, ...]] = {
    f: tuple(n for n, c in s.to_schema().columns.items() if not c.required)
    for f, s in ((WORKER_FILE, WorkerSchema), (WORKSITE_FILE, WorksiteSchema))}
#: The columns a campaign's files must hold: everything the analysis reads, less the derived.
REQUIRED: dict[str, tuple[str, ...]] = {
    f: tuple(c for c in names if (f, c) not in DERIVED_BY_NAME) for f, names in COLUMNS.items()
}


#: Meanings of columns the schemas' list does not describe.
_MORE_MEANINGS = {
    "No. workers signed": "Workers at the store who signed a card.",
    "Campaign length": "Length of the campaign at the store, in weeks.",
}


def generic_name(column: str) -> str:
    """``Time To First Convo (Quart. k)`` for any quartile column (likewise quintiles);
    other columns unchanged."""
    for group in (QUARTILES, QUINTILES):
        if column in group:
            return f"{group[0][:-2]}k)"
    return column


def meaning(column: str) -> str:
    """What a column means, in one sentence (a log column: what its level means)."""
    name = generic_name(column)
    if name.startswith("Log(") and name.endswith(")"):
        name = name[4:-1]
    return COLUMN_MEANINGS.get(name) or _MORE_MEANINGS.get(name, "")


def is_derived(file: str, column: str) -> bool:
    """True for a column :func:`prepare` can compute from the required ones."""
    return (file, column) in DERIVED_BY_NAME


@dataclass(frozen=True)
class Prepared:
    """What :func:`prepare` did: the columns it computed, kept and left out, and the
    validation report of the result (nothing is written unless it is clean)."""

    workers: pd.DataFrame
    worksites: pd.DataFrame
    computed: tuple[str, ...]
    kept: tuple[str, ...]
    dropped: tuple[str, ...] = ()
    report: ValidationReport | None = None


def derive(workers: pd.DataFrame, sites: pd.DataFrame, *,
           recompute: bool = False) -> Prepared:
    """Add every derived column to copies of the two frames.

    A derived column already present is kept unless ``recompute``. Raises a
    one-line :class:`DataError` naming the first file and required column that
    is missing.
    """
    frames = {WORKER_FILE: workers.copy(), WORKSITE_FILE: sites.copy()}
    for file, names in REQUIRED.items():
        missing = [c for c in names if c not in frames[file].columns]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise DataError(f"{file}: required column {missing[0]!r} is missing{more}; "
                            "the data contract lists every required column")
    computed, kept = [], []
    for rule in DERIVED:
        frame = frames[rule.file]
        label = f"{rule.file}: {rule.column}"
        if rule.column in frame.columns and not recompute:
            kept.append(label)
            continue
        frame[rule.column] = rule.compute(frames[WORKER_FILE], frames[WORKSITE_FILE])
        computed.append(label)
    return Prepared(frames[WORKER_FILE], frames[WORKSITE_FILE], tuple(computed), tuple(kept))


def _write(frame: pd.DataFrame, path: Path) -> None:
    """Write under a temporary name, then rename: no partial file is ever left."""
    umask = os.umask(0)
    os.umask(umask)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(temporary, 0o666 & ~umask)
        with os.fdopen(handle, "w", newline="") as stream:
            frame.to_csv(stream, index=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def check_output(out_dir: Path, overwrite: bool) -> None:
    """Refuse, before any work, a folder that is not one or already holds a campaign
    (FileExistsError unless ``overwrite``); one line each."""
    out_dir = Path(out_dir)
    if out_dir.exists() or out_dir.is_symlink():
        why = unreadable(out_dir, directory=True)
        if why:
            raise DataError(f"{out_dir}: {why}")
    existing = [n for n in (WORKER_FILE, WORKSITE_FILE)
                if (out_dir / n).exists() or (out_dir / n).is_symlink()]
    if existing and not overwrite:
        raise FileExistsError(f"{out_dir} already holds {' and '.join(existing)}; pass --force "
                              "to overwrite, or choose another folder")


def write_campaign(out_dir: Path, workers: pd.DataFrame, sites: pd.DataFrame) -> None:
    """Write both files atomically; a one-line DataError when the folder cannot take them."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write(workers, out_dir / WORKER_FILE)
        _write(sites, out_dir / WORKSITE_FILE)
    except OSError as error:
        raise DataError(f"{out_dir}: cannot write the campaign there "
                        f"({error.strerror or error})") from None


def _known(file: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The columns the analysis reads (in the file's order), and the names of the others."""
    known = set(COLUMNS[file]) | set(OPTIONAL[file])
    dropped = [c for c in frame.columns if c not in known]
    return frame[[c for c in frame.columns if c in known]], dropped


def _empty_worksites(frames: dict[str, pd.DataFrame]) -> list:
    """Worksites without a worker row: validate's words, before anything is derived."""
    workers, sites = frames[WORKER_FILE], frames[WORKSITE_FILE]
    tally = FailureTally(WORKSITE_FILE)
    tally.rows("Worksite ID", "has no worker in the worker file",
               np.flatnonzero(_workers_per_site(workers, sites) == 0),
               fix="remove these worksites, or add their workers")
    return tally.problems()


def prepare(in_dir: str | os.PathLike, out_dir: str | os.PathLike, *,
            recompute: bool = False, overwrite: bool = False, config=None) -> Prepared:
    """Check ``in_dir``'s two files, add the derived columns, check the result, and only
    then write both files to ``out_dir``.

    The input is validated first against the schemas with the derived columns
    optional (every failure, in validate's words); then the completed files are
    validated as ``organizing validate`` would (with ``config``: also whether the
    campaign can be analysed). ``Prepared.report`` holds the report of the step
    that failed, or of the result; nothing is written unless it is clean, so a
    failed run leaves ``out_dir`` as it was. A missing folder or file is a
    one-line :class:`DataError`; campaign files already in ``out_dir`` are
    refused (FileExistsError, one line) unless ``overwrite``.
    """
    from organizing.data.checks import validate_frames

    in_dir, out_dir = Path(in_dir), Path(out_dir)
    why = unreadable(in_dir, directory=True)
    if why:
        raise DataError(f"{in_dir}: {why}")
    for name in (WORKER_FILE, WORKSITE_FILE):
        why = unreadable(in_dir / name)
        if why:
            raise DataError(f"{in_dir / name}: {why}")
    check_output(out_dir, overwrite)
    optional = {WORKER_FILE: tuple(d.column for d in DERIVED if d.file == WORKER_FILE),
                WORKSITE_FILE: tuple(d.column for d in DERIVED if d.file == WORKSITE_FILE)}
    report, frames = _read_and_validate(in_dir, optional=optional, keep_all=True)
    if report.ok:
        report.problems.extend(_empty_worksites(frames))
    if not report.ok:
        return Prepared(pd.DataFrame(), pd.DataFrame(), (), (), (), report)
    dropped = []
    for name in frames:
        frames[name], gone = _known(name, frames[name])
        dropped += [f"{name}: {c}" for c in gone]
    result = derive(frames[WORKER_FILE], frames[WORKSITE_FILE], recompute=recompute)
    report = validate_frames({WORKER_FILE: result.workers, WORKSITE_FILE: result.worksites},
                             config)
    if report.ok:
        write_campaign(out_dir, result.workers, result.worksites)
    return Prepared(result.workers, result.worksites, result.computed, result.kept,
                    tuple(dropped), report)
