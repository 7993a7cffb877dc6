"""The configuration: defaults, profiles, user files, and one-line errors naming the key."""

from __future__ import annotations

import json
import re

import pytest

from organizing.cli import main
from organizing.config import PROFILES, SEED_LIMIT, Config, ConfigError, load_config


def write(tmp_path, text: str, name: str = "settings.yml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_reproduce_the_study_settings():
    config = load_config(profile="full")
    assert (config.split.test_size, config.split.random_state) == (0.2, 42)
    assert (config.svi.lr, config.svi.lr_decay) == (0.015, 0.9995)
    clustering = config.clustering
    assert (clustering.K, clustering.sigma, clustering.eta, clustering.alpha0,
            clustering.iterations, clustering.train_sites) == (2, 1e-4, 0.1, 1.0, 400, 100)
    assert config.posterior.draws >= 1000


def test_svi_settings_follow_the_report_and_the_code():
    """The replication: the report's optimizer, run to at least the report's 18,000 steps
    unless the plateau rule stops it; the second fit: the code's optimizer, fixed steps."""
    from organizing.inference.optimizers import ADAM_BETAS, CODE_OPTIMIZER, REPORT_OPTIMIZER

    full, quick = load_config(profile="full"), load_config(profile="quick")
    report = full.svi.fit_settings
    assert (report["lr"], report["lr_decay"], report["betas"]) == (
        REPORT_OPTIMIZER.lr, REPORT_OPTIMIZER.lr_decay, ADAM_BETAS)
    assert report["max_steps"] >= REPORT_OPTIMIZER.converged_at
    code = full.svi.code_fit_settings
    assert code == {"lr": CODE_OPTIMIZER.lr, "lr_decay": CODE_OPTIMIZER.lr_decay,
                    "betas": CODE_OPTIMIZER.betas, "max_steps": CODE_OPTIMIZER.steps,
                    "stop_early": False}
    assert (CODE_OPTIMIZER.lr, CODE_OPTIMIZER.betas, CODE_OPTIMIZER.lr_decay,
            CODE_OPTIMIZER.steps) == (0.05, (0.95, 0.999), 0.999, 8000)
    from organizing.report.narrative import published

    assert (REPORT_OPTIMIZER.steps, REPORT_OPTIMIZER.converged_at) == (
        published("svi_steps_run"), published("svi_steps_to_convergence"))
    # the quick profile stays quick: short fits, same optimizers
    assert quick.svi.max_steps <= 1000 and quick.svi.code_optimizer.steps <= 1000
    assert quick.svi.code_fit_settings["lr"] == code["lr"]


@pytest.mark.parametrize("text, message", [
    ("svi: {betas: [0.9]}", "svi.betas"),
    ("svi: {betas: [0.9, 1.0]}", "svi.betas[1] must be < 1 (got 1.0)"),
    ("svi: {code_optimizer: {steps: 0}}", "svi.code_optimizer.steps must be > 0 (got 0)"),
    ("svi: {code_optimizer: {momentum: 0.9}}",
     "unknown configuration key 'svi.code_optimizer.momentum' (known here: lr, lr_decay, betas"),
])
def test_svi_optimizer_settings_are_checked(tmp_path, text, message):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text))
    assert message in str(error.value)


def test_quick_profile_only_lowers_effort():
    full, quick = load_config(profile="full"), load_config(profile="quick")
    assert quick.svi.max_steps < full.svi.max_steps
    assert quick.svi.lr == full.svi.lr
    assert quick.values != full.values
    assert (quick.profile, full.profile) == ("quick", "full")


def test_new_sections_and_their_quick_overrides():
    full, quick = load_config(profile="full"), load_config(profile="quick")
    assert full.values["nuts"] == {"chains": 4, "warmup": 1000, "samples": 1000,
                                   "target_accept": 0.9}
    assert full.values["sbc"] == {"replications": 100, "sites": 30, "workers_per_site": 60,
                                  "warmup": 300, "samples": 300}
    assert full.values["planning"] == {
        "sims": 2000, "effects": [0.03, 0.05, 0.10], "sites_grid": [10, 20, 30, 40, 60, 80],
        "option_sites": [40, 80], "contamination": [0.25, 0.5], "effect_sd": 0.5,
        "rehearsal": {"sites": 40, "effect": 0.08, "seed": 1, "warmup": 500,
                      "samples": 1000}}
    assert full.disclosure.min_count == 5
    assert (quick.nuts.chains, quick.nuts.warmup, quick.nuts.samples) == (2, 300, 300)
    assert quick.nuts.target_accept == 0.9
    assert quick.values["sbc"] == {"replications": 8, "sites": 20, "workers_per_site": 40,
                                   "warmup": 150, "samples": 150}
    assert quick.planning.sims == 300 and quick.planning.sites_grid == (10, 20, 40)
    assert quick.planning.effects == full.planning.effects


def test_attribute_access_values_and_sections_agree():
    config = load_config(profile="quick")
    assert isinstance(config, Config)
    assert config.svi.lr == config.values["svi"]["lr"]
    assert config.seed == config.values["seed"] == 0
    assert "profile" not in config.values  # the cache key hashes values, not the name
    json.dumps(config.values, allow_nan=False)  # plain JSON values (lists, no tuples)
    assert config.values["clustering"]["K_grid"] == [1, 2, 3]
    assert not hasattr(config, "fingerprint")


def test_configuration_is_frozen():
    config = load_config()
    with pytest.raises(Exception, match="frozen"):
        config.svi.lr = 1.0  # type: ignore[misc]
    with pytest.raises(Exception, match="frozen"):
        config.seed = 3  # type: ignore[misc]
    assert hash(config) == hash(load_config())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("svi: {lr: -0.1}", "svi.lr must be > 0 (got -0.1)"),
        ("svi: {learning_rate: 0.1}", "unknown configuration key 'svi.learning_rate'"),
        ("svi: {foo: 1}", "unknown configuration key 'svi.foo' (known here: lr,"),
        ("foo: 1", "unknown configuration key 'foo'"),
        ("lr: 0.1", "unknown configuration key 'lr' (known here: seed, split, svi, posterior, "
                    "nuts, evaluation, clustering, sbc, error_rates, planning, disclosure); did "
                    "you mean svi.lr?"),
        ("nuts: {replications: 3}", "unknown configuration key 'nuts.replications' (known "
                                    "here: chains, warmup, samples, target_accept); did you "
                                    "mean sbc.replications?"),
        ("nuts: {chains: four}", "nuts.chains must be of type int (got 'four')"),
        ("nuts: {samples: 100.5}", "nuts.samples must be of type int"),
        ("seed: true", "seed must be of type int (got True)"),
        ("split: {test_size: 1.5}", "split.test_size must be strictly between 0 and 1"),
        ("clustering: {K_grid: []}", "clustering.K_grid must be a non-empty list"),
        ("clustering: {K_grid: [1, 0]}", "clustering.K_grid[1] must be >= 1 (got 0)"),
        ("planning: {effects: [0.05, 3]}", "planning.effects[1] must be < 1 (got 3)"),
        ("svi: {rtol: abc}", "svi.rtol must be a number (got 'abc')"),
        ("svi: {min_steps: 50000}", "svi.min_steps must not exceed svi.max_steps"),
        ("clustering: {burn_in: 400}", "clustering.burn_in must be smaller than"),
        ("clustering: {test_restarts: 0}", "clustering.test_restarts must be > 0 (got 0)"),
        ("svi: [1, 2]", "svi must be a mapping"),
        ("svi: null", "svi must be a mapping (got None)"),
        ("- 1\n- 2\n", "the configuration must be a mapping"),
        ("[unclosed", "is not valid YAML (line 1)"),
        # finite numbers only
        ("svi: {lr: .inf}", "svi.lr must be a finite number (got inf)"),
        ("svi: {rtol: .nan}", "svi.rtol must be a finite number (got nan)"),
        ("svi: {lr: inf}", "svi.lr must be a finite number"),
        # seeds within NumPy's range
        ("seed: -1", "seed must be >= 0 and < 2**32 (got -1): NumPy's seed range"),
        ("seed: 1e23", "seed must be of type int (got '1e23')"),
        ("seed: 1.0e+23", "seed must be of type int"),
        (f"seed: {SEED_LIMIT}", "seed must be >= 0 and < 2**32"),
        ("split: {random_state: -1}", "split.random_state must be >= 0 and < 2**32"),
        # minimums for the diagnostics, with the reason
        ("nuts: {samples: 10}", "nuts.samples must be >= 100 (got 10): bulk and tail ESS and "
                                "R-hat need enough draws"),
        ("nuts: {chains: 0}", "nuts.chains must be >= 1 (got 0): NUTS needs a chain; with only "
                              "one, the diagnostics flag R-hat"),
        ("nuts: {target_accept: 1}", "nuts.target_accept must be strictly between 0 and 1"),
        ("posterior: {draws: 99}", "posterior.draws must be >= 100"),
        ("sbc: {replications: 1}", "sbc.replications must be >= 2"),
        ("sbc: {workers_per_site: 4}", "sbc.workers_per_site must be >= 5"),
        ("planning: {sims: 99}", "planning.sims must be >= 100"),
        ("planning: {sites_grid: [1, 10]}", "planning.sites_grid[0] must be >= 4"),
        ("planning: {option_sites: [40, 81]}", "planning.option_sites must be even"),
        ("disclosure: {min_count: 0}", "disclosure.min_count must be >= 1"),
        # misplaced keys and duplicate keys
        ("profiles: {quick: {svi: {lr: 0.1}}}", "the key 'profiles' is not allowed in a "
                                                "configuration file"),
        ("profile: quick", "the key 'profile' is not allowed"),
        ("svi:\n  lr: 0.1\n  lr: 0.2\n", "duplicate key 'svi.lr' in"),
        ("seed: 1\nseed: 2\n", "duplicate key 'seed'"),
        ("svi: {lr: 0.1}\nsvi: {rtol: 0.1}\n", "duplicate key 'svi'"),
    ],
)
def test_invalid_configuration_names_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(write(tmp_path, text))


def test_every_problem_gets_one_line(tmp_path):
    path = write(tmp_path, "seed: -1\nsvi: {lr: -1, foo: 2}\nnuts: {samples: 10}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 4, lines
    assert any(line.startswith("svi.lr must be > 0") for line in lines)
    assert any(line.startswith("unknown configuration key 'svi.foo'") for line in lines)


def test_duplicate_key_names_both_lines(tmp_path):
    path = write(tmp_path, "seed: 1\nsvi:\n  lr: 0.1\n  rtol: 0.01\n  lr: 0.2\n")
    with pytest.raises(ConfigError, match=r"duplicate key 'svi.lr' in .* \(lines 3 and 5\)"):
        load_config(path)


def test_user_file_wins_over_the_profile(tmp_path):
    path = write(tmp_path, "svi: {max_steps: 777}\nnuts: {samples: 150}\n")
    config = load_config(path, profile="quick")
    assert config.svi.max_steps == 777
    assert config.nuts.samples == 150
    quick = load_config(profile="quick")
    assert (config.nuts.chains, config.nuts.warmup) == (quick.nuts.chains, quick.nuts.warmup)
    assert config.svi.min_steps == quick.svi.min_steps


def test_user_file_replaces_lists_whole(tmp_path):
    config = load_config(write(tmp_path, "clustering: {K_grid: [2]}\n"), profile="quick")
    assert config.clustering.K_grid == (2,)


@pytest.mark.parametrize("profile", PROFILES)
def test_invalid_values_are_caught_under_every_profile(tmp_path, profile):
    path = write(tmp_path, "svi: {min_steps: 50000}\nclustering: {K_grid: []}\n")
    with pytest.raises(ConfigError):
        load_config(path, profile=profile)


def test_numbers_written_in_scientific_notation_are_accepted(tmp_path):
    assert load_config(write(tmp_path, "svi: {rtol: 1e-4}\n")).svi.rtol == 1e-4


def test_empty_user_file_means_defaults(tmp_path):
    assert load_config(write(tmp_path, "")).values == load_config().values


def test_profile_from_the_environment(monkeypatch):
    monkeypatch.setenv("ORGANIZING_PROFILE", "quick")
    assert load_config().profile == "quick"
    assert load_config(profile="full").profile == "full"


def test_unknown_profile_is_refused():
    with pytest.raises(ConfigError, match="unknown profile 'fast'"):
        load_config(profile="fast")


def _bytes(path, content: bytes):
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "nowhere.yml", "not found"),
        (lambda p: p, "is a directory, not a file"),
        (lambda p: _bytes(p / "latin1.yml", b"seed: \xff\n"), "is not UTF-8 text"),
    ],
    ids=["missing", "directory", "not-utf8"],
)
def test_unreadable_configuration_file(tmp_path, make, message):
    with pytest.raises(ConfigError, match=message):
        load_config(make(tmp_path))


@pytest.mark.parametrize("command", ["validate", "run", "summary"])
def test_cli_reports_configuration_errors(tmp_path, capsys, command):
    path = write(tmp_path, "nuts: {warmup: 0}\n")
    assert main([command, "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "nuts.warmup must be > 0" in err
    assert "Traceback" not in err
