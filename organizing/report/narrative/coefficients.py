"""Sentences about the coefficients and the variance decomposition (results and
conclusions chapters)."""

from __future__ import annotations

import pandas as pd

from organizing.features import is_composition
from organizing.models import HEADLINE_MODEL, ModelId
from organizing.report import formatting as fmt
from organizing.report.labels import model_label
from organizing.report.narrative.lookups import scalar_table


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
    mean_field = scalar_table(posteriors[ModelId.CORRECTED_MEAN_FIELD]).loc[parameter, "mean"]
    nuts = scalar_table(posteriors[ModelId.CORRECTED]).loc[parameter, "mean"]
    return "understates" if mean_field < nuts else "overstates"

