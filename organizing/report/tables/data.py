"""Tables of the book: data chapter."""

from __future__ import annotations

import pandas as pd
from great_tables import GT

from organizing.data import WORKER_FILE, WORKSITE_FILE, prepare, schemas
from organizing.report.formatting import (
    INTERVAL_SEPARATOR,
)
from organizing.report.tables.style import house_style, new_table


def _rules(column) -> str:
    """The pandera checks on one column, in words."""
    words = []
    for check in column.checks:
        stats = check.statistics or {}
        name = check.name
        if name == "isin":
            words.append("one of " + ", ".join(f"{v:g}" for v in stats["allowed_values"]))
        elif name == "greater_than_or_equal_to":
            words.append(f"≥ {stats['min_value']:g}")
        elif name == "greater_than":
            words.append(f"> {stats['min_value']:g}")
        elif name == "less_than_or_equal_to":
            words.append(f"≤ {stats['max_value']:g}")
        elif name == "whole_number":
            words.append("whole number")
    if column.unique:
        words.append("unique")
    if not column.nullable:
        words.append("no missing values")
    return "; ".join(words)


def _schema(file: str):
    """The pandera schema of one campaign file."""
    return {WORKER_FILE: schemas.WorkerSchema, WORKSITE_FILE: schemas.WorksiteSchema}[
        file].to_schema()


def _schema_column(file: str, name: str):
    """The pandera column of ``name`` in ``file``'s schema (None: not checked by it)."""
    return _schema(file).columns.get(name)


def _one_hot_label(group: tuple[str, ...]) -> str:
    return f"{group[0][:-2]}1{INTERVAL_SEPARATOR}{len(group)})"


def column_table() -> GT:
    """The data contract: every column the analysis reads, generated from the pandera
    schemas and :mod:`organizing.data.prepare`.

    Per column: whether a campaign must supply it (required) or ``organizing prepare``
    computes it (derived, with its formula), its type, the rules the schemas check,
    and its meaning. A one-hot group is one row.
    """
    rows = []
    for file, names in prepare.COLUMNS.items():
        seen = set()
        frame_checks = {check.name for check in _schema(file).checks}
        for name in names:
            generic = prepare.generic_name(name)
            if generic in seen:
                continue
            seen.add(generic)
            column = _schema_column(file, name)
            derived = prepare.DERIVED_BY_NAME.get((file, name))
            label, rules = name, _rules(column) if column is not None else ""
            for group, check in ((schemas.QUARTILES, "one_hot_time_to_first_convo"),
                                 (schemas.QUINTILES, "one_hot_campaign_length")):
                if name in group:
                    label = _one_hot_label(group)
                    if check in frame_checks:
                        rules += "; exactly one level is 1 in every row"
            if name.startswith("Log(") and "log_column_equals_log_of_level" in frame_checks:
                rules += f"; equals ln({name[4:-1]})"
            rows.append({
                "file": file, "column": label,
                "status": "derived" if derived else "required",
                "type": "whole-number ID" if column is not None and not column.coerce
                else "number",
                "rules": rules or "not checked by the schema",
                "meaning": prepare.meaning(name),
                "formula": derived.formula if derived else "",
            })
    frame = pd.DataFrame(rows)
    return (
        new_table(frame, groupname_col="file")
        .cols_label(column="Column", status="Required or derived", type="Type",
                    rules="Checked rules", meaning="Meaning", formula="Formula (derived)")
        .pipe(house_style)
    )


def _transform(feature: str, level: str, reference: set[str],
               aliased: frozenset[str] = frozenset()) -> str:
    over = "workers" if level == "worker" else "worksites"
    if feature.startswith("Log("):
        first = f"natural log of {feature[4:-1]}, then standardized"
    elif feature in schemas.QUARTILES or feature in schemas.QUINTILES:
        first = "one-hot level, standardized"
    else:
        first = "standardized"
    text = f"{first} (over {over})"
    if feature in reference:
        text += "; reference level (dropped) in the headline and extended models"
    if feature in aliased:
        text += ("; left out of the headline and extended models: other columns determine "
                 "it (@sec-caveats)")
    return text


def feature_summary(data) -> GT:
    """The book's one feature table: every regression feature with its level, meaning and
    transform, and its mean, SD, 1st percentile, median and 99th percentile before
    standardizing (percentiles, not the range: an extreme is one worker's value)."""
    reduced = set(data.reduced_worker_features) | set(data.reduced_site_features)
    everything = (*data.worker_features, *data.site_features)
    reference = {f for f in everything if f not in reduced}
    aliases = getattr(data, "aliases", None)
    aliased = frozenset(() if aliases is None else aliases["name"])
    stats = data.feature_summary.set_index("feature")
    levels = {"worker": "Worker features (one slope per worksite)",
              "worksite": "Worksite features (one coefficient shared by all worksites)"}
    rows = []
    for level, features in (("worker", data.worker_features),
                            ("worksite", data.site_features)):
        for feature in features:
            rows.append({"level": levels[level], "feature": feature,
                         "meaning": prepare.meaning(feature),
                         "transform": _transform(feature, level, reference, aliased),
                         **stats.loc[feature, ["mean", "sd", "p1", "median", "p99"]]})
    return (
        new_table(pd.DataFrame(rows), groupname_col="level")
        .cols_label(feature="Feature", meaning="Meaning", transform="Transform",
                    mean="Mean", sd="SD", p1="1st pct.", median="Median", p99="99th pct.")
        .fmt_number(columns=["mean", "sd", "p1", "median", "p99"], n_sigfig=3)
        .pipe(house_style)
    )


def data_overview(results) -> GT:
    """Counts and rates that describe the campaign data (disclosure control applied:
    a count below k prints as "fewer than k", withheld worksites' rates are left out)."""
    from organizing.report.formatting import count, share, shown_count

    data, sites = results.data, results.data.sites
    k = data.disclosure.min_count
    rates = sites["signing rate"].dropna()

    def shown(name):
        return shown_count(data.disclosure.counts[name], k)

    rows = [
        ("Workers", count(data.n_workers)),
        ("Worksites", count(data.n_sites)),
        ("Workers who signed", f"{shown('signed')} ({share(data.signing_rate)})"),
        ("Workers per worksite (median, range)",
         f"{count(data.workers_per_site_median)} ({shown('fewest workers at a worksite')}"
         f"{INTERVAL_SEPARATOR}{shown('most workers at a worksite')})"),
    ]
    if len(rates):
        rows.append((f"Worksite signing rate (median, range; {count(len(rates))} worksites)",
                     f"{share(rates.median())} ({share(rates.min())}{INTERVAL_SEPARATOR}"
                     f"{share(rates.max())})"))
    if data.disclosure.rates_withheld:
        pooled = data.disclosure.pooled_rate
        rows.append((f"Worksites with fewer than {k} signers or non-signers (rate withheld)",
                     count(data.disclosure.rates_withheld)
                     + (f" (pooled rate {share(pooled)})" if pooled is not None else "")))
    rows += [
        ("Workers of unknown gender (Is Male = 0.5)", shown('unknown gender')),
        ("Training / held-out workers (study's split)",
         f"{count(results.meta.n_train)} / {count(results.meta.n_test)}"),
    ]
    frame = pd.DataFrame(rows, columns=["quantity", "value"])
    return new_table(frame).cols_label(quantity="", value="").pipe(house_style)
