"""The claims register, three-level verdicts, joint tests and percentage points."""

from __future__ import annotations

import json
import re
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from organizing import claims as cl
from organizing.data import SITE_FEATURES, WORKER_FEATURES
from organizing.features import COMPOSITION_SUFFIX, Design, within_between
from organizing.models import ModelId
from organizing.report import narrative, summary, tables

H = ModelId.HEADLINE
REGISTER = {c.id: c for c in cl.REGISTER}


# ------------------------------------------------------------------------ register


def test_register_covers_every_conclusion_the_issue_lists():
    # The six single-feature conclusions the first scorecard had, and the ones it left out.
    for feature in ("NDO (Eigen., Pearson)", "Log(No. organizer convers.)",
                    "Log(Centrality mean)", "Campaign length (Quint. 3)",
                    "Percent Latino in ZIP", "Mobilizing (Pearson)",
                    "Log(Centrality variance)"):
        assert any(feature in c.measures and c.kind == cl.SINGLE for c in cl.REGISTER), feature
    # Centrality variance with the sign the study gave (a positive correlation).
    assert REGISTER["centrality_variance"].direction == +1
    assert REGISTER["mobilizing"].direction == +1
    # Larger worksites: both measures the study names, tested jointly, negative.
    large = REGISTER["large_worksites"]
    assert large.kind == cl.JOINT and large.direction == -1
    assert set(large.measures) == {"Log(No. workers discovered)", "Log(No. workers contacted)"}
    assert REGISTER["two_clusters"].kind == cl.CLUSTERING
    assert REGISTER["model_fit"].kind == cl.MODEL_FIT
    assert "0.9356" in REGISTER["model_fit"].quote and "0.8274" in REGISTER["model_fit"].quote
    assert REGISTER["worksite_over_worker"].kind == cl.VARIANCE
    assert {REGISTER[k].kind for k in ("size_notes", "size_early_contact", "size_attention")} == {
        cl.SIZE}
    # Every bullet of the README's "Implications for Organizing", and the report's
    # group-level recommendation.
    implications = [c for c in cl.REGISTER
                    if ("README", "Implications for Organizing") in c.sources]
    assert len(implications) == 3
    assert any(c.id == "recommend_group_level" for c in cl.REGISTER)
    # Every section of the report that concludes something, and the README's findings.
    sections = {s for c in cl.REGISTER for s in c.sources}
    for section in (("report", "Abstract"), ("report", "Regression Results"),
                    ("report", "Clustering Results"), ("report", "Conclusion"),
                    ("README", "Key Findings"), ("README", "Gaussian Mixture Model Analysis"),
                    ("README", "Results")):
        assert section in sections, section


def test_register_is_well_formed():
    ids = [c.id for c in cl.REGISTER]
    assert len(ids) == len(set(ids))
    assert len({c.claim for c in cl.REGISTER}) == len(ids)  # claims are looked up by wording
    known = set(SITE_FEATURES) | set(WORKER_FEATURES)
    for c in cl.REGISTER:
        assert c.kind in cl.KINDS and c.quote and c.sources
        assert all(doc in cl.SOURCE_URLS for doc, _ in c.sources)
        assert set(c.measures) <= known, c.id
        if c.kind == cl.UNTESTABLE:
            assert c.reason and c.direction == 0
        else:
            assert c.direction in (-1, 1)
    frame = cl.register_frame()
    assert list(frame["id"]) == ids and frame["source"].str.len().min() > 0


def test_a_claim_needs_a_reason_to_be_untestable_and_a_known_kind():
    with pytest.raises(ValueError, match="reason"):
        cl.Claim("x", (("report", "Abstract"),), "X", "x", cl.UNTESTABLE)
    with pytest.raises(ValueError, match="unknown kind"):
        cl.Claim("x", (("report", "Abstract"),), "X", "x", "vibes", direction=1)


# ------------------------------------------------------------------ verdicts


def _design(rng, n_sites=30, n_workers=600, site_corr=0.0):
    names = tuple(SITE_FEATURES)
    q = len(names)
    site_x = rng.normal(size=(n_sites, q))
    i, j = names.index("Log(No. workers discovered)"), names.index("Log(No. workers contacted)")
    site_x[:, j] = site_corr * site_x[:, i] + np.sqrt(1 - site_corr ** 2) * site_x[:, j]
    worker_names = tuple(WORKER_FEATURES)
    return Design(worker_x=rng.normal(size=(n_workers, len(worker_names))), site_x=site_x,
                  site_index=rng.integers(0, n_sites, n_workers),
                  signed=rng.integers(0, 2, n_workers).astype(float),
                  worker_features=worker_names, site_features=names)


def _draws(rng, design, n=4000, sd=0.3):
    d, s, p = n, design.site_x.shape[0], design.worker_x.shape[1]
    return {"beta_group": rng.normal(0, sd, (d, design.site_x.shape[1])),
            "beta_individual": rng.normal(0, sd, (d, s, p))}


@pytest.mark.parametrize(("effect", "expected"), [
    (1.0, "supported"), (-1.0, "contradicted"), (0.05, "inconclusive")])
def test_a_single_coefficient_with_a_known_effect_gets_each_verdict(effect, expected):
    rng = np.random.default_rng(1)
    design = _design(rng)
    draws = _draws(rng, design)
    j = design.site_features.index("NDO (Eigen., Pearson)")
    draws["beta_group"][:, j] += effect
    row = cl.evaluate_claim(REGISTER["ndo"], H, draws, design, np.zeros(30))
    assert row["verdict"] == expected
    assert row["prob_claimed"] == pytest.approx(np.mean(draws["beta_group"][:, j] > 0))
    # A claim of the opposite sign on the same draws.
    row = cl.evaluate_claim(REGISTER["latino"], H, {**draws, "beta_group": -draws["beta_group"][
        :, [j if k == design.site_features.index("Percent Latino in ZIP") else k
            for k in range(len(design.site_features))]]}, design, np.zeros(30))
    assert row["verdict"] == expected


@pytest.mark.parametrize(("slope", "expected"), [
    (1.0, "supported"), (-1.0, "contradicted"), (0.0, "inconclusive")])
def test_a_size_interaction_with_a_known_effect_gets_each_verdict(slope, expected):
    rng = np.random.default_rng(2)
    design = _design(rng)
    draws = _draws(rng, design, n=1000)
    size = rng.normal(size=30)
    notes = design.worker_features.index("No. Notes")
    draws["beta_individual"][:, :, notes] += slope * size
    row = cl.evaluate_claim(REGISTER["size_notes"], H, draws, design, size)
    assert row["verdict"] == expected
    # Early contact is minus the latest quartile's coefficient.
    latest = design.worker_features.index("Time To First Convo (Quart. 4)")
    draws["beta_individual"][:, :, latest] -= 2 * slope * size
    row = cl.evaluate_claim(REGISTER["size_early_contact"], H, draws, design, size)
    assert row["verdict"] == expected


@pytest.mark.parametrize("size", [np.full(30, 4.0), np.r_[np.nan, np.arange(29.0)]])
def test_a_size_claim_without_usable_sizes_is_not_evaluated(size):
    rng = np.random.default_rng(2)
    design = _design(rng)
    draws = _draws(rng, design, n=100)
    row = cl.evaluate_claim(REGISTER["size_notes"], H, draws, design, size)
    assert row["verdict"] == cl.NOT_EVALUATED and "three worksites" in row["reason"]


def test_verdict_thresholds_are_symmetric_and_refuse_non_probabilities():
    assert cl.verdict(cl.SUPPORT_THRESHOLD) == "supported"
    assert cl.verdict(1 - cl.SUPPORT_THRESHOLD) == "contradicted"
    assert cl.verdict(0.5) == "inconclusive"
    with pytest.raises(ValueError, match="probability"):
        cl.verdict(float("nan"))


# ------------------------------------------------------------------ joint tests


def test_joint_weights_follow_the_correlation():
    assert cl.joint_weights(np.eye(3)) == pytest.approx(np.full(3, 1 / np.sqrt(3)))
    assert cl.joint_weights(np.ones((2, 2))) == pytest.approx([1.0, 1.0])
    assert cl.joint_weights([[1.0]]) == pytest.approx([1.0])
    r = np.array([[1, 0.9, 0], [0.9, 1, 0], [0, 0, 1]])
    c = cl.joint_weights(r)
    assert c == pytest.approx(r.sum(1) / np.sqrt(r.sum()))
    with pytest.raises(ValueError, match="unit diagonal"):
        cl.joint_weights(np.array([[2.0, 0], [0, 1]]))


def test_joint_weights_are_the_shift_of_each_measure_per_sd_of_the_composite():
    rng = np.random.default_rng(3)
    cov = np.array([[1, 0.8, 0.1], [0.8, 1, 0.3], [0.1, 0.3, 1]])
    z = rng.multivariate_normal(np.zeros(3), cov, 200_000)
    z = (z - z.mean(0)) / z.std(0)
    composite = z.sum(1) / z.sum(1).std()
    slopes = [np.polyfit(composite, z[:, q], 1)[0] for q in range(3)]
    c = cl.joint_weights(np.corrcoef(z, rowvar=False))
    assert c == pytest.approx(slopes, abs=1e-6)


def test_the_joint_test_uses_the_correlation_where_it_matters():
    """Two nearly duplicate measures pull one way, a third, unrelated one the other: the
    composite counts the shared factor by its weight in the standardized sum, so the
    sign differs from a test that treats the measures as independent."""
    rng = np.random.default_rng(4)
    n = 5000
    common = rng.normal(size=400)
    x = np.column_stack([common + 0.1 * rng.normal(size=400),
                         common + 0.1 * rng.normal(size=400), rng.normal(size=400)])
    beta = np.column_stack([rng.normal(-0.6, 0.05, n), rng.normal(-0.6, 0.05, n),
                            rng.normal(1.5, 0.05, n)])
    signs = np.ones(3)
    with_r = cl.combined_effect(beta, x, signs)
    independent = beta @ cl.joint_weights(np.eye(3))
    assert np.mean(with_r < 0) > 0.99  # the composite goes down
    assert np.mean(independent < 0) < 0.01  # ignoring the correlation says it goes up


def test_large_worksites_are_judged_on_both_measures():
    """Discovered alone is inconclusive; with contacted, the combined effect is clear."""
    rng = np.random.default_rng(5)
    design = _design(rng, site_corr=0.8)
    draws = _draws(rng, design, sd=0.05)
    names = design.site_features
    draws["beta_group"][:, names.index("Log(No. workers discovered)")] = rng.normal(
        -0.1, 0.4, 4000)
    draws["beta_group"][:, names.index("Log(No. workers contacted)")] = rng.normal(
        -1.0, 0.2, 4000)
    joint = cl.evaluate_claim(REGISTER["large_worksites"], H, draws, design, np.zeros(30))
    assert joint["verdict"] == "supported"
    single = cl.Claim("d", (("report", "Abstract"),), "D", "d", cl.SINGLE,
                      ("Log(No. workers discovered)",), -1)
    assert cl.evaluate_claim(single, H, draws, design, np.zeros(30))["verdict"] == (
        "inconclusive")
    j = [names.index("Log(No. workers discovered)"), names.index("Log(No. workers contacted)")]
    r = np.corrcoef(design.site_x[:, j], rowvar=False)
    expected = draws["beta_group"][:, j] @ cl.joint_weights(r)
    assert joint["prob_claimed"] == pytest.approx(np.mean(expected < 0))


# ---------------------------------------------------- other kinds of claim


def test_model_fit_clustering_variance_ranking_and_untestable_claims():
    rng = np.random.default_rng(6)
    design = _design(rng)
    draws = _draws(rng, design, n=500)
    ndo = design.site_features.index("NDO (Eigen., Pearson)")
    draws["beta_group"][:, ndo] += 3.0
    metrics = pd.DataFrame({"model": ["headline"], "accuracy": [0.94],
                            "baseline_accuracy": [0.83], "n": [3000]})
    variance = pd.DataFrame([{"term": "features: worksite minus worker", "mean": -0.5,
                              "q5": -0.8, "q95": -0.2, "prob_positive": 0.01}])
    comparison = pd.DataFrame({"K": [1, 2, 3], "heldout_lpd": [-126.5, -117.3, -118.0],
                               "diff_vs_one": [0.0, 9.2, 8.5],
                               "diff_vs_one_se": [0.0, 3.0, 3.1]})
    run = SimpleNamespace(verdict="clusters supported", comparison=comparison)
    size = rng.normal(size=30)
    table = cl.evaluate_claims(H, draws, design, size, variance=variance,
                               metrics=metrics, clustering=run).set_index("id")
    assert table.loc["model_fit", "verdict"] == "supported"
    assert table.loc["model_fit", "mean"] == pytest.approx(0.11)
    assert table.loc["ndo_strongest", "verdict"] == "supported"
    assert table.loc["worksite_over_worker", "verdict"] == "contradicted"
    assert table.loc["recommend_group_level", "verdict"] == "contradicted"
    assert table.loc["two_clusters", "verdict"] == "supported"
    assert table.loc["two_clusters", "mean"] == pytest.approx(9.2)
    assert np.isnan(table.loc["two_clusters", "prob_claimed"])
    untestable = table[table["kind"] == cl.UNTESTABLE]
    assert (untestable["verdict"] == cl.NOT_TESTABLE).all() and (untestable["reason"] != "").all()
    for verdict, expected in (("no clusters", "contradicted"), ("inconclusive", "inconclusive")):
        frame = cl.with_clustering(table.reset_index(),
                                   SimpleNamespace(verdict=verdict, comparison=comparison), H)
        assert frame.set_index("id").loc["two_clusters", "verdict"] == expected
    # Without metrics or clustering, those claims are not evaluated, with a reason.
    bare = cl.evaluate_claims(H, draws, design, size).set_index("id")
    for claim in ("model_fit", "two_clusters", "worksite_over_worker"):
        assert bare.loc[claim, "verdict"] == cl.NOT_EVALUATED and bare.loc[claim, "reason"]


def test_the_ranking_claim_ranks_the_worksite_features_only():
    """In the headline design a worksite mean of a worker feature is a worksite column, but
    not a worksite feature: a larger |γ| does not take NDO's rank."""
    rng = np.random.default_rng(8)
    design = within_between(_design(rng))
    draws = _draws(rng, design, n=500)
    names = design.site_features
    draws["beta_group"][:, names.index("NDO (Eigen., Pearson)")] += 3.0
    draws["beta_group"][:, names.index(f"No. Notes{COMPOSITION_SUFFIX}")] += 6.0
    row = cl.evaluate_claim(REGISTER["ndo_strongest"], H, draws, design, np.zeros(30))
    assert row["verdict"] == "supported" and row["mean"] > 0.95


def test_a_measure_missing_or_constant_in_a_variant_is_not_evaluated():
    rng = np.random.default_rng(7)
    design = _design(rng)
    draws = _draws(rng, design, n=200)
    notes = design.worker_features.index("No. Notes")
    keep = [k for k in range(len(design.worker_features)) if k != notes]
    without = Design(worker_x=design.worker_x[:, keep], site_x=design.site_x,
                     site_index=design.site_index, signed=design.signed,
                     worker_features=tuple(design.worker_features[k] for k in keep),
                     site_features=design.site_features)
    reduced = {**draws, "beta_individual": draws["beta_individual"][:, :, keep]}
    table = cl.evaluate_claims(H, reduced, without, np.arange(30.0)).set_index("id")
    for claim in ("size_notes", "size_attention", "recommend_individual_outreach"):
        assert table.loc[claim, "verdict"] == cl.NOT_EVALUATED
        assert "No. Notes" in table.loc[claim, "reason"]
    assert table.loc["size_early_contact", "verdict"] in cl.VERDICTS
    # Padded back as a zero column with zero slopes (as a sensitivity analysis may do).
    padded = Design(worker_x=design.worker_x.copy(), site_x=design.site_x,
                    site_index=design.site_index, signed=design.signed,
                    worker_features=design.worker_features, site_features=design.site_features)
    padded.worker_x[:, notes] = 0.0
    zeroed = {**draws, "beta_individual": draws["beta_individual"].copy()}
    zeroed["beta_individual"][:, :, notes] = 0.0
    table = cl.evaluate_claims(H, zeroed, padded, np.arange(30.0)).set_index("id")
    assert table.loc["size_notes", "verdict"] == cl.NOT_EVALUATED
    assert table.loc["size_attention", "verdict"] == cl.NOT_EVALUATED


# ------------------------------------------------------------ percentage points


def test_percentage_points_match_a_direct_computation():
    rng = np.random.default_rng(8)
    design = _design(rng, n_sites=5, n_workers=50)
    draws = _draws(rng, design, n=300, sd=1.0)
    p0 = 0.17
    steps = {name: (1.0, "+1 SD") for name in design.site_features + design.worker_features}
    steps["Campaign length (Quint. 3)"] = (2.5, "from Campaign length (Quint. 1)")
    table = cl.percentage_point_effects(draws, design, p0, steps).set_index("feature")
    j = design.site_features.index("Campaign length (Quint. 3)")
    direct = [100 * (1 / (1 + np.exp(-(np.log(p0 / (1 - p0)) + 2.5 * b))) - p0)
              for b in draws["beta_group"][:, j]]
    row = table.loc["Campaign length (Quint. 3)"]
    assert row["mean"] == pytest.approx(np.mean(direct))
    assert row["q5"] == pytest.approx(np.quantile(direct, 0.05))
    assert row["q95"] == pytest.approx(np.quantile(direct, 0.95))
    notes = design.worker_features.index("No. Notes")
    average = draws["beta_individual"][:, :, notes].mean(axis=1)
    direct = 100 * (1 / (1 + np.exp(-(np.log(p0 / (1 - p0)) + average))) - p0)
    assert table.loc["No. Notes", "mean"] == pytest.approx(direct.mean())
    assert table.loc["No. Notes", "level"] == "worker"
    # No effect is no change, and the change is bounded by the room above and below p0.
    assert cl.probability_change(np.zeros(3), p0) == pytest.approx(np.zeros(3))
    assert cl.probability_change(np.array([50.0, -50.0]), p0) == pytest.approx(
        [1 - p0, -p0], abs=1e-9)
    with pytest.raises(ValueError, match="strictly between"):
        cl.probability_change(np.zeros(1), 1.0)


def test_feature_steps_move_binary_features_from_0_to_1_and_others_by_one_sd():
    rng = np.random.default_rng(9)
    level = (rng.random(400) < 0.3).astype(float)
    gender = rng.choice([0.0, 0.5, 1.0], 400)
    continuous = rng.normal(size=400)
    names = ("Time To First Convo (Quart. 2)", "Is Male", "No. Notes")
    steps = cl.feature_steps(np.column_stack([level, gender, continuous]), names)
    assert steps["Time To First Convo (Quart. 2)"] == (
        pytest.approx(1 / level.std()), "from Time To First Convo (Quart. 1)")
    assert steps["Is Male"] == (pytest.approx(1 / gender.std()), "from 0 to 1")
    assert steps["No. Notes"] == (1.0, "+1 SD")


# ------------------------------------------------------------ presentation


def _claims():
    rng = np.random.default_rng(10)
    design = _design(rng)
    draws = _draws(rng, design, n=400)
    draws["beta_group"][:, design.site_features.index("NDO (Eigen., Pearson)")] += 1.0
    draws["beta_group"][:, design.site_features.index("Percent Latino in ZIP")] += 1.0
    metrics = pd.DataFrame({"model": ["headline", "corrected"], "accuracy": [0.94, 0.9],
                            "baseline_accuracy": [0.83, 0.83], "n": [3000, 3000]})
    variance = pd.DataFrame([{"term": "features: worksite minus worker", "mean": 0.1,
                              "q5": -0.2, "q95": 0.4, "prob_positive": 0.7}])
    size = rng.normal(size=30)
    headline = cl.evaluate_claims(H, draws, design, size, variance=variance, metrics=metrics)
    corrected = cl.evaluate_claims(ModelId.CORRECTED, {**draws, "beta_group": -draws[
        "beta_group"]}, design, size, variance=variance, metrics=metrics)
    steps = cl.feature_steps(np.column_stack([design.worker_x, ]), design.worker_features)
    steps.update(cl.feature_steps(design.site_x, design.site_features))
    effects = cl.percentage_point_effects(draws, design, 0.2, steps)
    return SimpleNamespace(table=headline, by_model=pd.concat([headline, corrected]),
                           effects=effects, signing_rate=0.2)


def test_summary_keeps_claims_with_probability_and_source():
    claims = _claims()
    tested, not_tested = summary.claims_summary(claims)
    json.dumps([tested, not_tested], allow_nan=False)
    assert {c["id"] for c in tested} | {c["id"] for c in not_tested} == set(REGISTER)
    for c in tested:
        assert {"claim", "feature", "verdict", "verdict_by_model", "prob_claimed",
                "source"} <= set(c)
        assert c["verdict"] in cl.VERDICTS and set(c["verdict_by_model"]) == {
            "headline", "corrected"}
    assert {c["verdict"] for c in not_tested} <= {cl.NOT_TESTABLE, cl.NOT_EVALUATED}
    assert all(c["reason"] for c in not_tested)


def test_sentences_name_their_claims_and_the_verdict_classes():
    claims = _claims()
    tested = claims.table[claims.table["verdict"].isin(cl.VERDICTS)]
    bullets = narrative.claim_sentences(claims).split("\n\n")
    assert len(bullets) == len(tested)
    for bullet, (_, row) in zip(bullets, tested.iterrows(), strict=True):
        assert bullet.startswith(f"- *{row['claim']}*") and row["source"] in bullet
    classes = narrative.verdict_classes(claims)
    for _, row in tested.iterrows():
        assert f"“{row['claim']}”" in classes
    assert "*supported*: " in classes and "Network-driven organizing" in classes
    short = narrative.verdict_classes_short(claims)
    for _, row in tested.iterrows():
        named = row["verdict"] in ("supported", "contradicted")
        assert (f"“{row['claim']}”" in short) == named
    inconclusive = int((tested["verdict"] == "inconclusive").sum())
    if inconclusive:
        assert f"The other {inconclusive} " in short and "*inconclusive*" in short
    untested = narrative.untested_claims(claims).split("\n\n")
    assert len(untested) == len(claims.table) - len(tested)
    assert "95%" in narrative.verdict_rule() and "5%" in narrative.verdict_rule()
    # The clustering claim is "not evaluated" under the corrected model: not a change.
    assert narrative.changed_verdicts(claims).endswith(f"of the {len(tested)}")
    assert narrative.effect_points(claims, "No. Notes").endswith("points")


def test_scorecard_marks_the_verdicts_a_sensitivity_analysis_moves():
    claims = _claims()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        html = tables.claims_table(claims).as_raw_html()
        effects = tables.effects_table(claims).as_raw_html()
        matrix = tables.verdict_matrix(claims).as_raw_html()
    for page in (html, effects, matrix):
        assert not re.search(r">\s*(nan|NaN|None|n/a%?)\s*<", page)  # undefined prints blank
    for claim in claims.table["claim"]:
        assert claim.replace("'", "&#x27;") in html
    assert "Moves under" in html and "P(as claimed)" in html
    assert cl.moved_verdicts(claims.table, None) == {c: [] for c in claims.table["claim"]}
    ndo = REGISTER["ndo"].claim
    sensitivity = SimpleNamespace(verdicts=pd.DataFrame({
        "variant": ["no_notes", "no_notes", "centrality"],
        "claim": [ndo, REGISTER["latino"].claim, ndo],
        "verdict": ["inconclusive", "contradicted", "not evaluated"],
        "changed": [True, False, False]}))
    moved = cl.moved_verdicts(claims.table, sensitivity)
    assert moved[ndo] == ["no_notes"] and moved[REGISTER["latino"].claim] == []
    html = tables.claims_table(claims, sensitivity).as_raw_html()
    assert narrative.sensitivity_label("no_notes") in html
    assert narrative.sensitivity_label("no_notes") in narrative.claim_sentences(
        claims, sensitivity=sensitivity)
    # Without a ``changed`` column, a move is a change between two of the three levels.
    bare = SimpleNamespace(verdicts=sensitivity.verdicts.drop(columns="changed"))
    headline_ndo = claims.table.set_index("id").loc["ndo", "verdict"]
    assert cl.moved_verdicts(claims.table, bare)[ndo] == (
        ["no_notes"] if headline_ndo != "inconclusive" else [])
    assert "not testable" not in matrix
    assert "Change (points)" in effects and "No. Notes" in effects


def test_the_claims_section_round_trips_through_the_cache_codec():
    from organizing.results import codec
    from organizing.results.sections import Claims

    c = _claims()
    section = Claims(table=c.table, by_model=c.by_model.reset_index(drop=True),
                     effects=c.effects, signing_rate=c.signing_rate)
    arrays: dict = {}
    tree = json.loads(json.dumps(codec.encode(section, arrays)))
    back = codec.decode(Claims, tree, arrays)
    pd.testing.assert_frame_equal(back.table, section.table, check_dtype=False)
    pd.testing.assert_frame_equal(back.effects, section.effects, check_dtype=False)
    assert back.signing_rate == section.signing_rate
