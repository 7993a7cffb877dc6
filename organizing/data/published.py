"""The study's published figures, read once from the CSVs shipped with the package."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import pandas as pd


@cache
def published_reference() -> dict[str, pd.DataFrame]:
    """The study's published figures, transcribed from its final report.

    ``shared``: the shared coefficients table; ``worker``: the summary of the
    worksite-specific worker coefficients; ``metrics``: held-out metrics and
    inference and clustering settings (``metric``, ``published_value``).
    """
    folder = files("organizing.data").joinpath("reference")
    names = {"shared": "published_shared_coefficients.csv",
             "worker": "published_worker_coefficients.csv",
             "metrics": "published_metrics.csv"}
    out = {}
    for key, name in names.items():
        with folder.joinpath(name).open() as handle:
            out[key] = pd.read_csv(handle)
    return out
