"""The brief for organizers on the book's front page, as sentences built from typed results.

The front page answers, in under a page, what an organizer needs: how well the book's
main model predicts at a store it has never seen, against the simplest baselines
(:func:`honest_headline`); the takeaways (at most :data:`MOST_TAKEAWAYS`), each with its
size in percentage points for a typical worker, how sure the analysis is, and what it
does not show (:func:`takeaways`); and what to test next with a randomized experiment
(:func:`candidate_tactic`, :func:`trial_sizes`). The claims by name with their verdicts
come from :func:`organizing.report.narrative.verdict_classes`, as in the conclusions.

Every number comes from the results: the held-out metrics of
:class:`~organizing.results.sections.Evaluation`, the claims register of
:class:`~organizing.results.sections.Claims` (its percentage-point effects are computed
by the pipeline, in :mod:`organizing.claims`), and the minimum detectable effects of
:class:`~organizing.results.sections.Planning`. Nothing here estimates anything: it
looks values up, orders rows, and words them.

How sure the analysis is, is said in words from one scale, :data:`CERTAINTY_SCALE`, used
everywhere in the book. A posterior probability ``p`` that an effect runs a given way
maps to the word of the first threshold it reaches,

    p ≥ 0.99 virtually certain;  p ≥ 0.95 very likely;  p ≥ 0.80 likely;
    0.20 < p < 0.80 uncertain;  p ≤ 0.20 unlikely;  p ≤ 0.05 very unlikely;
    p ≤ 0.01 virtually ruled out,

so that the scale is symmetric (the word for ``p`` mirrors the word for ``1 - p``) and
its 95% and 5% steps coincide with the verdicts: a claim is *supported* exactly when its
probability reads "very likely" or "virtually certain", and *contradicted* exactly when it
reads "very unlikely" or "virtually ruled out".
"""

from __future__ import annotations

import math

import pandas as pd

from organizing.claims import NOT_EVALUATED, SUPPORT_THRESHOLD
from organizing.features import COMPOSITION_SUFFIX, is_composition
from organizing.models import HEADLINE_MODEL, ModelId
from organizing.report import formatting as fmt
from organizing.report import narrative
from organizing.report.labels import model_label

# ------------------------------------------------------------------- certainty in words

#: (threshold, word for p at or above it, word for p at or below 1 - threshold), most
#: certain first; a probability between the last pair of steps is "uncertain".
#: The "very likely" step is the scorecard's support threshold, so a claim called
#: supported is always at least "very likely".
CERTAINTY_SCALE: tuple[tuple[float, str, str], ...] = (
    (0.99, "virtually certain", "virtually ruled out"),
    (SUPPORT_THRESHOLD, "very likely", "very unlikely"),
    (0.80, "likely", "unlikely"),
)
UNCERTAIN = "uncertain"
#: The least probability of a positive association for a tactic to be proposed for a test.
CANDIDATE_MIN_PROBABILITY = CERTAINTY_SCALE[-1][0]


def certainty_word(p: float) -> str:
    """The word of :data:`CERTAINTY_SCALE` for a posterior probability ``p`` in [0, 1]."""
    p = float(p)
    if math.isnan(p):
        return NOT_EVALUATED
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"a probability must lie between 0 and 1, got {p}")
    for threshold, likely, unlikely in CERTAINTY_SCALE:
        if p >= threshold:
            return likely
        if 1.0 - p >= threshold:
            return unlikely
    return UNCERTAIN


def certainty(p: float) -> str:
    """The word with the probability in parentheses: ``very likely (97%)``."""
    word = certainty_word(p)
    return word if word == NOT_EVALUATED else f"{word} ({fmt.probability(p)})"


def certainty_scale_sentence() -> str:
    """The scale in words, for the glossary: ``“virtually certain” at 99% or more, …``."""
    high = [f"“{likely}” at {fmt.share(t, 0)} or more" for t, likely, _ in CERTAINTY_SCALE]
    low = [f"“{unlikely}” at {fmt.share(1 - t, 0)} or less"
           for t, _, unlikely in reversed(CERTAINTY_SCALE)]
    edge = CERTAINTY_SCALE[-1][0]
    middle = f"“{UNCERTAIN}” in between ({fmt.share(1 - edge, 0)} to {fmt.share(edge, 0)})"
    return fmt.listing([*high, middle, *low])


# ------------------------------------------------------------------------- the headline


def points(x: float, decimals: int = 1) -> str:
    """A difference of two chances, given as a proportion, in percentage points: ``4.1``."""
    return fmt.number(100 * float(x), decimals)


def _fold_metric(means: pd.DataFrame, model: ModelId, name: str) -> float:
    if model.value not in means.index:
        raise KeyError(f"the held-out-worksite folds have no rows for model {model.value!r}")
    return float(means.loc[model.value, name])


def honest_headline(evaluation, model: ModelId = HEADLINE_MODEL) -> str:
    """How well ``model`` predicts at worksites it has not seen, against the two baselines.

    Compares the model's mean AUC and mean Brier score over the folds of held-out
    worksites with those of the intercept-only baseline (everyone gets the training
    signing rate) and the pooled logistic regression, then says on which side each
    comparison falls (:func:`organizing.report.narrative.compared`), and ends with the
    model's AUC on held-out workers of worksites it has seen.
    """
    means = narrative.fold_means(evaluation)
    base, pooled = ModelId.INTERCEPT_ONLY, ModelId.POOLED_LOGISTIC
    auc = {m: _fold_metric(means, m, "auc") for m in (model, base, pooled)}
    brier = {m: _fold_metric(means, m, "brier") for m in (model, base, pooled)}
    decimals = fmt.METRIC_DECIMALS
    auc_vs_pooled = narrative.compared(auc[model], auc[pooled])
    brier_vs_pooled = narrative.compared(brier[model], brier[pooled], higher_is_better=False)
    brier_vs_base = narrative.compared(brier[model], brier[base], higher_is_better=False)
    label = model_label(model)
    text = (
        f"At stores it has never seen ({narrative.n_folds(evaluation)} folds of held-out "
        f"worksites), the {label} model ranks signers above non-signers with a mean AUC of "
        f"{fmt.number(auc[model], decimals)}, against {fmt.number(auc[base], decimals)} (a "
        f"coin toss) for the simplest baseline, the campaign's signing rate for everyone, and "
        f"{fmt.number(auc[pooled], decimals)} for a plain {model_label(pooled)} regression. "
        f"Its mean Brier score (lower is better) is {fmt.number(brier[model], decimals)}, "
        f"{brier_vs_base} the baseline's {fmt.number(brier[base], decimals)} and "
        f"{brier_vs_pooled} the plain regression's {fmt.number(brier[pooled], decimals)}. "
    )
    return text + _headline_verdict(label, auc_vs_pooled, brier_vs_pooled, brier_vs_base)


def _headline_verdict(label: str, auc_vs_pooled: str, brier_vs_pooled: str,
                      brier_vs_base: str) -> str:
    """The comparison in plain words: is the model a better guide to a new store?

    Worse chances than the intercept-only baseline trump everything; otherwise the model
    is the better guide when it beats the plain regression on one score and loses on
    neither, gives a mixed picture when it wins on one and loses on the other, and is no
    better a guide when it wins on neither.
    """
    if brier_vs_base == "worse than":
        return (f"At a new store, then, the {label} model's chances are worse than simply "
                f"assuming the campaign's average signing rate for everyone.")
    results = {auc_vs_pooled, brier_vs_pooled}
    if "better than" in results and "worse than" not in results:
        return f"At a new store, then, the {label} model is a better guide than a plain regression."
    if results == {"better than", "worse than"}:
        return (f"At a new store, then, the {label} model and a plain regression each do "
                f"better on one score: neither is clearly the better guide.")
    return (f"At a new store, then, the {label} model is no better a guide than a plain "
            f"regression: its extra structure does not pay off in prediction there.")


# ------------------------------------------------------------------------- the takeaways

#: Columns of the percentage-point effects (``Claims.effects``, one row per feature of the
#: headline model, :func:`organizing.claims.percentage_point_effects`): the change in a
#: typical worker's probability of signing, in percentage points, for the move ``change``.
EFFECT_COLUMNS = ("level", "feature", "change", "mean", "q5", "q95", "prob_positive")
#: The move a continuous feature's effect is reported for.
ONE_SD = "+1 SD"

#: How many takeaways the front page gives at most.
MOST_TAKEAWAYS = 5

#: Each feature in plain words, as the subject of "… goes with a rise in signing".
PLAIN_WORDS: dict[str, str] = {
    "No. Notes": "More organizer notes about a worker",
    "Log(Eigen. Centrality)": "A more central place in the coworker network",
    "Is Male": "Being a man rather than a woman",
    "Time To First Convo (Quart. 2)": "A first conversation in the second quarter of workers "
                                      "reached, rather than the first",
    "Time To First Convo (Quart. 3)": "A first conversation in the third quarter of workers "
                                      "reached, rather than the first",
    "Time To First Convo (Quart. 4)": "A first conversation among the last quarter of workers "
                                      "reached, rather than the first",
    "NDO (Eigen., Pearson)": "More network-driven organizing at the store",
    "Mobilizing (Pearson)": "More mobilizing at the store",
    "Log(No. organizer convers.)": "More organizer conversations at the store",
    "Log(No. workers contacted)": "More workers contacted at the store",
    "Log(No. workers discovered)": "A larger store (more workers discovered)",
    "Log(No. edges)": "More ties in the store's coworker network",
    "Log(Mean degree)": "More ties per worker in the store's network",
    "Log(Centrality mean)": "A higher average centrality at the store",
    "Log(Centrality variance)": "More unequal centrality at the store",
    "Percent black in ZIP": "A higher share of Black residents in the store's ZIP code",
    "Percent Latino in ZIP": "A higher share of Latino residents in the store's ZIP code",
    "Percent male": "A higher share of men among the store's workers",
    "Log(Mean AGI in ZIP)": "A higher mean income in the store's ZIP code",
    **{f"Campaign length (Quint. {k})": f"A campaign in the {fifth} fifth by length, rather "
                                       f"than the shortest fifth"
       for k, fifth in ((2, "second-shortest"), (3, "middle"), (4, "second-longest"),
                        (5, "longest"))},
    # the headline model's worksite means of worker features (features.within_between)
    f"No. Notes{COMPOSITION_SUFFIX}": "More organizer notes per worker across the store",
    f"Log(Eigen. Centrality){COMPOSITION_SUFFIX}": "A more central workforce, on average, "
                                                   "in the store's network",
    f"Is Male{COMPOSITION_SUFFIX}": "More men among the store's workers (unknown gender "
                                    "counted as half)",
    **{f"Time To First Convo (Quart. {k}){COMPOSITION_SUFFIX}":
       f"More of the store's workers first reached in the {quarter} quarter, rather than "
       "the first"
       for k, quarter in ((2, "second"), (3, "third"), (4, "last"))},
}

#: What an association at each level does not show.
NOT_SHOWN = {
    "worker": "*Not shown:* that it causes signing; organizers chose whom to talk to.",
    "worksite": "*Not shown:* that it causes signing; stores differ in ways nobody recorded.",
}

#: Organizing tactics among the features (chosen by organizers, not given by the store).
TACTICS: dict[str, str] = {
    "NDO (Eigen., Pearson)": "network-driven organizing",
    "No. Notes": "more organizer attention to each worker (what the notes record)",
    "Log(No. organizer convers.)": "more organizer conversations",
    "Mobilizing (Pearson)": "mobilizing",
    f"No. Notes{COMPOSITION_SUFFIX}": "more organizer attention across a store's workers",
}


def _table(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    if missing := [c for c in columns if c not in frame]:
        raise KeyError(f"the {what} lack the columns {', '.join(missing)}; are the results "
                       "from before the claims register? Run the pipeline again")
    return frame


def _effects(claims) -> pd.DataFrame:
    effects = getattr(claims, "effects", None)
    if effects is None:
        raise KeyError("the claims have no percentage-point effects; are the results from "
                       "before the claims register? Run the pipeline again")
    return _table(effects, EFFECT_COLUMNS, "percentage-point effects")


def _one_hot_group(feature: str) -> str:
    """The one-hot group a feature is a level of (or of whose levels it is a worksite
    mean), else the feature itself."""
    from organizing.data import ONE_HOT_GROUPS

    suffix = COMPOSITION_SUFFIX if is_composition(feature) else ""
    name = feature.removesuffix(suffix)
    return next((group + suffix for group, levels in ONE_HOT_GROUPS.items()
                 if name in levels), feature)


def direction_probability(row) -> float:
    """The posterior probability that an effect has the sign of its mean."""
    p = float(row["prob_positive"])
    return p if float(row["mean"]) >= 0 else 1.0 - p


def takeaway_rows(claims, most: int = MOST_TAKEAWAYS) -> pd.DataFrame:
    """The features whose direction is most certain, one per one-hot group, at most ``most``.

    Features are ordered by the posterior probability of the sign of their mean effect
    (:func:`direction_probability`), then by the size of the effect in percentage
    points; of the levels of a one-hot group only the first in that order is kept.
    """
    effects = _effects(claims)
    rows = effects[effects["mean"].notna()]
    order = rows.assign(_sure=[direction_probability(r) for _, r in rows.iterrows()],
                        _size=rows["mean"].abs(), _group=rows["feature"].map(_one_hot_group))
    order = order.sort_values(["_sure", "_size"], ascending=False, kind="stable")
    order = order.drop_duplicates("_group")
    return order.drop(columns=["_sure", "_size", "_group"]).head(most)


def size_phrase(row) -> str:
    """``a rise of 4.1 percentage points (90% interval of the change 1.5 to 6.8)``."""
    mean = float(row["mean"])
    word = "a rise" if mean > 0 else "a drop" if mean < 0 else "no change"
    return (f"{word} of {fmt.number(abs(mean), 1)} percentage points (90% interval of the "
            f"change {fmt.number(row['q5'], 1)} to {fmt.number(row['q95'], 1)})")


def takeaway(row) -> str:
    """One takeaway: the association in plain words, its size, how sure, and what is not shown."""
    feature = row["feature"]
    subject = PLAIN_WORDS.get(feature, feature)
    step = " (one standard deviation more)" if row["change"] == ONE_SD else ""
    sign = "positive" if float(row["mean"]) >= 0 else "negative"
    caveat = NOT_SHOWN.get(row["level"], NOT_SHOWN["worksite"])
    return (f"**{subject}**{step}: {size_phrase(row)}; "
            f"{certainty(direction_probability(row))} that it is {sign}. {caveat}")


def takeaways(claims, most: int = MOST_TAKEAWAYS) -> str:
    """The takeaways as a markdown list (print it from an ``output: asis`` cell)."""
    rows = takeaway_rows(claims, most)
    if rows.empty:
        raise ValueError("the results hold no percentage-point effect to take away")
    return "\n".join(f"- {takeaway(row)}" for _, row in rows.iterrows())


# ----------------------------------------------------------------------- the next test


def candidate_tactic(claims) -> str:
    """A sentence naming the tactic the records favour most, as a first one to test.

    Of the organizing tactics among the features (:data:`TACTICS`), the one with the
    highest posterior probability of a positive association with signing, provided that
    probability is at least :data:`CANDIDATE_MIN_PROBABILITY` ("likely"); the sentence
    is empty when the results have none of them.
    """
    effects = _effects(claims)
    rows = effects[effects["feature"].isin(list(TACTICS)) & effects["prob_positive"].notna()]
    if rows.empty:
        return ""
    favoured = rows.loc[rows["prob_positive"].idxmax()]
    if favoured["prob_positive"] < CANDIDATE_MIN_PROBABILITY:
        return ("No tactic in the records is even likely to go with more signing, so the "
                "records single out no first candidate for a test.")
    return (f"Of the tactics in the records, {TACTICS[favoured['feature']]} has the most "
            f"certain positive association with signing, "
            f"{certainty(favoured['prob_positive'])}: a natural first candidate for a test.")


def mde_at_largest(planning, design: str) -> tuple[int, float]:
    """The largest number of worksites planned for a design, and its minimum detectable effect."""
    rows = planning.mde[planning.mde["design"] == design]
    if rows.empty:
        raise KeyError(f"the planning results have no design {design!r}")
    row = rows.loc[rows["n_sites"].idxmax()]
    return int(row["n_sites"]), float(row["mde"])


def trial_sizes(planning) -> str:
    """The smallest effects the largest planned store- and worker-randomized trials detect.

    ``a trial that randomizes 40 whole stores can detect a rise of 35.0 percentage points
    in the signing rate with 80% power; one that randomizes workers within 40 stores,
    12.2 points``. A design whose largest trial cannot reach the target power for any
    effect tried says so.
    """
    power = fmt.share(planning.target_power, 0)
    sites, store_mde = mde_at_largest(planning, "worksite")
    worker_sites, worker_mde = mde_at_largest(planning, "worker")
    unreached = f"cannot reach {power} power for any effect tried"
    store = (f"can detect a rise of {points(store_mde)} percentage points in the signing rate"
             f" with {power} power" if math.isfinite(store_mde) else unreached)
    worker = (f"can detect {points(worker_mde)} points" if math.isfinite(worker_mde)
              else unreached)
    return (f"a trial that randomizes {fmt.count(sites)} whole stores {store}; one that "
            f"randomizes workers within {fmt.count(worker_sites)} stores {worker}, if "
            f"coworkers do not pass the tactic on to each other")
