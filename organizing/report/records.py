"""Tables of the appendix "Your own campaign" about raw records: the records' contract,
the definition of every measure ``organizing prepare --records`` computes, and the
minimums a campaign must meet. Each is generated from the package's own definitions
(:mod:`organizing.data.records`, :mod:`organizing.data.network`,
:mod:`organizing.data.measures`, :mod:`organizing.data.checks`), so the book shows
exactly what the code does."""

from __future__ import annotations

import pandas as pd
from great_tables import GT

from organizing.data import checks, measures, network, records
from organizing.report.tables import house_style, new_table


def records_contract() -> GT:
    """Every column of the five record files: its file, whether it is required, its kind
    (text, number, date) and its meaning; then where the ZIP-level measures come from."""
    rows = []
    for file, schema in records.SCHEMAS.items():
        for name, column in schema.to_schema().columns.items():
            kind = records.COLUMN_KINDS[file][name]
            rows.append({"file": file, "column": name,
                         "required": "required" if column.required else "optional",
                         "kind": {"text": "text", "number": "number",
                                  "date": "date (YYYY-MM-DD)"}[kind],
                         "meaning": records.MEANINGS[(file, name)]})
    for name, source in records.ZIP_SOURCES.items():
        rows.append({"file": "where to find it", "column": name, "required": "",
                     "kind": "", "meaning": source})
    return (
        new_table(pd.DataFrame(rows), groupname_col="file")
        .cols_label(column="Column", required="", kind="Kind", meaning="Meaning")
        .pipe(house_style)
    )


def measure_definitions() -> GT:
    """The definition of every measure built from the records, as the package states
    it once (the network's, then the others)."""
    rows = [{"group": "Coworker network (organizing.data.network)", "measure": name,
             "definition": text} for name, text in network.DEFINITIONS.items()]
    rows += [{"group": "Contacts, stores and ZIP codes (organizing.data.measures)",
              "measure": name, "definition": text}
             for name, text in measures.DEFINITIONS.items()]
    return (
        new_table(pd.DataFrame(rows), groupname_col="group")
        .cols_label(measure="Measure", definition="Definition")
        .pipe(house_style)
    )


def minimums_table() -> GT:
    """The one table of minimums that ``organizing validate`` checks before any fit."""
    rows = [{"what": m.what, "least": m.least, "needed_by": m.needed_by}
            for m in checks.MINIMUMS]
    return (
        new_table(pd.DataFrame(rows))
        .cols_label(what="What", least="At least", needed_by="Needed by")
        .pipe(house_style)
    )
