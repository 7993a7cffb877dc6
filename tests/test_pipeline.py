"""The pipeline end to end: stages, cache, command line, seeds, and new-worksite predictions."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from organizing import evaluation, pipeline
from organizing.claims import NOT_IDENTIFIED, VERDICTS
from organizing.cli import main
from organizing.config import load_config
from organizing.data import load_campaign
from organizing.features import (
    COMPOSITION_SUFFIX,
    build_design,
    headline_design,
    site_means,
    study_split,
    within_between,
    worksite_folds,
)
from organizing.models import NUTS_MODELS, ModelId
from organizing.models.logits import logits, sigmoid
from organizing.results import cache
from organizing.simulate import simulate_campaign


def test_cache_key_follows_data_and_configuration(campaign):
    quick = load_config(profile="quick")
    key = cache.cache_key(campaign.checksums, quick)
    assert key == cache.cache_key(dict(campaign.checksums), load_config(profile="quick"))
    assert key != cache.cache_key(campaign.checksums, load_config(profile="full"))
    changed = {**campaign.checksums, "WorkerRegressionData.csv": "0" * 64}
    assert key != cache.cache_key(changed, quick)


def test_study_split_matches_scikit_learn_on_the_table(campaign):
    from sklearn.model_selection import train_test_split

    train, test = study_split(campaign.n_workers)
    _, _, y_train, y_test = train_test_split(
        campaign.worker_x, campaign.signed, test_size=0.2, random_state=42)
    np.testing.assert_array_equal(campaign.signed[train], y_train)
    np.testing.assert_array_equal(campaign.signed[test], y_test)


def test_design_standardizes_over_all_rows_and_drops_references(campaign):
    design = build_design(campaign)
    np.testing.assert_allclose(design.worker_x.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(design.site_x.std(axis=0), 1, atol=1e-9)
    reduced = build_design(campaign, drop_reference=True)
    assert len(reduced.worker_features) == len(design.worker_features) - 1
    assert len(reduced.site_features) == len(design.site_features) - 1
    assert "Time To First Convo (Quart. 1)" not in reduced.worker_features
    assert "Campaign length (Quint. 1)" not in reduced.site_features


def test_headline_design_splits_worker_features_within_and_between(campaign):
    reduced = build_design(campaign, drop_reference=True)
    design = within_between(reduced)
    # The headline design is this split less the worksite columns the others determine.
    headline = headline_design(campaign)
    assert headline.aliases and set(design.site_features) - set(headline.site_features) == {
        alias.name for alias in headline.aliases}
    n_sites, q = campaign.n_sites, len(reduced.site_features)
    means = site_means(reduced.worker_x, reduced.site_index, n_sites)
    # Within worksites: every worksite's deviations sum to zero, column by column.
    np.testing.assert_allclose(site_means(design.worker_x, design.site_index, n_sites), 0,
                               atol=1e-12)
    np.testing.assert_allclose(design.worker_x + means[design.site_index], reduced.worker_x)
    # Between: the worksite's own columns, then its standardized means, named after them.
    np.testing.assert_array_equal(design.site_x[:, :q], reduced.site_x)
    np.testing.assert_allclose(design.site_x[:, q:].std(axis=0), 1, atol=1e-9)
    assert design.site_features == reduced.site_features + tuple(
        f"{name}{COMPOSITION_SUFFIX}" for name in reduced.worker_features)
    # The plain form is nested: slopes common to all worksites give the raw design's
    # logits with γ tied to b, γ = b ⊙ sd(z̄), and the intercept shifted by mean(z̄)·b.
    rng = np.random.default_rng(3)
    beta, b = rng.normal(size=q), rng.normal(size=len(reduced.worker_features))
    raw = reduced.site_x[reduced.site_index] @ beta + reduced.worker_x @ b
    gamma = b * means.std(axis=0)
    split = (design.site_x[design.site_index] @ np.concatenate([beta, gamma])
             + design.worker_x @ b + means.mean(axis=0) @ b)
    np.testing.assert_allclose(split, raw, atol=1e-9)


def test_worksite_folds_never_share_a_worksite(campaign):
    seen = []
    for train, test in worksite_folds(campaign.site_index, n_folds=4, seed=0):
        assert not set(campaign.site_index[train]) & set(campaign.site_index[test])
        seen.extend(test)
    assert sorted(seen) == list(range(campaign.n_workers))


def test_new_worksite_prediction_integrates_over_the_population():
    """With a large between-worksite sd, plugging in u = 0 overstates how sure a prediction is.

    For a new worksite, P(sign) = E_u[σ(α + u)], which for α = 2 and σ_u = 3 is far
    below σ(2) = 0.88; the integrated prediction must match the quadrature value.
    """
    rng = np.random.default_rng(0)
    n_draws, n_sites = 4000, 3
    draws = {
        "alpha": np.full(n_draws, 2.0),
        "beta_group": np.zeros((n_draws, 1)),
        "site_scale": np.full(n_draws, 3.0),
        "site_effect_raw": np.zeros((n_draws, n_sites)),
        "beta_individual_mean": np.zeros((n_draws, 1)),
        "beta_individual_scale": np.full((n_draws, 1), 1e-9),
        "beta_individual_raw": np.zeros((n_draws, n_sites, 1)),
    }
    site_x, worker_x, site_index = np.zeros((n_sites, 1)), np.zeros((1, 1)), np.array([2])
    plug_in = sigmoid(logits("headline", draws, site_x, worker_x, site_index)).mean()
    new = evaluation.new_site_draws("headline", draws, np.array([2]), rng)
    integrated = sigmoid(logits("headline", new, site_x, worker_x, site_index)).mean()
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    exact = float((weights * sigmoid(2.0 + 3.0 * nodes)).sum() / weights.sum())
    assert plug_in == pytest.approx(sigmoid(2.0))
    assert abs(integrated - exact) < 0.01
    assert plug_in - integrated > 0.1
    # The worksites the model has seen keep their own draws.
    np.testing.assert_array_equal(new["site_effect"][:, :2], 0.0)


# The pipeline tests check plumbing (stages, cache, CLI, seeds), not estimates: the tiny
# configuration of conftest.py keeps them fast while running every stage.


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, tiny_config):
    """A small simulated campaign and a tiny configuration, in a temp dir."""
    base = tmp_path_factory.mktemp("pipeline")
    simulate_campaign(n_sites=24, n_workers=1200, seed=3).write(base / "data")
    (base / "tiny.yml").write_text(tiny_config)
    return base


def test_run_then_load_from_cache(small_run, monkeypatch, capsys):
    monkeypatch.setenv("ORGANIZING_CACHE_DIR", str(small_run / "cache"))
    data = str(small_run / "data")
    config = str(small_run / "tiny.yml")
    assert main(["run", "--config", config, "--data", data, "--quiet"]) == 0
    assert "computed in" in capsys.readouterr().out
    entries = list((small_run / "cache").glob("*/results.json"))
    assert len(entries) == 1
    stamp = entries[0].stat().st_mtime_ns

    # A second call loads the same entry and prints strict JSON with the documented keys.
    assert main(["summary", "--json", "--config", config, "--data", data, "--quiet"]) == 0
    text = capsys.readouterr().out
    summary = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert entries[0].stat().st_mtime_ns == stamp
    assert set(summary) >= {"data", "models", "headline", "claims", "clustering", "planning",
                            "meta"}
    for model in NUTS_MODELS:
        entry = summary["models"][model.value]
        assert {"heldout", "heldout_worksites", "loo", "diagnostics"} <= set(entry)
        assert set(entry["diagnostics"]) >= {"max_r_hat", "min_ess_bulk", "min_ess_tail",
                                             "divergences"}
    for baseline in ("pooled_logistic", "gradient_boosting", "intercept_only"):
        assert summary["models"][baseline]["baseline"] is True
        assert "loo" not in summary["models"][baseline]
    assert summary["headline"]["model"] == "headline"
    worksite = summary["headline"]["coefficients"]["worksite"]
    assert "NDO (Eigen., Pearson)" in worksite
    assert {c["verdict"] for c in summary["claims"]} <= {*VERDICTS, NOT_IDENTIFIED}
    assert all(set(c["verdict_by_model"]) == {m.value for m in NUTS_MODELS}
               for c in summary["claims"])

    # The plan command uses the cached posterior.
    assert main(["plan", "--config", config, "--data", data, "--quiet", "--design", "worksite",
                 "--sites", "20", "--effect", "0.1", "--sims", "200", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert 0 <= plan["power"] <= 1 and plan["power_se"] > 0
    assert entries[0].stat().st_mtime_ns == stamp


@pytest.mark.parametrize(("arguments", "message"), [
    (["--sites", "-3"], "--sites"),
    (["--alpha", "1.5"], "--alpha"),
    (["--effect", "0.99"], "--effect"),
    (["--design", "worksite", "--sims", "5"], "--sims"),
])
def test_plan_rejects_bad_arguments_with_one_line(small_run, monkeypatch, capsys, arguments,
                                                  message):
    monkeypatch.setenv("ORGANIZING_CACHE_DIR", str(small_run / "cache"))
    code = main(["plan", "--config", str(small_run / "tiny.yml"), "--data",
                 str(small_run / "data"), "--quiet", *arguments])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_editing_the_source_recomputes(small_run, monkeypatch):
    """A changed source fingerprint is a new cache key: the next load computes afresh."""
    monkeypatch.setenv("ORGANIZING_CACHE_DIR", str(small_run / "cache"))
    campaign = load_campaign(small_run / "data")
    config = load_config(small_run / "tiny.yml")
    before = cache.cache_key(campaign.checksums, config)
    assert cache.entry_path(before).exists()
    monkeypatch.setattr(cache, "source_fingerprint", lambda: "an edited package")
    after = cache.cache_key(campaign.checksums, config)
    assert after != before and not cache.entry_path(after).exists()


def _same_results(a, b):
    np.testing.assert_array_equal(a.svi[ModelId.PUBLISHED].losses,
                                  b.svi[ModelId.PUBLISHED].losses)
    assert a.evaluation.metrics.equals(b.evaluation.metrics)
    assert a.evaluation.folds.equals(b.evaluation.folds)
    for model in NUTS_MODELS:
        assert a.posteriors[model].coefficients.worksite.equals(
            b.posteriors[model].coefficients.worksite)
    assert a.claims.table.equals(b.claims.table)
    assert a.sensitivity.verdicts.equals(b.sensitivity.verdicts)
    assert a.error_rates.campaigns.drop(columns="seconds").equals(
        b.error_rates.campaigns.drop(columns="seconds"))


def test_seeds_reproduce_identical_results(small_run, monkeypatch):
    campaign = load_campaign(small_run / "data")
    config = load_config(small_run / "tiny.yml")
    monkeypatch.setenv("ORGANIZING_CACHE_DIR", str(small_run / "cache"))
    cached = pipeline.load(small_run / "tiny.yml", data_dir=small_run / "data", progress=False)
    monkeypatch.setenv("ORGANIZING_POSTERIORS", "0")  # every fit made afresh
    fresh = pipeline.run(campaign, config, progress=False)
    _same_results(cached, fresh)


def test_a_rerun_recomputes_from_the_stored_posteriors_without_fitting(small_run, monkeypatch):
    """After an edit to a summary, table or verdict (a new results key), the results are
    recomputed from the stored fits: no NUTS or SVI fit runs, and they are the same."""
    from organizing.inference import nuts, svi

    campaign = load_campaign(small_run / "data")
    config = load_config(small_run / "tiny.yml")
    monkeypatch.setenv("ORGANIZING_CACHE_DIR", str(small_run / "cache"))
    cached = pipeline.load(small_run / "tiny.yml", data_dir=small_run / "data", progress=False)
    assert list((small_run / "cache" / "posteriors").glob("nuts-*.nc"))
    assert list((small_run / "cache" / "posteriors").glob("svi-*.nc"))
    monkeypatch.setattr(nuts, "run_nuts", lambda *a, **k: pytest.fail("a NUTS fit ran"))
    monkeypatch.setattr(svi, "fit_svi", lambda *a, **k: pytest.fail("an SVI fit ran"))
    _same_results(cached, pipeline.run(campaign, config, progress=False))


def test_valid_edge_cases_run_and_write_strict_json(small_run, tmp_path, monkeypatch, capsys):
    """A small campaign that passes validation runs through every stage (issue 11)."""
    data = tmp_path / "data"
    simulate_campaign(n_sites=8, n_workers=300, seed=11).write(data)
    monkeypatch.setenv("ORGANIZING_CACHE_DIR", str(tmp_path / "cache"))
    config = str(small_run / "tiny.yml")
    assert main(["validate", str(data), "--config", config]) == 0
    capsys.readouterr()
    assert main(["summary", "--json", "--config", config, "--data", str(data), "--quiet",
                 "--compute"]) == 0
    json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(c))
    shutil.rmtree(tmp_path / "cache")
