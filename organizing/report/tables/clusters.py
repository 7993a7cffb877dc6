"""Tables of the book: clustering chapter."""

from __future__ import annotations

import numpy as np
import pandas as pd
from great_tables import GT

from organizing.report import labels
from organizing.report.formatting import (
    ELPD_DECIMALS,
)
from organizing.report.tables.style import house_style, new_table


def cluster_comparison(clustering) -> GT:
    """Per K, for the published refit's vectors: best σ, held-out lpd and the paired
    difference vs K = 1."""
    frames = []
    for key, label in labels.CLUSTERING_RUNS.items():
        if key != "published" or key not in clustering.runs:
            continue
        run = clustering.runs[key]
        table = run.comparison.sort_values("K").copy()
        table["run"] = f"{label}: {run.verdict}"
        table["fitted"] = np.where(table["K"] == run.K, "fitted", "")
        frames.append(table)
    frame = pd.concat(frames, ignore_index=True)
    frame["K"] = frame["K"].astype(int).astype(str)
    columns = ["run", "K", "sigma", "heldout_lpd", "heldout_lpd_se", "diff_vs_one",
               "diff_vs_one_se", "occupied_clusters", "fitted"]
    columns = [c for c in columns if c in frame.columns]
    return (
        new_table(frame[columns], groupname_col="run")
        .cols_label(K="K", sigma="Best σ", heldout_lpd="Held-out lpd", heldout_lpd_se="SE",
                    diff_vs_one="Difference vs K = 1", diff_vs_one_se="SE of difference",
                    occupied_clusters="Occupied clusters", fitted="")
        .fmt_number(columns="sigma", n_sigfig=3)
        .fmt_number(columns=["heldout_lpd", "heldout_lpd_se", "diff_vs_one", "diff_vs_one_se"],
                    decimals=ELPD_DECIMALS)
        .fmt_number(columns="occupied_clusters", decimals=1)
        .pipe(house_style)
    )
