"""Sentences about prediction (results chapter): held-out workers and worksites,
PSIS-LOO, calibration and the predictive check."""

from __future__ import annotations

from organizing.models import HEADLINE_MODEL, NUTS_MODELS, ModelId
from organizing.report import formatting as fmt
from organizing.report.labels import model_label
from organizing.report.narrative.lookups import compared, metric, metrics_table, n_folds


def new_store_sentence(evaluation, model: ModelId = HEADLINE_MODEL,
                       baseline: ModelId = ModelId.POOLED_LOGISTIC) -> str:
    """How a model ranks workers at worksites it never saw, against a baseline."""
    means = evaluation.fold_means()
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
    seen = float(metrics_table(evaluation).loc[model.value, "auc"])
    new = float(evaluation.fold_means().loc[model.value, "auc"])
    verdict = compared(seen, new)
    relation = {"better than": "higher than", "worse than": "lower than",
                "about the same as": "about the same as"}[verdict]
    return (f"on held-out workers of stores it has seen, the {model_label(model)} model's AUC "
            f"is {fmt.number(seen, fmt.METRIC_DECIMALS)}, {relation} its "
            f"{fmt.number(new, fmt.METRIC_DECIMALS)} at new stores")


def best_fold_model(evaluation, metric_name: str = "log_loss") -> str:
    """The label of the model with the best mean of a metric over held-out-worksite folds."""
    means = evaluation.fold_means()[metric_name]
    best = means.idxmax() if metric_name in ("auc", "accuracy") else means.idxmin()
    return model_label(best)


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

