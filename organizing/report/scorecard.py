"""The scorecard of the study's claims in words and tables (the conclusions chapter).

Everything here presents the claims table of :class:`~organizing.results.sections.Claims`
(computed by :mod:`organizing.claims`): it looks rows up by their stable ``id``, counts
*distinct tests* (a recommendation that follows from a finding, and claims tested
jointly, share one test), and words the verdicts. Nothing here decides a verdict.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from great_tables import GT, loc, style

from organizing.claims import (
    DECISIVE,
    IDENTIFICATION_RATIO,
    NOT_IDENTIFIED,
    SOURCE_URLS,
    STUDY_COMMIT,
    SUPPORT_THRESHOLD,
    VERDICTS,
)
from organizing.models import HEADLINE_MODEL, NUTS_MODELS, ModelId
from organizing.report import formatting as fmt
from organizing.report import labels
from organizing.report.tables import (
    house_style,
    interval,
    new_table,
    probabilities,
    verdict_fills,
)

#: A verdict as a verb phrase ("the claim … the data").
VERDICT_WORDS = {
    "supported": "is supported by",
    "inconclusive": "is neither supported nor contradicted by",
    "contradicted": "is contradicted by",
    NOT_IDENTIFIED: "cannot be judged from",
    "not evaluated": "is not evaluated by",
}
#: Verdicts a claim can get from a test, in the order the book lists them.
TESTED = (*VERDICTS, NOT_IDENTIFIED)


def _p(p: float) -> str:
    return fmt.probability(p) if np.isfinite(p) else "undefined"


def verdict_rule() -> str:
    """The rule in words: identification first, then the three levels."""
    return (f"*not identified* when the data have not narrowed the tested quantity to less "
            f"than {fmt.share(IDENTIFICATION_RATIO, 0)} of the spread it would have without "
            f"them; otherwise *supported* when the posterior probability of the claimed sign "
            f"is at least {fmt.share(SUPPORT_THRESHOLD, 0)}, *contradicted* when it is at most "
            f"{fmt.share(1 - SUPPORT_THRESHOLD, 0)}, and *inconclusive* in between")


def source_links() -> str:
    """Markdown links to the study's two documents, at the commit the register quotes."""
    return (f"the final report ([report.pdf]({SOURCE_URLS['report']})) and the README "
            f"([README.md]({SOURCE_URLS['README']})) of the study's repository at commit "
            f"`{STUDY_COMMIT[:7]}`")


def status(claims, claim_id: str) -> str:
    """The headline verdict on a claim as a verb phrase: ``is supported by`` and so on."""
    return VERDICT_WORDS[claims.row(claim_id)["verdict"]]


def evidence(claims, claim_id: str) -> str:
    """The quantity behind a headline verdict, its 90% interval and P(as claimed)."""
    row = claims.row(claim_id)
    return (f"{row['quantity']}: {fmt.estimate(row['mean'], row['q5'], row['q95'])}, "
            f"P(as claimed) {_p(row['prob_claimed'])}")


def _tested(claims) -> pd.DataFrame:
    return claims.table[claims.table["verdict"].isin(TESTED)]


def n_claims(claims) -> str:
    """How many conclusions the register lists."""
    return fmt.count(len(claims.table))


def n_tested(claims) -> str:
    """How many of them rest on a test (a verdict, or not identified)."""
    return fmt.count(len(_tested(claims)))


def n_tests(claims) -> str:
    """How many distinct tests those claims rest on."""
    return fmt.count(len(claims.distinct_tests))


def verdict_counts(claims) -> str:
    """``2 are supported, 6 are inconclusive, …``: by distinct test."""
    tests = claims.distinct_tests
    parts = []
    for verdict in TESTED:
        k = int((tests["verdict"] == verdict).sum())
        if k or verdict in VERDICTS:
            parts.append(f"{fmt.count(k)} {'is' if k == 1 else 'are'} {verdict}")
    return fmt.listing(parts)


def _names(tested: pd.DataFrame, verdict: str) -> list[str]:
    """The claims of one verdict, each test once, its followers and joint claims named
    with it: ``“A” (with “B”)``."""
    rows = tested[tested["verdict"] == verdict]
    names = []
    for test, group in rows.groupby("test", sort=False):
        first = group[group["id"] == test]
        head = first.iloc[0] if len(first) else group.iloc[0]
        rest = [f"“{c}”" for c in group["claim"] if c != head["claim"]]
        names.append(f"“{head['claim']}”" + (f" (with {fmt.listing(rest)})" if rest else ""))
    return names


def verdict_classes(claims) -> str:
    """The claims in each verdict class, by name, with the number of distinct tests."""
    tested = _tested(claims)
    parts = []
    for verdict in TESTED:
        names = _names(tested, verdict)
        if names:
            tests = fmt.count(len(names))
            parts.append(f"*{verdict}* ({tests} {'test' if len(names) == 1 else 'tests'}): "
                         f"{'; '.join(names)}")
    return ". ".join(parts) + "." if parts else "No claim could be tested."


def verdict_classes_short(claims, named=DECISIVE) -> str:
    """The decisive verdicts by name, the others as counts of tests (for the brief)."""
    tested = _tested(claims)
    parts, counted = [], []
    for verdict in TESTED:
        names = _names(tested, verdict)
        if not names:
            continue
        if verdict in named:
            parts.append(f"*{verdict}* ({fmt.count(len(names))}): {'; '.join(names)}")
        else:
            counted.append(f"{fmt.count(len(names))} {'is' if len(names) == 1 else 'are'} "
                           f"*{verdict}*")
    if not parts and not counted:
        return "No claim could be tested."
    text = ". ".join(parts) + "." if parts else ""
    if counted:
        text += (" " if text else "") + f"Of the other tests, {fmt.listing(counted)}."
    return text


def untested_claims(claims) -> str:
    """One bullet per claim without a test: the claim, its source and the reason."""
    rows = claims.table[~claims.table["verdict"].isin(TESTED)]
    return "\n\n".join(f"- *{r['claim']}* ({r['source']}): {r['verdict']}, because "
                        f"{r['reason']}." for _, r in rows.iterrows())


def claim_sentences(claims, models=NUTS_MODELS, sensitivity=None) -> str:
    """One bullet per tested claim: the headline verdict with its evidence, its source,
    how it shares its test, where the other models differ and the sensitivity analyses
    that move it (pass ``results.sensitivity``)."""
    by_model = claims.by_model
    moved = claims.moved_verdicts(sensitivity)
    bullets = []
    for _, row in _tested(claims).iterrows():
        others = by_model[(by_model["id"] == row["id"])
                          & (by_model["model"] != HEADLINE_MODEL.value)]
        differing = [f"{r['verdict']} under the {labels.model_label(r['model'])} model"
                     for _, r in others.iterrows()
                     if r["verdict"] != row["verdict"] and r["verdict"] in TESTED
                     and ModelId(r["model"]) in models]
        contrast = (f"; it was {fmt.listing(differing)}" if differing else "")
        shifts = moved.get(row["claim"], [])
        shift = (f"; its verdict moves {fmt.listing(labels.sensitivity_label(v) for v in shifts)}"
                 if shifts else "")
        ratio = (f", identification {fmt.number(row['identification'], 2)}"
                 if np.isfinite(row["identification"]) else "")
        note = f" ({row['reason']})" if row["reason"] else ""
        bullets.append(
            f"- *{row['claim']}* ({row['source']}): {row['verdict']} "
            f"({row['quantity']} {fmt.estimate(row['mean'], row['q5'], row['q95'])}, "
            f"P(as claimed) {_p(row['prob_claimed'])}{ratio}){note}{contrast}{shift}.")
    return "\n\n".join(bullets)


def changed_verdicts(claims, model: ModelId = ModelId.CORRECTED) -> str:
    """``k of n``: the headline model's distinct tests whose verdict another model's differs
    from (where both were tested)."""
    tests = claims.distinct_tests.set_index("id")["verdict"]
    other = claims.by_model[claims.by_model["model"] == ModelId(model).value].set_index(
        "id")["verdict"].reindex(tests.index)
    changed = int(((other != tests) & other.isin(TESTED)).sum())
    return f"{fmt.count(changed)} of the {fmt.count(len(tests))}"


def _moves(claims, sensitivity) -> list[str]:
    moved = claims.moved_verdicts(sensitivity)
    return [", ".join(labels.sensitivity_label(v) for v in moved.get(c, []))
            for c in claims.table["claim"]]


def claims_table(claims, sensitivity=None) -> GT:
    """The scorecard: every claim of the register under the headline model.

    Its source, the quantity that tests it (for an untestable claim, why not), the
    posterior mean and 90% interval, the identification ratio (posterior sd over the
    reference sd; blank for held-out measurements), P(as claimed), the verdict, how the
    evidence is shared (a recommendation follows from its finding; claims tested jointly)
    and the sensitivity analyses under which the verdict moves.
    """
    table = claims.table.reset_index(drop=True)
    tested_by = [q if v != "not testable" else f"not testable: {r}"
                 for q, v, r in zip(table["quantity"], table["verdict"], table["reason"],
                                    strict=True)]
    shared = []
    by_id = table.set_index("id")["claim"]
    for _, row in table.iterrows():
        if row["follows"]:
            shared.append(f"follows from “{by_id[row['follows']]}”")
        elif row["jointly_with"]:
            shared.append("tested jointly with " + "; ".join(
                f"“{by_id[i]}”" for i in row["jointly_with"].split("; ")))
        else:
            shared.append("")
    frame = pd.DataFrame({"claim": table["claim"], "source": table["source"],
                          "quantity": tested_by, "mean": table["mean"], "q5": table["q5"],
                          "q95": table["q95"], "identification": table["identification"],
                          "prob_claimed": table["prob_claimed"], "verdict": table["verdict"],
                          "shared": shared, "moves": _moves(claims, sensitivity)})
    return (
        new_table(frame)
        .cols_label(claim="The study's conclusion", source="Source", quantity="Tested by",
                    mean="Estimate", q5="90% interval", identification="Identification",
                    prob_claimed="P(as claimed)", verdict="Verdict", shared="Evidence",
                    moves="Moves under")
        .fmt_number(columns="mean", decimals=fmt.COEFFICIENT_DECIMALS)
        .fmt_number(columns="identification", decimals=2)
        .pipe(interval, "q5", "q95")
        .pipe(probabilities, "prob_claimed")
        .pipe(verdict_fills, frame, "verdict")
        .pipe(house_style)
    )


def verdict_matrix(claims) -> GT:
    """The verdict on each tested claim under each NUTS model, with P(as claimed)."""
    by_model = claims.by_model[claims.by_model["verdict"].isin(TESTED)
                               | (claims.by_model["model"] != HEADLINE_MODEL.value)]
    by_model = by_model[by_model["verdict"] != "not testable"]
    models = labels.model_order(m for m in NUTS_MODELS if m.value in set(by_model["model"]))
    order = list(dict.fromkeys(by_model["claim"]))
    frame = pd.DataFrame({"claim": order})
    for model in models:
        rows = by_model[by_model["model"] == model.value].set_index("claim")
        frame[model.value] = [
            "" if c not in rows.index else rows.loc[c, "verdict"] if not np.isfinite(
                rows.loc[c, "prob_claimed"])
            else f"{rows.loc[c, 'verdict']} ({fmt.probability(rows.loc[c, 'prob_claimed'])})"
            for c in order]
    table = new_table(frame).cols_label(
        claim="The study's conclusion",
        **{m.value: labels.model_label(m).capitalize() for m in models})
    for model in models:
        for verdict, (_, colour) in labels.VERDICTS.items():
            rows = frame.index[frame[model.value].str.startswith(verdict)].tolist()
            if rows:
                table = table.tab_style(style=style.fill(color=colour),
                                        locations=loc.body(columns=model.value, rows=rows))
    return table.tab_spanner("Verdict (P(as claimed))",
                             columns=[m.value for m in models]).pipe(house_style)


def not_identified_sentence(claims) -> str:
    """Which claims the data cannot judge, by name (or that every one rests on an
    identified quantity)."""
    rows = claims.table[claims.table["verdict"] == NOT_IDENTIFIED]
    if rows.empty:
        return "every tested claim rests on a quantity the data identify"
    return ("the data cannot judge " + fmt.listing(f"“{c}”" for c in rows["claim"])
            + ": they carry less information about the quantity it rests on than the prior "
            "does")


def multiplicity_sentence(error_rates) -> str:
    """The measured rate of false decisive verdicts on null campaigns, in words."""
    s = error_rates.summary
    return (f"on {fmt.count(s['null_campaigns'])} campaigns simulated from the headline model "
            f"with every tested effect set to zero, the scorecard's rule gave "
            f"{fmt.number(s['false_verdicts_mean'], 2)} decisive verdicts per campaign on "
            f"average (Monte Carlo standard error {fmt.number(s['false_verdicts_se'], 2)})")
