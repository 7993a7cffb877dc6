"""Tables of the book: methods chapter."""

from __future__ import annotations

import numpy as np
import pandas as pd
from great_tables import GT, loc, style

from organizing.models import HEADLINE_MODEL, NUTS_MODELS, ModelId
from organizing.report import labels
from organizing.report.formatting import (
    COEFFICIENT_DECIMALS,
    INTERVAL_SEPARATOR,
    METRIC_DECIMALS,
    RHAT_DECIMALS,
)
from organizing.report.tables.style import house_style, interval, log_odds_colour, new_table

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
