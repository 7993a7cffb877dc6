"""Raw records and ``organizing prepare --records``: every measure from its stated
definition, checked against hand computation on small networks, and the round trip
from simulated records (text IDs) to the study's files, to ``validate`` and a run."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from organizing.cli import main
from organizing.data import WORKER_FILE, WORKSITE_FILE, measures, network
from organizing.data.records import (
    CONTACTS,
    FILES,
    STORES,
    TIES,
    WORKERS,
    ZIPS,
    Records,
    build_study_files,
    prepare_records,
    read_records,
)
from organizing.simulate import simulate_records

try:
    from tests import book
except ImportError:  # tests/ is not a package and the rootdir is not on sys.path
    import book

OUT = network.OUTSIDE_CENTRALITY


# ------------------------------------------------------------- networks by hand


def test_star_by_hand():
    """Star with centre c and four leaves: λ = 2, v_c = 1/√2, each leaf 1/(2√2)."""
    workers = ["c", "l1", "l2", "l3", "l4"]
    m = network.network_measures(workers, [("c", f"l{k}") for k in range(1, 5)])
    expected = np.array([1 / math.sqrt(2)] + [1 / (2 * math.sqrt(2))] * 4)
    np.testing.assert_allclose(m.centrality, expected, rtol=1e-12)
    assert m.edges == 4 and m.mean_degree == pytest.approx(4 / 5)
    np.testing.assert_array_equal(m.degree, [4, 1, 1, 1, 1])
    assert not m.outside.any()
    assert m.centrality_mean == pytest.approx(3 / math.sqrt(2) / 5, rel=1e-12)
    assert m.centrality_variance == pytest.approx(np.mean((expected - expected.mean()) ** 2))


def test_path_by_hand():
    """Path a-b-c: λ = √2, eigenvector (1/2, 1/√2, 1/2)."""
    m = network.network_measures(["a", "b", "c"], [("a", "b"), ("c", "b")])
    np.testing.assert_allclose(m.centrality, [0.5, 1 / math.sqrt(2), 0.5], rtol=1e-12)
    assert m.edges == 2 and m.mean_degree == pytest.approx(2 / 3)


def test_two_components_and_an_isolated_worker():
    """A triangle (λ = 2) and a pair (λ = 1): the triangle is the core, 1/√3 each; the
    pair and the isolated worker are outside, at 2⁻⁵³, never a solver's residue."""
    workers = ["t1", "t2", "t3", "p1", "p2", "alone"]
    ties = [("t1", "t2"), ("t2", "t3"), ("t3", "t1"), ("p1", "p2")]
    m = network.network_measures(workers, ties)
    np.testing.assert_allclose(m.centrality[:3], 1 / math.sqrt(3), rtol=1e-12)
    np.testing.assert_array_equal(m.centrality[3:], [OUT] * 3)
    np.testing.assert_array_equal(m.outside, [False] * 3 + [True] * 3)
    assert OUT == 2.0**-53
    assert m.edges == 4 and m.mean_degree == pytest.approx(4 / 6)
    np.testing.assert_array_equal(m.degree, [2, 2, 2, 1, 1, 0])


def test_components_that_tie_share_the_core():
    """Two separate pairs (both λ = 1): each worker 1/√2 / √2 = 1/2, as in the study's
    store with two ties; the isolated worker is outside."""
    m = network.network_measures(["a", "b", "c", "d", "e"], [("a", "b"), ("c", "d")])
    np.testing.assert_allclose(m.centrality[:4], 0.5, rtol=1e-12)
    assert m.outside.tolist() == [False] * 4 + [True]


def test_duplicate_reversed_and_self_ties_count_once():
    once = network.network_measures(["a", "b", "c"], [("a", "b")])
    many = network.network_measures(["a", "b", "c"], [("a", "b"), ("b", "a"), ("a", "b"),
                                                      ("c", "c")])
    assert many.edges == once.edges == 1
    np.testing.assert_array_equal(many.centrality, once.centrality)


def test_record_order_does_not_change_a_centrality():
    ties = [("a", "b"), ("b", "c"), ("c", "d"), ("d", "a"), ("a", "c"), ("e", "a")]
    one = network.network_measures(list("abcde"), ties)
    other = network.network_measures(list("edcba"), ties[::-1])
    np.testing.assert_array_equal(one.centrality, other.centrality[::-1])


def test_a_tie_outside_the_store_is_refused():
    with pytest.raises(ValueError, match="not one of the store's workers"):
        network.coworker_graph(["a"], [("a", "z")])


# ------------------------------------------------------------- the other rules


def test_quantile_levels_keep_ties_together():
    # cut points 1, 1, 1: the 1s are below no cut (level 0), the 2 above all three
    np.testing.assert_array_equal(measures.quantile_levels([1, 1, 1, 1, 2], 4), [0, 0, 0, 0, 3])
    np.testing.assert_array_equal(measures.quantile_levels(np.arange(1, 9), 4),
                                  [0, 0, 1, 1, 2, 2, 3, 3])
    lengths = np.array([10, 10, 10, 20, 20, 30, 40, 50, 50, 60])
    levels = measures.quantile_levels(lengths, 5)
    for value in np.unique(lengths):
        assert len(set(levels[lengths == value])) == 1


def test_correlation_by_hand_and_undefined():
    x, y = [1, 2, 3, 4], [2, 1, 4, 3]
    # Pearson: Σdxdy = 3, Σdx² = Σdy² = 5 -> 0.6
    assert measures.correlation(x, y) == pytest.approx(0.6)
    assert measures.correlation([1, 2], [3, 4]) is None  # fewer than 3 workers
    assert measures.correlation([1, 1, 1], [1, 2, 3]) is None  # constant


def _records(**changes) -> Records:
    """A two-store campaign small enough to compute by hand."""
    workers = pd.DataFrame({
        "Worker ID": ["a1", "a2", "a3", "a4", "b1", "b2", "b3"],
        "Store ID": ["A"] * 4 + ["B"] * 3,
        "Gender": ["male", "female", "", "male", "female", "female", "male"],
        "Signed": [1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0],
    })
    day = pd.Timestamp
    contacts = pd.DataFrame([
        ("a1", day("2012-01-02"), "conversation"), ("a1", day("2012-01-09"), "conversation"),
        ("a1", day("2012-01-03"), "note"), ("a1", day("2012-01-04"), "note"),
        ("a2", day("2012-01-05"), "conversation"), ("a2", day("2012-01-05"), "note"),
        ("a3", day("2012-01-11"), "conversation"),
        ("b1", day("2013-03-04"), "conversation"), ("b2", day("2013-03-01"), "note"),
    ], columns=["Worker ID", "Date", "Kind"])
    ties = pd.DataFrame([("a1", "a2"), ("a2", "a3"), ("a3", "a1"), ("b1", "b2")],
                        columns=["Worker ID", "Coworker ID"])
    stores = pd.DataFrame({"Store ID": ["A", "B"], "ZIP": ["01234", "01234"],
                           "Campaign start": [day("2012-01-01"), day("2013-03-01")],
                           "Campaign end": [day("2012-03-11"), day("2013-04-12")]})
    zips = pd.DataFrame({"ZIP": ["01234"], "Share Black": [0.1], "Share Latino": [0.2],
                         "Mean AGI": [50.0]})
    tables = dict(workers=workers, contacts=contacts, ties=ties, stores=stores, zips=zips)
    tables.update(changes)
    return Records(**tables)


def test_small_campaign_by_hand():
    built = build_study_files(_records())
    w = built.workers.set_index("Worker ID")
    s = built.worksites.set_index("Worksite ID")
    np.testing.assert_array_equal(w["No. Notes"], [2, 1, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(w["Never Contacted"], [0, 0, 0, 1, 0, 1, 1])
    np.testing.assert_array_equal(w["Is Male"], [1, 0, 0.5, 1, 0, 0, 1])
    # days to first conversation of the contacted: a1 1, a2 4, a3 10, b1 3;
    # cut points (linear) 2.5, 3.5, 5.5 -> quartiles 1, 3, 4, 2; never contacted -> 4
    quartile = w[[f"Time To First Convo (Quart. {k})" for k in range(1, 5)]].to_numpy()
    np.testing.assert_array_equal(quartile.argmax(axis=1) + 1, [1, 3, 4, 4, 2, 4, 4])
    # Store A: a triangle a1-a2-a3 (1/√3 each) and a4 alone (outside)
    np.testing.assert_allclose(w.loc[["a1", "a2", "a3"], "Eigen. Centrality"], 3**-0.5)
    assert w.loc["a4", "Eigen. Centrality"] == OUT and w.loc["a4", "Outside network"] == 1
    assert s.loc["A", "No. edges"] == 3 and s.loc["A", "Mean degree"] == 3 / 4
    assert s.loc["A", "No. workers discovered"] == 4
    assert s.loc["A", "No. workers contacted"] == 3 and s.loc["A", "No. organizer convers."] == 4
    assert s.loc["A", "Campaign length"] == 70 / 7 and s.loc["B", "Campaign length"] == 42 / 7
    c = np.array([3**-0.5] * 3 + [OUT])
    assert s.loc["A", "Centrality mean"] == pytest.approx(c.mean(), rel=1e-12)
    assert s.loc["A", "Centrality variance"] == pytest.approx(c.var(), rel=1e-12)
    # NDO at A: notes (2, 1, 0, 0) against c -> hand Pearson
    notes = np.array([2, 1, 0, 0.0])
    assert s.loc["A", "NDO (Eigen., Pearson)"] == pytest.approx(np.corrcoef(notes, c)[0, 1])
    # Mobilizing at A: conversations (2, 1, 1) against earliness (-1, -4, -10)
    assert s.loc["A", "Mobilizing (Pearson)"] == pytest.approx(
        np.corrcoef([2, 1, 1], [-1, -4, -10])[0, 1])
    # Store B: one contacted worker: mobilizing undefined -> 0, with a warning
    assert s.loc["B", "Mobilizing (Pearson)"] == 0.0
    assert any("Mobilizing (Pearson): undefined at 1 store(s)" in x for x in built.warnings)
    assert s.loc["A", "Percent male"] == pytest.approx(2 / 3)  # a3 unknown
    assert s.loc["A", "No. workers signed"] == 2 and s.loc["B", "Log(No. edges)"] == 0.0
    assert np.isneginf(w.loc["a4", "Log(No. Notes)"])


# ------------------------------------------------------------- reading and validating


def _write(directory: Path, records: Records) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, table in records.tables().items():
        table.to_csv(directory / name, index=False, date_format="%Y-%m-%d")
    return directory


def test_records_read_back_with_text_ids_and_zip_zeros(tmp_path):
    report, records = read_records(_write(tmp_path, _records()))
    assert report.ok, report.render()
    assert records.stores["ZIP"].tolist() == ["01234", "01234"]
    assert records.workers["Worker ID"].tolist()[:2] == ["a1", "a2"]


BROKEN = {
    "a date that is not one": (CONTACTS, lambda t: t.assign(Date=t["Date"].astype(str).where(
        t.index != 2, "03/01/2012")), "Date: is not a date written YYYY-MM-DD in 1 row"),
    "an unknown kind": (CONTACTS, lambda t: t.assign(Kind=t["Kind"].where(t.index != 0, "call")),
                        "Kind: value not in"),
    "a tie across stores": (TIES, lambda t: pd.concat([t, pd.DataFrame(
        {"Worker ID": ["a1"], "Coworker ID": ["b3"]})]),
        "Coworker ID: works at another store than Worker ID in 1 row (line 6)"),
    "a store with no tie": (TIES, lambda t: t[t["Worker ID"] != "b1"],
                            "Store ID: has no tie between two of its workers in 1 row (line 3)"),
    "a worker of no store": (WORKERS, lambda t: t.assign(**{"Store ID": t["Store ID"].where(
        t.index != 1, "Z")}), "Store ID: not found in stores.csv in 1 row (line 3)"),
    "a campaign that ends first": (STORES, lambda t: t.assign(**{
        "Campaign end": t["Campaign start"] - pd.Timedelta(1, "D")}),
        "Campaign end: is not after Campaign start in 2 rows"),
    "a missing ZIP row": (ZIPS, lambda t: t.assign(ZIP=["99999"]), "ZIP: not found in zips.csv"),
    "a share above one": (ZIPS, lambda t: t.assign(**{"Share Black": [1.5]}),
                          "Share Black: must be <= 1"),
    "a duplicate worker": (WORKERS, lambda t: t.assign(**{"Worker ID": t["Worker ID"].where(
        t.index != 1, "a1")}), "Worker ID: duplicate ID in 2 rows"),
    "an unknown gender": (WORKERS, lambda t: t.assign(Gender=t["Gender"].where(
        t.index != 0, "x")), "Gender: value not in"),
    "a near-miss column": (WORKERS, lambda t: t.rename(columns={"Signed": " signed"}),
                           "did you mean the file's column ' signed'?"),
    "a conversation before the campaign": (CONTACTS, lambda t: t.assign(Date=t["Date"].where(
        t.index != 0, pd.Timestamp("2011-01-01"))), "Date: is before the campaign start"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_records_are_reported_by_line_without_ids(tmp_path, capsys, case):
    name, change, fragment = BROKEN[case]
    records = _records()
    tables = records.tables()
    tables[name] = change(tables[name])
    _write(tmp_path / "in", Records(**{n[:-4]: t for n, t in tables.items()}))
    status = main(["prepare", "--records", str(tmp_path / "in"), str(tmp_path / "out")])
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert status == 1 and fragment in out, out
    assert "Traceback" not in out and "Nothing was written" in out
    assert not (tmp_path / "out").exists()
    for worker in ("a1", "a2", "b3"):  # IDs never shown
        assert f" {worker}" not in out.replace("'", " ").replace(":", " ") or case.startswith(
            "a near-miss")


@pytest.mark.parametrize(("content", "fragment"), [
    (b"", "file is empty"),
    (b"\n\n  \n", "file is empty (it holds only blank lines)"),
    (b"\n\n,,,\n", "file is empty (it holds only blank lines)"),
    (b"Worker ID;Store ID;Gender;Signed\na;b;male;0,5\n",
     "columns are separated by semicolons, not commas, and numbers have decimal commas"),
    ("Worker ID,Store ID,Gender,Signed\na,b,male,1\n".encode("utf-16"), "UTF-16"),
    ("Worker ID,Store ID,Gender,Signed\nJos\xe9,b,male,1\n".encode("cp1252"), "not UTF-8"),
], ids=["empty", "blank lines", "empty cells", "semicolons", "utf-16", "cp1252"])
def test_export_friction_is_named(tmp_path, capsys, content, fragment):
    directory = _write(tmp_path / "in", _records())
    (directory / WORKERS).write_bytes(content)
    status = main(["prepare", "--records", str(directory), str(tmp_path / "out")])
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith(f"✗ {WORKERS}: "))
    assert status == 1 and fragment in line, out


# ------------------------------------------------------------- the round trip


@pytest.fixture(scope="module")
def simulated():
    return simulate_records(n_sites=12, n_workers=500, seed=3)


def test_simulated_records_have_text_ids_and_exercise_the_rules(simulated):
    workers = simulated.records.workers
    assert not workers["Worker ID"].str.fullmatch(r"\d+").any()
    study = simulated.study.workers
    assert 0 < study["Outside network"].mean() < 1  # both rules of centrality are used
    assert study["Never Contacted"].sum() > 0
    lengths = simulated.study.worksites["Campaign length"]
    assert lengths.duplicated().any() or len(lengths) < 12


def test_prepare_records_reproduces_the_simulators_measures_exactly(simulated, tmp_path, capsys):
    simulated.write(tmp_path / "records")
    assert main(["simulate", str(tmp_path / "records"), "--records"]) == 2  # no overwrite
    status = main(["prepare", "--records", str(tmp_path / "records"), str(tmp_path / "out"),
                   "--profile", "quick"])
    out = capsys.readouterr().out
    assert status == 0, out
    for name in FILES:
        assert f"✓ {name}: valid" in out
    for name, expected in ((WORKER_FILE, simulated.study.workers),
                           (WORKSITE_FILE, simulated.study.worksites)):
        got = pd.read_csv(tmp_path / "out" / name, dtype={"Worker ID": str, "Worksite ID": str})
        pd.testing.assert_frame_equal(got, expected, check_exact=True, check_dtype=False)
    assert main(["validate", str(tmp_path / "out"), "--profile", "quick"]) == 0
    # a second run refuses to overwrite, a failed one leaves nothing to --force
    assert main(["prepare", "--records", str(tmp_path / "records"), str(tmp_path / "out")]) == 2


def test_prepare_records_writes_nothing_when_the_result_cannot_be_analysed(simulated, tmp_path,
                                                                           capsys):
    records = simulated.records
    few = records.stores.iloc[:3]
    keep = records.workers["Store ID"].isin(few["Store ID"])
    ids = set(records.workers.loc[keep, "Worker ID"])
    small = Records(records.workers[keep], records.contacts[records.contacts["Worker ID"].isin(
        ids)], records.ties[records.ties["Worker ID"].isin(ids)], few, records.zips)
    _write(tmp_path / "in", small)
    report, built = prepare_records(tmp_path / "in", tmp_path / "out",
                                    config=__import__("organizing.config").config.load_config())
    assert not report.ok and "only 3 worksite(s)" in report.render()
    assert built is not None and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_records_to_a_run_end_to_end(tmp_path, tiny_config):
    """String-ID records → prepare --records → validate → run (quick profile, tiny
    settings), each a real command in a subprocess, from an unrelated folder."""
    exe = Path(sys.executable).with_name("organizing")
    env = {**os.environ, "ORGANIZING_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("ORGANIZING_DATA_DIR", None)
    config = tmp_path / "tiny.yml"
    config.write_text(tiny_config)
    steps = [
        ["simulate", "records", "--records", "--sites", "12", "--workers", "500", "--seed", "4"],
        ["prepare", "--records", "records", "campaign", "--profile", "quick"],
        ["validate", "campaign", "--profile", "quick", "--config", str(config)],
        ["run", "--data", "campaign", "--profile", "quick", "--config", str(config), "--quiet"],
    ]
    ids = None
    for argv in steps:
        start = time.perf_counter()
        done = subprocess.run([str(exe), *argv], capture_output=True, text=True, cwd=tmp_path,
                              env=env, timeout=900)
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        print(argv[0], f"{time.perf_counter() - start:.1f} s")
        if ids is None:
            ids = set(pd.read_csv(tmp_path / "records" / WORKERS)["Worker ID"])
        assert not any(i in done.stdout + done.stderr for i in ids)
    assert book.find_integer_tokens(done.stdout, set()) == set()
    # reading the results: a closed pipe and a full disk are one line each (issue 25)
    summary = [str(exe), "summary", "--json", "--data", "campaign", "--profile", "quick",
               "--config", str(config)]
    read_end, write_end = os.pipe()
    os.close(read_end)  # a reader that has gone: every write fails, however small
    try:
        done = subprocess.run(summary, stdout=write_end, stderr=subprocess.PIPE, cwd=tmp_path,
                              env=env, text=True, timeout=300)
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr and done.returncode == 1, done.stderr
    assert "broken pipe" in done.stderr
    if Path("/dev/full").exists():
        with open("/dev/full", "w") as full:
            done = subprocess.run(summary, stdout=full, stderr=subprocess.PIPE, cwd=tmp_path,
                                  env=env, text=True, timeout=300)
        assert done.returncode == 1
        assert done.stderr == "error: cannot write the output (No space left on device)\n"


def test_the_outside_value_is_outside_for_the_sensitivity_analysis():
    """2⁻⁵³ lies below the cut at ε that the book's outside-network indicator uses, and a
    core worker's centrality (at least 1/√n of a component) never does."""
    from organizing.features import outside_network

    m = network.network_measures(list("abcde"), [("a", "b")])
    assert outside_network(np.log(m.centrality)).tolist() == m.outside.tolist()
    assert m.outside.tolist() == [False, False, True, True, True]
