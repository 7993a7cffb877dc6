"""Sentences for the book's prose, built from typed results.

Chapters put every data-dependent number or sentence in an inline expression
that calls this module (or :mod:`organizing.report.formatting` for a single
number), so running the book on another campaign can never leave prose that
contradicts its own tables. Statistics are computed upstream, by the pipeline;
what is computed here is presentation only: a value looked up in a result
frame, a mean over folds for a sentence, a ratio of two reported numbers.
Model names come from :mod:`organizing.report.labels`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from organizing.features import is_composition
from organizing.models import HEADLINE_MODEL, NUTS_MODELS, ModelId
from organizing.report import formatting as fmt
from organizing.report import labels
from organizing.report.labels import model_label, model_order

# ---------------------------------------------------------------- look-ups


def published(name: str) -> float:
    """A figure the study published: a metric or setting, or a shared coefficient."""
    from organizing.data import published_reference

    reference = published_reference()
    for key, column in (("metrics", "metric"), ("shared", "parameter")):
        table = reference[key].set_index(column)["published_value"]
        if name in table.index:
            return float(table[name])
    raise KeyError(f"the study published no figure named {name!r}")


def fold_means(evaluation) -> pd.DataFrame:
    """Mean of each metric over the held-out-worksite folds with every feature, one row per
    model value (:func:`organizing.evaluation.fold_means`)."""
    from organizing.evaluation import fold_means as means

    return means(evaluation.folds)


def _metrics(evaluation) -> pd.DataFrame:
    return evaluation.metrics.set_index("model")


def metric(evaluation, model: ModelId, name: str = "auc") -> str:
    """One held-out metric of one model on the study's split, as the tables print it."""
    return fmt.number(_metrics(evaluation).loc[ModelId(model).value, name], fmt.METRIC_DECIMALS)


def fold_metric(evaluation, model: ModelId, name: str = "auc") -> str:
    """A model's mean of one metric over the held-out-worksite folds."""
    return fmt.number(fold_means(evaluation).loc[ModelId(model).value, name],
                      fmt.METRIC_DECIMALS)


def n_folds(evaluation) -> str:
    """The number of held-out-worksite folds, in words for small numbers."""
    return fmt.count(evaluation.folds["fold"].nunique())


def _scalars(posterior) -> pd.DataFrame:
    return posterior.coefficients.scalars.set_index("parameter")


def scalar(posterior, parameter: str, decimals: int = fmt.COEFFICIENT_DECIMALS) -> str:
    """A scalar parameter's posterior mean and 90% interval: ``1.17 (0.98 to 1.38)``."""
    row = _scalars(posterior).loc[parameter]
    return fmt.estimate(row["mean"], row["q5"], row["q95"], decimals)


def scalar_mean(posterior, parameter: str, decimals: int = fmt.COEFFICIENT_DECIMALS) -> str:
    """A scalar parameter's posterior mean."""
    return fmt.number(_scalars(posterior).loc[parameter, "mean"], decimals)


def odds_factor(posterior, parameter: str = "site_scale") -> str:
    """How many times the odds one posterior-mean standard deviation multiplies: ``3.4``."""
    return fmt.number(float(np.exp(_scalars(posterior).loc[parameter, "mean"])), 1)


def coefficient(posterior, feature: str) -> str:
    """A worksite coefficient's posterior mean and 90% interval."""
    row = posterior.coefficients.worksite.set_index("feature").loc[feature]
    return fmt.estimate(row["mean"], row["q5"], row["q95"])


# ---------------------------------------------------------------- comparisons


def compared(a: float, b: float, *, higher_is_better: bool = True,
             tolerance: float = 0.005) -> str:
    """``better than``, ``worse than`` or ``about the same as`` for a score ``a`` against ``b``."""
    if abs(a - b) < tolerance:
        return "about the same as"
    return "better than" if (a > b) == higher_is_better else "worse than"


def new_store_sentence(evaluation, model: ModelId = HEADLINE_MODEL,
                       baseline: ModelId = ModelId.POOLED_LOGISTIC) -> str:
    """How a model ranks workers at worksites it never saw, against a baseline."""
    means = fold_means(evaluation)
    a, b = means.loc[model.value], means.loc[baseline.value]
    return (
        f"a mean AUC of {fmt.number(a['auc'], fmt.METRIC_DECIMALS)} over "
        f"{n_folds(evaluation)} folds of held-out worksites, "
        f"{compared(a['auc'], b['auc'])} the {model_label(baseline)} regression's "
        f"{fmt.number(b['auc'], fmt.METRIC_DECIMALS)} (mean log loss "
        f"{fmt.number(a['log_loss'], fmt.METRIC_DECIMALS)} against "
        f"{fmt.number(b['log_loss'], fmt.METRIC_DECIMALS)})"
    )


def fold_convergence_sentence(evaluation) -> str:
    """How many NUTS fits of the held-out-worksite folds passed every convergence check."""
    folds = evaluation.folds
    if "features" in folds:
        folds = folds[folds["features"] == "all"]
    if "checks_failed" not in folds:
        return "The convergence of the fold fits was not recorded."
    fits = folds[folds["checks_failed"].notna()]
    failed = fits[fits["checks_failed"] > 0]
    if failed.empty:
        return (f"All {fmt.count(len(fits))} NUTS fits of the held-out-worksite folds "
                "passed every convergence check.")
    models = ", ".join(model_label(ModelId(m)) for m in failed["model"].unique())
    return (f"{fmt.count(len(failed))} of the {fmt.count(len(fits))} NUTS fits of the "
            f"held-out-worksite folds failed a convergence check (R-hat, effective sample "
            f"size or divergences; models: {models}): their fold metrics are shown, but read "
            "them as approximate. The headline model's fold fits use the main fit's chains "
            "and draws; the other models' use two chains and half the draws, to keep the "
            "run time down.")


def seen_store_sentence(evaluation, model: ModelId = HEADLINE_MODEL) -> str:
    """A model's AUC on held-out workers of stores it has seen, against new stores."""
    seen = float(_metrics(evaluation).loc[model.value, "auc"])
    new = float(fold_means(evaluation).loc[model.value, "auc"])
    verdict = compared(seen, new)
    relation = {"better than": "higher than", "worse than": "lower than",
                "about the same as": "about the same as"}[verdict]
    return (f"on held-out workers of stores it has seen, the {model_label(model)} model's AUC "
            f"is {fmt.number(seen, fmt.METRIC_DECIMALS)}, {relation} its "
            f"{fmt.number(new, fmt.METRIC_DECIMALS)} at new stores")


def best_fold_model(evaluation, metric_name: str = "log_loss") -> str:
    """The label of the model with the best mean of a metric over held-out-worksite folds."""
    means = fold_means(evaluation)[metric_name]
    best = means.idxmax() if metric_name in ("auc", "accuracy") else means.idxmin()
    return model_label(best)


def versus_chance(evaluation, model: ModelId) -> str:
    """``worse than chance`` for a held-out AUC below one half, ``better than chance`` above."""
    auc = float(_metrics(evaluation).loc[ModelId(model).value, "auc"])
    if auc < 0.5:
        return "worse than chance"
    return "better than chance" if auc > 0.5 else "no better than chance"


def ratio(a: float, b: float, decimals: int = 1) -> str:
    """How many times ``a`` is ``b``: ``1.5×``."""
    return fmt.times(float(a) / float(b), decimals)


def scale_ratio(posteriors, parameter: str, numerator: ModelId = ModelId.CORRECTED,
                denominator: ModelId = ModelId.CORRECTED_MEAN_FIELD) -> str:
    """Ratio of two posteriors' means of one scalar parameter: ``1.52×``."""
    a = _scalars(posteriors[numerator]).loc[parameter, "mean"]
    b = _scalars(posteriors[denominator]).loc[parameter, "mean"]
    return ratio(a, b, 2)


def width_ratio(posteriors, numerator: ModelId = ModelId.CORRECTED,
                denominator: ModelId = ModelId.CORRECTED_MEAN_FIELD) -> float:
    """Median over worksite coefficients of the ratio of two posteriors' 90% interval widths."""
    a = posteriors[numerator].coefficients.worksite.set_index("feature")
    b = posteriors[denominator].coefficients.worksite.set_index("feature").loc[a.index]
    return float(((a["q95"] - a["q5"]) / (b["q95"] - b["q5"])).median())


def width_sentence(posteriors, numerator: ModelId = ModelId.CORRECTED,
                   denominator: ModelId = ModelId.CORRECTED_MEAN_FIELD) -> str:
    """``wider than ..., by a median factor of 1.6×`` (or narrower)."""
    r = width_ratio(posteriors, numerator, denominator)
    word = "wider" if r > 1 else "narrower"
    return f"{word}, by a median factor of {fmt.times(r if r > 1 else 1 / r)}"


# ---------------------------------------------------------------- data chapter


def checksums(data) -> str:
    """The first characters of each data file's sha256: ``1a2b3c4d5e6f… (workers) and …``."""
    from organizing.data import WORKER_FILE, WORKSITE_FILE

    return (f"{data.checksums[WORKER_FILE][:12]}… (workers) and "
            f"{data.checksums[WORKSITE_FILE][:12]}… (worksites)")


# -------------------------------------------------------------- methods chapter


def aliases_sentence(data) -> str:
    """The worksite columns the book's models leave out, each with its identity."""
    frame = getattr(data, "aliases", None)
    if frame is None or frame.empty:
        return "No worksite column is determined by the others in these files."
    parts = [f"{r['identity'].replace(' × ', '·')} to within "
             f"{r['residual_sd'] * 100:.2g}% of its own spread" for _, r in frame.iterrows()]
    return ("In these files, on standardized columns, " + fmt.listing(parts) + ".")


def model_site_features(data) -> list[str]:
    """The worksite features of the headline and extended models: every column but the
    one-hot reference levels and the columns other columns determine."""
    aliases = getattr(data, "aliases", None)
    left_out = set(() if aliases is None else aliases["name"])
    return [f for f in data.reduced_site_features if f not in left_out]


def reference_levels(data) -> str:
    """The one-hot levels the headline model drops, in words."""
    dropped = [f"“{name}”" for name in (*data.worker_features, *data.site_features)
               if name not in (*data.reduced_worker_features, *data.reduced_site_features)]
    return fmt.listing(dropped)


def complete_groups(data) -> str:
    """How the time-to-first-conversation quartiles cover every worker."""
    shares = np.asarray(data.quartile_shares, dtype=float)
    return (f"the shares of workers in the {fmt.count(len(shares))} quartiles are "
            f"{fmt.listing(fmt.share(s) for s in shares)}, which add up to "
            f"{fmt.share(shares.sum())}")


def prior_predictive_sentence(prior) -> str:
    """What the two sets of priors imply about workers' signing probabilities before any data."""
    table = prior.table
    parts = []
    for key, words in (("corrected", "the study's priors"),
                       ("headline", "the headline model's priors")):
        draws = table[table["model"] == key]
        if draws.empty:
            continue
        extreme = draws["share_extreme"]
        parts.append(f"under {words} the median prior draw puts {fmt.share(extreme.median(), 0)}"
                     f" of workers below 1% or above 99%, and "
                     f"{fmt.share((extreme > 0.5).mean(), 0)} of draws put most workers there")
    return "; ".join(parts)


def stopping_sentence(svi: dict, max_steps: int) -> str:
    """Which SVI fits met the convergence rule, and after how many steps."""
    met = {model: fit.steps for model, fit in svi.items() if fit.converged}
    n = len(svi)
    if met:
        low, high = min(met.values()), max(met.values())
        steps = f"after {fmt.count(low)} steps" if low == high else (
            f"after {fmt.count(low)} to {fmt.count(high)} steps")
    if len(met) == n:
        return f"All {n} fits met the rule, {steps}."
    if not met:
        return (f"None of the {n} fits met the rule within the limit of {fmt.count(max_steps)} "
                "steps, so each is summarized where the limit stopped it.")
    stopped = fmt.listing(model_label(model) for model in svi if model not in met)
    return (f"{len(met)} of the {n} fits met the rule, {steps}; the limit of "
            f"{fmt.count(max_steps)} steps stopped the others ({stopped}).")


#: The study's code as the book cites it: file, full commit, and the lines read.
STUDY_CODE = {
    "optimizer": ("hblr.py", "9c5472806a747eb4e9a06f40448266f29843cbd0", "127-139"),
    "one draw": ("hblr.py", "9c5472806a747eb4e9a06f40448266f29843cbd0", "152-154"),
    "clustering score": ("clustering.py", "d4f2f7f736e66b1065e494aab52bc80748992cde",
                         "101-117"),
    "clustering sampler": ("clustering.py", "d4f2f7f736e66b1065e494aab52bc80748992cde",
                           "44-65"),
    "clustering run": ("clustering.py", "d4f2f7f736e66b1065e494aab52bc80748992cde",
                       "224-248"),
}


def code_citation(part: str) -> str:
    """Where the study's code does ``part``: file, lines and full commit (Markdown code)."""
    file, commit, lines = STUDY_CODE[part]
    return f"`{file}`, lines {lines}, at commit `{commit}`"


def _plain(x: float) -> str:
    """An optimizer setting as written in code: ``0.9995``, ``0.05``."""
    return f"{float(x):g}"


def _adam(lr: float, betas, lr_decay: float) -> str:
    return (f"Adam with moment decay rates (β₁, β₂) = ({_plain(betas[0])}, {_plain(betas[1])}) "
            f"and a learning rate of {_plain(lr)} multiplied by {_plain(lr_decay)} after every "
            f"step ({_plain(round(lr_decay**100, 3))} every 100 steps)")


def report_optimizer() -> str:
    """The optimizer as the study's report states it."""
    from organizing.inference.optimizers import REPORT_OPTIMIZER as r

    return (f"an initial learning rate of {_plain(r.lr)} with a decay factor of "
            f"{_plain(r.lr_decay)} per step ({_plain(round(r.lr_decay**100, 3))} every 100 "
            f"steps), {fmt.count(r.steps)} steps run and convergence after "
            f"{fmt.count(r.converged_at)}; it names neither the optimizer it kept (it had "
            "tried and dropped ClippedAdam) nor its moment decay rates")


def code_optimizer() -> str:
    """The optimizer as the study's code runs it."""
    from organizing.inference.optimizers import CODE_OPTIMIZER as c

    return (f"{_adam(c.lr, c.betas, c.lr_decay)}, for a fixed {fmt.count(c.steps)} steps with "
            "no stopping rule")


def optimizer_runs(svi: dict) -> str:
    """Which optimizer each fit of the published specification follows, as run here."""
    refit = svi[ModelId.PUBLISHED]
    code = refit.code_optimizer
    text = (f"The replication follows the report, with Adam and its default moment decay "
            f"rates: {_adam(refit.lr, refit.betas, refit.lr_decay)}. Every variational fit "
            "of the book uses these settings.")
    if code is not None:
        text += (f" A second fit of the published specification follows the code: "
                 f"{_adam(code.lr, code.betas, code.lr_decay)}, for a fixed "
                 f"{fmt.count(code.steps)} steps")
        text += "." if code.steps == code.max_steps else f" of {fmt.count(code.max_steps)}."
    return text


def refit_steps_sentence(svi: dict) -> str:
    """How many steps the replication of the published specification used, and why it stopped."""
    from organizing.inference.optimizers import REPORT_OPTIMIZER

    refit = svi[ModelId.PUBLISHED]
    steps, reported = fmt.count(refit.steps), fmt.count(REPORT_OPTIMIZER.converged_at)
    if refit.converged:
        return (f"The refit of the published specification met the rule after {steps} steps "
                f"(the report: convergence after {reported}).")
    where = "beyond" if refit.steps >= REPORT_OPTIMIZER.converged_at else "short of"
    return (f"The refit of the published specification did not meet the rule; it ran to the "
            f"limit of {steps} steps, {where} the {reported} after which the report says its "
            "loss had converged.")


#: Each of the audit's findings (:data:`organizing.audit.FINDING_RULES`), in words.
FINDING_WORDS = {
    "site_term_max": "the worksite term is zero",
    "sign_flip_correlation": "every learned intercept changes sign at prediction",
    "heldout_auc": "held-out workers are ranked worse than chance",
    "heldout_auc_as_learned": "with the training sums they are ranked better than chance",
}


def optimizer_agreement(svi: dict) -> str:
    """Whether the audit's findings hold under both optimizers, finding by finding."""
    refit = svi[ModelId.PUBLISHED]
    code = refit.code_optimizer
    if code is None:
        return "Only the report's optimizer was run."
    same, differ = [], []
    for key, words in FINDING_WORDS.items():
        held = {fit.audit_findings[key] for fit in (refit, code)}
        (same if held == {True} else differ).append(words)
    if not differ:
        return (f"Under both optimizers {fmt.listing(same)}: the audit's conclusions do not "
                "depend on the choice.")
    return (f"The optimizers agree that {fmt.listing(same) or 'nothing'}, but not that "
            f"{fmt.listing(differ)}.")


def diagnostics_sentence(posteriors, models=NUTS_MODELS) -> str:
    """Which NUTS posteriors pass every check, and what is flagged for the others."""
    models = model_order(models)
    flagged = {m: posteriors[m].diagnostics.flags for m in models
               if posteriors[m].diagnostics.flags}
    passed = [model_label(m) for m in models if m not in flagged]
    if not flagged:
        rules = {(d.r_hat_max, d.ess_min) for d in (posteriors[m].diagnostics for m in models)}
        r_hat_max, ess_min = rules.pop() if len(rules) == 1 else (None, None)
        thresholds = (f"R̂ at most {fmt.number(r_hat_max)}, bulk and tail ESS at least "
                      f"{fmt.count(ess_min)}" if r_hat_max is not None
                      else "R̂ and bulk and tail ESS within their thresholds")
        return (f"All {fmt.count(len(models))} NUTS posteriors pass every check: "
                f"{thresholds} and no divergent transition.")
    parts = [f"the {model_label(m)} model is flagged ({'; '.join(flags)})"
             for m, flags in flagged.items()]
    head = (f"The {fmt.listing(passed)} {'model passes' if len(passed) == 1 else 'models pass'}"
            " every check; " if passed else "")
    sentence = head + "; ".join(parts) + "."
    return sentence[0].upper() + sentence[1:] + (
        " Read a flagged model's numbers as rough: a longer run is needed before their "
        "second decimal is trusted.")


def diagnostic_rule(diagnostics) -> str:
    """The thresholds a NUTS run was flagged by (its ``Diagnostics`` record), in words."""
    d = diagnostics
    return (f"whose largest R̂ exceeds {fmt.number(d.r_hat_max)}, whose smallest bulk or "
            f"tail effective sample size is below {fmt.count(d.ess_min / d.chains)} per chain "
            f"({fmt.count(d.ess_min)} for {fmt.count(d.chains)} chains), that "
            f"has any divergent transition, or whose E-BFMI is below {fmt.number(d.bfmi_min, 1)}")


def pareto_sentence(posterior) -> str:
    """How many training workers have a large Pareto k in a model's PSIS-LOO."""
    loo = posterior.loo
    large = loo.k_bad + loo.k_very_bad
    return (f"{fmt.count(large)} of the {fmt.count(loo.n)} training workers have a Pareto k "
            f"above the threshold ({fmt.count(loo.k_very_bad)} above 1)")


def sbc_sentence(calibration) -> str:
    """The range of 50% and 90% interval coverage over the calibrated parameters."""
    coverage = calibration.coverage
    return (
        f"across the {fmt.count(len(coverage))} parameters checked, the true value fell in the "
        f"50% interval in {fmt.share(coverage['coverage_50'].min(), 0)} to "
        f"{fmt.share(coverage['coverage_50'].max(), 0)} of "
        f"{fmt.count(coverage['replications'].max())} simulated campaigns, and in the 90% "
        f"interval in {fmt.share(coverage['coverage_90'].min(), 0)} to "
        f"{fmt.share(coverage['coverage_90'].max(), 0)}"
    )


def sign_flip_sentence(audit) -> str:
    """What happens to the worksite intercepts of the published term at prediction time."""
    r = fmt.number(audit.sign_flip_correlation)
    if audit.mirrored:
        return (f"every worksite's learned intercept changes sign when it is applied to the "
                f"held-out workers (correlation {r} across worksites)")
    if audit.sign_flip_correlation < 0:
        return (f"the intercepts applied to held-out workers run against the learned ones "
                f"(correlation {r} across worksites)")
    return (f"the intercepts applied to held-out workers differ from the learned ones "
            f"(correlation {r} across worksites)")


def refit_sentence(audit) -> str:
    """How far the refit's worksite coefficients are from zero, against the one draw."""
    means, draw = audit.one_draw["posterior mean"], audit.one_draw["one draw"]
    return (f"its posterior means lie between {fmt.number(means.min())} and "
            f"{fmt.number(means.max())}, while a single draw from its guide ranges from "
            f"{fmt.number(draw.min())} to {fmt.number(draw.max())}")


def published_rms(data) -> str:
    """Root mean square of the published worksite coefficients."""
    values = np.asarray([published(f) for f in data.site_features], dtype=float)
    return fmt.number(float(np.sqrt(np.mean(values**2))))


def one_draw_rms(audit, column: str = "one draw") -> str:
    """Root mean square of the refit's worksite coefficients: one draw or posterior means."""
    return fmt.number(audit.coefficient_rms(column))


def matrix_entries(meta) -> str:
    """Entries of the study's N × N matrix for the training workers: ``170,772,624``."""
    return fmt.count(meta.n_train**2)


def scale_against_published(posterior, parameter: str = "beta_individual_scale") -> str:
    """A scale's posterior mean and how many times the published worker scale it is."""
    mean = _scalars(posterior).loc[parameter, "mean"]
    return (f"{fmt.number(mean)} under {posterior.method}, "
            f"{ratio(mean, published('beta_worker_scale'), 0)} the published value")


def published_scale_sentence(audit) -> str:
    """What the published worker-coefficient scale means once multiplied by the summed features."""
    norm = audit.projection_norm
    scale = published("beta_worker_scale")
    return (
        f"a vector of length {fmt.number(norm, 0)} over the training workers, so a coefficient "
        f"of only {fmt.number(1 / norm, 4)} in that direction already shifts a worksite's "
        f"log-odds by one unit. Times that length, the published scale gives the worksite "
        f"intercepts a spread of {fmt.number(scale * norm)} log-odds; the refit's intercepts "
        f"(posterior means) have a standard deviation of "
        f"{fmt.number(audit.intercept_sd)} across worksites"
    )


# -------------------------------------------------------------- results chapter


def signed_effects(frame, label: str = "feature") -> str:
    """The rows whose 90% interval excludes zero, positive ones first."""
    positive = list(frame.loc[frame["q5"] > 0, label])
    negative = list(frame.loc[frame["q95"] < 0, label])
    if not positive and not negative:
        return "no feature has a 90% interval that excludes zero"
    parts = []
    if positive:
        parts.append(f"{fmt.listing(positive)} (positive)")
    if negative:
        parts.append(f"{fmt.listing(negative)} (negative)")
    n = len(positive) + len(negative)
    feature = "feature has" if n == 1 else "features have"
    return f"{n} {feature} a 90% interval that excludes zero: " + "; ".join(parts)


def _excludes_zero(frame) -> set[str]:
    return set(frame.loc[(frame["q5"] > 0) | (frame["q95"] < 0), "feature"])


def disagreement_sentence(posteriors, model: ModelId = HEADLINE_MODEL,
                          other: ModelId = ModelId.CORRECTED) -> str:
    """Worksite features whose interval excludes zero in one model but not in the other."""
    # only the coefficients both models have (the headline model's worksite means of
    # worker features have no counterpart in the others)
    shared = (set(posteriors[model].coefficients.worksite["feature"])
              & set(posteriors[other].coefficients.worksite["feature"]))
    a = _excludes_zero(posteriors[model].coefficients.worksite) & shared
    b = _excludes_zero(posteriors[other].coefficients.worksite) & shared
    only_other, only_model = sorted(b - a), sorted(a - b)
    parts = []
    if only_other:
        parts.append(f"the {model_label(other)} model's interval excludes zero and the "
                     f"{model_label(model)} model's does not for {fmt.listing(only_other)}")
    if only_model:
        parts.append(f"the reverse holds for {fmt.listing(only_model)}")
    if not parts:
        return (f"the two models agree on which worksite intervals exclude zero "
                f"({fmt.count(len(a))} of them)")
    return "; ".join(parts)


def largest_worker_effect(worker) -> str:
    """The worker feature with the largest average coefficient in absolute value."""
    row = worker.loc[worker["mean"].abs().idxmax()]
    return (f"{row['feature']}, with an average of "
            f"{fmt.estimate(row['mean'], row['q5'], row['q95'])} log-odds per standard "
            f"deviation, positive at {fmt.share(row['share_positive'], 0)} of worksites")


def loo_sentence(posteriors, models=NUTS_MODELS) -> str:
    """The NUTS models ordered by PSIS-LOO elpd, with their values."""
    order = sorted(models, key=lambda m: -posteriors[m].loo.elpd)
    parts = [f"{model_label(m)} {fmt.plus_minus(posteriors[m].loo.elpd, posteriors[m].loo.se)}"
             for m in order]
    return f"the {model_label(order[0])} model has the highest elpd ({'; '.join(parts)})"


def calibration_sentence(evaluation, model: ModelId = HEADLINE_MODEL) -> str:
    """A model's expected calibration error, against the pooled baseline's."""
    return (f"its expected calibration error is {metric(evaluation, model, 'ece')}, against "
            f"{metric(evaluation, ModelId.POOLED_LOGISTIC, 'ece')} for the "
            f"{model_label(ModelId.POOLED_LOGISTIC)} regression")


def ppc_verdict(ppc, nominal: float = 0.9, slack: float = 0.05) -> str:
    """How the share of worksites inside their 90% predictive interval compares with 90%."""
    inside = float(ppc["inside"].mean())
    if inside < nominal - slack:
        return ("below the nominal 90%: the model is more confident about worksite signing "
                "rates than the held-out workers justify")
    if inside > nominal + slack:
        return ("above the nominal 90%: the intervals are generous, as expected when a "
                "worksite has only a handful of held-out workers")
    return "close to the nominal 90%: the model's uncertainty about worksite rates is about right"


# ----------------------------------------------------------- clustering chapter


def published_worker_spread() -> str:
    """The range of the published standard deviations of the worker coefficients."""
    from organizing.data import published_reference

    sd = published_reference()["worker"]["std"]
    return f"{fmt.number(sd.min(), 4)} to {fmt.number(sd.max(), 4)}"


def scale_comparison(clustering) -> str:
    """The spread of the clustered vectors: published refit against the headline model."""
    published_scale = clustering.published_vector_sd
    headline_scale = clustering.slope_vector_sd
    return (f"a pooled standard deviation of {fmt.number(published_scale, 4)}; the headline "
            f"model's posterior-mean vectors have {fmt.number(headline_scale)}, "
            f"{ratio(headline_scale, published_scale, 0)} as much")


def gibbs_mixing(samples, burn_in: int) -> str:
    """Whether the Gibbs chains still move worksites between clusters after burn-in."""
    moves = samples.reassignments(burn_in)
    if moves:
        return (f"after burn-in the chains still move worksites between clusters "
                f"({fmt.count(moves)} reassignments), as a mixing sampler should")
    spread = samples.final_log_joint_spread
    different = (f"; the chains end at log joints up to {fmt.log_density(spread)} apart, each "
                 f"stuck where its first sweeps put it" if spread > 1 else "")
    return f"after burn-in no worksite ever changes cluster in any chain{different}"


def cluster_verdict_sentence(run) -> str:
    """The paired held-out comparison behind a run's verdict, in one sentence."""
    table = run.comparison.set_index("K")
    others = table.drop(index=1, errors="ignore")
    if others.empty:
        return f"only one cluster was tried, so the verdict is “{run.verdict}”"
    best = others["diff_vs_one"].idxmax()
    row = others.loc[best]
    return (f"the best fit with more than one cluster (K = {int(best)}) scores "
            f"{fmt.plus_minus(row['diff_vs_one'], row['diff_vs_one_se'])} against one cluster "
            f"in held-out log predictive density (difference ± its paired standard error), so "
            f"the verdict is “{run.verdict}” and the mixture fitted has K = {run.K}")


def clusters_shown(K: int) -> str:
    """What the clusters figure shows for K clusters."""
    if K >= 2:
        return ("the cluster means with their 90% intervals (left) and the probability that "
                "two worksites share a cluster (right)")
    return ("the cross-validated comparison of each K with one cluster: with a single "
            "cluster fitted, cluster means and co-assignments would show nothing but the "
            "population mean")


def cluster_rule() -> str:
    """The paired rule that turns the comparison of K into a verdict, with its thresholds."""
    from organizing.clustering import NO_CLUSTERS_SE, SUPPORTED_SE

    return (f"Clusters are *supported* when the best K beats one cluster by more than "
            f"{fmt.number(SUPPORTED_SE, 0)} standard errors of the paired difference; there "
            f"are *no clusters* when one cluster is best or the best K beats it by at most "
            f"{fmt.number(NO_CLUSTERS_SE, 0)}; in between the comparison is *inconclusive*, "
            "and the simpler mixture, one cluster, is fitted")


def _cell(x) -> str:
    """A table cell: three significant digits, thousands separators from 1,000 on."""
    if isinstance(x, str):
        return x
    if not np.isfinite(x):
        return ""
    if x == 0 or abs(x) >= 1000:
        return fmt.count(x)
    return fmt.number(x, max(0, 2 - int(np.floor(np.log10(abs(x))))))


def _pipe_table(frame: pd.DataFrame) -> str:
    """A Markdown pipe table: first column left-aligned, the others right-aligned."""
    columns = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(columns) + " |",
             "|:--" + "|--:" * (len(columns) - 1) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines)


#: The caption of the features-by-cluster table (printed with the table when K >= 2).
CLUSTER_FEATURES_CAPTION = (
    "Worksite features averaged within each cluster of the headline model's slopes, each "
    "worksite weighted by its posterior probability of belonging to the cluster. The first "
    "row is the expected number of worksites in the cluster; a cluster of fewer worksites "
    "than the disclosure threshold shows only that number, since its averages would be "
    "those few stores' own values.")


def cluster_features_section(clustering) -> str:
    """The chapter's reading of the clusters through worksite features, as Markdown.

    With K >= 2: the cluster means explained, the features-by-cluster table (a pipe
    table with its caption and label ``tbl-cluster-features``) and the scikit-learn
    cross-check. With one cluster there is nothing to read or cross-check; the
    paragraph says so and points to the comparison of K values.
    """
    K = clustering.test.chosen_K
    if K < 2:
        return ("With one cluster fitted, there are no clusters to read through worksite "
                "features, as the study did (its Fig. 7), and no cluster assignments to "
                "cross-check; @fig-clusters shows instead the comparison of K values on "
                "which the verdict rests.")
    table = clustering.features_by_cluster
    names = {k: f"Cluster {k + 1}" for k in table.index}
    wide = table.drop(columns="weight").T.rename(columns=names)
    wide.insert(0, "Worksite feature", wide.index.astype(str))
    weight = pd.DataFrame([["Worksites (expected number)", *table["weight"]]],
                          columns=wide.columns)
    frame = pd.concat([weight, wide], ignore_index=True)
    return ("A cluster mean is the mixture's estimate of the average slopes of the "
            "worksites in that cluster, in units of each slope's spread between worksites, "
            "each worksite weighted by how much its workers say about its slopes; its 90% "
            "interval comes from the curvature of the likelihood. It is not the headline "
            "model's average slope across all worksites (@sec-results), and it is not an "
            "effect estimated by the regression.\n\n"
            "The study read its clusters through worksite features (its Fig. 7), and "
            "@tbl-cluster-features does the same: each worksite counts toward each cluster "
            "in proportion to its probability of belonging there. As an independent check, "
            "a maximum-likelihood spherical Gaussian mixture from scikit-learn with the same "
            "number of components was fitted to the worksites' posterior-mean slopes (which "
            "ignores how uncertain each is) and compared with the mixture's most probable "
            "clusters by the adjusted Rand index "
            f"[@hubert1985]: {sklearn_agreement(clustering.sklearn_ari, K)}.\n\n"
            f"{_pipe_table(frame)}\n\n: {CLUSTER_FEATURES_CAPTION} {{#tbl-cluster-features}}\n")


def sklearn_agreement(ari: float, K: int) -> str:
    """The adjusted Rand index between the mixture's clusters and scikit-learn's, in words."""
    if K == 1:
        return (f"with a single component both methods put every worksite in one cluster, "
                f"so their agreement (adjusted Rand index {fmt.number(ari)}) is automatic")
    quality = "close" if ari >= 0.8 else "partial" if ari >= 0.4 else "poor"
    return f"the agreement is {quality} (adjusted Rand index {fmt.number(ari)})"


def largest_cluster_mean(frame) -> str:
    """The cluster mean farthest from zero, with its 90% interval."""
    row = frame.loc[frame["mean"].abs().idxmax()]
    where = f" in cluster {int(row['cluster']) + 1}" if frame["cluster"].nunique() > 1 else ""
    return f"{row['feature']}{where}, {fmt.estimate(row['mean'], row['lower'], row['upper'])}"


# ---------------------------------------------------------- conclusions chapter


def strongest_worker_features(worker: pd.DataFrame, n: int = 2) -> str:
    """The ``n`` worker features with the largest average |coefficient|, in words."""
    order = worker.assign(size=worker["mean"].abs()).sort_values("size", ascending=False)
    return " and ".join(
        f"{row['feature']} ({'positive' if row['mean'] > 0 else 'negative'}, "
        f"{fmt.estimate(row['mean'], row['q5'], row['q95'])})"
        for _, row in order.head(n).iterrows())


def intervals_including_zero(posterior) -> str:
    """``k of n`` coefficients of worksite features whose 90% interval includes zero (the
    worksite means of worker features, which the forest plot does not show, left out)."""
    rows = posterior.coefficients.worksite
    rows = rows[[not is_composition(f) for f in rows["feature"]]]
    k = int(((rows["q5"] < 0) & (rows["q95"] > 0)).sum())
    return f"{fmt.count(k)} of {fmt.count(len(rows))}"


def _term(variance, model: ModelId, term: str):
    rows = variance[(variance["model"] == ModelId(model).value) & (variance["term"] == term)]
    return rows.iloc[0]


def term_estimate(variance, term: str, model: ModelId = HEADLINE_MODEL) -> str:
    """The posterior sd over workers of one part of a model's logit, with its interval."""
    row = _term(variance, model, term)
    return fmt.estimate(row["mean"], row["q5"], row["q95"])


def signal_sentence(variance, model: ModelId = HEADLINE_MODEL) -> str:
    """Which part of a model's logit varies most across workers."""
    # "worker features" already holds the worksite means of worker features
    rows = variance[(variance["model"] == ModelId(model).value)
                    & ~variance["term"].isin(["features: worksite minus worker",
                                              "worker composition"])]
    ordered = rows.sort_values("mean", ascending=False)
    names = [f"{term} ({fmt.number(mean)})" for term, mean in
             zip(ordered["term"], ordered["mean"], strict=True)]
    return (f"ordered by their spread over workers on the logit scale, the parts of the "
            f"{model_label(model)} model's logit are: {fmt.listing(names)}")


def scale_direction(posteriors, parameter: str) -> str:
    """``understates`` or ``overstates``: the mean-field scale against NUTS."""
    mean_field = _scalars(posteriors[ModelId.CORRECTED_MEAN_FIELD]).loc[parameter, "mean"]
    nuts = _scalars(posteriors[ModelId.CORRECTED]).loc[parameter, "mean"]
    return "understates" if mean_field < nuts else "overstates"


# ------------------------------------------------------------ sensitivity analyses

SENSITIVITY_LABELS, sensitivity_label = labels.SENSITIVITY_LABELS, labels.sensitivity_label


def sensitivity_marks(results) -> dict[str, list[str]]:
    """For each claim whose verdict changes under a sensitivity analysis, the analyses
    (display labels) that change it: what the conclusions' scorecard marks."""
    verdicts = results.sensitivity.verdicts
    marks: dict[str, list[str]] = {}
    for _, row in verdicts[verdicts["changed"]].iterrows():
        marks.setdefault(row["claim"], []).append(sensitivity_label(row["variant"]))
    return marks


def sensitivity_changes(results, variant: str) -> str:
    """The verdicts one sensitivity analysis changes, in words (``no verdict changes``)."""
    verdicts = results.sensitivity.verdicts
    changed = verdicts[(verdicts["variant"] == variant) & verdicts["changed"]]
    if changed.empty:
        return "no verdict changes"
    return fmt.listing(f"*{row['claim']}* goes from {row['headline_verdict']} to "
                       f"{row['verdict']}" for _, row in changed.iterrows())


def sensitivity_sentence(results) -> str:
    """One clause per sensitivity analysis: the verdicts it changes."""
    variants = list(dict.fromkeys(results.sensitivity.verdicts["variant"]))
    return "; ".join(f"{sensitivity_label(v)}, {sensitivity_changes(results, v)}"
                     for v in variants)


def n_sensitivity_changes(results) -> str:
    """How many (analysis, claim) verdicts differ from the headline model's."""
    return fmt.count(int(results.sensitivity.verdicts["changed"].sum()))


def moved_coefficients_sentence(results, variant: str) -> str:
    """The coefficients one sensitivity analysis moves, headline estimate → variant's."""
    frame = results.sensitivity.coefficients
    moved = frame[(frame["variant"] == variant) & frame["moved"]]
    if moved.empty:
        return "no shared coefficient moves"
    return fmt.listing(
        f"{row['feature']} from "
        f"{fmt.estimate(row['headline_mean'], row['headline_q5'], row['headline_q95'])} "
        f"to {fmt.estimate(row['mean'], row['q5'], row['q95'])}" for _, row in moved.iterrows())


def outside_network_sentence(results) -> str:
    """The outside-network cut and how many workers it puts outside, with signing rates
    (a rate disclosure control withheld where it was computed is named as withheld)."""
    s, k = results.sensitivity, results.data.disclosure.min_count

    def rate(value: float) -> str:
        if not np.isfinite(value):
            return f"a rate withheld (fewer than {k} signers or non-signers)"
        return fmt.share(value)

    return (f"a log centrality below {fmt.number(s.outside_cut)} puts "
            f"{fmt.share(s.share_outside)} of workers outside the network; they signed at "
            f"{rate(s.signing_outside)}, against {rate(s.signing_inside)} of the workers inside")


def sensitivity_diagnostics(results) -> str:
    """Whether every sensitivity fit passed the NUTS checks, and which did not."""
    failed = [sensitivity_label(v) for v, run in results.sensitivity.runs.items()
              if not run.diagnostics.ok]
    if not failed:
        return "every sensitivity fit passes the convergence checks"
    fits, verb = ("fit", "is") if len(failed) == 1 else ("fits", "are")
    return f"the {fits} {fmt.listing(failed)} {verb} flagged by the convergence checks"
