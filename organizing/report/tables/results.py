"""Tables of the book: results chapter."""

from __future__ import annotations

import numpy as np
import pandas as pd
from great_tables import GT, loc, style

from organizing.features import COMPOSITION_SUFFIX, is_composition
from organizing.models import HEADLINE_MODEL, NUTS_MODELS
from organizing.report import labels
from organizing.report.formatting import (
    COEFFICIENT_DECIMALS,
    ELPD_DECIMALS,
    METRIC_DECIMALS,
)
from organizing.report.tables.style import (
    house_style,
    interval,
    log_odds_colour,
    new_table,
    probabilities,
)

#: Scalars shown with the worksite coefficients, in this order (where the model has them).
WORKSITE_SCALARS = ("site_scale", "beta_group_scale")


def worksite_effects(posterior) -> GT:
    """α, the worksite coefficients β and the scales of one NUTS posterior; the headline
    model's coefficients of worksite means of worker features form their own group."""
    coefficients = posterior.coefficients
    scalars = coefficients.scalars.set_index("parameter")
    intercept = [p for p in ("alpha", "alpha_mean") if p in scalars.index]
    scales = [p for p in WORKSITE_SCALARS if p in scalars.index]
    columns = ["mean", "q5", "q95", "prob_positive"]
    worksite = coefficients.worksite.set_index("feature")[columns]
    mix = np.array([is_composition(f) for f in worksite.index], dtype=bool)
    composition = worksite[mix].rename(index=lambda f: f.removesuffix(COMPOSITION_SUFFIX))
    parts = [
        scalars.loc[intercept, columns[:3]].assign(group="Intercept"),
        worksite[~mix].assign(group="Worksite features"),
        composition.assign(group="Worksite means of worker features"),
        scalars.loc[scales, columns[:3]].assign(group="Scales"),
    ]
    frame = pd.concat(parts).rename_axis("parameter").reset_index()
    frame["parameter"] = frame["parameter"].map(labels.parameter_label)
    log_odds = frame.index[frame["group"] != "Scales"].tolist()
    return (
        new_table(frame, rowname_col="parameter", groupname_col="group")
        .cols_label(mean="Mean", q5="90% interval", prob_positive="P(> 0)")
        .fmt_number(columns="mean", decimals=COEFFICIENT_DECIMALS)
        .pipe(interval, "q5", "q95")
        .pipe(probabilities, "prob_positive")
        .pipe(log_odds_colour, ["mean"], frame.loc[log_odds, "mean"], rows=log_odds)
        .pipe(house_style)
    )


def worker_effects(posterior) -> GT:
    """Worker slopes: their average across worksites, their spread, where they are positive."""
    frame = posterior.coefficients.worker[
        ["feature", "mean", "q5", "q95", "spread", "spread_q5", "spread_q95", "share_positive"]
    ].copy()
    return (
        new_table(frame, rowname_col="feature")
        .tab_spanner("Average across worksites", columns=["mean", "q5", "q95"])
        .tab_spanner("Spread across worksites (SD)", columns=["spread", "spread_q5",
                                                              "spread_q95"])
        .cols_label(mean="Mean", q5="90% interval", spread="Mean", spread_q5="90% interval",
                    share_positive="Worksites where positive")
        .fmt_number(columns=["mean", "spread"], decimals=COEFFICIENT_DECIMALS)
        .pipe(interval, "q5", "q95")
        .pipe(interval, "spread_q5", "spread_q95")
        .fmt_percent(columns="share_positive", decimals=0)
        .pipe(log_odds_colour, ["mean"], frame["mean"])
        .pipe(house_style)
    )


def model_comparison(results) -> GT:
    """One row per model and baseline: PSIS-LOO, held-out metrics, new worksites, fit time."""
    evaluation = results.evaluation
    metrics = evaluation.metrics.set_index("model")
    folds = evaluation.fold_means()[["auc", "log_loss"]]
    rows = []
    for model in labels.model_order(metrics.index):
        posterior = results.posteriors.get(model)
        loo_ = posterior.loo if posterior is not None else None
        row = {"model": labels.model_label(model),
               "group": "NUTS models" if model in NUTS_MODELS else (
                   "Baselines" if model in labels.BASELINES else "Approximations and the refit"),
               "elpd": loo_.elpd if loo_ else np.nan, "elpd_se": loo_.se if loo_ else np.nan,
               **{k: metrics.loc[model.value, k] for k in ("auc", "brier", "log_loss", "ece")},
               "fold_auc": folds["auc"].get(model.value, np.nan),
               "fold_log_loss": folds["log_loss"].get(model.value, np.nan),
               "seconds": evaluation.fit_seconds.get(model, np.nan)}
        rows.append(row)
    frame = pd.DataFrame(rows)
    metric_columns = ["auc", "brier", "log_loss", "ece", "fold_auc", "fold_log_loss"]
    headline = frame.index[frame["model"] == labels.model_label(HEADLINE_MODEL)].tolist()
    return (
        new_table(frame, rowname_col="model", groupname_col="group")
        .tab_spanner("PSIS-LOO", columns=["elpd", "elpd_se"])
        .tab_spanner("Held-out workers (study's split)", columns=["auc", "brier", "log_loss",
                                                                  "ece"])
        .tab_spanner("Held-out worksites (mean)", columns=["fold_auc", "fold_log_loss"])
        .cols_label(elpd="elpd", elpd_se="SE", auc="AUC", brier="Brier", log_loss="Log loss",
                    ece="ECE", fold_auc="AUC", fold_log_loss="Log loss", seconds="Fit (s)")
        .fmt_number(columns=["elpd", "elpd_se"], decimals=ELPD_DECIMALS)
        .fmt_number(columns=metric_columns, decimals=METRIC_DECIMALS)
        .fmt_number(columns="seconds", decimals=1)
        .tab_style(style=style.text(weight="bold"), locations=loc.body(rows=headline))
        .pipe(house_style)
    )
