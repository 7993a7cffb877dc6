"""Posterior summaries of one scalar's draws, as the coefficient tables print them."""

from __future__ import annotations

import numpy as np


def quantile_row(values: np.ndarray) -> dict[str, float]:
    """Mean, sd, 5%, 50% and 95% quantiles and P(> 0) of one scalar's draws."""
    values = np.asarray(values, dtype=float)
    q5, q50, q95 = np.quantile(values, [0.05, 0.5, 0.95])
    return {"mean": float(values.mean()), "sd": float(values.std(ddof=1)), "q5": float(q5),
            "q50": float(q50), "q95": float(q95), "prob_positive": float(np.mean(values > 0))}
