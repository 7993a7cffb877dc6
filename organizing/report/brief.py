"""The brief for organizers on the book's front page, as sentences built from typed results.

The front page answers, in under a page, what an organizer needs: how well the book's
main model predicts at a store it has never seen, against every baseline and without the
one measure not known before organizing starts (:func:`honest_headline`); the takeaways
(at most :data:`MOST_TAKEAWAYS`), each an average change over the campaign's workers for
a move in the feature's own units, with its range across stores, how sure the analysis
is, and the caveat that fits it (:func:`takeaways`); the associations that look strong
but do not survive the sensitivity analyses (:func:`fragile`); and what to test next
with a randomized experiment (:func:`candidate_tactic`, :func:`trial_sizes`). The claims
by name with their verdicts come from :mod:`organizing.report.scorecard`.

A takeaway is an effect whose direction is at least "very likely" and holds under every
sensitivity analysis (:func:`organizing.sensitivity.direction_holds`); the tactic
proposed for a test is chosen by the same rule.

Every number comes from the results: the held-out comparisons of
:class:`~organizing.results.sections.Evaluation`, the effects of
:class:`~organizing.results.sections.Claims` (computed by :mod:`organizing.effects`),
and the minimum detectable effects of :class:`~organizing.results.sections.Planning`.
Nothing here estimates anything: it looks values up, orders rows, and words them.

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
from organizing.data.meaning import AFTER, CHOSEN, STORE, meaning
from organizing.features import COMPOSITION_SUFFIX, is_composition
from organizing.models import HEADLINE_MODEL, ModelId
from organizing.report import effect_sizes, narrative
from organizing.report import formatting as fmt
from organizing.report.labels import model_label, sensitivity_label

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


def _comparison(evaluation, baseline: ModelId, metric: str, features: str = "all"):
    table = evaluation.new_stores
    rows = table[(table["baseline"] == baseline.value) & (table["metric"] == metric)
                 & (table["features"] == features)]
    if rows.empty:
        raise KeyError(f"no new-store comparison with {baseline.value!r} on {metric!r} "
                       f"({features} features)")
    return rows.iloc[0]


#: The baselines the headline is compared with at new stores, and their names in the brief.
HEADLINE_BASELINES = (ModelId.POOLED_LOGISTIC, ModelId.GRADIENT_BOOSTING)
BASELINE_NAMES = {ModelId.POOLED_LOGISTIC: "the plain regression",
                  ModelId.GRADIENT_BOOSTING: "gradient boosting"}


def _versus(evaluation, baseline: ModelId, features: str = "all") -> str:
    """``0.016 higher than the plain regression's (standard error 0.006: a real
    difference)``."""
    row = _comparison(evaluation, baseline, "auc", features)
    d = float(row["difference"])
    direction = "higher" if d > 0 else "lower"
    return (f"{fmt.number(abs(d), fmt.METRIC_DECIMALS)} {direction} than "
            f"{BASELINE_NAMES[baseline]}'s (standard error {fmt.number(row['se'], 3)}: "
            f"{'within noise' if row['outcome'] == 'no different' else 'a real difference'})")


def _verdict(evaluation, features: str = "all") -> str:
    outcomes = {b: _comparison(evaluation, b, "auc", features)["outcome"]
                for b in HEADLINE_BASELINES}
    better = [BASELINE_NAMES[b] for b, o in outcomes.items() if o == "better"]
    worse = [BASELINE_NAMES[b] for b, o in outcomes.items() if o == "worse"]
    same = [BASELINE_NAMES[b] for b, o in outcomes.items() if o == "no different"]
    parts = []
    if better:
        parts.append(f"better than {fmt.listing(better)}")
    if same:
        parts.append(f"about as good as {fmt.listing(same)}")
    if worse:
        parts.append(f"worse than {fmt.listing(worse)}")
    return fmt.listing(parts)


def _auc(evaluation, model: ModelId, features: str = "all") -> float:
    """A model's mean AUC over the folds of held-out worksites (the comparison's means)."""
    if model is HEADLINE_MODEL:
        return float(_comparison(evaluation, HEADLINE_BASELINES[0], "auc", features)[
            "model_mean"])
    return float(_comparison(evaluation, model, "auc", features)["baseline_mean"])


def honest_headline(evaluation, model: ModelId = HEADLINE_MODEL) -> str:
    """How well the headline model ranks signers at stores it has never seen, against every
    baseline, paired fold by fold, with and without No. Notes.

    The AUC (the chance that a signer is ranked above a non-signer) averaged over the folds
    of held-out worksites, for the model, the pooled logistic regression and gradient
    boosting; each difference with the standard error of the paired fold differences and
    its outcome (:func:`organizing.evaluation.new_store_comparison`); then the same
    comparison with every model refitted without No. Notes, which is not known at a new
    store before organizing starts.
    """
    label = model_label(model)
    folds = narrative.n_folds(evaluation)
    auc = {m: _auc(evaluation, m) for m in (model, *HEADLINE_BASELINES)}
    text = (f"At stores it has never seen ({folds} folds of held-out stores), the {label} "
            f"model ranks a signer above a non-signer with a mean "
            f"[AUC](chapters/glossary.qmd#sec-glossary-auc) of "
            f"{fmt.number(auc[model], fmt.METRIC_DECIMALS)} (0.5 is a coin toss, what the "
            f"campaign's signing rate for everyone gives), against "
            f"{fmt.number(auc[ModelId.POOLED_LOGISTIC], fmt.METRIC_DECIMALS)} for a plain "
            f"logistic regression and "
            f"{fmt.number(auc[ModelId.GRADIENT_BOOSTING], fmt.METRIC_DECIMALS)} for "
            f"gradient boosting, a flexible machine-learning baseline. Paired fold by fold, "
            f"its AUC is {_versus(evaluation, ModelId.POOLED_LOGISTIC)} and "
            f"{_versus(evaluation, ModelId.GRADIENT_BOOSTING)}. In plain words, at a new store "
            f"the {label} model is {_verdict(evaluation)}.")
    without = "without No. Notes"
    if evaluation.new_stores["features"].eq(without).any():
        bare = {m: _auc(evaluation, m, without) for m in (model, *HEADLINE_BASELINES)}
        text += (f" Every score above uses the organizer notes about a worker, which a new "
                 f"store does not have before organizing starts. Refitted without them, the "
                 f"AUCs are {fmt.number(bare[model], fmt.METRIC_DECIMALS)} for the {label} "
                 f"model, {fmt.number(bare[ModelId.POOLED_LOGISTIC], fmt.METRIC_DECIMALS)} "
                 f"for the regression and "
                 f"{fmt.number(bare[ModelId.GRADIENT_BOOSTING], fmt.METRIC_DECIMALS)} for "
                 f"boosting; the {label} model is then {_verdict(evaluation, without)}. The "
                 f"notes alone account for {fmt.number(auc[model] - bare[model], 3)} of its "
                 f"AUC.")
    return text


# ------------------------------------------------------------------------- the takeaways

#: Columns of the effects (``Claims.effects``, :func:`organizing.effects.average_marginal_effects`
#: with :func:`organizing.sensitivity.direction_holds`).
EFFECT_COLUMNS = ("level", "feature", "kind", "start", "end", "mean", "q5", "q95",
                  "prob_positive", "store_q5", "store_q95", "robust", "fragile_under")

#: How many takeaways the front page gives at most.
MOST_TAKEAWAYS = 5
#: The least posterior probability of its direction for an effect to be a takeaway.
TAKEAWAY_PROBABILITY = SUPPORT_THRESHOLD

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

#: The caveat of each kind of measure (organizing.data.meaning): what the association does
#: not show, and why.
CAVEATS = {
    AFTER: "*Not shown:* that it causes signing. It is recorded, or built from what "
           "organizers recorded, while they worked, also after a worker signed, so signing "
           "may produce it: [reverse causation]"
           "(chapters/glossary.qmd#sec-glossary-reverse-causation).",
    CHOSEN: "*Not shown:* that it causes signing. Organizers chose whom to reach and when, "
            "so these workers may differ in ways nobody recorded "
            "([selection](chapters/glossary.qmd#sec-glossary-selection)).",
    STORE: "*Not shown:* that it causes signing. Stores differ in ways nobody recorded, and "
           "this feature may stand in for them.",
}


def _table(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    if missing := [c for c in columns if c not in frame]:
        raise KeyError(f"the {what} lack the columns {', '.join(missing)}; are the results "
                       "from an older version of the package? Run the pipeline again")
    return frame


def _effects(claims) -> pd.DataFrame:
    effects = getattr(claims, "effects", None)
    if effects is None:
        raise KeyError("the claims have no effects; run the pipeline again")
    return _table(effects, EFFECT_COLUMNS, "effects")


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


def _candidates(claims, robust: bool) -> pd.DataFrame:
    """Effects at least :data:`TAKEAWAY_PROBABILITY` sure of their direction whose
    direction holds under every sensitivity analysis (``robust``) or does not, most certain
    and largest first, one per one-hot group."""
    effects = _effects(claims)
    rows = effects[effects["mean"].notna() & (effects["robust"].astype(bool) == robust)]
    order = rows.assign(_sure=[direction_probability(r) for _, r in rows.iterrows()],
                        _size=rows["mean"].abs(), _group=rows["feature"].map(_one_hot_group))
    order = order[order["_sure"] >= TAKEAWAY_PROBABILITY]
    order = order.sort_values(["_sure", "_size"], ascending=False, kind="stable")
    return order.drop_duplicates("_group").drop(columns=["_sure", "_size", "_group"])


def takeaway_rows(claims, most: int = MOST_TAKEAWAYS) -> pd.DataFrame:
    """The takeaways: sure effects whose direction holds under every sensitivity analysis."""
    return _candidates(claims, robust=True).head(most)


def fragile_rows(claims) -> pd.DataFrame:
    """Effects that look strong (as sure as a takeaway) but whose direction a sensitivity
    analysis overturns or leaves uncertain."""
    return _candidates(claims, robust=False)


def takeaway(row) -> str:
    """One takeaway: the association in plain words, its move and size, how sure, and the
    caveat that fits it."""
    feature = row["feature"]
    subject = PLAIN_WORDS.get(feature, feature)
    sign = "positive" if float(row["mean"]) >= 0 else "negative"
    caveat = CAVEATS[meaning(feature).caveat]
    move = "" if row["kind"] == "set" else f" ({effect_sizes.move_words(row)})"
    return (f"**{subject}**{move}: {effect_sizes.change_words(row)}; "
            f"{certainty(direction_probability(row))} that it is {sign}. {caveat}")


def takeaways(claims, most: int = MOST_TAKEAWAYS) -> str:
    """The takeaways as a markdown list (print it from an ``output: asis`` cell)."""
    rows = takeaway_rows(claims, most)
    if rows.empty:
        return ("- No association is both sure and robust to every sensitivity analysis; "
                "see the fragile ones below.")
    return "\n".join(f"- {takeaway(row)}" for _, row in rows.iterrows())


def _fragile_reason(text: str) -> str:
    parts = []
    for item in filter(None, text.split("; ")):
        variant, how = item.split(": ")
        parts.append(f"{'its sign reverses' if how == 'reverses' else 'it becomes uncertain'} "
                     f"{sensitivity_label(variant)}")
    return fmt.listing(parts)


def fragile(claims) -> str:
    """The associations that look strong but fragile, with the reason, as a markdown list
    (empty text when there are none)."""
    rows = fragile_rows(claims)
    return "\n".join(
        f"- **{PLAIN_WORDS.get(r['feature'], r['feature'])}**: "
        f"{effect_sizes.change_words(r)}, but {_fragile_reason(r['fragile_under'])}."
        for _, r in rows.iterrows())


# ----------------------------------------------------------------------- the next test


def candidate_tactic(claims) -> str:
    """A sentence naming the tactic to test first, chosen by the takeaways' rule.

    Of the features organizers control (:func:`organizing.data.meaning.meaning`'s
    ``tactic``), the one with the highest posterior probability of a positive association
    among those at least :data:`CANDIDATE_MIN_PROBABILITY` ("likely") sure of it and whose
    direction holds under every sensitivity analysis, with its caveat.
    """
    effects = _effects(claims)
    tactics = effects[[meaning(f).tactic for f in effects["feature"]]]
    rows = tactics[tactics["robust"].astype(bool)
                   & (tactics["prob_positive"] >= CANDIDATE_MIN_PROBABILITY)]
    if rows.empty:
        return ("No tactic in the records is both likely to go with more signing and robust "
                "to the sensitivity analyses, so the records single out no first candidate "
                "for a test.")
    favoured = rows.loc[rows["prob_positive"].idxmax()]
    subject = PLAIN_WORDS.get(favoured["feature"], favoured["feature"])
    why = {AFTER: " Because the measure can follow signing, only a trial can show which way "
                  "the association runs.",
           CHOSEN: " Because organizers chose whom it reached, only a trial can show whether "
                   "it works."}.get(meaning(favoured["feature"]).caveat, "")
    return (f"Of the tactics in the records, the one whose association with signing is most "
            f"certain and survives every sensitivity analysis is “{subject.lower()}”, "
            f"{certainty(favoured['prob_positive'])}: a natural first candidate for a test."
            f"{why}")


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
