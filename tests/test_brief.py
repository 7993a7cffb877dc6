"""The brief for organizers (organizing.report.brief), the front page and the glossary.

The brief is built on small synthetic result sections, so these tests need no data and
no fitted model; the page tests read the .qmd files without executing them.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from organizing.models import ModelId
from organizing.report import brief
from organizing.results.sections import Claims, Evaluation, Planning

try:
    from tests import book
except ImportError:  # tests/ is not a package and the rootdir is not on sys.path
    import book

ROOT = book.PROJECT_ROOT
GLOSSARY = "chapters/glossary.qmd"


def typed(kind, **values):
    """A result section of type ``kind`` holding ``values`` (other fields left empty)."""
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = set(values) - names
    assert not unknown, f"{kind.__name__} has no fields {unknown}"
    return kind(**{name: values.get(name) for name in names})


# ------------------------------------------------------------------- certainty in words


@pytest.mark.parametrize(("p", "word"), [
    (1.0, "virtually certain"), (0.99, "virtually certain"), (0.985, "very likely"),
    (0.95, "very likely"), (0.94, "likely"), (0.8, "likely"), (0.79, "uncertain"),
    (0.5, "uncertain"), (0.21, "uncertain"), (0.2, "unlikely"), (0.06, "unlikely"),
    (0.05, "very unlikely"), (0.011, "very unlikely"), (0.01, "virtually ruled out"),
    (0.0, "virtually ruled out"),
])
def test_certainty_word_follows_the_scale(p, word):
    assert brief.certainty_word(p) == word


def test_certainty_scale_is_symmetric_and_ordered():
    ranks = {w: i for i, w in enumerate(
        ["virtually ruled out", "very unlikely", "unlikely", "uncertain", "likely",
         "very likely", "virtually certain"])}
    mirror = {"virtually certain": "virtually ruled out", "very likely": "very unlikely",
              "likely": "unlikely", "uncertain": "uncertain"}
    mirror |= {b: a for a, b in mirror.items()}
    grid = np.arange(601) / 600  # posterior probabilities from 600 draws
    words = [brief.certainty_word(p) for p in grid]
    assert [ranks[w] for w in words] == sorted(ranks[w] for w in words)
    assert all(brief.certainty_word(1 - p) == mirror[w] for p, w in zip(grid, words, strict=True))


def test_certainty_words_agree_with_the_verdicts():
    from organizing.claims import verdict

    for p in np.arange(601) / 600:
        word = brief.certainty_word(p)
        assert (verdict(p) == "supported") == (word in ("very likely", "virtually certain"))
        assert (verdict(p) == "contradicted") == (
            word in ("very unlikely", "virtually ruled out"))


def test_certainty_gives_the_probability_in_parentheses():
    assert brief.certainty(0.97) == "very likely (97%)"
    assert brief.certainty(0.3) == "uncertain (30%)"
    assert brief.certainty(float("nan")) == "not evaluated"
    with pytest.raises(ValueError, match="between 0 and 1"):
        brief.certainty(1.2)


def test_the_scale_sentence_names_every_step():
    sentence = brief.certainty_scale_sentence()
    for threshold, likely, unlikely in brief.CERTAINTY_SCALE:
        assert f"“{likely}” at {round(100 * threshold)}% or more" in sentence
        assert f"“{unlikely}” at {round(100 * (1 - threshold))}% or less" in sentence
    assert "“uncertain”" in sentence


# ------------------------------------------------------------------------- the headline

H, POOLED, BOOST, BASE = (ModelId.HEADLINE, ModelId.POOLED_LOGISTIC, ModelId.GRADIENT_BOOSTING,
                          ModelId.INTERCEPT_ONLY)


def folds(auc: dict, spread: float = 0.01, n_folds: int = 5, *, features="all",
          shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    noise = rng.normal(0, spread, n_folds)  # shared by the models: pairing cancels it
    rows = [{"model": m.value, "fold": k, "features": features, "auc": auc[m] + noise[k] - shift,
             "log_loss": 0.4 - auc[m] / 4, "brier": 0.1}
            for m in auc for k in range(n_folds)]
    return pd.DataFrame(rows)


def evaluation(auc: dict, *, without: dict | None = None) -> Evaluation:
    from organizing.evaluation import new_store_comparison

    frame = folds(auc)
    if without is not None:
        frame = pd.concat([frame, folds(without, features="without No. Notes")])
    metrics = pd.DataFrame([{"model": m.value, "auc": auc[m] + 0.1} for m in auc])
    return typed(Evaluation, metrics=metrics, folds=frame,
                 new_stores=new_store_comparison(frame, H.value, (POOLED.value, BOOST.value,
                                                                  BASE.value)))


def test_honest_headline_names_every_baseline_with_paired_uncertainty():
    text = brief.honest_headline(evaluation({H: 0.844, POOLED: 0.828, BOOST: 0.850, BASE: 0.5}))
    for number in ("0.844", "0.828", "0.850"):
        assert number in text
    assert "gradient boosting" in text.lower() and "regression" in text
    assert "standard error" in text and "5 folds" in text or "five folds" in text
    # paired differences with no fold noise of their own: both are real differences
    assert "better than" in text and "worse than" in text


def test_honest_headline_gives_the_comparison_without_notes():
    text = brief.honest_headline(evaluation(
        {H: 0.844, POOLED: 0.828, BOOST: 0.850, BASE: 0.5},
        without={H: 0.74, POOLED: 0.73, BOOST: 0.745, BASE: 0.5}))
    assert "without them" in text and "0.740" in text and "0.104" in text


def test_honest_headline_calls_a_difference_within_noise_no_different():
    from organizing.evaluation import comparison_outcome

    assert comparison_outcome(0.01, 0.01, higher_is_better=True) == "no different"
    assert comparison_outcome(0.03, 0.01, higher_is_better=True) == "better"
    assert comparison_outcome(0.03, 0.01, higher_is_better=False) == "worse"
    assert comparison_outcome(float("nan"), 0.01, higher_is_better=True) == "not compared"


def test_honest_headline_needs_the_comparisons():
    partial = evaluation({H: 0.7, POOLED: 0.8, BASE: 0.5})  # no gradient boosting
    with pytest.raises(KeyError, match="gradient_boosting"):
        brief.honest_headline(partial)


# ------------------------------------------------------------------------- the takeaways


def effect(feature, level, mean, q5, q95, prob_positive, *, kind="shift", start=1.0, end=2.0,
           robust=True, fragile=""):
    return {"level": level, "feature": feature, "kind": kind, "start": start, "end": end,
            "log": False, "reference": "Time To First Convo (Quart. 1)" if kind == "set" else "",
            "step": 0.26, "mean": mean, "q5": q5, "q95": q95, "prob_positive": prob_positive,
            "store_q5": mean - 10, "store_q95": mean + 10, "stores": 120, "robust": robust,
            "fragile_under": fragile}


EFFECTS = pd.DataFrame([
    effect("No. Notes", "worker", 12.3, 11.1, 13.4, 1.0),
    effect("Time To First Convo (Quart. 2)", "worker", -4.2, -5.5, -3.0, 0.0, kind="set",
           start=0.0, end=1.0),
    effect("Time To First Convo (Quart. 3)", "worker", -9.1, -10.2, -8.0, 0.0, kind="set",
           start=0.0, end=1.0),
    effect("Time To First Convo (Quart. 4)", "worker", -6.7, -8.0, -5.5, 0.0, kind="set",
           start=0.0, end=1.0, robust=False, fragile="no_notes: reverses"),
    effect("Is Male", "worker", 0.1, -0.6, 0.8, 0.6, kind="set", start=0.0, end=1.0),
    effect("NDO (Eigen., Pearson)", "worksite", 4.1, 1.5, 6.8, 0.97, start=-0.19, end=0.30,
           robust=False, fragile="no_notes: uncertain"),
    effect("Mobilizing (Pearson)", "worksite", 2.1, 0.5, 3.8, 0.96, start=0.28, end=0.56),
    effect("Log(No. organizer convers.)", "worksite", -2.0, -5.0, 1.9, 0.23),
    effect("Percent Latino in ZIP", "worksite", -3.6, -5.6, -1.9, 0.003, start=0.07,
           end=0.34),
    effect("Log(No. workers discovered)", "worksite", 0.2, -3.9, 4.6, 0.53),
])
REGISTER = pd.DataFrame([
    {"id": "ndo", "claim": "Network-driven organizing goes with signing",
     "verdict": "supported", "prob_claimed": 0.97},
    {"id": "correlational_only", "claim": "The findings are correlational",
     "verdict": "not testable", "prob_claimed": float("nan")},
])


def claims(effects=EFFECTS, register=REGISTER) -> Claims:
    return typed(Claims, table=register, effects=effects)


def test_takeaways_are_sure_and_robust_most_certain_first():
    rows = brief.takeaway_rows(claims())
    features = list(rows["feature"])
    assert features[:2] == ["No. Notes", "Time To First Convo (Quart. 3)"]
    # one level per one-hot group; a level whose direction a sensitivity analysis
    # overturns is not a takeaway, and neither is an uncertain effect
    assert "Time To First Convo (Quart. 2)" not in features
    assert "Time To First Convo (Quart. 4)" not in features
    assert "NDO (Eigen., Pearson)" not in features  # fragile
    assert "Log(No. workers discovered)" not in features and "Is Male" not in features
    assert len(rows) <= brief.MOST_TAKEAWAYS
    fragile = list(brief.fragile_rows(claims())["feature"])
    assert "NDO (Eigen., Pearson)" in fragile and "Time To First Convo (Quart. 4)" in fragile


def test_a_takeaway_whose_direction_flips_under_a_sensitivity_analysis_is_not_on_the_front_page():
    flipped = EFFECTS.copy()
    flipped.loc[flipped["feature"] == "No. Notes", ["robust", "fragile_under"]] = (
        False, "no_notes: reverses")
    text = brief.takeaways(claims(effects=flipped))
    assert "More organizer notes" not in text
    assert "More organizer notes" in brief.fragile(claims(effects=flipped))
    assert "its sign reverses without No. Notes" in brief.fragile(claims(effects=flipped))


def test_each_takeaway_has_a_move_a_size_a_range_a_certainty_and_its_caveat():
    items = brief.takeaways(claims()).split("\n")
    assert all(item.startswith("- ") for item in items)
    for item in items:
        assert re.search(r"\d+\.\d percentage points on average", item), item
        assert "across stores" in item
        assert re.search(r"\((?:\d+%|more than 99%|less than 1%)\)", item), item
        assert "*Not shown:* that it causes signing" in item
    notes = items[0]
    assert "More organizer notes" in notes and "(one more note, from 1 to 2)" in notes
    assert "a rise of 12.3 percentage points on average (90% interval +11.1 to +13.4" in notes
    assert "reverse causation" in notes  # notes can be written after a worker signs
    late = items[1]
    assert "a drop of 9.1" in late and "that it is negative" in late
    assert "selection" in late  # organizers chose whom to reach first
    latino = next(i for i in items if "Latino" in i)
    assert "stores differ in ways nobody recorded" in latino.lower()


def test_takeaways_say_clearly_when_results_predate_the_effects():
    with pytest.raises(KeyError, match="effects"):
        brief.takeaways(typed(Claims, table=REGISTER))
    with pytest.raises(KeyError, match="robust"):
        brief.takeaways(claims(effects=EFFECTS.drop(columns="robust")))


def test_candidate_tactic_is_chosen_by_the_takeaways_rule():
    sentence = brief.candidate_tactic(claims())
    assert "more organizer notes about a worker" in sentence
    assert "only a trial can show which way" in sentence  # notes may follow signing
    no_notes = claims(effects=EFFECTS[EFFECTS["feature"] != "No. Notes"])
    # NDO is sure but fragile: mobilizing, robust, is proposed instead
    assert "mobilizing" in brief.candidate_tactic(no_notes)
    none = claims(effects=EFFECTS[EFFECTS["level"] == "worksite"].assign(robust=False))
    assert "single out no first candidate" in brief.candidate_tactic(none)


def test_trial_sizes_use_the_largest_planned_trials():
    mde = pd.DataFrame({"design": ["worksite"] * 3 + ["worker"] * 3,
                        "n_sites": [10, 40, 20, 10, 20, 30],
                        "mde": [0.62, 0.35, 0.48, 0.24, 0.17, 0.122]})
    text = brief.trial_sizes(typed(Planning, mde=mde, target_power=0.8))
    assert ("randomizes 40 whole stores can detect a rise of 35.0 percentage points in the "
            "signing rate with 80% power") in text
    assert "within 30 stores can detect 12.2 points" in text
    assert "with 90% power" in brief.trial_sizes(typed(Planning, mde=mde, target_power=0.9))
    unreached = mde.assign(mde=np.where(mde["design"] == "worksite", np.nan, mde["mde"]))
    text = brief.trial_sizes(typed(Planning, mde=unreached, target_power=0.8))
    assert "40 whole stores cannot reach 80% power for any effect tried" in text
    assert "12.2 points" in text
    with pytest.raises(KeyError, match="worker"):
        brief.trial_sizes(typed(Planning, mde=mde[mde["design"] == "worksite"],
                                target_power=0.8))


# ---------------------------------------------------------------------- the front page


def prose_without_code(path) -> str:
    """A page's prose with inline code, code blocks, citations, references and links out."""
    document = book.parse_qmd(ROOT / path, ROOT)
    text = "\n".join(block.scan_text for block in document.prose)
    text = re.sub(r"^ {0,3}(`{3,}|~{3,}).*?^ {0,3}\1\s*$", " ", text, flags=re.S | re.M)
    text = re.sub(r"\{[^{}\n]*\}", " ", text)  # attributes: {#sec-x .unnumbered}
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    return book.CITATION.sub(" ", text)


def test_front_page_types_no_number():
    text = prose_without_code("index.qmd")
    assert "brief for organizers" in text
    digits = [m.group(0) for m in re.finditer(r"\S*\d\S*", text)]
    assert not digits, f"index.qmd types numbers in its prose: {digits}"


def test_prose_without_code_keeps_typed_numbers(tmp_path):
    (tmp_path / "_quarto.yml").write_text("project:\n  type: book\n")
    (tmp_path / "index.qmd").write_text(
        "# A {#sec-a}\n\nSee @sec-a [@key] `{python} f(1)` and [x](b.qmd#c2).\n\n"
        "```sh\nmake 2\n```\n\nThe AUC is 0.67.\n")
    document = book.parse_qmd(tmp_path / "index.qmd", tmp_path)
    text = "\n".join(block.scan_text for block in document.prose)
    assert "0.67" in text and "f(1)" not in text


def test_front_page_builds_the_brief_from_results():
    document = book.parse_qmd(ROOT / "index.qmd", ROOT)
    calls = " ".join(document.inline_expressions + [c.source for c in document.code_cells])
    for function in ("brief.honest_headline", "brief.takeaways", "brief.fragile",
                     "brief.candidate_tactic", "brief.trial_sizes",
                     "scorecard.verdict_classes_short"):
        assert f"{function}(" in calls, function
    text = (ROOT / "index.qmd").read_text(encoding="utf-8")
    brief_part = text[text.index("## The brief for organizers"):text.index("\n## ", text.index(
        "## The brief for organizers") + 1)]
    for needed in ("@organizing_essay", "@sec-planning", "@sec-conclusions", "@tbl-claims",
                   "@sec-glossary"):
        assert needed in brief_part, needed
    assert brief_part.index("honest_headline") < brief_part.index("brief.takeaways")


# ---------------------------------------------------------------------------- the glossary

TERMS = ("posterior", "prior", "credible-interval", "probability", "log-odds", "auc",
         "held-out", "baseline", "brier", "percentage-points", "worksite-intercept", "psis-loo",
         "nuts", "association", "average-change", "sd", "reverse-causation", "selection",
         "identified", "multiplicity", "power", "design-effect", "cmh", "mcse")


def glossary_ids() -> set[str]:
    text = (ROOT / GLOSSARY).read_text(encoding="utf-8")
    return {m.group("id") for m in book.ATTRIBUTE_ID.finditer(
        " ".join(m.group("attributes") for m in book.ATTRIBUTE_BLOCK.finditer(text)))}


def test_glossary_is_an_appendix_with_an_anchor_per_term():
    config = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))
    assert GLOSSARY in config["book"]["appendices"]
    ids = glossary_ids()
    assert "sec-glossary" in ids
    for term in TERMS:
        assert f"sec-glossary-{term}" in ids, term


GLOSSARY_LINK = re.compile(r"\[[^\]]+\]\((?P<target>[^)#\s]*glossary\.qmd)#(?P<id>[^)\s]+)\)")


def test_links_into_the_glossary_resolve():
    ids = glossary_ids()
    for chapter in book.list_chapters(ROOT):
        text = (ROOT / chapter).read_text(encoding="utf-8")
        for match in GLOSSARY_LINK.finditer(text):
            target = (ROOT / chapter).parent / match["target"]
            assert target.resolve() == (ROOT / GLOSSARY).resolve(), (chapter, match[0])
            assert match["id"] in ids, (chapter, match[0])


def test_every_glossary_term_the_brief_links_resolves():
    """The links the generated brief writes (relative to the front page) hit glossary ids."""
    ids = glossary_ids()
    text = brief.honest_headline(evaluation({H: 0.844, POOLED: 0.828, BOOST: 0.850, BASE: 0.5}))
    text += brief.takeaways(claims()) + brief.fragile(claims())
    text += (ROOT / "index.qmd").read_text(encoding="utf-8")
    links = re.findall(r"\]\(chapters/glossary\.qmd#([^)\s]+)\)", text)
    assert links and set(links) <= ids, set(links) - ids
    for term in ("reverse-causation", "selection", "sd", "power", "design-effect"):
        assert term in links or f"sec-glossary-{term}" in links, term


def test_the_generated_brief_fits_on_a_page():
    """The generated parts stay short enough for the brief to fit on one page."""
    headline = brief.honest_headline(evaluation(
        {H: 0.844, POOLED: 0.828, BOOST: 0.850, BASE: 0.5},
        without={H: 0.74, POOLED: 0.73, BOOST: 0.745, BASE: 0.5}))
    items = brief.takeaways(claims()).split("\n")
    assert len(headline.split()) <= 190
    assert all(len(item.split()) <= 90 for item in items), max(len(i.split()) for i in items)
