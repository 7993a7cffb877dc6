"""Look-ups shared by the book's sentences: published figures, metrics, posterior scalars,
comparisons."""

from __future__ import annotations

import numpy as np
import pandas as pd

from organizing.models import ModelId
from organizing.report import formatting as fmt


def published(name: str) -> float:
    """A figure the study published: a metric or setting, or a shared coefficient."""
    from organizing.data import published_reference

    reference = published_reference()
    for key, column in (("metrics", "metric"), ("shared", "parameter")):
        table = reference[key].set_index(column)["published_value"]
        if name in table.index:
            return float(table[name])
    raise KeyError(f"the study published no figure named {name!r}")


def metrics_table(evaluation) -> pd.DataFrame:
    """The held-out metrics of the study's split, one row per model value."""
    return evaluation.metrics.set_index("model")


def metric(evaluation, model: ModelId, name: str = "auc") -> str:
    """One held-out metric of one model on the study's split, as the tables print it."""
    value = metrics_table(evaluation).loc[ModelId(model).value, name]
    return fmt.number(value, fmt.METRIC_DECIMALS)


def fold_metric(evaluation, model: ModelId, name: str = "auc") -> str:
    """A model's mean of one metric over the held-out-worksite folds."""
    return fmt.number(evaluation.fold_means().loc[ModelId(model).value, name],
                      fmt.METRIC_DECIMALS)


def n_folds(evaluation) -> str:
    """The number of held-out-worksite folds, in words for small numbers."""
    return fmt.count(evaluation.folds["fold"].nunique())


def scalar_table(posterior) -> pd.DataFrame:
    return posterior.coefficients.scalars.set_index("parameter")


def scalar(posterior, parameter: str, decimals: int = fmt.COEFFICIENT_DECIMALS) -> str:
    """A scalar parameter's posterior mean and 90% interval: ``1.17 (0.98 to 1.38)``."""
    row = scalar_table(posterior).loc[parameter]
    return fmt.estimate(row["mean"], row["q5"], row["q95"], decimals)


def odds_factor(posterior, parameter: str = "site_scale") -> str:
    """How many times the odds one posterior-mean standard deviation multiplies: ``3.4``."""
    return fmt.number(float(np.exp(scalar_table(posterior).loc[parameter, "mean"])), 1)


def compared(a: float, b: float, *, higher_is_better: bool = True,
             tolerance: float = 0.005) -> str:
    """``better than``, ``worse than`` or ``about the same as`` for a score ``a`` against ``b``."""
    if abs(a - b) < tolerance:
        return "about the same as"
    return "better than" if (a > b) == higher_is_better else "worse than"


def ratio(a: float, b: float, decimals: int = 1) -> str:
    """How many times ``a`` is ``b``: ``1.5×``."""
    return fmt.times(float(a) / float(b), decimals)

