"""great-tables tables for the book, built from :class:`~organizing.results.Results`.

Every function returns a ``GT`` in one house style (:func:`house_style`),
never fits or reads a data file, and never shows a worker-level row. Captions
live in the chapters' ``tbl-cap`` cell options, not in the table header.
Credible intervals are merged into one "5% – 95%" column; log-odds are
coloured on a symmetric domain so that zero is white.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from great_tables import GT, loc, style

from organizing.data import SITE_DESCRIPTORS, SITE_FEATURES, WORKER_FEATURES, schemas

SOURCE = "Source: OUR Walmart campaign data (2010-2015), computed by the organizing package."
DIVERGING = ["#2166ac", "#f7f7f7", "#b2182b"]


def house_style(table: GT) -> GT:
    """The book's one table style: compact, striped, light rules."""
    return (
        table.opt_row_striping()
        .opt_vertical_padding(scale=0.6)
        .tab_options(
            table_font_size="13px",
            column_labels_font_weight="bold",
            table_width="100%",
        )
        .tab_source_note(SOURCE)
    )


def interval(table: GT, low: str, high: str, decimals: int = 2) -> GT:
    """Format and merge a 5%/95% pair into one column."""
    return table.fmt_number(columns=[low, high], decimals=decimals).cols_merge_range(
        col_begin=low, col_end=high, sep=" – "
    )


def log_odds_colour(table: GT, columns: list[str], values: pd.Series | np.ndarray) -> GT:
    """Colour log-odds columns on a domain symmetric around zero."""
    bound = float(np.nanmax(np.abs(values))) or 1.0
    return table.data_color(columns=columns, palette=DIVERGING, domain=[-bound, bound])


# ---------------------------------------------------------------- data chapter


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


def _role(name: str) -> str:
    if name in ("Worker ID", "Worksite ID"):
        return "key"
    if name == "Signed":
        return "outcome"
    if name in WORKER_FEATURES:
        return "worker feature"
    if name in SITE_FEATURES:
        return "worksite feature"
    if name in SITE_DESCRIPTORS:
        return "descriptor"
    return "checked"


def column_table() -> GT:
    """Every column the analysis uses, generated from the pandera schemas."""
    rows = []
    for model in (schemas.WorkerSchema, schemas.WorksiteSchema):
        schema = model.to_schema()
        for name, column in schema.columns.items():
            generic = name
            for group in (schemas.QUARTILES, schemas.QUINTILES):
                if name in group:
                    generic = f"{group[0][:-2]}k)"
            rows.append({
                "file": schema.name,
                "column": name,
                "role": _role(name),
                "type": str(column.dtype),
                "rules": _rules(column),
                "meaning": schemas.COLUMN_MEANINGS.get(generic, schemas.COLUMN_MEANINGS.get(
                    name, "")),
            })
    frame = pd.DataFrame(rows)
    return (
        GT(frame, groupname_col="file")
        .cols_label(column="Column", role="Role", type="Type", rules="Checked rules",
                    meaning="Meaning")
        .pipe(house_style)
    )


def data_overview(results) -> GT:
    """Counts and rates that describe the campaign data."""
    data = results.data
    sites = data["sites"]
    rows = [
        ("Workers", f"{data['n_workers']:,}"),
        ("Worksites", f"{data['n_sites']:,}"),
        ("Workers who signed", f"{data['n_signed']:,} ({data['signing_rate']:.1%})"),
        ("Workers per worksite (median, range)",
         f"{sites['workers in file'].median():,.0f} ({sites['workers in file'].min():,} – "
         f"{sites['workers in file'].max():,})"),
        ("Worksite signing rate (median, range)",
         f"{sites['signing rate'].median():.1%} ({sites['signing rate'].min():.1%} – "
         f"{sites['signing rate'].max():.1%})"),
        ("Workers of unknown gender (Is Male = 0.5)", f"{data['unknown_gender']:,}"),
        ("Training / held-out workers (study's split)",
         f"{results.meta['n_train']:,} / {results.meta['n_test']:,}"),
    ]
    frame = pd.DataFrame(rows, columns=["quantity", "value"])
    return GT(frame).cols_label(quantity="", value="").pipe(house_style)


def feature_summary(results) -> GT:
    """Mean, sd and range of every regression feature before standardizing."""
    frame = results.data["feature_summary"]
    return (
        GT(frame, groupname_col="level")
        .cols_label(feature="Feature", mean="Mean", sd="SD", min="Min", median="Median",
                    max="Max")
        .fmt_number(columns=["mean", "sd", "min", "median", "max"], n_sigfig=3)
        .pipe(house_style)
    )


# -------------------------------------------------------------- methods chapter


METHODS_GUIDE_NAMES = {"normal": "mean-field (AutoNormal)",
               "lowrank": "low-rank (AutoLowRankMultivariateNormal)"}
METHODS_MODEL_NAMES = {"corrected": "corrected", "extended": "extended",
               "published": "published specification"}
#: The published table's names of the scale parameters, and the model's.
METHODS_PUBLISHED_SCALES = {"beta_individual_scale": "beta_worker_scale",
                    "beta_group_scale": "beta_worksite_scale", "alpha_mean": "alpha_mean"}
METHODS_SHARED_LABELS = {
    "beta_individual_scale": "τ_b, scale of the worker coefficients",
    "beta_group_scale": "τ_β, scale of β and α",
    "alpha_mean": "α, intercept",
}


def model_features(results) -> GT:
    """The regression's features, the coefficients they get, and the extended model's drops."""
    from organizing.data import ONE_HOT_GROUPS

    references = {levels[0]: group for group, levels in ONE_HOT_GROUPS.items()}
    groups = {feature: group for group, levels in ONE_HOT_GROUPS.items() for feature in levels}
    rows = []
    for level, features in (
        ("Worker features z_i (coefficients b_s, one set per worksite)",
         results.data["worker_features"]),
        ("Worksite features x_s (coefficients β, shared by all worksites)",
         results.data["site_features"]),
    ):
        for feature in features:
            rows.append({
                "level": level,
                "feature": feature,
                "group": groups.get(feature, ""),
                "extended": "dropped (reference level)" if feature in references else "kept",
            })
    return (
        GT(pd.DataFrame(rows), groupname_col="level")
        .cols_label(feature="Feature", group="One-hot group", extended="Extended model")
        .pipe(house_style)
    )


def svi_fits(results) -> GT:
    """Every SVI fit on the study's split: its guide, steps, stopping reason and final loss."""
    window = results.meta["config"]["svi"]["window"]
    rows = []
    for fit in results.fits.values():
        losses = np.asarray(fit.losses, dtype=float)
        rows.append({
            "model": METHODS_MODEL_NAMES.get(fit.model_name, fit.model_name),
            "guide": METHODS_GUIDE_NAMES.get(fit.guide_kind, fit.guide_kind),
            "steps": fit.steps,
            "stopped": "convergence rule" if fit.converged else "step limit",
            "ms": 1000 * fit.seconds / fit.steps,
            "loss": losses[-window:].mean(),
        })
    return (
        GT(pd.DataFrame(rows))
        .cols_label(model="Model", guide="Guide", steps="Steps", stopped="Stopped by",
                    ms="ms per step", loss="Final ELBO loss")
        .fmt_integer(columns=["steps", "loss"])
        .fmt_number(columns="ms", decimals=0)
        .pipe(house_style)
    )


def _published_shared() -> pd.Series:
    from organizing.data import published_reference

    shared = published_reference()["shared"]
    return shared.set_index("parameter")["published_value"]


def published_one_draw(results) -> GT:
    """The published worksite coefficients beside one guide draw and the posterior summary."""
    published = _published_shared()
    coefficients = results.coefficients["published"]["worksite"].set_index("feature")
    frame = results.published_one_draw.copy()
    frame.insert(1, "published", frame["feature"].map(published))
    frame["sd"] = frame["feature"].map(coefficients["sd"])
    values = frame[["published", "one draw", "posterior mean"]].to_numpy()
    return (
        GT(frame)
        .cols_label(feature="Worksite feature", published="Published",
                    **{"one draw": "One guide draw", "posterior mean": "Posterior mean"},
                    sd="Posterior sd")
        .tab_spanner("Refit of the published specification",
                     columns=["one draw", "posterior mean", "sd"])
        .fmt_number(columns=["published", "one draw", "posterior mean", "sd"], decimals=2)
        .pipe(log_odds_colour, ["published", "one draw", "posterior mean"], values)
        .pipe(house_style)
    )


def replication(results) -> GT:
    """Published values, the refit of the published specification and the corrected model."""
    published = _published_shared()
    refit = results.coefficients["published"]["worksite"].set_index("feature")
    corrected = results.coefficients["corrected"]["worksite"].set_index("feature")
    shared_rows = list(METHODS_SHARED_LABELS)
    rows = []
    for key in shared_rows + list(results.data["site_features"]):
        rows.append({
            "group": "Scales and intercept" if key in METHODS_SHARED_LABELS
            else "Worksite coefficients β",
            "parameter": METHODS_SHARED_LABELS.get(key, key),
            "published": published.get(METHODS_PUBLISHED_SCALES.get(key, key), np.nan),
            "refit": refit.loc[key, "mean"], "refit_q5": refit.loc[key, "q5"],
            "refit_q95": refit.loc[key, "q95"],
            "corrected": corrected.loc[key, "mean"], "corrected_q5": corrected.loc[key, "q5"],
            "corrected_q95": corrected.loc[key, "q95"],
        })
    frame = pd.DataFrame(rows)
    scales = [0, 1]
    coefficient_rows = list(range(len(shared_rows), len(frame)))
    means = ["published", "refit", "corrected"]
    bound = frame.loc[coefficient_rows, means].to_numpy()
    return (
        GT(frame, groupname_col="group")
        .cols_label(parameter="Parameter", published="Published", refit="Mean",
                    refit_q5="5% – 95%", corrected="Mean", corrected_q5="5% – 95%")
        .tab_spanner("Refit of the published specification",
                     columns=["refit", "refit_q5", "refit_q95"])
        .tab_spanner("Corrected model", columns=["corrected", "corrected_q5", "corrected_q95"])
        .fmt_number(columns=means, decimals=2)
        .pipe(interval, "refit_q5", "refit_q95")
        .pipe(interval, "corrected_q5", "corrected_q95")
        .fmt_number(columns=means + ["refit_q5", "refit_q95", "corrected_q5", "corrected_q95"],
                    rows=scales, n_sigfig=3)
        .data_color(columns=means, rows=coefficient_rows, palette=DIVERGING,
                    domain=[-float(np.abs(bound).max()), float(np.abs(bound).max())])
        .pipe(house_style)
    )


# -------------------------------------------------------------- results chapter

RESULT_PARAMETER_LABELS = {
    "alpha_mean": "α (intercept)",
    "beta_individual_scale": "τ_b (scale of worker coefficients)",
    "beta_group_scale": "τ_β (scale of worksite coefficients)",
}
RESULT_MODEL_ORDER = ["corrected", "corrected (low-rank guide)", "extended",
                      "published (study's prediction)", "published (as learned)",
                      "pooled logistic", "intercept only"]
RESULT_MODEL_LABELS = {
    "published (study's prediction)": "published specification, study's prediction",
    "published (as learned)": "published specification, as learned",
}


def _result_models(names) -> list[str]:
    """Model names in the book's order, unknown ones last."""
    names = list(names)
    return [m for m in RESULT_MODEL_ORDER if m in names] + [
        m for m in names if m not in RESULT_MODEL_ORDER]


def _log_odds_rows(table: GT, columns: list[str], rows: list[int], values) -> GT:
    """:func:`log_odds_colour` restricted to some rows (scales are not log-odds)."""
    bound = float(np.nanmax(np.abs(values))) or 1.0
    return table.data_color(columns=columns, rows=rows, palette=DIVERGING,
                            domain=[-bound, bound])


def worksite_effects(results) -> GT:
    """α, the worksite coefficients and the two scales: NUTS beside mean-field SVI."""
    nuts = results.nuts["coefficients"]["worksite"].set_index("feature")
    mean_field = results.coefficients["corrected"]["worksite"].set_index("feature")["mean"]
    site_features = list(results.data["site_features"])
    order = ["alpha_mean", *site_features, "beta_individual_scale", "beta_group_scale"]
    groups = (["Intercept"] + ["Worksite features"] * len(site_features) + ["Scales"] * 2)
    frame = pd.DataFrame({
        "group": groups,
        "parameter": [RESULT_PARAMETER_LABELS.get(k, k) for k in order],
        "mean": nuts.loc[order, "mean"].to_numpy(),
        "q5": nuts.loc[order, "q5"].to_numpy(),
        "q95": nuts.loc[order, "q95"].to_numpy(),
        "mean_field": mean_field.loc[order].to_numpy(),
    })
    log_odds = [i for i, g in enumerate(groups) if g != "Scales"]
    values = frame.loc[log_odds, ["mean", "mean_field"]].to_numpy()
    return (
        GT(frame, rowname_col="parameter", groupname_col="group")
        .tab_spanner("NUTS (reference)", columns=["mean", "q5", "q95"])
        .tab_spanner("Mean-field SVI", columns=["mean_field"])
        .cols_label(mean="Mean", q5="90% interval", mean_field="Mean")
        .fmt_number(columns=["mean", "mean_field"], decimals=2)
        .pipe(interval, "q5", "q95")
        .pipe(_log_odds_rows, ["mean", "mean_field"], log_odds, values)
        .pipe(house_style)
    )


def worker_effects(results) -> GT:
    """Worker coefficients: their average across worksites, their spread, where positive."""
    frame = results.nuts["coefficients"]["worker"][
        ["feature", "mean", "q5", "q95", "spread", "spread_q5", "spread_q95", "share_positive"]
    ].copy()
    return (
        GT(frame, rowname_col="feature")
        .tab_spanner("Average across worksites", columns=["mean", "q5", "q95"])
        .tab_spanner("Spread across worksites (SD)",
                     columns=["spread", "spread_q5", "spread_q95"])
        .cols_label(mean="Mean", q5="90% interval", spread="Mean", spread_q5="90% interval",
                    share_positive="Worksites where positive")
        .fmt_number(columns=["mean", "spread"], decimals=2)
        .pipe(interval, "q5", "q95")
        .pipe(interval, "spread_q5", "spread_q95")
        .fmt_percent(columns="share_positive", decimals=0)
        .pipe(log_odds_colour, ["mean"], frame["mean"])
        .pipe(house_style)
    )


def heldout_metrics(results) -> GT:
    """Held-out metrics on the study's split beside the figures the study reported."""
    from organizing.data import published_reference

    metrics = results.metrics.set_index("model")
    models = _result_models(metrics.index)
    rows = [
        {"group": "This book, held-out workers of the study's split",
         "model": RESULT_MODEL_LABELS.get(m, m),
         **{k: float(metrics.loc[m, k]) for k in ("accuracy", "auc", "brier", "log_loss")}}
        for m in models
    ]
    rows.append({"group": "This book, held-out workers of the study's split",
                 "model": "predict that nobody signs",
                 "accuracy": float(metrics["baseline_accuracy"].iloc[0])})
    reported = published_reference()["metrics"].set_index("metric")["published_value"]
    rows += [
        {"group": "Reported by the study", "model": "published specification",
         "accuracy": float(reported["heldout_accuracy"]), "auc": float(reported["heldout_auc"])},
        {"group": "Reported by the study", "model": "predict that nobody signs",
         "accuracy": float(reported["baseline_accuracy_all_zero"])},
    ]
    frame = pd.DataFrame(rows, columns=["group", "model", "accuracy", "auc", "brier",
                                        "log_loss"])
    return (
        GT(frame, rowname_col="model", groupname_col="group")
        .cols_label(accuracy="Accuracy", auc="AUC", brier="Brier score", log_loss="Log loss")
        .fmt_number(columns=["accuracy", "auc", "brier", "log_loss"], decimals=4)
        .sub_missing(missing_text="")
        .pipe(house_style)
    )


def heldout_worksites(results) -> GT:
    """Metrics on workers of worksites left out of training: mean and range over folds."""
    metric_columns = {"auc": "AUC", "brier": "Brier score", "log_loss": "Log loss",
                      "accuracy": "Accuracy"}
    grouped = results.folds.groupby("model")
    models = _result_models(grouped.groups)
    frame = pd.DataFrame({"model": [RESULT_MODEL_LABELS.get(m, m) for m in models]})
    for key in metric_columns:
        frame[f"{key}_mean"] = [grouped[key].mean()[m] for m in models]
        frame[f"{key}_min"] = [grouped[key].min()[m] for m in models]
        frame[f"{key}_max"] = [grouped[key].max()[m] for m in models]
    table = GT(frame, rowname_col="model")
    for key, label in metric_columns.items():
        table = (
            table.tab_spanner(label, columns=[f"{key}_mean", f"{key}_min", f"{key}_max"])
            .cols_label(**{f"{key}_mean": "Mean", f"{key}_min": "Range"})
            .fmt_number(columns=f"{key}_mean", decimals=3)
            .pipe(interval, f"{key}_min", f"{key}_max", 3)
        )
    return table.pipe(house_style)


def scale_comparison(results) -> GT:
    """τ_b and τ_β under the mean-field guide, the low-rank guide and NUTS."""
    frame = results.scales[["parameter", "method", "mean", "sd", "q50", "q5", "q95"]].copy()
    frame["parameter"] = frame["parameter"].map(lambda k: RESULT_PARAMETER_LABELS.get(k, k))
    frame["method"] = frame["method"].map(
        {"mean-field": "SVI, mean-field guide", "low-rank": "SVI, low-rank guide",
         "NUTS": "NUTS (reference)"}).fillna(frame["method"])
    return (
        GT(frame, rowname_col="method", groupname_col="parameter")
        .cols_label(mean="Mean", sd="SD", q50="Median", q5="90% interval")
        .fmt_number(columns=["mean", "sd", "q50"], decimals=3)
        .pipe(interval, "q5", "q95", 3)
        .pipe(house_style)
    )


# ----------------------------------------------------------- clustering chapter


def _chosen_mark(chosen: dict, K: int, sigma: float) -> str:
    if chosen["K"] != K:
        return ""
    if np.isclose(sigma, chosen["sigma"]):
        return "chosen"
    return f"chosen, at σ = {chosen['sigma']:.3g}"


def clustering_selection(results) -> GT:
    """For each coefficient set and K, the best σ and its held-out log predictive density."""
    clusters = results.clustering
    rows = []
    for run, label in (("published", "Published coefficients"),
                       ("corrected", "Corrected coefficients")):
        table = clusters["tables"][run]
        chosen = clusters["selection"][run]
        for K, fits in table.groupby("K", sort=True):
            best = fits.loc[fits["heldout_lpd"].idxmax()]
            rows.append({
                "run": label,
                "K": f"{int(K)}",
                "sigma": float(best["sigma"]),
                "lpd": float(best["heldout_lpd"]),
                "se": float(best["heldout_lpd_se"]),
                "occupied": float(best["occupied_clusters"]),
                "chosen": _chosen_mark(chosen, int(K), float(best["sigma"])),
            })
    frame = pd.DataFrame(rows)
    return (
        GT(frame, groupname_col="run")
        .cols_label(K="K", sigma="Best σ", lpd="Held-out log density", se="Standard error",
                    occupied="Occupied clusters", chosen="")
        .fmt_number(columns="sigma", n_sigfig=3)
        .fmt_number(columns=["lpd", "se"], decimals=1)
        .fmt_number(columns="occupied", decimals=1)
        .pipe(house_style)
    )


def cluster_features(results) -> GT:
    """Worksite descriptors averaged within each cluster, weighted by assignment probability."""
    table = results.clustering["features_by_cluster"]
    labels = {k: f"Cluster {k + 1}" for k in table.index}
    wide = table.drop(columns="weight").T.rename(columns=labels)
    wide.insert(0, "feature", wide.index.astype(str))
    weight = pd.DataFrame([["Worksites (expected number)", *table["weight"]]],
                          columns=wide.columns)
    frame = pd.concat([weight, wide], ignore_index=True)
    columns = list(labels.values())
    return (
        GT(frame)
        .cols_label(feature="")
        .fmt_number(columns=columns, n_sigfig=3)
        .pipe(house_style)
    )


# ---------------------------------------------------------- conclusions chapter

VERDICT_COLOURS = {"supported": "#d9ead3", "not supported": "#eeeeee", "reversed": "#f4cccc"}


def claims_table(results) -> GT:
    """Each published conclusion, the quantity that tests it, and the verdict."""
    frame = results.claims[["claim", "quantity", "mean", "q5", "q95", "verdict"]].copy()
    table = (
        GT(frame)
        .cols_label(claim="Published conclusion", quantity="Tested by", mean="Posterior mean",
                    q5="90% interval", verdict="Verdict")
        .fmt_number(columns="mean", decimals=2)
        .pipe(interval, "q5", "q95")
    )
    for verdict, colour in VERDICT_COLOURS.items():
        rows = frame.index[frame["verdict"] == verdict].tolist()
        if rows:
            table = table.tab_style(style=style.fill(color=colour),
                                    locations=loc.body(columns="verdict", rows=rows))
    return table.pipe(house_style)
