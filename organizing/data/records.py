"""A campaign's raw records, and ``organizing prepare --records``: the study's two files
built from them.

The records are five CSV files in one folder, the kind of export a union's
database gives. IDs are text (``store-12``, ``A7731``); numbers and dates are
read by the package, never guessed:

==================  ==========================================================
``workers.csv``     ``Worker ID`` (unique), ``Store ID``, ``Gender`` (male,
                    female, or blank where not known), ``Signed`` (1 or 0),
                    ``Signing date`` (optional; YYYY-MM-DD, blank if unknown)
``contacts.csv``    ``Worker ID``, ``Date`` (YYYY-MM-DD), ``Kind``
                    (``conversation`` or ``note``), ``Organizer`` (optional)
``ties.csv``        ``Worker ID``, ``Coworker ID`` (two workers of the same
                    store known to each other), ``Source`` (optional: where the
                    tie was recorded)
``stores.csv``      ``Store ID`` (unique), ``ZIP``, ``Campaign start``,
                    ``Campaign end``
``zips.csv``        ``ZIP`` (unique), ``Share Black``, ``Share Latino`` (0 to 1),
                    ``Mean AGI`` (thousands of dollars)
==================  ==========================================================

Each table has a pandera schema; validation is lazy and, as for the study's
files, reports every failure at once, by line, never showing an ID. Beyond
the schemas it checks what the measures need: every store has workers, a
conversation and a tie between two of its workers; ties join workers of one
store; references between the tables resolve; a campaign ends after it
starts and no conversation precedes it.

:func:`build_study_files` computes every column of the study's two files from
valid records with the rules of :mod:`organizing.data.network` and
:mod:`organizing.data.measures`, then the derived columns of
:mod:`organizing.data.prepare`. :func:`prepare_records` validates, builds,
validates the result, and writes nothing unless both steps pass.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from organizing.data import measures, network
from organizing.data.io import (
    WORKER_FILE,
    WORKSITE_FILE,
    DataError,
    FailureTally,
    ValidationReport,
    missing_fix,
    read_text_table,
    unreadable,
)
from organizing.data.schemas import QUARTILES

WORKERS = "workers.csv"
CONTACTS = "contacts.csv"
TIES = "ties.csv"
STORES = "stores.csv"
ZIPS = "zips.csv"
FILES = (WORKERS, CONTACTS, TIES, STORES, ZIPS)

CONVERSATION, NOTE = "conversation", "note"
GENDERS = {"male": 1.0, "female": 0.0, "": 0.5}


class WorkerRecords(pa.DataFrameModel):
    """``workers.csv``: one row per worker the organizers identified."""

    worker_id: Series[str] = pa.Field(alias="Worker ID", unique=True)
    store_id: Series[str] = pa.Field(alias="Store ID")
    gender: Series[str] = pa.Field(alias="Gender", isin=["male", "female", ""])
    signed: Series[float] = pa.Field(alias="Signed", isin=[0.0, 1.0])
    signing_date: Series[pd.Timestamp] | None = pa.Field(alias="Signing date",
                                                            nullable=True)

    class Config:
        name = WORKERS
        strict = False


class ContactRecords(pa.DataFrameModel):
    """``contacts.csv``: one row per conversation with, or note about, a worker."""

    worker_id: Series[str] = pa.Field(alias="Worker ID")
    date: Series[pd.Timestamp] = pa.Field(alias="Date")
    kind: Series[str] = pa.Field(alias="Kind", isin=[CONVERSATION, NOTE])
    organizer: Series[str] | None = pa.Field(alias="Organizer", nullable=True)

    class Config:
        name = CONTACTS
        strict = False


class TieRecords(pa.DataFrameModel):
    """``ties.csv``: one row per recorded tie between two coworkers."""

    worker_id: Series[str] = pa.Field(alias="Worker ID")
    coworker_id: Series[str] = pa.Field(alias="Coworker ID")
    source: Series[str] | None = pa.Field(alias="Source", nullable=True)

    class Config:
        name = TIES
        strict = False


class StoreRecords(pa.DataFrameModel):
    """``stores.csv``: one row per store (worksite) in the campaign."""

    store_id: Series[str] = pa.Field(alias="Store ID", unique=True)
    zip_code: Series[str] = pa.Field(alias="ZIP")
    start: Series[pd.Timestamp] = pa.Field(alias="Campaign start")
    end: Series[pd.Timestamp] = pa.Field(alias="Campaign end")

    class Config:
        name = STORES
        strict = False


class ZipRecords(pa.DataFrameModel):
    """``zips.csv``: public statistics of each store's ZIP code, supplied by the user."""

    zip_code: Series[str] = pa.Field(alias="ZIP", unique=True)
    share_black: Series[float] = pa.Field(alias="Share Black", ge=0, le=1)
    share_latino: Series[float] = pa.Field(alias="Share Latino", ge=0, le=1)
    mean_agi: Series[float] = pa.Field(alias="Mean AGI", gt=0)

    class Config:
        name = ZIPS
        strict = False


SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    WORKERS: WorkerRecords, CONTACTS: ContactRecords, TIES: TieRecords, STORES: StoreRecords,
    ZIPS: ZipRecords,
}

#: What each column of the records means, for the appendix.
MEANINGS: dict[tuple[str, str], str] = {
    (WORKERS, "Worker ID"): "the worker's key in your records (text; never shown)",
    (WORKERS, "Store ID"): "the store the worker works at (a Store ID of stores.csv)",
    (WORKERS, "Gender"): "male, female, or blank where it is not known (any capitalization)",
    (WORKERS, "Signed"): "1 if the worker signed a membership card, else 0",
    (WORKERS, "Signing date"): "optional: when the worker signed (blank if unknown)",
    (CONTACTS, "Worker ID"): "the worker the conversation was with, or the note is about",
    (CONTACTS, "Date"): "the day of the conversation or the note",
    (CONTACTS, "Kind"): "conversation (an organizer spoke with the worker) or note (an "
                        "organizer's note mentions the worker)",
    (CONTACTS, "Organizer"): "optional: who had the conversation or wrote the note",
    (TIES, "Worker ID"): "one worker of the tie",
    (TIES, "Coworker ID"): "the other worker: a coworker at the same store who knows them",
    (TIES, "Source"): "optional: where the tie was recorded (a note, a chart, a meeting)",
    (STORES, "Store ID"): "the store's key (text)",
    (STORES, "ZIP"): "the store's ZIP code (text: leading zeros are kept)",
    (STORES, "Campaign start"): "first day of the campaign at the store",
    (STORES, "Campaign end"): "last day of the campaign at the store",
    (ZIPS, "ZIP"): "a ZIP code of some store",
    (ZIPS, "Share Black"): "share of the ZIP code's residents who are Black (0 to 1)",
    (ZIPS, "Share Latino"): "share of the ZIP code's residents who are Hispanic or Latino "
                            "(0 to 1)",
    (ZIPS, "Mean AGI"): "mean adjusted gross income per tax return in the ZIP code, in "
                        "thousands of dollars",
}

#: Where the ZIP-level measures can be found (public statistics; the user supplies them).
ZIP_SOURCES: dict[str, str] = {
    "Share Black": "U.S. Census Bureau, American Community Survey 5-year estimates, table "
                   "B03002 (Hispanic or Latino origin by race) by ZIP Code Tabulation Area: "
                   "Black or African American alone, not Hispanic, over the total",
    "Share Latino": "the same table B03002: Hispanic or Latino, over the total",
    "Mean AGI": "IRS Statistics of Income, Individual Income Tax ZIP Code Data: adjusted "
                "gross income (A00100, in thousands of dollars) over the number of returns "
                "(N1)",
}


# --------------------------------------------------------------------------- reading


@dataclass
class Records:
    """Valid records: IDs as text, dates as timestamps, numbers as floats."""

    workers: pd.DataFrame
    contacts: pd.DataFrame
    ties: pd.DataFrame
    stores: pd.DataFrame
    zips: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        return {WORKERS: self.workers, CONTACTS: self.contacts, TIES: self.ties,
                STORES: self.stores, ZIPS: self.zips}


def _kinds(schema: type[pa.DataFrameModel]) -> dict[str, str]:
    """Each column's kind (text, number, date) and whether it is required."""
    out = {}
    for name, column in schema.to_schema().columns.items():
        dtype = str(column.dtype)
        out[name] = "date" if "datetime" in dtype else "number" if "float" in dtype else "text"
    return out


#: Each record file's columns and their kinds (text, number, date), from its schema.
COLUMN_KINDS: dict[str, dict[str, str]] = {file: _kinds(schema)
                                           for file, schema in SCHEMAS.items()}


def _convert(frame: pd.DataFrame, schema: type[pa.DataFrameModel], tally: FailureTally
             ) -> pd.DataFrame:
    """Text cells to the schema's kinds; a cell that is not a number or a date is reported
    by line and becomes missing. Text is stripped; blank text is missing, except where the
    schema allows a blank (Gender)."""
    frame = frame.copy()
    for name, kind in _kinds(schema).items():
        if name not in frame:
            continue
        text = frame[name].fillna("").astype(str).str.strip()
        if kind == "text":
            if name == "Gender":
                frame[name] = text.str.lower()
            else:
                frame[name] = text.where(text != "", None)
            continue
        present = text != ""
        if kind == "number":
            value = pd.to_numeric(text.where(present), errors="coerce")
            what = "is not a number"
        else:
            value = pd.to_datetime(text.where(present), format="%Y-%m-%d", errors="coerce")
            what = "is not a date written YYYY-MM-DD"
        bad = present & value.isna()
        tally.rows(name, what, np.flatnonzero(bad.to_numpy()), text[bad].to_numpy())
        frame[name] = value
    return frame


def _validate_table(name: str, frame: pd.DataFrame, tally: FailureTally) -> pd.DataFrame:
    """One table against its schema, every failure counted (lazy validation)."""
    from organizing.data.io import _in_words

    schema = SCHEMAS[name]
    frame = _convert(frame, schema, tally)
    try:
        return schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as error:
        cases = error.failure_cases
    for (column, check), group in cases.groupby(["column", "check"], sort=False, dropna=False):
        if check == "column_in_dataframe":
            for missing in group["failure_case"]:
                tally.whole(str(missing), "column missing", "required by the measures",
                            missing_fix(str(missing), frame.columns))
            continue
        if str(check).startswith("dtype"):
            continue  # a cell of the wrong kind was reported by _convert
        words = "duplicate ID" if check == "field_uniqueness" else _in_words(str(check))
        located = group[group["index"].notna()].drop_duplicates("index")
        rows = located["index"].astype(int).to_numpy()
        values = None if check == "not_nullable" else located["failure_case"].to_numpy()
        tally.rows(str(column), "missing value" if check == "not_nullable" else words,
                   rows, values)
    return frame


@dataclass
class _Checked:
    report: ValidationReport
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    tallies: dict[str, FailureTally] = field(default_factory=dict)


def _cross_checks(checked: _Checked) -> None:
    """What the measures need across tables (IDs never shown: line numbers only)."""
    t, tally = checked.tables, checked.tallies
    workers, contacts, ties = t[WORKERS], t[CONTACTS], t[TIES]
    stores, zips = t[STORES], t[ZIPS]
    store_ids = set(stores["Store ID"].dropna())
    worker_store = workers.set_index("Worker ID")["Store ID"]
    worker_store = worker_store[~worker_store.index.duplicated()]

    orphan = workers["Store ID"].notna() & ~workers["Store ID"].isin(store_ids)
    tally[WORKERS].rows("Store ID", f"not found in {STORES}", np.flatnonzero(orphan))
    if "Signing date" in workers:
        early = workers["Signing date"].notna() & (workers["Signed"] == 0)
        tally[WORKERS].rows("Signing date", "given for a worker who did not sign",
                            np.flatnonzero(early), fix="blank the date or set Signed to 1")

    unknown = contacts["Worker ID"].notna() & ~contacts["Worker ID"].isin(worker_store.index)
    tally[CONTACTS].rows("Worker ID", f"not found in {WORKERS}", np.flatnonzero(unknown))
    start = stores.set_index("Store ID")["Campaign start"]
    start = start[~start.index.duplicated()]
    contact_start = contacts["Worker ID"].map(worker_store).map(start)
    before = (contacts["Kind"] == CONVERSATION) & (contacts["Date"] < contact_start)
    tally[CONTACTS].rows("Date", "is before the campaign start of the worker's store",
                         np.flatnonzero(before.to_numpy()),
                         contacts["Date"].dt.strftime("%Y-%m-%d").to_numpy(),
                         fix="correct the date, or the store's Campaign start")

    for column in ("Worker ID", "Coworker ID"):
        missing = ties[column].notna() & ~ties[column].isin(worker_store.index)
        tally[TIES].rows(column, f"not found in {WORKERS}", np.flatnonzero(missing))
    a, b = ties["Worker ID"].map(worker_store), ties["Coworker ID"].map(worker_store)
    across = a.notna() & b.notna() & (a != b)
    tally[TIES].rows("Coworker ID", "works at another store than Worker ID",
                     np.flatnonzero(across.to_numpy()),
                     fix="a tie joins two coworkers of one store; remove it or correct a store")

    ends = stores["Campaign end"] <= stores["Campaign start"]
    tally[STORES].rows("Campaign end", "is not after Campaign start", np.flatnonzero(ends),
                       stores["Campaign end"].dt.strftime("%Y-%m-%d").to_numpy())
    no_zip = stores["ZIP"].notna() & ~stores["ZIP"].isin(set(zips["ZIP"].dropna()))
    tally[STORES].rows("ZIP", f"not found in {ZIPS}", np.flatnonzero(no_zip),
                       stores["ZIP"].to_numpy(), fix=f"add the ZIP code's row to {ZIPS}")
    has_workers = stores["Store ID"].isin(set(workers["Store ID"].dropna()))
    tally[STORES].rows("Store ID", f"has no worker in {WORKERS}",
                       np.flatnonzero(~has_workers), fix="remove the store, or add its workers")
    talked = contacts.loc[contacts["Kind"] == CONVERSATION, "Worker ID"].map(worker_store)
    silent = has_workers & ~stores["Store ID"].isin(set(talked.dropna()))
    tally[STORES].rows("Store ID", "has no conversation with any of its workers",
                       np.flatnonzero(silent), fix="the store's conversation counts are "
                       "logged: add its conversations, or remove the store")
    tied = set(a[(a == b) & (ties["Worker ID"] != ties["Coworker ID"])].dropna())
    untied = has_workers & ~stores["Store ID"].isin(tied)
    tally[STORES].rows("Store ID", "has no tie between two of its workers",
                       np.flatnonzero(untied), fix="the network measures need at least one "
                       "tie per store: add the ties you know of, or remove the store")


def read_records(directory: str | os.PathLike) -> tuple[ValidationReport, Records | None]:
    """Read and validate the five record files in ``directory``; never raises on bad data.

    Returns the report and, when it is clean, the :class:`Records`.
    """
    directory = Path(directory)
    checked = _Checked(ValidationReport())
    for name in FILES:
        checked.report.files[name] = None
        tally = FailureTally(name)
        try:
            frame = read_text_table(directory / name, tuple(_kinds(SCHEMAS[name])))
        except DataError as error:
            checked.report.fatal[name] = str(error)
            continue
        checked.report.files[name] = len(frame)
        checked.tables[name] = _validate_table(name, frame, tally)
        checked.tallies[name] = tally
    if not checked.report.fatal and not any(checked.tallies.values()):
        _cross_checks(checked)
    for tally in checked.tallies.values():
        checked.report.problems.extend(tally.problems())
    if not checked.report.ok:
        return checked.report, None
    return checked.report, Records(**{name[:-4]: checked.tables[name] for name in FILES})


# --------------------------------------------------------------------------- the measures


@dataclass(frozen=True)
class StudyFiles:
    """The study's two files built from records, and the warnings of the build."""

    workers: pd.DataFrame
    worksites: pd.DataFrame
    warnings: tuple[str, ...]


def build_study_files(records: Records) -> StudyFiles:
    """Every column of the study's two files, from valid records.

    Network measures: :mod:`organizing.data.network`; the other rules:
    :mod:`organizing.data.measures`; then the derived columns (logs, shares,
    quintiles) of :func:`organizing.data.prepare.derive`. Workers keep the
    records' order; stores are in the order of ``stores.csv``.
    """
    from organizing.data.prepare import derive

    workers = records.workers.reset_index(drop=True)
    contacts, stores = records.contacts, records.stores.reset_index(drop=True)
    ids = workers["Worker ID"]
    kind_counts = pd.crosstab(contacts["Worker ID"], contacts["Kind"])
    notes = kind_counts.get(NOTE, pd.Series(dtype=float)).reindex(ids, fill_value=0)
    talks = kind_counts.get(CONVERSATION, pd.Series(dtype=float)).reindex(ids, fill_value=0)
    notes, talks = notes.to_numpy(dtype=float), talks.to_numpy(dtype=float)
    first = (contacts[contacts["Kind"] == CONVERSATION].groupby("Worker ID")["Date"].min()
             .reindex(ids))
    start = stores.set_index("Store ID")["Campaign start"]
    days = (first.to_numpy() - workers["Store ID"].map(start).to_numpy()) / np.timedelta64(1, "D")
    days = np.asarray(days, dtype=float)
    contacted = talks > 0
    quartile = measures.quantile_levels(days, 4, population=days[contacted])
    quartile[~contacted] = 3  # never contacted: later than every recorded first conversation

    centrality = np.empty(len(workers))
    outside = np.zeros(len(workers), dtype=bool)
    rows_of = workers.groupby("Store ID", sort=False).indices
    ties = records.ties.assign(store=records.ties["Worker ID"].map(
        workers.set_index("Worker ID")["Store ID"]))
    ties_of = ties.groupby("store", sort=False)
    site_rows, undefined = [], {"NDO (Eigen., Pearson)": 0, "Mobilizing (Pearson)": 0}
    for store in stores.itertuples(index=False):
        store_id = store[0]
        rows = rows_of[store_id]
        pairs = ties_of.get_group(store_id)[["Worker ID", "Coworker ID"]].itertuples(
            index=False, name=None) if store_id in ties_of.groups else ()
        net = network.network_measures(ids.to_numpy()[rows].tolist(), pairs)
        centrality[rows], outside[rows] = net.centrality, net.outside
        reached = rows[contacted[rows]]
        ndo = measures.correlation(notes[rows], net.centrality)
        mobilizing = measures.correlation(talks[reached], -days[reached])
        for column, value in (("NDO (Eigen., Pearson)", ndo), ("Mobilizing (Pearson)",
                                                               mobilizing)):
            undefined[column] += value is None
        site_rows.append({
            "Worksite ID": store_id,
            "No. workers discovered": float(len(rows)),
            "No. organizer convers.": float(talks[rows].sum()),
            "No. workers contacted": float(contacted[rows].sum()),
            "Campaign length": (store[3] - store[2]) / np.timedelta64(1, "D") / 7,
            "No. edges": float(net.edges),
            "Centrality mean": net.centrality_mean,
            "Centrality variance": net.centrality_variance,
            "NDO (Eigen., Pearson)": measures.UNDEFINED_CORRELATION if ndo is None else ndo,
            "Mobilizing (Pearson)": (measures.UNDEFINED_CORRELATION if mobilizing is None
                                     else mobilizing),
            "ZIP": store[1],
        })
    sites = pd.DataFrame(site_rows)
    zips = records.zips.set_index("ZIP")
    sites["Percent black in ZIP"] = sites["ZIP"].map(zips["Share Black"]).astype(float)
    sites["Percent Latino in ZIP"] = sites["ZIP"].map(zips["Share Latino"]).astype(float)
    sites["Mean AGI in ZIP"] = sites["ZIP"].map(zips["Mean AGI"]).astype(float)
    sites = sites.drop(columns="ZIP")

    study_workers = pd.DataFrame({
        "Worker ID": ids.to_numpy(),
        "Worksite ID": workers["Store ID"].to_numpy(),
        "Is Male": workers["Gender"].map(GENDERS).to_numpy(dtype=float),
        "Eigen. Centrality": centrality,
        "No. Notes": notes,
    })
    study_workers[list(QUARTILES)] = np.eye(4)[quartile]
    study_workers["Never Contacted"] = (~contacted).astype(float)
    study_workers["Outside network"] = outside.astype(float)
    study_workers["Signed"] = workers["Signed"].to_numpy(dtype=float)
    built = derive(study_workers, sites, recompute=True)
    warnings = []
    for column, count in undefined.items():
        if count:
            warnings.append(
                f"{column}: undefined at {count} store(s) (fewer than "
                f"{measures.MIN_CORRELATION_WORKERS} workers, or a constant variable), "
                f"recorded as {measures.UNDEFINED_CORRELATION:g}")
    never = int((~contacted).sum())
    if never:
        warnings.append(f"{never:,} worker(s) never contacted: put in the last quartile of "
                        "time to first conversation (Never Contacted = 1)")
    return StudyFiles(built.workers, built.worksites, tuple(warnings))


def prepare_records(in_dir: str | os.PathLike, out_dir: str | os.PathLike, *,
                    overwrite: bool = False, config=None):
    """Validate the records in ``in_dir``, build the study's files, validate them (with
    ``config``: also whether they can be analysed), and only then write them to
    ``out_dir``. Returns (report, StudyFiles or None); nothing is written unless the
    report is clean. Raises FileExistsError (one line) rather than replace campaign
    files unless ``overwrite``, and DataError for a folder that cannot be read or
    written.
    """
    from organizing.data.checks import validate_frames
    from organizing.data.prepare import check_output, write_campaign

    in_dir, out_dir = Path(in_dir), Path(out_dir)
    why = unreadable(in_dir, directory=True)
    if why:
        raise DataError(f"{in_dir}: {why}")
    check_output(out_dir, overwrite)
    report, records = read_records(in_dir)
    if records is None:
        return report, None
    built = build_study_files(records)
    result = validate_frames({WORKER_FILE: built.workers, WORKSITE_FILE: built.worksites},
                             config)
    result.files = {**report.files, **result.files}  # the records' lines, then the result's
    report = result
    if report.ok:
        write_campaign(out_dir, built.workers, built.worksites)
    return report, built
