"""Posterior summaries: one row per element of every sample site."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def _element_indices(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Every index of an array of ``shape``, in C order (``[()]`` for a scalar)."""
    return [tuple(int(i) for i in index) for index in np.ndindex(*shape)] if shape else [()]

def summarize_draws(draws: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Posterior summary of every element of every site.

    ``draws`` maps site names to arrays with one leading draw dimension (pool
    NUTS chains first with :meth:`NUTSFit.pooled_draws`). Columns: site, index
    (a tuple of ints, ``()`` for scalars), mean, sd, q5, q50, q95.
    """
    rows = []
    for site, values in draws.items():
        values = np.asarray(values, dtype=float)
        flat = values.reshape(values.shape[0], -1)
        quantiles = np.quantile(flat, [0.05, 0.5, 0.95], axis=0)
        means = flat.mean(0)
        sds = flat.std(0, ddof=1) if flat.shape[0] > 1 else np.zeros(flat.shape[1])
        for j, index in enumerate(_element_indices(values.shape[1:])):
            rows.append(
                {
                    "site": site,
                    "index": index,
                    "mean": means[j],
                    "sd": sds[j],
                    "q5": quantiles[0, j],
                    "q50": quantiles[1, j],
                    "q95": quantiles[2, j],
                }
            )
    return pd.DataFrame(rows, columns=["site", "index", "mean", "sd", "q5", "q50", "q95"])


def quantile_row(values: np.ndarray) -> dict[str, float]:
    """Mean, sd, 5%, 50% and 95% quantiles and P(> 0) of one scalar's draws."""
    values = np.asarray(values, dtype=float)
    q5, q50, q95 = np.quantile(values, [0.05, 0.5, 0.95])
    return {"mean": float(values.mean()), "sd": float(values.std(ddof=1)), "q5": float(q5),
            "q50": float(q50), "q95": float(q95), "prob_positive": float(np.mean(values > 0))}
