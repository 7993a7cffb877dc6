"""Sentences about how the models were fitted and checked (methods chapter): priors, the
SVI optimizers and stopping rule, NUTS diagnostics, calibration, SVI against NUTS."""

from __future__ import annotations

from organizing.models import NUTS_MODELS, ModelId
from organizing.report import formatting as fmt
from organizing.report.labels import model_label, model_order
from organizing.report.narrative.lookups import (
    metrics_table,
    ratio,
    scalar_table,
)


def versus_chance(evaluation, model: ModelId) -> str:
    """``worse than chance`` for a held-out AUC below one half, ``better than chance`` above."""
    auc = float(metrics_table(evaluation).loc[ModelId(model).value, "auc"])
    if auc < 0.5:
        return "worse than chance"
    return "better than chance" if auc > 0.5 else "no better than chance"


def scale_ratio(posteriors, parameter: str, numerator: ModelId = ModelId.CORRECTED,
                denominator: ModelId = ModelId.CORRECTED_MEAN_FIELD) -> str:
    """Ratio of two posteriors' means of one scalar parameter: ``1.52×``."""
    a = scalar_table(posteriors[numerator]).loc[parameter, "mean"]
    b = scalar_table(posteriors[denominator]).loc[parameter, "mean"]
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

