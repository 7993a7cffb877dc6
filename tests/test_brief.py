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


def folds(auc: dict, brier: dict, n_folds: int = 5) -> pd.DataFrame:
    rows = [{"model": m.value, "fold": k, "auc": auc[m], "brier": brier[m],
             "log_loss": 2 * brier[m]} for m in auc for k in range(n_folds)]
    return pd.DataFrame(rows)


def evaluation(auc: dict, brier: dict) -> Evaluation:
    metrics = pd.DataFrame([{"model": m.value, "auc": auc[m] + 0.1} for m in auc])
    return typed(Evaluation, metrics=metrics, folds=folds(auc, brier))


H, BASE, POOLED = ModelId.HEADLINE, ModelId.INTERCEPT_ONLY, ModelId.POOLED_LOGISTIC


def test_honest_headline_compares_with_both_baselines():
    text = brief.honest_headline(evaluation({H: 0.67, BASE: 0.5, POOLED: 0.828},
                                            {H: 0.16, BASE: 0.14, POOLED: 0.11}))
    for number in ("0.670", "0.500", "0.828", "0.160", "0.140", "0.110"):
        assert number in text
    assert "five folds" in text or "5 folds" in text
    assert "worse than the baseline's 0.140" in text
    assert "worse than simply assuming the campaign's average" in text


@pytest.mark.parametrize(("auc", "brier", "conclusion"), [
    (0.9, 0.08, "better guide than a plain regression"),
    (0.7, 0.12, "no better a guide than a plain regression"),
    (0.801, 0.101, "no better a guide"),
    (0.9, 0.12, "neither is clearly the better guide"),
])
def test_honest_headline_says_when_the_model_is_the_better_guide(auc, brier, conclusion):
    text = brief.honest_headline(evaluation({H: auc, BASE: 0.5, POOLED: 0.8},
                                            {H: brier, BASE: 0.14, POOLED: 0.1}))
    assert conclusion in text


def test_honest_headline_needs_the_baselines():
    partial = typed(Evaluation, folds=folds({H: 0.7, POOLED: 0.8}, {H: 0.1, POOLED: 0.1}))
    with pytest.raises(KeyError, match="intercept_only"):
        brief.honest_headline(partial)


# ------------------------------------------------------------------------- the takeaways


def effect(feature, level, mean, q5, q95, prob_positive, change=brief.ONE_SD):
    return {"level": level, "feature": feature, "change": change, "mean": mean, "q5": q5,
            "q95": q95, "prob_positive": prob_positive}


EFFECTS = pd.DataFrame([
    effect("No. Notes", "worker", 25.3, 23.1, 27.4, 1.0),
    effect("Time To First Convo (Quart. 2)", "worker", -4.2, -5.5, -3.0, 0.0,
           "from Time To First Convo (Quart. 1)"),
    effect("Time To First Convo (Quart. 3)", "worker", -9.1, -10.2, -8.0, 0.0,
           "from Time To First Convo (Quart. 1)"),
    effect("Is Male", "worker", 0.1, -0.6, 0.8, 0.6, "from 0 to 1"),
    effect("NDO (Eigen., Pearson)", "worksite", 4.1, 1.5, 6.8, 0.97),
    effect("Log(No. organizer convers.)", "worksite", -2.0, -5.0, 1.9, 0.23),
    effect("Percent Latino in ZIP", "worksite", 1.6, -0.6, 3.9, 0.86),
    effect("Log(Centrality mean)", "worksite", 2.2, -2.1, 6.7, 0.77),
    effect("Log(No. workers discovered)", "worksite", 0.2, -3.9, 4.6, 0.53),
])
REGISTER = pd.DataFrame([
    {"id": "ndo", "claim": "Network-driven organizing goes with signing",
     "verdict": "supported", "prob_claimed": 0.97},
    {"id": "conversations", "claim": "More organizer conversations go with signing",
     "verdict": "inconclusive", "prob_claimed": 0.23},
    {"id": "worksite_over_worker",
     "claim": "Worksite features predict signing better than individual ones",
     "verdict": "contradicted", "prob_claimed": 0.0},
    {"id": "latino", "claim": "A higher Latino share in the ZIP code goes with less signing",
     "verdict": "inconclusive", "prob_claimed": 0.14},
    {"id": "correlational_only", "claim": "The findings are correlational",
     "verdict": "not testable", "prob_claimed": float("nan")},
])


def claims(effects=EFFECTS, register=REGISTER) -> Claims:
    return typed(Claims, table=register, effects=effects)


def test_takeaways_come_from_the_effects_most_certain_first():
    rows = brief.takeaway_rows(claims())
    features = list(rows["feature"])
    assert features[:2] == ["No. Notes", "Time To First Convo (Quart. 3)"]
    # one level per one-hot group: the larger of two equally certain quartile effects
    assert "Time To First Convo (Quart. 2)" not in features
    assert features[2] == "NDO (Eigen., Pearson)"
    assert len(rows) == brief.MOST_TAKEAWAYS
    assert "Log(No. workers discovered)" not in features  # the least certain is left out


def test_each_takeaway_has_a_size_a_certainty_and_a_caveat():
    text = brief.takeaways(claims())
    items = text.split("\n")
    assert 5 <= len(items) <= 7 and all(item.startswith("- ") for item in items)
    for item in items:
        assert re.search(r"\d+\.\d percentage points", item), item
        assert re.search(r"\((?:\d+%|more than 99%|less than 1%)\)", item), item
        assert "*Not shown:* that it causes signing" in item
    notes = items[0]
    assert "More organizer notes" in notes and "a rise of 25.3 percentage points" in notes
    assert "(90% interval of the change 23.1 to 27.4)" in notes
    assert "** (one standard deviation more): a rise" in notes
    assert "virtually certain (more than 99%) that it is positive" in notes
    assert "organizers chose whom to talk to" in notes
    late = items[1]
    assert "a drop of 9.1 percentage points" in late and "that it is negative" in late
    assert "(90% interval of the change −10.2 to −8.0)" in late
    assert "standard deviation" not in late  # a level is compared with its reference
    ndo = items[2]
    assert "very likely (97%) that it is positive" in ndo and "stores differ" in ndo


def test_takeaways_follow_the_results():
    flipped = EFFECTS.assign(mean=-EFFECTS["mean"], q5=-EFFECTS["q95"], q95=-EFFECTS["q5"],
                             prob_positive=1 - EFFECTS["prob_positive"])
    first = brief.takeaways(claims(effects=flipped)).split("\n")[0]
    assert "a drop of 25.3 percentage points" in first and "that it is negative" in first


def test_takeaways_say_clearly_when_results_predate_the_register():
    old = typed(Claims, table=REGISTER)
    with pytest.raises(KeyError, match="before the claims register"):
        brief.takeaways(old)
    with pytest.raises(KeyError, match="prob_positive"):
        brief.takeaways(claims(effects=EFFECTS.drop(columns="prob_positive")))


def test_candidate_tactic_is_the_most_certain_positive_tactic():
    sentence = brief.candidate_tactic(claims())
    assert sentence.startswith("Of the tactics in the records, more organizer attention")
    assert "virtually certain (more than 99%)" in sentence
    no_notes = claims(effects=EFFECTS[EFFECTS["feature"] != "No. Notes"])
    assert "network-driven organizing" in brief.candidate_tactic(no_notes)
    assert brief.candidate_tactic(claims(effects=EFFECTS[EFFECTS["level"] == "x"])) == ""


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
    for function in ("brief.honest_headline", "brief.takeaways", "brief.candidate_tactic",
                     "brief.trial_sizes", "narrative.verdict_classes_short"):
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
         "nuts", "association")


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


def test_the_generated_brief_fits_on_a_page():
    """The generated parts stay short enough for the brief to fit on one page."""
    headline = brief.honest_headline(evaluation({H: 0.67, BASE: 0.5, POOLED: 0.828},
                                                {H: 0.16, BASE: 0.14, POOLED: 0.11}))
    items = brief.takeaways(claims()).split("\n")
    assert len(headline.split()) <= 110
    assert all(len(item.split()) <= 55 for item in items), max(len(i.split()) for i in items)
