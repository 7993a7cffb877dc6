"""The claims register, identification, verdicts, joint tests and distinct tests."""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from organizing import claims as cl
from organizing.data import SITE_FEATURES, WORKER_FEATURES
from organizing.features import (
    COMPOSITION_SUFFIX,
    Design,
    aliased_columns,
    identified,
    standardize,
    within_between,
)
from organizing.models import ModelId
from organizing.report import effect_sizes, labels, scorecard, summary
from organizing.report import formatting as fmt
from organizing.results.sections import Claims

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
    assert REGISTER["worker_scale_small"].kind == cl.SPREAD
    # Recommendations rest on the findings they come from (counted once).
    assert REGISTER["recommend_group_level"].follows == "worksite_over_worker"
    assert REGISTER["recommend_individual_outreach"].follows == "size_notes"
    assert REGISTER["recommend_contact_timing"].follows == "size_early_contact"
    assert REGISTER["recommend_size_strategies"].follows == "size_attention"
    assert REGISTER["clusters_by_size"].follows == "two_clusters"
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
        if c.follows:  # a follower rests on a finding that is itself tested
            assert REGISTER[c.follows].kind == c.kind and not REGISTER[c.follows].follows
    assert all(c.source for c in cl.REGISTER)  # every claim says where the study made it


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
    site_x = (site_x - site_x.mean(0)) / site_x.std(0)
    worker_names = tuple(WORKER_FEATURES)
    return Design(worker_x=rng.normal(size=(n_workers, len(worker_names))), site_x=site_x,
                  site_index=rng.integers(0, n_sites, n_workers),
                  signed=rng.integers(0, 2, n_workers).astype(float),
                  worker_features=worker_names, site_features=names)


def _draws(rng, design, n=4000, sd=0.3, tau=1.0):
    """Posterior-like draws whose coefficients have sd ``sd`` and whose worksite scale τ_β
    is ``tau`` (so a coefficient's identification ratio is about sd / tau)."""
    d, s, p = n, design.site_x.shape[0], design.worker_x.shape[1]
    return {"beta_group": rng.normal(0, sd, (d, design.site_x.shape[1])),
            "beta_group_scale": np.full(d, tau),
            "beta_individual": rng.normal(0, sd, (d, s, p)),
            "beta_individual_mean": rng.normal(0, sd, (d, p)),
            "beta_individual_scale": np.abs(rng.normal(1.0, 0.05, (d, p))),
            "site_effect": rng.normal(0, 1.0, (d, s))}


def _one(claim_id, draws, design, **kwargs):
    return cl.evaluate_claims(H, draws, design, **kwargs).set_index("id").loc[claim_id]


@pytest.mark.parametrize(("effect", "expected"), [
    (1.0, "supported"), (-1.0, "contradicted"), (0.05, "inconclusive")])
def test_a_single_coefficient_with_a_known_effect_gets_each_verdict(effect, expected):
    rng = np.random.default_rng(1)
    design = _design(rng)
    draws = _draws(rng, design)
    j = design.site_features.index("NDO (Eigen., Pearson)")
    draws["beta_group"][:, j] += effect
    row = _one("ndo", draws, design)
    assert row["verdict"] == expected
    assert row["prob_claimed"] == pytest.approx(np.mean(draws["beta_group"][:, j] > 0))
    assert row["identification"] == pytest.approx(0.3, abs=0.02)
    # A claim of the opposite sign ("less signing") on the mirrored coefficient.
    k = design.site_features.index("Percent Latino in ZIP")
    draws["beta_group"][:, k] = -draws["beta_group"][:, j]
    assert _one("latino", draws, design)["verdict"] == expected


def test_a_quantity_whose_posterior_is_its_reference_is_not_identified():
    """Posterior draws of β equal to draws from N(0, τ_β): the data said nothing."""
    rng = np.random.default_rng(2)
    design = _design(rng)
    draws = _draws(rng, design, sd=1.0, tau=1.0)
    j = design.site_features.index("NDO (Eigen., Pearson)")
    draws["beta_group"][:, j] += 2.5  # even far from zero: the spread is the prior's
    row = _one("ndo", draws, design)
    assert row["identification"] == pytest.approx(1.0, abs=0.05)
    assert row["verdict"] == cl.NOT_IDENTIFIED
    assert cl.decide(0.999, 0.95) == cl.NOT_IDENTIFIED
    assert cl.decide(0.999, 0.2) == "supported" and cl.decide(0.999) == "supported"


def test_verdict_thresholds_are_symmetric_and_refuse_non_probabilities():
    assert cl.verdict(cl.SUPPORT_THRESHOLD) == "supported"
    assert cl.verdict(1 - cl.SUPPORT_THRESHOLD) == "contradicted"
    assert cl.verdict(0.5) == "inconclusive"
    with pytest.raises(ValueError, match="probability"):
        cl.verdict(float("nan"))


# ------------------------------------------------------------------ identification


def _collinear(rng, n_sites=40):
    """A worksite design with Log(Mean degree) = Log(No. edges) − Log(No. workers
    discovered) exactly, as in the study's file."""
    design = _design(rng, n_sites=n_sites, n_workers=800)
    names = list(design.site_features)
    raw = design.site_x.copy()
    raw[:, names.index("Log(Mean degree)")] = (raw[:, names.index("Log(No. edges)")]
                                               - raw[:, names.index("Log(No. workers discovered)")])
    return replace(design, site_x=standardize(raw))


def test_an_exactly_collinear_worksite_column_is_left_out_with_its_identity():
    rng = np.random.default_rng(3)
    design = _collinear(rng)
    kept = identified(design)
    assert "Log(Mean degree)" not in kept.site_features
    assert kept.site_x.shape[1] == design.site_x.shape[1] - 1
    (alias,) = kept.aliases
    assert alias.name == "Log(Mean degree)" and alias.residual_sd < 1e-8
    assert set(alias.on) == {"Log(No. edges)", "Log(No. workers discovered)"}
    assert "Log(Mean degree) =" in alias.identity()
    # The kept design is well conditioned; the full one is singular.
    assert np.linalg.cond(kept.site_x) < 1e3 < np.linalg.cond(design.site_x)
    # A near-duplicate (0.1% noise) goes too; a merely correlated column stays.
    noisy = design.site_x.copy()
    j = design.site_features.index("Log(Centrality mean)")
    i = design.site_features.index("Log(Centrality variance)")
    noisy[:, j] = noisy[:, i] + 0.001 * rng.normal(size=len(noisy))
    assert "Log(Centrality mean)" in {a.name for a in aliased_columns(
        standardize(noisy), design.site_features)}
    noisy[:, j] = 0.9 * noisy[:, i] + 0.44 * rng.normal(size=len(noisy))
    assert "Log(Centrality mean)" not in {a.name for a in aliased_columns(
        standardize(noisy), design.site_features)}


def test_a_claim_about_a_left_out_column_is_tested_through_the_columns_that_determine_it():
    """No coefficient of a left-out column enters: θ moves the identity's columns by their
    covariance with the measure, and a known effect along them is found."""
    rng = np.random.default_rng(4)
    design = identified(_collinear(rng))
    claim = cl.Claim("degree", (("report", "Abstract"),), "Degree", "d", cl.SINGLE,
                     ("Log(Mean degree)",), +1)
    support, delta = cl.composite_direction(design, claim.measures, claim.signs)
    names = [design.site_features[k] for k in support]
    assert set(names) == {"Log(No. edges)", "Log(No. workers discovered)"}
    column = design.aliases[0].column
    for k, d in zip(support, delta, strict=True):
        assert d == pytest.approx(np.cov(design.site_x[:, k], column, bias=True)[0, 1] /
                                  column.std())
    draws = _draws(rng, design, sd=0.1)
    draws["beta_group"][:, support[names.index("Log(No. edges)")]] += 1.0
    table = cl.evaluate_claims(H, draws, design, register=(claim,)).set_index("id")
    assert table.loc["degree", "verdict"] == "supported"
    assert "determined by" in table.loc["degree", "reason"]


@pytest.mark.slow
def test_nuts_on_an_exactly_collinear_campaign_gives_no_verdict_on_the_unidentified_direction():
    """A real fit: with the collinear column kept, the posterior of its coefficient holding
    the others fixed is its reference (not identified); the identified design drops it."""
    from organizing.inference.nuts import run_nuts
    from organizing.models.logits import complete_draws

    rng = np.random.default_rng(5)
    design = _collinear(rng, n_sites=40)
    s = design.site_index
    logit = -1.0 + 0.8 * design.site_x[s, design.site_features.index("Log(No. edges)")]
    design = replace(design, signed=(rng.random(len(s)) < 1 / (1 + np.exp(-logit))).astype(
        float), worker_x=design.worker_x[:, :2], worker_features=design.worker_features[:2])
    result = run_nuts("headline", design.site_x, design.worker_x, design.site_index,
                      design.signed, chains=2, warmup=300, samples=300, seed=0)
    draws = complete_draws("headline", result.pooled_draws())
    degree = cl.Claim("degree", (("report", "Abstract"),), "Degree", "d", cl.SINGLE,
                      ("Log(Mean degree)",), +1)
    row = cl.evaluate_claims(H, draws, design, register=(degree,)).iloc[0]
    assert row["identification"] > cl.IDENTIFICATION_RATIO
    assert row["verdict"] == cl.NOT_IDENTIFIED
    assert "Log(Mean degree)" not in identified(design).site_features


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
    joint = _one("large_worksites", draws, design)
    assert joint["verdict"] == "supported"
    single = cl.Claim("d", (("report", "Abstract"),), "D", "d", cl.SINGLE,
                      ("Log(No. workers discovered)",), -1)
    assert cl.evaluate_claims(H, draws, design, register=(single,)).iloc[0]["verdict"] == (
        "inconclusive")
    j = [names.index("Log(No. workers discovered)"), names.index("Log(No. workers contacted)")]
    r = np.corrcoef(design.site_x[:, j], rowvar=False)
    expected = draws["beta_group"][:, j] @ cl.joint_weights(r)
    assert joint["prob_claimed"] == pytest.approx(np.mean(expected < 0))


def test_claims_about_measures_that_move_together_are_tested_jointly_and_counted_once():
    rng = np.random.default_rng(6)
    design = _design(rng)
    names = list(design.site_features)
    i, j = names.index("Log(Centrality mean)"), names.index("Log(Centrality variance)")
    x = design.site_x.copy()
    x[:, j] = 0.99 * x[:, i] + np.sqrt(1 - 0.99**2) * x[:, j]
    design = replace(design, site_x=standardize(x))
    groups = cl.joint_groups(design)
    assert groups["centrality_mean"] == groups["centrality_variance"] == (
        "centrality_mean", "centrality_variance")
    assert groups["ndo"] == ("ndo",)
    draws = _draws(rng, design, sd=0.1)
    draws["beta_group"][:, [i, j]] += 0.5
    table = cl.evaluate_claims(H, draws, design).set_index("id")
    mean, variance = table.loc["centrality_mean"], table.loc["centrality_variance"]
    assert mean["verdict"] == variance["verdict"] == "supported"
    assert mean["test"] == variance["test"] == "centrality_mean"
    assert "tested jointly" in variance["reason"] and "0.99" in variance["reason"]
    # The distinct tests: one per test key among tested claims.
    tests = cl.distinct_tests(table.reset_index())
    assert tests["test"].is_unique and "centrality_variance" not in set(tests["id"])


def test_the_distinct_test_count_matches_the_register():
    """Every testable finding is one test, recommendations follow their findings, claims
    tested jointly are one test: the count follows from the register alone."""
    rng = np.random.default_rng(7)
    design = _design(rng)
    draws = _draws(rng, design, n=500)
    accuracy = pd.DataFrame({"model": ["published"], "accuracy": [0.8], "base_accuracy": [0.83],
                             "difference": [-0.03], "se": [0.01], "auc": [0.23]})
    clustering = SimpleNamespace(two_difference=-1.0, two_difference_se=2.0)
    size_draws = {**draws, "size_slope": rng.normal(0, 0.1, (500, len(design.worker_features)))}
    table = cl.evaluate_claims(H, draws, design, accuracy=accuracy, clustering=clustering,
                               size_fit=(size_draws, design, cl.Priors.of(H)))
    testable = [c for c in cl.REGISTER if c.kind != cl.UNTESTABLE and not c.follows]
    groups = cl.joint_groups(design)
    expected = len(testable) - sum(len(g) - 1 for g in {g for g in groups.values()})
    assert len(cl.distinct_tests(table)) == expected
    counts = cl.verdict_counts(table)
    assert sum(counts.values()) == expected
    followers = table[table["follows"] != ""]
    assert len(followers) == sum(1 for c in cl.REGISTER if c.follows)
    for _, row in followers.iterrows():
        finding = table.set_index("id").loc[row["follows"]]
        assert row["verdict"] == finding["verdict"] and row["test"] == finding["test"]
        assert row["reason"].startswith("follows from")


# ---------------------------------------------------- other kinds of claim


def test_the_ranking_rule_compares_the_posterior_share_with_the_prior_share():
    rng = np.random.default_rng(8)
    design = within_between(_design(rng))
    draws = _draws(rng, design, n=4000, sd=0.3)
    compared = cl.comparable_features(design)
    names = design.site_features
    assert all(not n.startswith("Campaign length") and not n.endswith(COMPOSITION_SUFFIX)
               for n in (names[j] for j in compared))
    # posterior share = prior share (exchangeable, identified coefficients): inconclusive
    row = _one("ndo_strongest", draws, design)
    assert row["prior_prob"] == pytest.approx(1 / (2 * len(compared)))
    assert row["mean"] == pytest.approx(row["prior_prob"], abs=0.02)
    assert row["verdict"] == "inconclusive"
    # clearly the largest and positive: supported; a large composition column does not
    # take its rank
    ndo = names.index("NDO (Eigen., Pearson)")
    strong = {**draws, "beta_group": draws["beta_group"].copy()}
    strong["beta_group"][:, ndo] += 3.0
    strong["beta_group"][:, names.index(f"No. Notes{COMPOSITION_SUFFIX}")] += 6.0
    assert _one("ndo_strongest", strong, design)["verdict"] == "supported"
    # largest but negative: the claimed sign fails, contradicted
    strong["beta_group"][:, ndo] -= 6.0
    assert _one("ndo_strongest", strong, design)["verdict"] == "contradicted"


def test_model_fit_scores_the_studys_model_and_spread_has_a_threshold():
    rng = np.random.default_rng(9)
    design = _design(rng)
    draws = _draws(rng, design, n=500)
    accuracy = pd.DataFrame({
        "model": ["published", "headline"], "accuracy": [0.70, 0.93],
        "base_accuracy": [0.83, 0.83], "difference": [-0.13, 0.10], "se": [0.01, 0.01],
        "auc": [0.23, 0.94]})
    row = _one("model_fit", draws, design, accuracy=accuracy)
    assert row["verdict"] == "contradicted" and row["mean"] == pytest.approx(-0.13)
    assert "headline 0.930" in row["quantity"]
    # the slopes' spread: about 1 log-odds per SD, far above "little"
    spread = _one("worker_scale_small", draws, design)
    assert spread["mean"] == pytest.approx(1.0, abs=0.05)
    assert spread["verdict"] == "contradicted" and spread["identification"] < 0.2
    small = {**draws, "beta_individual_scale": np.abs(rng.normal(0.02, 0.005, (500, 7)))}
    assert _one("worker_scale_small", small, design)["verdict"] == "supported"
    untestable = cl.evaluate_claims(H, draws, design)
    untestable = untestable[untestable["kind"] == cl.UNTESTABLE]
    assert (untestable["verdict"] == cl.NOT_TESTABLE).all()
    assert (untestable["reason"] != "").all()
    bare = cl.evaluate_claims(H, draws, design).set_index("id")
    for claim in ("model_fit", "two_clusters", "size_notes"):
        assert bare.loc[claim, "verdict"] == cl.NOT_EVALUATED and bare.loc[claim, "reason"]


@pytest.mark.parametrize(("difference", "expected"), [
    (10.0, "supported"), (-10.0, "contradicted"), (1.0, "inconclusive")])
def test_the_two_cluster_claim_takes_the_heldout_comparison(difference, expected):
    rng = np.random.default_rng(10)
    design = _design(rng)
    draws = _draws(rng, design, n=200)
    test = SimpleNamespace(two_difference=difference, two_difference_se=2.0)
    table = cl.evaluate_claims(H, draws, design, clustering=test).set_index("id")
    assert table.loc["two_clusters", "verdict"] == expected
    follower = table.loc["clusters_by_size"]
    if expected == "supported":  # the size split of existing clusters is shown, not scored
        assert follower["verdict"] == cl.NOT_EVALUATED
    else:
        assert follower["verdict"] == expected and follower["follows"] == "two_clusters"


@pytest.mark.parametrize(("slope", "expected"), [
    (0.5, "supported"), (-0.5, "contradicted"), (0.0, "inconclusive")])
def test_the_size_claims_rest_on_the_size_interaction(slope, expected):
    rng = np.random.default_rng(11)
    design = _design(rng)
    draws = _draws(rng, design, n=2000)
    p = len(design.worker_features)
    lam = rng.normal(0, 0.1, (2000, p))
    notes = design.worker_features.index("No. Notes")
    latest = design.worker_features.index("Time To First Convo (Quart. 4)")
    lam[:, notes] += slope
    lam[:, latest] -= slope  # earlier contact matters more: the latest quartile's slope falls
    size_fit = ({**draws, "size_slope": lam}, design, cl.Priors.of(H))
    table = cl.evaluate_claims(H, draws, design, size_fit=size_fit).set_index("id")
    for claim in ("size_notes", "size_early_contact", "size_attention"):
        assert table.loc[claim, "verdict"] == expected, claim
        assert table.loc[claim, "identification"] == pytest.approx(0.1, abs=0.03)
    assert table.loc["recommend_individual_outreach", "verdict"] == expected


def test_a_measure_missing_in_a_variant_is_not_evaluated():
    rng = np.random.default_rng(12)
    design = _design(rng)
    draws = _draws(rng, design, n=200)
    notes = design.worker_features.index("No. Notes")
    keep = [k for k in range(len(design.worker_features)) if k != notes]
    without = replace(design, worker_x=design.worker_x[:, keep],
                      worker_features=tuple(design.worker_features[k] for k in keep))
    reduced = {**draws, "beta_individual": draws["beta_individual"][:, :, keep],
               "beta_individual_scale": draws["beta_individual_scale"][:, keep],
               "size_slope": rng.normal(0, 0.1, (200, len(keep)))}
    table = cl.evaluate_claims(H, reduced, without,
                               size_fit=(reduced, without, cl.Priors.of(H))).set_index("id")
    for claim in ("size_notes", "size_attention", "recommend_individual_outreach"):
        assert table.loc[claim, "verdict"] == cl.NOT_EVALUATED
        assert "No. Notes" in table.loc[claim, "reason"]
    assert table.loc["size_early_contact", "verdict"] in cl.VERDICTS


# ------------------------------------------------------------ presentation


def _claims():
    rng = np.random.default_rng(10)
    design = _design(rng)
    draws = _draws(rng, design, n=400)
    draws["beta_group"][:, design.site_features.index("NDO (Eigen., Pearson)")] += 1.0
    draws["beta_group"][:, design.site_features.index("Percent Latino in ZIP")] += 1.0
    accuracy = pd.DataFrame({"model": ["published", "headline"], "accuracy": [0.80, 0.94],
                             "base_accuracy": [0.83, 0.83], "difference": [-0.03, 0.11],
                             "se": [0.01, 0.01], "auc": [0.23, 0.94]})
    size_fit = ({**draws, "size_slope": rng.normal(0.2, 0.1, (400, 7))}, design,
                cl.Priors.of(H))
    headline = cl.evaluate_claims(H, draws, design, accuracy=accuracy, size_fit=size_fit)
    corrected = cl.evaluate_claims(ModelId.CORRECTED, {**draws, "beta_group": -draws[
        "beta_group"]}, design, accuracy=accuracy)
    effects = pd.DataFrame([
        {"level": "worker", "feature": "No. Notes", "kind": "shift", "start": 1.0, "end": 2.0,
         "log": False, "reference": "", "step": 0.26, "mean": 3.2, "q5": 2.1, "q95": 4.4,
         "prob_positive": 1.0, "store_q5": 0.5, "store_q95": 8.0, "stores": 30,
         "robust": True, "fragile_under": ""},
        {"level": "worksite", "feature": "Log(No. workers discovered)", "kind": "shift",
         "start": 56.0, "end": 166.0, "log": True, "reference": "", "step": 1.27,
         "mean": -2.0, "q5": -3.0, "q95": -1.0, "prob_positive": 0.0, "store_q5": -4.0,
         "store_q95": -0.5, "stores": 30, "robust": False,
         "fragile_under": "no_notes: uncertain"}])
    return Claims(table=headline, by_model=pd.concat([headline, corrected]),
                  effects=effects, signing_rate=0.2)


def test_summary_keeps_claims_with_probability_identification_and_source():
    claims = _claims()
    tested, not_tested = summary.claims_summary(claims)
    json.dumps([tested, not_tested], allow_nan=False)
    assert {c["id"] for c in tested} | {c["id"] for c in not_tested} == set(REGISTER)
    for c in tested:
        assert {"claim", "feature", "verdict", "verdict_by_model", "prob_claimed",
                "identification", "test", "follows", "source"} <= set(c)
        assert c["verdict"] in (*cl.VERDICTS, cl.NOT_IDENTIFIED)
        assert set(c["verdict_by_model"]) == {"headline", "corrected"}
    assert {c["verdict"] for c in not_tested} <= {cl.NOT_TESTABLE, cl.NOT_EVALUATED}
    assert all(c["reason"] for c in not_tested)
    effects = summary.effects_summary(claims)
    json.dumps(effects, allow_nan=False)
    notes = next(e for e in effects if e["feature"] == "No. Notes")
    assert notes["move"].startswith("one more note, from") and notes["average_change_points"][
        "mean"] == pytest.approx(3.2)


def test_sentences_name_their_claims_and_count_distinct_tests():
    claims = _claims()
    tested = claims.table[claims.table["verdict"].isin((*cl.VERDICTS, cl.NOT_IDENTIFIED))]
    bullets = scorecard.claim_sentences(claims).split("\n\n")
    assert len(bullets) == len(tested)
    for bullet, (_, row) in zip(bullets, tested.iterrows(), strict=True):
        assert bullet.startswith(f"- *{row['claim']}*") and row["source"] in bullet
    classes = scorecard.verdict_classes(claims)
    for _, row in tested.iterrows():
        assert f"“{row['claim']}”" in classes
    # counted once: a recommendation is named with its finding, and the counts are tests
    tests = cl.distinct_tests(claims.table)
    assert scorecard.n_tests(claims) == fmt.count(len(tests))
    counted = re.findall(r"\((\w+) tests?\)", classes)
    assert sum(int(n) if n.isdigit() else WORDS[n] for n in counted) == len(tests)
    untested = scorecard.untested_claims(claims).split("\n\n")
    assert len(untested) == len(claims.table) - len(tested)
    assert "95%" in scorecard.verdict_rule() and "not identified" in scorecard.verdict_rule()
    assert scorecard.changed_verdicts(claims).endswith(f"of the {fmt.count(len(tests))}")
    assert scorecard.status(claims, "ndo") == "is supported by"
    with pytest.raises(KeyError, match="no claim with id"):
        scorecard.status(claims, "nonsense")


WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
         "eight": 8, "nine": 9, "ten": 10}


def test_scorecard_marks_the_verdicts_a_sensitivity_analysis_moves():
    claims = _claims()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        html = scorecard.claims_table(claims).as_raw_html()
        effects = effect_sizes.effects_table(claims).as_raw_html()
        matrix = scorecard.verdict_matrix(claims).as_raw_html()
    for page in (html, effects, matrix):
        assert not re.search(r">\s*(nan|NaN|None|n/a%?)\s*<", page)  # undefined prints blank
    for claim in claims.table["claim"]:
        assert claim.replace("'", "&#x27;") in html
    assert "Moves under" in html and "P(as claimed)" in html and "Identification" in html
    assert "follows from" in html
    assert cl.moved_verdicts(claims.table, None) == {c: [] for c in claims.table["claim"]}
    ndo = REGISTER["ndo"].claim
    sensitivity = SimpleNamespace(verdicts=pd.DataFrame({
        "variant": ["no_notes", "no_notes", "centrality"],
        "claim": [ndo, REGISTER["latino"].claim, ndo],
        "verdict": ["inconclusive", "contradicted", "not evaluated"],
        "changed": [True, False, False]}))
    moved = cl.moved_verdicts(claims.table, sensitivity)
    assert moved[ndo] == ["no_notes"] and moved[REGISTER["latino"].claim] == []
    html = scorecard.claims_table(claims, sensitivity).as_raw_html()
    assert labels.sensitivity_label("no_notes") in html
    assert labels.sensitivity_label("no_notes") in scorecard.claim_sentences(
        claims, sensitivity=sensitivity)
    assert "not testable" not in matrix
    assert "one more note" in effects and "No. Notes" in effects and "no_notes" in effects


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


@pytest.mark.slow
@pytest.mark.parametrize(("planted", "decisive"), [(0.8, True), (0.0, False)])
def test_the_size_interaction_finds_a_planted_effect_and_not_a_null_one(planted, decisive):
    """Real NUTS fits of the size variant on simulated campaigns: the notes slope grows by
    ``planted`` per SD of log size; the size claim about notes is supported when it does
    and not decisive when it does not."""
    from organizing.inference.nuts import run_nuts
    from organizing.models.logits import complete_draws

    rng = np.random.default_rng(21)
    n_sites, per_site = 60, 60
    size = rng.normal(size=n_sites)
    site_index = np.repeat(np.arange(n_sites), per_site)
    names = tuple(WORKER_FEATURES)
    worker_x = rng.normal(size=(len(site_index), len(names)))
    notes = names.index("No. Notes")
    slopes = rng.normal(0, 0.3, (n_sites, len(names)))
    slopes[:, notes] += 1.0 + planted * size
    logit = -1.5 + rng.normal(0, 0.5, n_sites)[site_index] + (
        worker_x * slopes[site_index]).sum(axis=1)
    y = (rng.random(len(logit)) < 1 / (1 + np.exp(-logit))).astype(float)
    site_x = standardize(rng.normal(size=(n_sites, 3)))
    design = Design(worker_x=worker_x, site_x=site_x, site_index=site_index, signed=y,
                    worker_features=names, site_features=("Percent male", "Percent black in ZIP",
                                                          "Percent Latino in ZIP"))
    result = run_nuts("headline", site_x, worker_x, site_index, y, chains=2, warmup=300,
                      samples=300, seed=1, moderator=size)
    draws = complete_draws("headline", result.pooled_draws())
    row = cl.evaluate_claims(H, draws, design, size_fit=(draws, design, cl.Priors.of(H)),
                             register=(REGISTER["size_notes"],)).iloc[0]
    assert row["identification"] < cl.IDENTIFICATION_RATIO
    if decisive:
        assert row["verdict"] == "supported" and row["q5"] < planted < row["q95"]
    else:
        assert row["verdict"] == "inconclusive" and row["q5"] < 0 < row["q95"]


def test_claims_of_opposite_directions_tested_jointly_share_one_probability():
    """"More conversations go with signing" and "larger stores go with less signing", with
    conversations moving with size: the composite (size up, conversations down) going with
    less signing satisfies both claims, so both get the same probability."""
    rng = np.random.default_rng(13)
    design = _design(rng, site_corr=0.8)
    names = list(design.site_features)
    x = design.site_x.copy()
    d, c = names.index("Log(No. workers discovered)"), names.index("Log(No. organizer convers.)")
    x[:, c] = 0.98 * x[:, d] + np.sqrt(1 - 0.98**2) * x[:, c]
    design = replace(design, site_x=standardize(x))
    assert cl.joint_groups(design)["conversations"] == ("conversations", "large_worksites")
    draws = _draws(rng, design, sd=0.1)
    draws["beta_group"][:, c] += 0.8  # conversations go with more signing, size with none
    table = cl.evaluate_claims(H, draws, design).set_index("id")
    conv, large = table.loc["conversations"], table.loc["large_worksites"]
    assert conv["prob_claimed"] == pytest.approx(large["prob_claimed"])
    assert conv["verdict"] == large["verdict"]
