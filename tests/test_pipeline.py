"""The pipeline's configuration, cache and command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from organizing import pipeline, results
from organizing.cli import main
from organizing.config import ConfigError, load_config
from organizing.data import load_campaign
from organizing.features import build_design, study_split, worksite_folds
from organizing.simulate import simulate_campaign


def test_defaults_reproduce_the_study_settings():
    config = load_config(profile="full")
    assert config.section("split") == {"test_size": 0.2, "random_state": 42}
    svi = config.section("svi")
    assert (svi["lr"], svi["lr_decay"]) == (0.015, 0.9995)
    clustering = config.section("clustering")
    assert (clustering["K"], clustering["sigma"], clustering["eta"], clustering["alpha0"],
            clustering["iterations"], clustering["train_sites"]) == (2, 1e-4, 0.1, 1.0, 400, 100)
    assert config.section("posterior")["draws"] >= 1000


def test_quick_profile_only_lowers_effort():
    full, quick = load_config(profile="full"), load_config(profile="quick")
    assert quick.section("svi")["max_steps"] < full.section("svi")["max_steps"]
    assert quick.section("svi")["lr"] == full.section("svi")["lr"]
    assert quick.fingerprint() != full.fingerprint()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("svi: {lr: -0.1}", "svi.lr must be > 0"),
        ("svi: {learning_rate: 0.1}", "unknown configuration key 'svi.learning_rate'"),
        ("nuts: {chains: four}", "nuts.chains must be of type int"),
        ("split: {test_size: 1.5}", "split.test_size must be between 0 and 1"),
        ("clustering: {K_grid: []}", "clustering.K_grid must be a non-empty list"),
        ("svi: {rtol: abc}", "svi.rtol must be a number"),
        ("svi: {min_steps: 50000}", "svi.min_steps must not exceed svi.max_steps"),
        ("svi: [1, 2]", "svi must be a mapping"),
        ("[unclosed", "is not valid YAML"),
    ],
)
def test_invalid_configuration_names_the_key(tmp_path, text, message):
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_config(path)


def test_user_file_wins_over_the_profile(tmp_path):
    path = tmp_path / "mine.yml"
    path.write_text("svi: {max_steps: 777}\n")
    config = load_config(path, profile="quick")
    assert config.section("svi")["max_steps"] == 777
    assert config.section("nuts") == load_config(profile="quick").section("nuts")


@pytest.mark.parametrize("profile", ["full", "quick"])
def test_invalid_values_are_caught_under_every_profile(tmp_path, profile):
    path = tmp_path / "bad.yml"
    path.write_text("svi: {min_steps: 50000}\nclustering: {K_grid: []}\n")
    with pytest.raises(ConfigError):
        load_config(path, profile=profile)


def test_numbers_written_in_scientific_notation_are_accepted(tmp_path):
    path = tmp_path / "ok.yml"
    path.write_text("svi: {rtol: 1e-4}\n")
    assert load_config(path).section("svi")["rtol"] == 1e-4


def test_unknown_profile_is_refused():
    with pytest.raises(ConfigError, match="unknown profile 'fast'"):
        load_config(profile="fast")


def test_cli_reports_configuration_errors(tmp_path, capsys):
    path = tmp_path / "bad.yml"
    path.write_text("nuts: {warmup: 0}\n")
    assert main(["run", "--config", str(path), "--quiet"]) == 1
    assert "nuts.warmup must be > 0" in capsys.readouterr().err


def test_cache_key_follows_data_and_configuration(campaign):
    quick = load_config(profile="quick")
    key = results.cache_key(campaign.checksums, quick)
    assert key == results.cache_key(dict(campaign.checksums), load_config(profile="quick"))
    assert key != results.cache_key(campaign.checksums, load_config(profile="full"))
    changed = {**campaign.checksums, "WorkerRegressionData.csv": "0" * 64}
    assert key != results.cache_key(changed, quick)


def test_study_split_matches_scikit_learn_on_the_table(campaign):
    from sklearn.model_selection import train_test_split

    train, test = study_split(campaign.n_workers)
    assert len(test) == round(0.2 * campaign.n_workers) or len(test) == int(
        np.ceil(0.2 * campaign.n_workers))
    _, _, y_train, y_test = train_test_split(
        campaign.worker_x, campaign.signed, test_size=0.2, random_state=42)
    np.testing.assert_array_equal(campaign.signed[train], y_train)
    np.testing.assert_array_equal(campaign.signed[test], y_test)


def test_design_standardizes_over_all_rows_and_drops_references(campaign):
    design = build_design(campaign)
    np.testing.assert_allclose(design.worker_x.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(design.site_x.std(axis=0), 1, atol=1e-9)
    extended = build_design(campaign, drop_reference=True)
    assert len(extended.worker_features) == len(design.worker_features) - 1
    assert len(extended.site_features) == len(design.site_features) - 1
    assert "Time To First Convo (Quart. 1)" not in extended.worker_features
    assert "Campaign length (Quint. 1)" not in extended.site_features


def test_worksite_folds_never_share_a_worksite(campaign):
    seen = []
    for train, test in worksite_folds(campaign.site_index, n_folds=4, seed=0):
        assert not set(campaign.site_index[train]) & set(campaign.site_index[test])
        seen.extend(test)
    assert sorted(seen) == list(range(campaign.n_workers))


# The pipeline tests check plumbing (stages, cache, CLI, seeds), not estimates:
# a tiny configuration keeps them fast while running every stage.
TINY = """
svi: {max_steps: 200, min_steps: 50, window: 50}
posterior: {draws: 200}
nuts: {chains: 2, warmup: 30, samples: 30}
evaluation: {worksite_folds: 2, ppc_draws: 50}
clustering: {iterations: 60, burn_in: 30, chains: 2, sigma_grid_points: 5, K_grid: [1, 2],
             coefficient_draws: 2}
"""


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A small simulated campaign and a tiny configuration, in a temp dir."""
    base = tmp_path_factory.mktemp("pipeline")
    simulate_campaign(n_sites=30, n_workers=1500, seed=3).write(base / "data")
    (base / "tiny.yml").write_text(TINY)
    return base


def test_run_then_load_from_cache(small_run, monkeypatch, capsys):
    monkeypatch.setenv("ORGANIZING_CACHE_DIR", str(small_run / "cache"))
    data = str(small_run / "data")
    config = str(small_run / "tiny.yml")
    assert main(["run", "--config", config, "--data", data, "--quiet"]) == 0
    first = capsys.readouterr().out
    assert "computed in" in first
    cached = list((small_run / "cache").glob("*/results.pkl"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns

    # A second call loads the same artifact and prints the headline figures.
    assert main(["summary", "--json", "--config", config, "--data", data, "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert cached[0].stat().st_mtime_ns == stamp
    assert set(summary) >= {"heldout", "scales", "nuts", "clustering", "data", "meta"}
    held = summary["heldout"]
    assert 0.5 < held["corrected"]["auc"] <= 1
    assert 0 <= held["baseline_accuracy"] <= 1
    for run in ("published", "corrected"):
        assert summary["clustering"][run]["K"] >= 1
        assert summary["clustering"][run]["sigma"] > 0
    assert summary["nuts"]["draws"] > 0


def test_seeds_reproduce_identical_results(small_run, monkeypatch):
    campaign = load_campaign(small_run / "data")
    config = load_config(small_run / "tiny.yml")
    monkeypatch.setenv("ORGANIZING_CACHE_DIR", str(small_run / "cache"))
    cached = results.load(small_run / "tiny.yml", data_dir=small_run / "data", progress=False)
    fresh = pipeline.run(campaign, config, progress=False)
    np.testing.assert_array_equal(cached.fits["corrected"].losses, fresh.fits["corrected"].losses)
    assert cached.metrics.equals(fresh.metrics)
    assert cached.summary() == fresh.summary()
