"""Sensitivity analyses: the variant designs, the verdict comparison and its tables."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from organizing.claims import NOT_EVALUATED
from organizing.data import load_campaign
from organizing.features import (
    CENTRALITY,
    COMPOSITION_SUFFIX,
    LOG_CENTRALITY_INSIDE,
    NOTES,
    OUTSIDE_NETWORK,
    OUTSIDE_NETWORK_CUT,
    SENSITIVITY_VARIANTS,
    build_design,
    centrality_columns,
    headline_design,
    identified,
    outside_network,
    sensitivity_columns,
    sensitivity_design,
    study_split,
    variant_rows,
    within_between,
)
from organizing.report import narrative, tables
from organizing.results.sections import (
    Coefficients,
    Diagnostics,
    Sensitivity,
    SensitivityRun,
)
from organizing.sensitivity import (
    compare_verdicts,
    mark_not_evaluated,
    moved_coefficients,
    pad_missing,
)
from organizing.simulate import simulate_campaign


@pytest.fixture(scope="module")
def small_campaign(tmp_path_factory):
    """A simulated campaign whose log centralities straddle the outside-network cut."""
    folder = tmp_path_factory.mktemp("sensitivity")
    simulate_campaign(n_sites=40, n_workers=1200, seed=5).write(folder)
    campaign = load_campaign(folder)
    j = campaign.worker_features.index(CENTRALITY)
    worker_x = campaign.worker_x.copy()
    rng = np.random.default_rng(1)
    pushed = rng.choice(campaign.n_workers, 80, replace=False)
    worker_x[pushed, j] = rng.uniform(-600, -37, len(pushed))
    return dataclasses.replace(campaign, worker_x=worker_x)


def test_outside_network_is_below_machine_epsilon():
    np.testing.assert_allclose(OUTSIDE_NETWORK_CUT, np.log(2.0**-52))
    values = np.array([-600.0, -np.inf, OUTSIDE_NETWORK_CUT - 1e-9, OUTSIDE_NETWORK_CUT, -3.0])
    np.testing.assert_array_equal(outside_network(values), [True, True, True, False, False])
    with pytest.raises(ValueError, match="NaN"):
        outside_network(np.array([-1.0, np.nan]))


def test_centrality_columns_split_indicator_and_inside_log():
    log_c = np.array([-500.0, -2.0, -40.0, -4.0, -6.0, -100.0])
    indicator, inside = centrality_columns(log_c)
    outside = log_c < OUTSIDE_NETWORK_CUT
    # The indicator is the standardized 0/1 of the cut: higher exactly for workers outside.
    assert set(np.round(indicator[outside], 9)) == {np.round(indicator[outside][0], 9)}
    assert indicator[outside][0] > indicator[~outside][0]
    np.testing.assert_allclose([indicator.mean(), indicator.std()], [0, 1], atol=1e-12)
    # The inside log is 0 outside and standardized over the workers inside.
    np.testing.assert_array_equal(inside[outside], 0.0)
    expected = (log_c[~outside] - log_c[~outside].mean()) / log_c[~outside].std()
    np.testing.assert_allclose(inside[~outside], expected)


def test_centrality_variant_replaces_one_column(small_campaign):
    reduced = build_design(small_campaign, drop_reference=True)
    variant = sensitivity_columns(small_campaign, "centrality")
    names = list(reduced.worker_features)
    j = names.index(CENTRALITY)
    assert list(variant.worker_features) == (
        names[:j] + [OUTSIDE_NETWORK, LOG_CENTRALITY_INSIDE] + names[j + 1:])
    raw = small_campaign.worker_x[:, small_campaign.worker_features.index(CENTRALITY)]
    outside = raw < OUTSIDE_NETWORK_CUT
    assert 80 <= outside.sum() < small_campaign.n_workers
    indicator = variant.worker_x[:, j]
    np.testing.assert_array_equal(indicator > indicator.mean(), outside)
    np.testing.assert_array_equal(variant.worker_x[outside, j + 1], 0.0)
    # Every other column, and the worksite side, are the reduced design's.
    others = [k for k in range(len(names)) if k != j]
    np.testing.assert_array_equal(variant.worker_x[:, [k if k < j else k + 1 for k in others]],
                                  reduced.worker_x[:, others])
    np.testing.assert_array_equal(variant.site_x, reduced.site_x)
    np.testing.assert_array_equal(variant.signed, reduced.signed)


def test_variant_designs_are_split_within_and_between(small_campaign):
    headline = headline_design(small_campaign)
    for variant in SENSITIVITY_VARIANTS:
        design = sensitivity_design(small_campaign, variant)
        split = identified(within_between(sensitivity_columns(small_campaign, variant)))
        np.testing.assert_array_equal(design.worker_x, split.worker_x)
        np.testing.assert_array_equal(design.site_x, split.site_x)
        assert design.site_features == split.site_features
    centrality = sensitivity_design(small_campaign, "centrality")
    # the other columns' worksite means are the headline design's (where both keep them:
    # the simulator, like the study, makes Log(Mean degree) a function of edges and size)
    for name in headline.site_features:
        if name != CENTRALITY + COMPOSITION_SUFFIX and name in centrality.site_features:
            np.testing.assert_array_equal(
                centrality.site_x[:, centrality.site_features.index(name)],
                headline.site_x[:, headline.site_features.index(name)])
    assert OUTSIDE_NETWORK + COMPOSITION_SUFFIX in (
        *centrality.site_features, *(a.name for a in centrality.aliases))
    assert len(headline.site_features) <= small_campaign.n_sites - 1


def test_centrality_variant_on_the_real_campaign(campaign):
    variant = sensitivity_columns(campaign, "centrality")
    j = variant.worker_features.index(OUTSIDE_NETWORK)
    raw = campaign.worker_x[:, campaign.worker_features.index(CENTRALITY)]
    indicator = variant.worker_x[:, j]
    np.testing.assert_array_equal(indicator > indicator.mean(), raw < OUTSIDE_NETWORK_CUT)
    # More workers are outside by this rule than below -50, fewer than all of them.
    assert np.mean(raw < -50) < np.mean(indicator > indicator.mean()) < 1


def test_no_notes_variant_drops_exactly_that_column(small_campaign):
    headline = headline_design(small_campaign)
    variant = sensitivity_design(small_campaign, "no_notes")
    keep = [k for k, name in enumerate(headline.worker_features) if name != NOTES]
    assert len(keep) == len(headline.worker_features) - 1
    assert variant.worker_features == tuple(headline.worker_features[k] for k in keep)
    np.testing.assert_array_equal(variant.worker_x, headline.worker_x[:, keep])
    site_keep = [k for k, name in enumerate(headline.site_features)
                 if name != NOTES + COMPOSITION_SUFFIX]
    assert len(site_keep) == len(headline.site_features) - 1
    np.testing.assert_array_equal(variant.site_x, headline.site_x[:, site_keep])


def test_all_workers_variant_uses_every_row(small_campaign):
    n = small_campaign.n_workers
    train, test = study_split(n)
    rows = variant_rows("all_workers", train, n)
    np.testing.assert_array_equal(rows, np.arange(n))
    for variant in ("centrality", "no_notes"):
        np.testing.assert_array_equal(variant_rows(variant, train, n), train)
    headline = headline_design(small_campaign)
    design = sensitivity_design(small_campaign, "all_workers")
    np.testing.assert_array_equal(design.worker_x, headline.worker_x)
    assert design.subset(rows).n_workers == n > len(train)


def test_unknown_variant_is_refused(small_campaign):
    for variant in SENSITIVITY_VARIANTS:
        assert sensitivity_design(small_campaign, variant).n_workers == small_campaign.n_workers
    with pytest.raises(ValueError, match="unknown sensitivity variant 'bogus'"):
        sensitivity_design(small_campaign, "bogus")
    with pytest.raises(ValueError, match="unknown sensitivity variant"):
        variant_rows("bogus", np.arange(3), 3)


@pytest.mark.parametrize("variant", ["no_notes", "centrality"])
def test_missing_features_are_padded_with_zero_slopes(small_campaign, variant):
    headline = headline_design(small_campaign)
    design = sensitivity_design(small_campaign, variant)
    p, s = len(design.worker_features), small_campaign.n_sites
    rng = np.random.default_rng(0)
    draws = {"beta_individual": rng.normal(size=(5, s, p)),
             "beta_individual_mean": rng.normal(size=(5, p)),
             "beta_group": rng.normal(size=(5, len(design.site_features)))}
    padded_draws, padded = pad_missing(draws, design, headline.worker_features)
    missing = [f for f in headline.worker_features if f not in design.worker_features]
    assert missing  # each of these variants lacks a headline feature
    # the variant's own columns come first, unchanged (the centrality variant's two new
    # columns included); each missing headline feature follows with zero slopes
    assert padded.worker_features == (*design.worker_features, *missing)
    np.testing.assert_array_equal(padded.worker_x[:, :p], design.worker_x)
    np.testing.assert_array_equal(padded.worker_x[:, p:], 0.0)
    np.testing.assert_array_equal(padded_draws["beta_individual"][..., :p],
                                  draws["beta_individual"])
    np.testing.assert_array_equal(padded_draws["beta_individual"][..., p:], 0.0)
    np.testing.assert_array_equal(padded_draws["beta_group"], draws["beta_group"])
    # The logit of every worker is unchanged by the padding.
    for d in range(5):
        logit = np.einsum("np,np->n", draws["beta_individual"][d][design.site_index],
                          design.worker_x)
        padded_logit = np.einsum("np,np->n",
                                 padded_draws["beta_individual"][d][padded.site_index],
                                 padded.worker_x)
        np.testing.assert_allclose(padded_logit, logit)


def test_undefined_claims_are_not_evaluated():
    claims = pd.DataFrame({"claim": ["a", "b", "c"], "mean": [0.3, np.nan, 0.1],
                           "quantity": ["coefficient of x", "correlation",
                                        "coefficient of No. Notes"],
                           "prob_claimed": [0.97, 0.0, 0.6],
                           "verdict": ["supported", "contradicted", "inconclusive"]})
    marked = mark_not_evaluated(claims, [NOTES])
    assert list(marked["verdict"]) == ["supported", NOT_EVALUATED, NOT_EVALUATED]
    assert np.isnan(marked["prob_claimed"].iloc[1:]).all()
    assert list(claims["verdict"]) == ["supported", "contradicted", "inconclusive"]
    # a claim that cannot be tested keeps its verdict and its reason
    untestable = pd.DataFrame({"claim": ["d"], "mean": [np.nan], "quantity": [""],
                               "prob_claimed": [np.nan], "verdict": ["not testable"]})
    assert list(mark_not_evaluated(untestable, [NOTES])["verdict"]) == ["not testable"]


def _claims(verdicts, probs):
    return pd.DataFrame({"claim": ["size", "notes", "network"], "verdict": verdicts,
                         "prob_claimed": probs})


def test_compare_verdicts_marks_a_changed_verdict():
    headline = _claims(["supported", "inconclusive", "contradicted"], [0.97, 0.6, 0.02])
    variants = {
        "no_notes": _claims(["inconclusive", NOT_EVALUATED, "contradicted"], [0.8, np.nan, 0.01]),
        "all_workers": _claims(["supported", "inconclusive", "contradicted"], [0.99, 0.7, 0.03]),
    }
    frame = compare_verdicts(headline, variants)
    assert len(frame) == 6
    changed = frame[frame["changed"]]
    assert list(zip(changed["variant"], changed["claim"], strict=True)) == [("no_notes", "size")]
    row = changed.iloc[0]
    assert (row["headline_verdict"], row["verdict"]) == ("supported", "inconclusive")
    # A claim the variant could not evaluate is not a change.
    notes = frame[(frame["variant"] == "no_notes") & (frame["claim"] == "notes")].iloc[0]
    assert notes["verdict"] == NOT_EVALUATED and not notes["changed"]
    with pytest.raises(ValueError, match="prob_claimed"):
        compare_verdicts(headline, {"x": headline.drop(columns="prob_claimed")})


def _coefficients(worksite_rows, worker_rows):
    columns = ["feature", "mean", "q5", "q95"]
    return Coefficients(worksite=pd.DataFrame(worksite_rows, columns=columns),
                        worker=pd.DataFrame(worker_rows, columns=columns),
                        scalars=pd.DataFrame())


def test_moved_coefficients():
    headline = _coefficients([("size", -0.5, -1.0, 0.1), ("ndo", 0.3, 0.1, 0.5)],
                             [("notes", 2.0, 1.5, 2.5), ("centrality", 0.2, -0.1, 0.5)])
    variant = _coefficients([("size", -0.6, -0.9, -0.2), ("ndo", 0.35, 0.15, 0.55)],
                            [("centrality", 0.9, 0.7, 1.1), ("outside", 0.1, 0.0, 0.2)])
    frame = moved_coefficients(headline, {"centrality": variant}).set_index("feature")
    assert list(frame.index) == ["size", "ndo", "centrality"]  # shared coefficients only
    # size: mean inside the headline interval, but its interval now excludes zero.
    assert frame.loc["size", "moved"]
    assert not frame.loc["ndo", "moved"]
    assert frame.loc["centrality", "moved"]  # mean outside the headline interval
    assert frame.loc["centrality", "headline_mean"] == 0.2


def _sensitivity_results():
    headline = _claims(["supported", "inconclusive", "contradicted"], [0.97, 0.6, 0.02])
    verdicts = compare_verdicts(headline, {
        "centrality": _claims(["supported", "supported", "contradicted"], [0.96, 0.98, 0.04]),
        "no_notes": _claims(["inconclusive", NOT_EVALUATED, "contradicted"], [0.8, np.nan, 0.0]),
    })
    coefficients = moved_coefficients(
        _coefficients([("ndo", 0.3, 0.1, 0.5)], []),
        {"centrality": _coefficients([("ndo", 0.9, 0.6, 1.2)], []),
         "no_notes": _coefficients([("ndo", 0.31, 0.1, 0.5)], [])})
    diagnostics = Diagnostics(max_r_hat=1.0, min_ess_bulk=500.0, min_ess_tail=400.0,
                              divergences=0, min_bfmi=0.9, chains=2, draws=300, flags=())
    runs = {v: SensitivityRun(variant=v, n_workers=100, worker_features=("a",),
                              site_features=("b",),
                              coefficients=_coefficients([], []), diagnostics=diagnostics,
                              seconds=1.0)
            for v in ("centrality", "no_notes")}
    section = Sensitivity(runs=runs, verdicts=verdicts, coefficients=coefficients,
                          outside_cut=OUTSIDE_NETWORK_CUT, share_outside=0.4,
                          signing_outside=0.15, signing_inside=0.2)
    return SimpleNamespace(sensitivity=section)


def test_tables_show_changed_verdicts():
    results = _sensitivity_results()
    html = tables.sensitivity_verdicts(results).as_raw_html()
    assert html.count(tables.CHANGED_MARK) == 2
    assert f"{tables.CHANGED_MARK} supported (98%)" in html
    assert f"{tables.CHANGED_MARK} inconclusive (80%)" in html
    summary = tables.sensitivity_table(results).as_raw_html()
    assert "notes: inconclusive → supported" in summary
    assert "ndo: 0.30 (0.10 to 0.50) → 0.90 (0.60 to 1.20)" in summary
    assert "none" in summary  # no_notes moves no coefficient
    sentence = narrative.sensitivity_sentence(results)
    assert "*size* goes from supported to inconclusive" in sentence
    assert narrative.n_sensitivity_changes(results) == "2"


def test_outside_network_rates_follow_disclosure_control():
    from types import SimpleNamespace

    from organizing.sensitivity import outside_network_rates

    # 20 workers outside, 2 of them signers: fewer than 5 signers, so withheld
    outside = np.arange(1000) < 20
    signed = np.zeros(1000)
    signed[:2], signed[20:190] = 1, 1
    hidden, inside = outside_network_rates(outside, signed, min_count=5)
    assert np.isnan(hidden) and inside == pytest.approx(170 / 980)
    signed[:10] = 1  # 10 of 20 signed: shown
    assert outside_network_rates(outside, signed, min_count=5)[0] == 0.5
    assert np.isnan(outside_network_rates(np.zeros(1000, bool), signed, min_count=5)[0])

    def results(share, outside, inside, n=1000):
        return SimpleNamespace(
            sensitivity=SimpleNamespace(outside_cut=-36.04, share_outside=share,
                                        signing_outside=outside, signing_inside=inside),
            data=SimpleNamespace(n_workers=n, disclosure=SimpleNamespace(min_count=5)))

    shown = narrative.outside_network_sentence(results(0.4, 0.2, 0.15))
    assert "20.0%" in shown and "15.0%" in shown and "withheld" not in shown
    words = narrative.outside_network_sentence(results(0.02, hidden, inside))
    assert "withheld (fewer than 5 signers" in words and "17.3%" in words
    nobody = narrative.outside_network_sentence(results(0.0, float("nan"), 0.17))
    assert "nan" not in nobody.lower() and "withheld" in nobody


def test_an_effect_is_robust_only_if_its_direction_holds_in_every_variant():
    from organizing.sensitivity import direction_holds

    def coefficients(worker_rows):
        worker = pd.DataFrame(worker_rows, columns=["feature", "mean", "q5", "q95"])
        return Coefficients(worksite=pd.DataFrame(columns=["feature", "mean", "q5", "q95"]),
                            worker=worker, scalars=pd.DataFrame())

    effects = pd.DataFrame({"level": ["worker"] * 3, "feature": [NOTES, CENTRALITY, "Is Male"],
                            "mean": [6.5, 6.9, -1.0]})
    variants = {
        "no_notes": coefficients([(CENTRALITY, -0.2, -0.5, 0.1), ("Is Male", -0.3, -0.5, -0.1)]),
        "centrality": coefficients([(NOTES, 3.1, 2.9, 3.3),
                                    (LOG_CENTRALITY_INSIDE, 0.4, 0.1, 0.7),
                                    ("Is Male", -0.3, -0.6, 0.05)]),
    }
    table = direction_holds(effects, variants).set_index("feature")
    assert table.loc[NOTES, "robust"]  # missing without notes: not counted against it
    assert not table.loc[CENTRALITY, "robust"]
    assert table.loc[CENTRALITY, "fragile_under"] == "no_notes: uncertain"  # the inside log
    assert table.loc["Is Male", "fragile_under"] == "centrality: uncertain"
    flipped = {"no_notes": coefficients([(CENTRALITY, -0.4, -0.6, -0.2)])}
    assert direction_holds(effects, flipped).set_index("feature").loc[
        CENTRALITY, "fragile_under"] == "no_notes: reverses"
