"""Running a randomized trial: the draw, the protocol sheet, matching outcomes, the analysis.

The command-line tests at the end run ``organizing randomize``, ``simulate-outcomes``
and ``analyse-trial`` on files in a temporary folder; the refusals must exit 2 with
one line and no traceback, and leave no output behind.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from organizing.cli import main
from organizing.planning import files, protocol, randomize, trial, workflow

# ----------------------------------------------------------------- fixtures


def store_list(n: int = 24, seed: int = 0, forecast: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "store_id": [f"0{i:03d}" for i in range(n)],  # leading zeros must survive
        "workers": rng.integers(11, 400, n),
        "forecast": rng.uniform(0.05, 0.45, n) if forecast else np.nan})


def worker_list(stores: pd.DataFrame, per_store: int = 40) -> pd.DataFrame:
    return pd.DataFrame({
        "worker_id": [f"w-{s}-{k}" for s in stores["store_id"] for k in range(per_store)],
        "store_id": np.repeat(stores["store_id"].to_numpy(), per_store)})


def drawn(tmp_path, design="worksite", block_by="rate", stores=None, **kwargs):
    stores = store_list() if stores is None else stores
    workers = None
    if design == "worker":
        workers = tmp_path / "workers.csv"
        worker_list(stores).to_csv(workers, index=False)
    workflow.draw(stores, tmp_path, design=design, seed=3, block_by=block_by,
                  workers_path=workers, hypothesis="visits raise signing", **kwargs)
    return tmp_path / "protocol.yml"


# ----------------------------------------------------------------- randomize


def test_the_same_seed_gives_the_same_draw_whatever_the_row_order():
    stores = store_list()
    a = randomize.randomize(stores, "worksite", 11, block_by="size")
    b = randomize.randomize(stores.sample(frac=1, random_state=1), "worksite", 11,
                            block_by="size")
    c = randomize.randomize(stores, "worksite", 12, block_by="size")
    pd.testing.assert_frame_equal(a.table, b.table)
    assert not a.table["arm"].equals(c.table["arm"])


@pytest.mark.parametrize(("block_by", "size"), [("size", 2), ("rate", 2), ("rate", 4),
                                                ("none", 2)])
def test_every_block_is_balanced_and_matched(block_by, size):
    stores = store_list(n=25)  # odd: the last block takes the extra store
    drawn_ = randomize.randomize(stores, "worksite", 5, block_by=block_by, block_size=size)
    table = drawn_.table
    treated = (table["arm"] == "treated").groupby(table["block"]).sum()
    members = table.groupby("block").size()
    assert np.all(np.abs(2 * treated - members) <= 1)  # within one store of half
    assert members.min() >= 2
    if block_by != "none":
        assert set(members) <= {size, size + 1}
        key = "workers" if block_by == "size" else "forecast"
        ordered = table.sort_values(key)
        # blocks are consecutive runs in the sorted order: matched on the key
        assert (ordered["block"].diff().fillna(0) >= 0).all()
    assert randomize.within_block_gaps(drawn_)["max_arm_difference"] <= 1


def test_each_store_is_treated_with_probability_one_half():
    stores = store_list(n=9)
    treated = np.mean([randomize.randomize(stores, "worksite", seed, block_by="size")
                       .table["arm"].eq("treated").to_numpy() for seed in range(400)], axis=0)
    assert np.all(np.abs(treated - 0.5) <= 3 * math.sqrt(0.25 / 400))


def test_the_worker_design_splits_every_store():
    stores = store_list(n=6)
    workers = worker_list(stores, per_store=7)
    drawn_ = randomize.randomize(stores, "worker", 2, workers=workers)
    table = drawn_.table
    treated = (table["arm"] == "treated").groupby(table["store_id"]).sum()
    assert set(treated) <= {3, 4} and drawn_.blocks == 6
    balance = randomize.balance(drawn_)
    assert list(balance["workers"]) == [42 - treated.sum(), treated.sum()]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"design": "worksite", "block_by": "rate", "forecast": False}, "have no forecast rate"),
    ({"design": "worker", "block_by": "size"}, "every store is its own block"),
    ({"design": "worker"}, "needs a worker list"),
    ({"design": "worksite", "block_size": 1}, "block_size must be an integer >= 2"),
    ({"design": "stores"}, "design must be one of"),
])
def test_impossible_draws_are_refused(kwargs, message):
    forecast = kwargs.pop("forecast", True)
    with pytest.raises(ValueError, match=message):
        randomize.randomize(store_list(forecast=forecast), seed=1, **kwargs)


# ----------------------------------------------------------------- protocol and files


def test_the_protocol_is_read_back_and_guards_the_assignment(tmp_path):
    path = drawn(tmp_path, window=("2025-03-01", "2025-04-30"), planned={"effect": 0.05})
    sheet = protocol.read(path)
    assert sheet.design == "worksite" and sheet.seed == 3 and sheet.blocks["by"] == "rate"
    assert sheet.window == {"start": "2025-03-01", "end": "2025-04-30"}
    assert sheet.planned["effect"] == 0.05 and sheet.planned["stores"] == 24
    assert sheet.analysis["covariate"] == "forecast" and sheet.analysis["alpha"] == 0.05
    table = pd.read_csv(tmp_path / "assignment.csv", dtype=str)
    assert table["store_id"].str.startswith("0").all()  # IDs stay text
    table.loc[0, "arm"] = "treated" if table.loc[0, "arm"] == "control" else "control"
    table.to_csv(tmp_path / "assignment.csv", index=False)
    with pytest.raises(trial.MismatchError, match="has changed since the protocol"):
        trial.read_assignment(sheet, path)


def test_a_draw_never_overwrites_an_earlier_one(tmp_path):
    drawn(tmp_path)
    before = (tmp_path / "assignment.csv").read_bytes()
    with pytest.raises(workflow.RefusedError, match="already holds"):
        drawn(tmp_path)
    assert (tmp_path / "assignment.csv").read_bytes() == before


@pytest.mark.parametrize(("text", "message"), [
    ("store_id,workers\nA,10\nA,12\n", "appears more than once"),
    ("store_id,workers\nA,10\nB,-1\n", "whole number >= 1"),
    ("store_id,workers,forecast\nA,10,1.5\n", "strictly between 0 and 1"),
    ("store_id,size\nA,10\n", "needs the column"),
    ("store_id,workers\n,10\n", "empty store_id"),
])
def test_bad_store_lists_are_refused_in_one_line(tmp_path, text, message):
    path = tmp_path / "stores.csv"
    path.write_text(text)
    with pytest.raises(files.TrialFileError, match=message) as error:
        files.read_stores(path)
    assert "\n" not in str(error.value)
    assert "line" in str(error.value) or "column" in str(error.value)


# ----------------------------------------------------------------- matching outcomes


def outcomes_for(path, effect=0.0, seed=0):
    return trial.simulate_outcomes(protocol.read(path), path, effect, seed=seed)


def test_outcomes_match_unit_by_unit(tmp_path):
    path = drawn(tmp_path)
    outcomes = outcomes_for(path, 0.05)
    outcomes.to_csv(tmp_path / "outcomes.csv", index=False)
    _, data = trial.load_trial(path, tmp_path / "outcomes.csv")
    assert len(data.cells) == 24 and data.blocked and not data.notes
    assert data.cells["n"].sum() == outcomes["workers"].sum()
    assert data.cells["y"].sum() == outcomes["signed"].sum()


@pytest.mark.parametrize("change", ["extra store", "missing store", "signed > workers",
                                    "wrong window", "wrong columns"])
def test_mismatched_outcomes_are_refused(tmp_path, change):
    path = drawn(tmp_path, window=("2025-03-01", "2025-04-30"))
    outcomes = outcomes_for(path)
    if change == "extra store":
        outcomes = pd.concat([outcomes, outcomes.iloc[[0]].assign(store_id="new")])
    elif change == "missing store":
        outcomes = outcomes.iloc[1:]
    elif change == "signed > workers":
        outcomes.loc[0, "signed"] = outcomes.loc[0, "workers"] + 1
    elif change == "wrong window":
        outcomes["window_end"] = "2025-05-31"
    else:
        outcomes = outcomes.rename(columns={"signed": "cards"})
    outcomes.to_csv(tmp_path / "outcomes.csv", index=False)
    with pytest.raises(ValueError) as error:
        trial.load_trial(path, tmp_path / "outcomes.csv")
    assert "\n" not in str(error.value)


def test_missing_units_can_be_allowed_with_a_note(tmp_path):
    path = drawn(tmp_path, design="worker", block_by="none")
    outcomes = outcomes_for(path).iloc[5:]
    outcomes.to_csv(tmp_path / "outcomes.csv", index=False)
    with pytest.raises(trial.MismatchError, match="5 of 960 assigned workers have no outcome"):
        trial.load_trial(path, tmp_path / "outcomes.csv")
    _, data = trial.load_trial(path, tmp_path / "outcomes.csv", allow_missing=True)
    assert any("5 of 960" in note for note in data.notes)
    assert data.cells["n"].sum() == 955


# ----------------------------------------------------------------- the analysis


def test_store_regression_matches_a_hand_computed_paired_t_test():
    rates = np.array([0.30, 0.20, 0.25, 0.22, 0.40, 0.31])
    treated = np.array([True, False, True, False, True, False])
    blocks = np.array([0, 0, 1, 1, 2, 2])
    differences = np.array([0.10, 0.03, 0.09])
    estimate, low, high, p, df = trial.store_regression(rates, treated, blocks)
    se = differences.std(ddof=1) / math.sqrt(3)
    assert estimate == pytest.approx(differences.mean()) and df == 2
    from scipy import stats
    assert p == pytest.approx(2 * stats.t.sf(differences.mean() / se, 2))
    assert high - estimate == pytest.approx(stats.t.ppf(0.975, 2) * se)


def test_a_regression_with_no_degrees_of_freedom_left_says_so():
    """Four stores in two pairs: the paired test has one degree of freedom, and the
    forecast's slope would take it."""
    rates = np.array([0.30, 0.20, 0.25, 0.22])
    treated = np.array([True, False, True, False])
    blocks = np.array([0, 0, 1, 1])
    assert trial.store_regression(rates, treated, blocks)[4] == 1
    with pytest.raises(trial.TooFewStores, match="too few stores"):
        trial.store_regression(rates, treated, blocks, np.array([0.1, -0.2, 0.3, 0.05]))


@pytest.mark.slow
@pytest.mark.parametrize(("design", "effect"), [("worksite", 0.15), ("worker", 0.0)])
def test_the_analysis_recovers_a_planted_effect_and_stays_undecided_on_a_null_trial(
        tmp_path, design, effect):
    """One NUTS fit each (compiled once per shape: JAX's persistent cache is on)."""
    from organizing.pipeline import enable_compilation_cache

    enable_compilation_cache()
    stores = store_list(n=30, seed=2)
    stores["workers"] = np.clip(stores["workers"], 11, 120)
    path = drawn(tmp_path, design=design, block_by="rate" if design == "worksite" else "none",
                 stores=stores)
    outcomes = outcomes_for(path, effect, seed=4)
    outcomes.to_csv(tmp_path / "outcomes.csv", index=False)
    sheet, data = trial.load_trial(path, tmp_path / "outcomes.csv")
    result = trial.analyse(sheet, data, warmup=500, samples=500)
    bayes = result.bayes
    assert bayes.max_r_hat < 1.01 and bayes.divergences == 0, bayes.flags
    assert bayes.lower < effect < bayes.upper  # the 90% interval covers the planted effect
    assert result.test.lower < effect < result.test.upper
    if effect > 0:
        assert bayes.prob_positive > 0.95 and result.rejects
    else:
        assert 0.05 < bayes.prob_positive < 0.95 and not result.rejects
    json.dumps(result.to_dict(), allow_nan=False)


# ----------------------------------------------------------------- the commands


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_randomize_command_writes_the_files_and_prints_no_ids(tmp_path, capsys):
    stores, workers = store_list(n=8), tmp_path / "workers.csv"
    stores.to_csv(tmp_path / "stores.csv", index=False)
    worker_list(stores).to_csv(workers, index=False)
    code, out, err = run(capsys, "randomize", "--stores", tmp_path / "stores.csv", "--workers",
                         workers, "--design", "worker", "--seed", 4, "--hypothesis",
                         "visits raise signing", "--out", tmp_path / "trial")
    assert code == 0, err
    assert "Balance by arm" in out and (tmp_path / "trial" / "protocol.yml").exists()
    assert "w-" not in out and "w-" not in err  # no worker ID is printed
    code, out, err = run(capsys, "randomize", "--stores", tmp_path / "stores.csv", "--seed", 4,
                         "--hypothesis", "x", "--out", tmp_path / "trial")
    assert code == 2 and err.count("\n") == 1 and "already holds" in err


def test_a_mismatched_outcome_file_exits_2_with_one_line_and_no_output(tmp_path, capsys):
    path = drawn(tmp_path)
    outcomes = outcomes_for(path)
    outcomes.loc[0, "store_id"] = "not-in-the-trial"
    outcomes.to_csv(tmp_path / "outcomes.csv", index=False)
    result = tmp_path / "result.json"
    code, out, err = run(capsys, "analyse-trial", path, tmp_path / "outcomes.csv", "--output",
                         result)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: ") and "Traceback" not in err
    assert "never assigned" in err and "not-in-the-trial" not in err
    assert not result.exists()


@pytest.mark.parametrize("argv", [
    ["randomize", "--stores", "missing.csv", "--seed", "1", "--hypothesis", "x", "--out", "o"],
    ["simulate-outcomes", "missing.yml", "out.csv", "--effect", "0.05"],
    ["analyse-trial", "missing.yml", "outcomes.csv"],
])
def test_missing_files_exit_2_with_one_line(tmp_path, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.slow
def test_the_commands_run_a_rehearsal_end_to_end(tmp_path, capsys):
    store_list(n=20).to_csv(tmp_path / "stores.csv", index=False)
    code, _, err = run(capsys, "randomize", "--stores", tmp_path / "stores.csv", "--seed", 2,
                       "--block-by", "rate", "--hypothesis", "visits raise signing",
                       "--window", "2025-03-01", "2025-04-30", "--out", tmp_path)
    assert code == 0, err
    code, out, err = run(capsys, "simulate-outcomes", tmp_path / "protocol.yml",
                         tmp_path / "outcomes.csv", "--effect", "0.1", "--seed", "1")
    assert code == 0 and "rehearsal" in out, err
    code, out, err = run(capsys, "analyse-trial", tmp_path / "protocol.yml",
                         tmp_path / "outcomes.csv", "--output", tmp_path / "result.json")
    assert code == 0, err
    assert "percentage points" in out and "What it does not show" in out
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["design"] == "worksite" and result["stores"] == 20
    assert {"test", "adjusted", "bayes", "arms", "notes"} <= set(result)
    assert result["bayes"]["lower"] < 0.1 < result["bayes"]["upper"]
