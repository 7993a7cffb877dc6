"""great-tables tables for the book, built from typed results (``Results`` or one section).

Every function returns a ``GT`` in one house style (:func:`house_style`), never
fits or reads a data file, and never shows a worker-level row. Captions live in
the chapters' ``tbl-cap`` cell options, not in the table header. Credible
intervals are merged into one "5% to 95%" column with the separator the prose
uses; decimals come from :mod:`organizing.report.formatting`, so a number in a
sentence reads as it does in the table. Model names come from
:mod:`organizing.report.labels`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from great_tables import GT, loc, style

from organizing.data import WORKER_FILE, WORKSITE_FILE, disclosure, prepare, schemas
from organizing.features import COMPOSITION_SUFFIX, is_composition
from organizing.models import HEADLINE_MODEL, NUTS_MODELS, ModelId
from organizing.report import labels
from organizing.report.formatting import (
    COEFFICIENT_DECIMALS,
    ELPD_DECIMALS,
    INTERVAL_SEPARATOR,
    METRIC_DECIMALS,
    RHAT_DECIMALS,
)
from organizing.report.narrative.lookups import fold_means

SOURCE = "Source: OUR Walmart campaign data (2010-2015), computed by the organizing package."
DIVERGING = ["#2166ac", "#f7f7f7", "#b2182b"]


def house_style(table: GT) -> GT:
    """The book's one table style: compact, striped, light rules, a source note."""
    return (
        table.opt_row_striping()
        .opt_vertical_padding(scale=0.6)
        .tab_options(table_font_size="13px", column_labels_font_weight="bold",
                     table_width="100%")
        .tab_source_note(SOURCE)
    )


def new_table(frame: pd.DataFrame, **kwargs) -> GT:
    """A ``GT`` whose missing values print blank (a later ``sub_missing`` can say otherwise)."""
    return GT(frame, **kwargs).sub_missing(missing_text="")


def interval(table: GT, low: str, high: str, decimals: int = COEFFICIENT_DECIMALS) -> GT:
    """Format and merge a 5%/95% pair into one column."""
    return table.fmt_number(columns=[low, high], decimals=decimals).cols_merge_range(
        col_begin=low, col_end=high, sep=INTERVAL_SEPARATOR)


def probabilities(table: GT, columns) -> GT:
    """Posterior probabilities as the prose gives them (:func:`~organizing.report.formatting.
    probability`: rounded toward 50%, never a bare 0% or 100%); a missing one is blank."""
    from organizing.report.formatting import probability

    return table.fmt(lambda p: probability(p) if p is not None and np.isfinite(p) else "",
                     columns=columns)


def log_odds_colour(table: GT, columns: list[str], values, rows=None) -> GT:
    """Colour log-odds columns on a domain symmetric around zero (white at zero)."""
    values = np.asarray(values, dtype=float)
    bound = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    return table.data_color(columns=columns, rows=rows, palette=DIVERGING,
                            domain=[-(bound or 1.0), bound or 1.0], na_color="#ffffff")


def verdict_fills(table: GT, frame: pd.DataFrame, column: str) -> GT:
    """Each verdict cell of ``column`` in its colour (:data:`organizing.report.labels.VERDICTS`)."""
    for verdict, (_, colour) in labels.VERDICTS.items():
        rows = frame.index[frame[column] == verdict].tolist()
        if rows:
            table = table.tab_style(style=style.fill(color=colour),
                                    locations=loc.body(columns=column, rows=rows))
    return table


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
    from organizing.report.formatting import count, share

    data, sites = results.data, results.data.sites
    k = data.disclosure.min_count
    workers, rates = sites["workers in file"], sites["signing rate"].dropna()

    def shown(n):
        return disclosure.count_text(n, min_count=k)

    rows = [
        ("Workers", count(data.n_workers)),
        ("Worksites", count(data.n_sites)),
        ("Workers who signed", f"{shown(data.n_signed)} ({share(data.signing_rate)})"),
        ("Workers per worksite (median, range)",
         f"{count(workers.median())} ({shown(workers.min())}{INTERVAL_SEPARATOR}"
         f"{shown(workers.max())})"),
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
        ("Workers of unknown gender (Is Male = 0.5)", shown(data.unknown_gender)),
        ("Training / held-out workers (study's split)",
         f"{count(results.meta.n_train)} / {count(results.meta.n_test)}"),
    ]
    frame = pd.DataFrame(rows, columns=["quantity", "value"])
    return new_table(frame).cols_label(quantity="", value="").pipe(house_style)


# ------------------------------------------------------ "Your own campaign" appendix

def campaign_requirements(results, others: dict | None = None) -> GT:
    """Minimum sizes and run times for the quick and full profiles.

    The minimums are :func:`organizing.data.checks.minimum_sites` under each profile's
    settings (this book's own settings for its profile). Each run time is a measurement:
    this book's own (``meta.timings``), and another profile's from its results when
    they are computed for the same campaign (``others``: profile → its results, or None
    when they are not computed).
    """
    from organizing.config import PROFILES, load_config
    from organizing.data.checks import (
        MIN_CLUSTER_HELDOUT,
        MIN_CLUSTER_TRAIN,
        MIN_PER_CLASS,
        MIN_SITES,
        minimum_sites,
    )
    from organizing.report.formatting import count

    current = results.meta.profile
    others = others or {}
    settings = {p: results.meta.settings if p == current else load_config(profile=p)
                for p in PROFILES}
    rows = [
        {"requirement": "Worksites (each with at least one worker)",
         **{p: count(minimum_sites(c)) for p, c in settings.items()},
         "source": f"at least {count(MIN_SITES)} for the clustering (trained on "
                   f"{count(MIN_CLUSTER_TRAIN)}, scored on {count(MIN_CLUSTER_HELDOUT)} held "
                   "out), and at least the number of worksite folds and of clusters tried"},
        {"requirement": "Signers, and non-signers",
         **{p: count(MIN_PER_CLASS) for p in settings},
         "source": "in the training and the held-out part of the split, and in every "
                   "fold (checked by organizing validate)"},
    ]
    times, sources = {}, []
    for p in settings:
        measured = results if p == current else others.get(p)
        if measured is None:
            times[p] = "not computed"
            sources.append(f"{p}: not computed for this campaign on this machine")
        else:
            times[p] = _minutes(measured.meta.timings["total"])
            sources.append(f"{p}: measured " + ("while computing this book's results"
                                                if p == current else "when its results "
                                                "were computed"))
    rows.append({"requirement": "Time to compute every result from an empty cache",
                 **times, "source": "; ".join(sources)})
    frame = pd.DataFrame(rows)
    return (
        new_table(frame)
        .cols_label(requirement="", source="Where it comes from",
                    **{p: f"{p} profile" + (" (this book)" if p == current else "")
                       for p in settings})
        .pipe(house_style)
    )


def _minutes(seconds: float) -> str:
    minutes, rest = divmod(round(float(seconds)), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def disclosure_table(results) -> GT:
    """What disclosure control withheld in this book, output by output (k from the
    configuration)."""
    from organizing.report.formatting import count

    data = results.data
    k = data.disclosure.min_count
    withheld = data.disclosure
    ppc = results.evaluation.ppc
    ppc_shown = ppc["shown"].to_numpy(dtype=bool)
    calibration = results.evaluation.curves[HEADLINE_MODEL].calibration
    pooled = ("" if withheld.pooled_rate is None or not withheld.rates_withheld
              else "; their pooled rate is drawn instead")
    rows = [
        ("Signing rate by worksite (data chapter: figure and overview table)",
         f"a worksite's rate needs at least {k} signers and {k} non-signers",
         f"{count(withheld.rates_withheld)} of {count(data.n_sites)} worksites{pooled}"),
        ("Distributions of worker features (data chapter)",
         f"every bar holds at least {k} workers (small bins merged)",
         "; ".join(f"{name}: {count(n)} of 40 bins merged"
                   for name, n in withheld.bins_merged.items())),
        ("Worksite rates of held-out workers (results chapter: posterior predictive check)",
         f"an observed rate needs at least {k} signers and {k} non-signers",
         f"{count(int(np.sum(~ppc_shown)))} of {count(len(ppc))} worksites' observed rates"),
        ("Reliability diagram (results chapter)",
         f"every bin holds at least {k} workers",
         f"{count(int(np.sum(~calibration['shown'])))} of {count(len(calibration))} bins"),
        ("Counts in the text and in tables",
         f"a count below {k} prints as \"fewer than {k}\"", "as needed"),
    ]
    frame = pd.DataFrame(rows, columns=["output", "rule", "withheld"])
    return (
        new_table(frame)
        .cols_label(output="Output", rule="Rule", withheld="Withheld in this book")
        .pipe(house_style)
    )


# -------------------------------------------------------------- methods chapter


#: Why each prior of the headline model is what it is (its constants: ``HEADLINE_PRIORS``).
#: The placeholders are filled from the constants by :func:`prior_values`.
PRIOR_REASONS = {
    "alpha": ("α", "Normal({alpha_loc:g}, {alpha_scale:g})",
              "the log-odds of signing for an average worker at an average worksite; 95% of "
              "the prior lies between signing rates of {alpha_low:.0%} and {alpha_high:.0%}"),
    "beta_group_scale": ("τ_β", "HalfNormal({group_scale:g})",
                         "many correlated worksite features on few worksites (the worksite "
                         "means of worker features, γ, included): 95% of the prior keeps "
                         "their typical size below {group_q95:.2g} log-odds per sd"),
    "site_scale": ("σ_u", "HalfNormal({site_scale:g})",
                   "worksites may differ beyond their features; 95% of the prior keeps the sd "
                   "of their log-odds below {site_q95:.2g}: a worksite one sd above the average "
                   "has at most about {site_ratio:.0f} times its odds of signing"),
    "beta_individual_mean": ("μ_b,p", "Normal(0, {mean_scale:g})",
                             "weakly informative for a coefficient of a standardized feature "
                             "(Gelman et al. 2008): 95% within ±{mean_q95:.2g} log-odds per sd"),
    "beta_individual_scale": ("τ_b,p", "HalfNormal({individual_scale:g})",
                              "how much a worker slope varies between worksites, per feature; "
                              "95% of the prior below {individual_q95:.2g}"),
}
#: The 97.5% quantile of a standard normal: 95% of a normal prior lies within this many sd,
#: and 95% of a half-normal one below it.
Z95 = 1.959964


def prior_values(priors) -> dict[str, float]:
    """The prior constants, and what they imply, for the placeholders of PRIOR_REASONS."""
    values = dict(vars(priors))

    def expit(x):
        return 1.0 / (1.0 + np.exp(-x))

    values["alpha_low"] = expit(priors.alpha_loc - Z95 * priors.alpha_scale)
    values["alpha_high"] = expit(priors.alpha_loc + Z95 * priors.alpha_scale)
    for name, scale in (("group", priors.group_scale), ("site", priors.site_scale),
                        ("mean", priors.mean_scale), ("individual", priors.individual_scale)):
        values[f"{name}_q95"] = Z95 * scale
    values["site_ratio"] = float(np.exp(values["site_q95"]))
    return values


def headline_priors(priors=None) -> GT:
    """The headline model's priors, their constants and the reason for each.

    ``priors`` is a :class:`~organizing.models.pyro_models.HeadlinePriors`; by default the
    package's ``HEADLINE_PRIORS``.
    """
    if priors is None:
        from organizing.models.priors import HEADLINE_PRIORS as priors
    values = prior_values(priors)
    rows = [{"symbol": symbol, "prior": prior.format(**values),
             "reason": reason.format(**values), "parameter": labels.parameter_label(site)}
            for site, (symbol, prior, reason) in PRIOR_REASONS.items()]
    return (
        new_table(pd.DataFrame(rows)[["symbol", "parameter", "prior", "reason"]])
        .cols_label(symbol="", parameter="Parameter", prior="Prior", reason="Why")
        .pipe(house_style)
    )


def prior_predictive(prior) -> GT:
    """Signing rates implied by each set of priors: median and 90% range over prior draws."""
    rows = []
    for key, label in labels.PRIOR_SETS.items():
        draws = prior.table[prior.table["model"] == key]
        if draws.empty:
            continue
        rate, extreme = draws["overall_rate"], draws["share_extreme"]
        rows.append({
            "priors": label,
            "rate": rate.median(), "rate_q5": rate.quantile(0.05), "rate_q95": rate.quantile(0.95),
            "extreme": extreme.median(), "extreme_q5": extreme.quantile(0.05),
            "extreme_q95": extreme.quantile(0.95),
            "mostly": float((extreme > 0.5).mean()),
        })
    percent = ["rate", "rate_q5", "rate_q95", "extreme", "extreme_q5", "extreme_q95", "mostly"]
    return (
        new_table(pd.DataFrame(rows), rowname_col="priors")
        .tab_spanner("Overall signing rate", columns=["rate", "rate_q5", "rate_q95"])
        .tab_spanner("Workers with p < 1% or > 99%",
                     columns=["extreme", "extreme_q5", "extreme_q95"])
        .cols_label(rate="Median", rate_q5="90% of draws", extreme="Median",
                    extreme_q5="90% of draws", mostly="Draws with most workers extreme")
        .fmt_percent(columns=percent, decimals=0)
        .cols_merge_range(col_begin="rate_q5", col_end="rate_q95", sep=INTERVAL_SEPARATOR)
        .cols_merge_range(col_begin="extreme_q5", col_end="extreme_q95", sep=INTERVAL_SEPARATOR)
        .pipe(house_style)
    )


def svi_fits(results) -> GT:
    """Every SVI fit on the study's split: its guide, steps, stopping reason and final loss."""
    window = results.meta.settings.svi.window
    rows = []
    for model in labels.model_order(results.svi):
        fit = results.svi[model]
        losses = np.asarray(fit.losses, dtype=float)
        rows.append({
            "model": labels.model_label(model),
            "guide": labels.GUIDES.get(fit.guide_kind, fit.guide_kind),
            "steps": fit.steps,
            "stopped": "convergence rule" if fit.converged else "step limit",
            "ms": 1000 * fit.seconds / fit.steps,
            "loss": losses[-window:].mean(),
        })
    return (
        new_table(pd.DataFrame(rows))
        .cols_label(model="Model", guide="Guide", steps="Steps", stopped="Stopped by",
                    ms="ms per step", loss="Final ELBO loss")
        .fmt_integer(columns=["steps", "loss"])
        .fmt_number(columns="ms", decimals=0)
        .pipe(house_style)
    )


#: The two optimizers of the published specification, as the table names them.
OPTIMIZER_SOURCES = {"report": "The report's (the replication)", "code": "The code's (hblr.py)"}


def optimizer_comparison(svi) -> GT:
    """The published specification fitted with the report's and with the code's optimizer.

    One row per fit: its settings, the steps it ran and why it stopped, and the audit's
    facts computed from its posterior draws (``SVIRecord.audit_facts``).
    """
    from organizing.report.formatting import scientific

    refit = svi[ModelId.PUBLISHED]
    rows = []
    for fit in (refit, refit.code_optimizer):
        if fit is None:
            continue
        facts = fit.audit_facts
        rows.append({
            "optimizer": OPTIMIZER_SOURCES.get(fit.optimizer, fit.optimizer),
            "settings": (f"lr {fit.lr:g}, betas ({fit.betas[0]:g}, {fit.betas[1]:g}), "
                         f"decay {fit.lr_decay:g} per step"),
            "steps": fit.steps,
            "stopped": ("convergence rule" if fit.converged else
                        "step limit" if fit.stop_early else "fixed steps"),
            "site_term": scientific(facts["site_term_max"]),
            "flip": facts["sign_flip_correlation"],
            "auc": facts["heldout_auc"],
            "auc_learned": facts["heldout_auc_as_learned"],
        })
    return (
        new_table(pd.DataFrame(rows))
        .cols_label(optimizer="Optimizer", settings="Adam settings", steps="Steps",
                    stopped="Stopped by", site_term="Largest |worksite term|",
                    flip="Learned vs applied intercepts (correlation)",
                    auc="Held-out AUC (as the code predicts)",
                    auc_learned="Held-out AUC (training sums)")
        .fmt_integer(columns="steps")
        .fmt_number(columns=["flip", "auc", "auc_learned"], decimals=METRIC_DECIMALS)
        .pipe(house_style)
    )


def nuts_diagnostics(posteriors) -> GT:
    """ArviZ diagnostics and PSIS-LOO Pareto k counts of every NUTS posterior, with flags."""
    rows = []
    for model in labels.model_order(NUTS_MODELS):
        posterior = posteriors[model]
        d, loo_ = posterior.diagnostics, posterior.loo
        rows.append({
            "model": labels.model_label(model),
            "draws": f"{d.chains} × {d.draws:,}",
            "r_hat": d.max_r_hat, "ess_bulk": d.min_ess_bulk, "ess_tail": d.min_ess_tail,
            "divergences": d.divergences, "bfmi": d.min_bfmi,
            "k_bad": loo_.k_bad, "k_very_bad": loo_.k_very_bad,
            "seconds": posterior.seconds,
            "flags": "; ".join(d.flags) if d.flags else "none",
        })
    frame = pd.DataFrame(rows)
    table = (
        new_table(frame, rowname_col="model")
        .tab_spanner("Convergence", columns=["r_hat", "ess_bulk", "ess_tail", "divergences",
                                             "bfmi"])
        .tab_spanner("Pareto k", columns=["k_bad", "k_very_bad"])
        .cols_label(draws="Chains × draws", r_hat="Max R̂", ess_bulk="Min bulk ESS",
                    ess_tail="Min tail ESS", divergences="Divergences", bfmi="Min E-BFMI",
                    k_bad="Above threshold, ≤ 1", k_very_bad="> 1", seconds="Seconds",
                    flags="Flags")
        .fmt_number(columns="r_hat", decimals=RHAT_DECIMALS)
        .fmt_integer(columns=["ess_bulk", "ess_tail", "divergences", "k_bad", "k_very_bad"])
        .fmt_number(columns="bfmi", decimals=2)
        .fmt_number(columns="seconds", decimals=0)
    )
    flagged = frame.index[frame["flags"] != "none"].tolist()
    if flagged:
        table = table.tab_style(style=style.fill(color=labels.VERDICTS["contradicted"][1]),
                                locations=loc.body(columns="flags", rows=flagged))
    return table.pipe(house_style)


def sbc_coverage(calibration) -> GT:
    """Simulation-based calibration: how often the true value falls in the 50% and 90% intervals."""
    frame = calibration.coverage.copy()
    frame["parameter"] = frame["parameter"].map(labels.parameter_label)
    return (
        new_table(frame[["parameter", "coverage_50", "coverage_90", "replications"]],
           rowname_col="parameter")
        .cols_label(coverage_50="In the 50% interval", coverage_90="In the 90% interval",
                    replications="Simulated campaigns")
        .fmt_percent(columns=["coverage_50", "coverage_90"], decimals=0)
        .fmt_integer(columns="replications")
        .pipe(house_style)
    )


def _published_shared() -> pd.Series:
    from organizing.data import published_reference

    shared = published_reference()["shared"]
    return shared.set_index("parameter")["published_value"]


def published_one_draw(audit) -> GT:
    """The published worksite coefficients beside one guide draw and the refit's posterior mean."""
    frame = audit.one_draw.copy()
    frame.insert(1, "published", frame["feature"].map(_published_shared()))
    columns = ["published", "one draw", "posterior mean"]
    return (
        new_table(frame)
        .cols_label(feature="Worksite feature", published="Published",
                    **{"one draw": "One guide draw", "posterior mean": "Posterior mean"})
        .tab_spanner("Refit of the published specification",
                     columns=["one draw", "posterior mean"])
        .fmt_number(columns=columns, decimals=COEFFICIENT_DECIMALS)
        .pipe(log_odds_colour, columns, frame[columns].to_numpy())
        .pipe(house_style)
    )


#: The models whose worksite coefficients the replication table sets beside the published ones.
REPLICATION_MODELS = (ModelId.CORRECTED, HEADLINE_MODEL)


def replication(results) -> GT:
    """Published worksite coefficients, the refit's, and the corrected and headline models'."""
    published = _published_shared()
    refit = results.audit.one_draw.set_index("feature")["posterior mean"]
    frame = pd.DataFrame({"feature": list(results.data.site_features)})
    frame["published"] = frame["feature"].map(published)
    frame["refit"] = frame["feature"].map(refit)
    columns = ["published", "refit"]
    for model in REPLICATION_MODELS:
        coefficients = results.posteriors[model].coefficients.worksite.set_index("feature")
        for stat in ("mean", "q5", "q95"):
            frame[f"{model.value}_{stat}"] = frame["feature"].map(coefficients[stat])
        columns.append(f"{model.value}_mean")
    table = (
        new_table(frame)
        .cols_label(feature="Worksite feature", published="Published", refit="Refit, mean")
        .fmt_number(columns=columns, decimals=COEFFICIENT_DECIMALS)
    )
    for model in REPLICATION_MODELS:
        name = model.value
        table = (
            table.tab_spanner(f"{labels.model_label(model).capitalize()} model (NUTS)",
                              columns=[f"{name}_mean", f"{name}_q5", f"{name}_q95"])
            .cols_label(**{f"{name}_mean": "Mean", f"{name}_q5": "90% interval"})
            .pipe(interval, f"{name}_q5", f"{name}_q95")
        )
    return table.pipe(log_odds_colour, columns, frame[columns].to_numpy()).pipe(house_style)


#: Scalar parameters of the corrected model compared across approximations.
SCALE_PARAMETERS = ("beta_individual_scale", "beta_group_scale", "alpha_mean")


def approximations(posteriors) -> GT:
    """τ_b, τ_β and α of the corrected model: NUTS, mean-field SVI and low-rank SVI."""
    from organizing.report.figures import APPROXIMATIONS

    rows = []
    for parameter in SCALE_PARAMETERS:
        for model in APPROXIMATIONS:
            posterior = posteriors[model]
            scalars = posterior.coefficients.scalars.set_index("parameter")
            rows.append({"parameter": labels.parameter_label(parameter),
                         "method": posterior.method,
                         **scalars.loc[parameter, ["mean", "sd", "q5", "q95"]].to_dict()})
    return (
        new_table(pd.DataFrame(rows), rowname_col="method", groupname_col="parameter")
        .cols_label(mean="Mean", sd="SD", q5="90% interval")
        .fmt_number(columns=["mean", "sd"], decimals=COEFFICIENT_DECIMALS)
        .pipe(interval, "q5", "q95")
        .pipe(house_style)
    )


# -------------------------------------------------------------- results chapter

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
    folds = fold_means(evaluation)[["auc", "log_loss"]]
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


# ----------------------------------------------------------- clustering chapter


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


# ---------------------------------------------------------- conclusions chapter


def variance_table(variance) -> GT:
    """The spread over workers of each part of the logit, under each NUTS model."""
    models = labels.model_order(variance["model"].unique())
    frame = variance.copy()
    frame["term"] = frame["term"].map(labels.VARIANCE_TERMS).fillna(frame["term"])
    frame["model"] = frame["model"].map(labels.model_label)
    frame = frame.set_index("model").loc[[labels.model_label(m) for m in models]].reset_index()
    return (
        new_table(frame[["model", "term", "mean", "q5", "q95", "prob_positive"]],
           rowname_col="term", groupname_col="model")
        .cols_label(mean="Mean sd", q5="90% interval", prob_positive="P(> 0)")
        .fmt_number(columns="mean", decimals=COEFFICIENT_DECIMALS)
        .pipe(interval, "q5", "q95")
        .pipe(probabilities, "prob_positive")
        .pipe(house_style)
    )


# ------------------------------------------------------------ sensitivity analyses

#: How a verdict that differs from the headline model's is marked in the tables.
CHANGED_MARK = "▲"
CHANGED_FILL = "#fff2cc"


def sensitivity_verdicts(results) -> GT:
    """Each claim's verdict (with P(as claimed)) under the headline model and under each
    sensitivity analysis; a verdict that differs from the headline's is marked and filled."""
    from organizing.report.formatting import probability
    from organizing.report.labels import sensitivity_label

    verdicts = results.sensitivity.verdicts
    variants = list(dict.fromkeys(verdicts["variant"]))
    claims_order = list(dict.fromkeys(verdicts["claim"]))

    def cell(verdict: str, prob: float, changed: bool = False) -> str:
        text = verdict if not np.isfinite(prob) else f"{verdict} ({probability(prob)})"
        return f"{CHANGED_MARK} {text}" if changed else text

    first = verdicts.drop_duplicates("claim").set_index("claim")
    frame = pd.DataFrame({"claim": claims_order})
    frame["headline"] = [cell(first.loc[c, "headline_verdict"], first.loc[c, "headline_prob"])
                         for c in claims_order]
    for variant in variants:
        rows = verdicts[verdicts["variant"] == variant].set_index("claim")
        frame[variant] = [cell(rows.loc[c, "verdict"], rows.loc[c, "prob_claimed"],
                               bool(rows.loc[c, "changed"])) for c in claims_order]
    table = new_table(frame).cols_label(
        claim="Published conclusion", headline="Headline model",
        **{v: sensitivity_label(v).capitalize() for v in variants})
    for column in ["headline", *variants]:
        for verdict, (_, colour) in labels.VERDICTS.items():
            rows = frame.index[frame[column].str.startswith(verdict)].tolist()
            if rows:
                table = table.tab_style(style=style.fill(color=colour),
                                        locations=loc.body(columns=column, rows=rows))
    for variant in variants:
        rows = frame.index[frame[variant].str.startswith(CHANGED_MARK)].tolist()
        if rows:
            table = table.tab_style(style=[style.fill(color=CHANGED_FILL),
                                           style.text(weight="bold")],
                                    locations=loc.body(columns=variant, rows=rows))
    return table.tab_spanner("Sensitivity analyses", columns=variants).pipe(house_style)


def sensitivity_table(results) -> GT:
    """One row per sensitivity analysis against the headline model: the workers it was
    fitted on, its convergence checks, the verdicts it changes and the coefficients that
    move (headline estimate → the analysis's)."""
    from organizing.report.formatting import estimate
    from organizing.report.labels import sensitivity_label

    sensitivity = results.sensitivity
    verdicts, coefficients = sensitivity.verdicts, sensitivity.coefficients
    rows = []
    for variant, run in sensitivity.runs.items():
        changed = verdicts[(verdicts["variant"] == variant) & verdicts["changed"]]
        moved = coefficients[(coefficients["variant"] == variant) & coefficients["moved"]]
        rows.append({
            "variant": sensitivity_label(variant).capitalize(),
            "workers": run.n_workers,
            "checks": "pass" if run.diagnostics.ok else "; ".join(run.diagnostics.flags),
            "verdicts": "; ".join(f"{CHANGED_MARK} {r['claim']}: {r['headline_verdict']} → "
                                  f"{r['verdict']}" for _, r in changed.iterrows()) or "none",
            "coefficients": "; ".join(
                f"{r['feature']}: "
                f"{estimate(r['headline_mean'], r['headline_q5'], r['headline_q95'])} → "
                f"{estimate(r['mean'], r['q5'], r['q95'])}" for _, r in moved.iterrows())
            or "none",
        })
    frame = pd.DataFrame(rows, columns=["variant", "workers", "checks", "verdicts",
                                        "coefficients"])
    return (
        new_table(frame, rowname_col="variant")
        .cols_label(workers="Workers fitted", checks="Convergence checks",
                    verdicts="Verdicts that change", coefficients="Coefficients that move")
        .fmt_integer(columns="workers")
        .pipe(house_style)
    )


def heldout_elpd(evaluation) -> GT:
    """Log predictive density on the held-out workers and each model's paired difference
    from the headline model (:func:`organizing.evaluation.heldout_elpd`)."""
    frame = evaluation.heldout_elpd.copy()
    order = labels.model_order(ModelId(m) for m in frame["model"])
    frame = frame.set_index("model").loc[[m.value for m in order]].reset_index()
    frame["model"] = [labels.model_label(ModelId(m)).capitalize() for m in frame["model"]]
    return (
        new_table(frame, rowname_col="model")
        .cols_label(elpd="elpd", elpd_diff="Difference from the headline model",
                    se_diff="Its standard error")
        .fmt_number(columns=["elpd", "elpd_diff", "se_diff"], decimals=1)
        .pipe(house_style)
    )


def other_models(posteriors) -> GT:
    """The corrected, extended and headline models' worksite coefficients, average worker
    slopes and their spread across worksites, side by side."""
    models = [m for m in (ModelId.CORRECTED, ModelId.EXTENDED, HEADLINE_MODEL)
              if m in posteriors]
    pieces = []
    for model in models:
        c = posteriors[model].coefficients
        worksite = c.worksite.assign(part="Worksite coefficient")[["part", "feature", "mean",
                                                                    "q5", "q95"]]
        worker = c.worker.assign(part="Average worker slope")[["part", "feature", "mean",
                                                              "q5", "q95"]]
        spread = c.worker.assign(part="Spread of the slope between worksites")[[
            "part", "feature", "spread", "spread_q5", "spread_q95"]].rename(
            columns={"spread": "mean", "spread_q5": "q5", "spread_q95": "q95"})
        for frame in (worksite, worker, spread):
            pieces.append(frame.assign(model=model.value))
    long = pd.concat(pieces, ignore_index=True)
    wide = long.pivot_table(index=["part", "feature"], columns="model",
                            values=["mean", "q5", "q95"], sort=False)
    wide.columns = [f"{stat}_{model}" for stat, model in wide.columns]
    wide = wide.reset_index()
    columns = ["part", "feature"] + [f"{stat}_{m.value}" for m in models
                                     for stat in ("mean", "q5", "q95")]
    wide = wide.reindex(columns=columns)
    table = new_table(wide, rowname_col="feature", groupname_col="part")
    for model in models:
        table = (table.tab_spanner(labels.model_label(model).capitalize(),
                                   columns=[f"{s}_{model.value}" for s in ("mean", "q5", "q95")])
                 .cols_label(**{f"mean_{model.value}": "Mean", f"q5_{model.value}": "90% interval"})
                 .fmt_number(columns=f"mean_{model.value}", decimals=COEFFICIENT_DECIMALS)
                 .pipe(interval, f"q5_{model.value}", f"q95_{model.value}"))
    return table.pipe(house_style)
