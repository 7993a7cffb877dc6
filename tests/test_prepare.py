"""The data contract and ``organizing prepare``: derived columns from required ones.

The round trip runs on the real files: keep only the required columns, let
``prepare`` compute the rest, and compare with the columns the study shipped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from organizing.cli import main
from organizing.config import load_config
from organizing.data import WORKER_FILE, WORKSITE_FILE, DataError, read_and_validate
from organizing.data.prepare import (
    COLUMNS,
    DERIVED,
    OPTIONAL,
    REQUIRED,
    derive,
    is_derived,
    prepare,
)
from organizing.data.schemas import QUINTILES, WorkerSchema, WorksiteSchema

FILES = (WORKER_FILE, WORKSITE_FILE)


@pytest.fixture(scope="module")
def shipped(data_dir):
    return {name: pd.read_csv(data_dir / name) for name in FILES}


@pytest.fixture()
def required_only(tmp_path, shipped):
    """The real campaign with every derived column removed."""
    folder = tmp_path / "required"
    folder.mkdir()
    for name in FILES:
        shipped[name][list(REQUIRED[name])].to_csv(folder / name, index=False)
    return folder


def _agree(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    return np.isclose(new, old, rtol=1e-9, atol=1e-12) | (np.isneginf(new) & np.isneginf(old))


def test_contract_covers_every_schema_column_once():
    for name, schema in ((WORKER_FILE, WorkerSchema), (WORKSITE_FILE, WorksiteSchema)):
        checked = set(schema.to_schema().columns)
        assert checked <= set(COLUMNS[name]) | set(OPTIONAL[name])
        assert not set(OPTIONAL[name]) & set(COLUMNS[name])
        derived = {c for c in COLUMNS[name] if is_derived(name, c)}
        assert derived and set(REQUIRED[name]) | derived == set(COLUMNS[name])
        assert not set(REQUIRED[name]) & derived
    for rule in DERIVED:  # every input of a formula is in the contract
        assert all(c in COLUMNS[WORKER_FILE] or c in COLUMNS[WORKSITE_FILE] for c in rule.inputs)


def test_prepare_round_trips_the_real_campaign(required_only, tmp_path, shipped):
    out = tmp_path / "prepared"
    result = prepare(required_only, out)
    assert result.report.ok, result.report.render()
    assert len(result.computed) == len(DERIVED) and not result.kept
    for rule in DERIVED:
        new = pd.read_csv(out / rule.file)[rule.column].to_numpy(dtype=float)
        old = shipped[rule.file][rule.column].to_numpy(dtype=float)
        if rule.column in QUINTILES:
            continue
        assert _agree(new, old).all(), rule.column
    # The study's quintile cut points are not recoverable exactly: qcut agrees on most
    # worksites and is never more than one quintile away.
    new = pd.read_csv(out / WORKSITE_FILE)[list(QUINTILES)].to_numpy().argmax(axis=1)
    old = shipped[WORKSITE_FILE][list(QUINTILES)].to_numpy().argmax(axis=1)
    assert np.mean(new == old) >= 0.95 and np.abs(new - old).max() <= 1
    report, _ = read_and_validate(out, load_config(profile="quick"))
    assert report.ok, report.render()


def test_derived_columns_present_are_kept_unless_recomputed(shipped):
    workers, sites = shipped[WORKER_FILE], shipped[WORKSITE_FILE]
    kept = derive(workers, sites)
    assert not kept.computed and len(kept.kept) == len(DERIVED)
    pd.testing.assert_frame_equal(kept.worksites, sites)
    fresh = derive(workers, sites, recompute=True)
    assert len(fresh.computed) == len(DERIVED)
    assert (fresh.worksites[list(QUINTILES)].sum(axis=1) == 1).all()
    # a wrong count in the input is replaced by the formula's value
    broken = sites.assign(**{"No. workers signed": sites["No. workers signed"] + 1})
    fixed = derive(workers, broken, recompute=True).worksites["No. workers signed"]
    np.testing.assert_array_equal(fixed.to_numpy(), sites["No. workers signed"].to_numpy())


def test_missing_required_column_is_reported_and_nothing_written(required_only, tmp_path,
                                                                 capsys):
    frame = pd.read_csv(required_only / WORKER_FILE).drop(columns="Eigen. Centrality")
    frame.to_csv(required_only / WORKER_FILE, index=False)
    result = prepare(required_only, tmp_path / "out")
    assert "Eigen. Centrality: column missing" in result.report.render()
    assert main(["prepare", str(required_only), str(tmp_path / "out2")]) == 1
    captured = capsys.readouterr()
    assert "Eigen. Centrality: column missing" in captured.out and "Traceback" not in captured.err
    assert "Nothing was written" in captured.out
    assert not (tmp_path / "out").exists() and not (tmp_path / "out2").exists()


def _edit(folder, name, change):
    frame = pd.read_csv(folder / name)
    change(frame).to_csv(folder / name, index=False)


@pytest.mark.parametrize(("name", "change", "fragment"), [
    (WORKER_FILE, lambda w: w[w["Worksite ID"] != 99],
     "Worksite ID: has no worker in the worker file in 1 row (line 2)"),
    (WORKSITE_FILE, lambda s: s.assign(**{"Campaign length": "2012-03-01"}),
     "Campaign length: is not a number in 120 rows (e.g. line 2: '2012-03-01'"),
    (WORKER_FILE, lambda w: w.rename(columns={"Is Male": "is male "}),
     "Is Male: column missing (required by the analysis); fix: did you mean the file's column "
     "'is male '?"),
], ids=["empty worksite", "dates as lengths", "near-miss column"])
def test_prepare_checks_its_input_first_in_validates_words(required_only, tmp_path, capsys,
                                                           shipped, name, change, fragment):
    _edit(required_only, name, change)
    out = tmp_path / "out"
    assert main(["prepare", str(required_only), str(out)]) == 1
    text = capsys.readouterr().out
    assert fragment in text, text
    assert "missing value (NaN)" not in text and "bin edges" not in text
    assert not out.exists()
    # fixed, it runs without --force: the failed run wrote nothing
    shipped[name][list(REQUIRED[name])].to_csv(required_only / name, index=False)
    assert main(["prepare", str(required_only), str(out)]) == 0


def test_tied_campaign_lengths_share_a_quintile(required_only, tmp_path):
    _edit(required_only, WORKSITE_FILE, lambda s: s.assign(**{"Campaign length": np.where(
        np.arange(len(s)) < 60, 50.0, s["Campaign length"])}))
    result = prepare(required_only, tmp_path / "out")
    assert result.report.ok, result.report.render()
    quint = result.worksites[list(QUINTILES)].to_numpy().argmax(axis=1)
    assert len(set(quint[:60])) == 1


def test_unknown_columns_are_left_out_with_a_notice(required_only, tmp_path, capsys):
    _edit(required_only, WORKER_FILE, lambda w: w.assign(Name="Jane Doe", Phone="555-0100"))
    out = tmp_path / "out"
    assert main(["prepare", str(required_only), str(out)]) == 0
    text = capsys.readouterr().out
    assert f"left out 2 column(s) the analysis does not read (so that names or notes do not " \
           f"travel): {WORKER_FILE}: Name, {WORKER_FILE}: Phone" in text
    written = pd.read_csv(out / WORKER_FILE)
    assert "Name" not in written and "Phone" not in written
    assert "Jane" not in (out / WORKER_FILE).read_text()


def test_validate_names_export_friction(tmp_path, capsys, data_dir):
    folder = tmp_path / "c"
    folder.mkdir()
    for name in FILES:
        (folder / name).write_bytes((data_dir / name).read_bytes())
    text = (folder / WORKER_FILE).read_text()
    header, rest = text.split("\n", 1)
    (folder / WORKER_FILE).write_text(header.replace(",", ";") + "\n"
                                      + rest.replace(",", ";").replace(".", ","))
    assert main(["validate", str(folder)]) == 1
    out = capsys.readouterr().out
    assert (f"✗ {WORKER_FILE}: columns are separated by semicolons, not commas, and numbers "
            "have decimal commas") in out
    (folder / WORKER_FILE).write_bytes(text.encode("utf-16"))
    assert main(["validate", str(folder)]) == 1
    assert "UTF-16" in capsys.readouterr().out
    (folder / WORKER_FILE).write_text("\n" * 40)
    assert main(["validate", str(folder)]) == 1
    assert f"✗ {WORKER_FILE}: file is empty (it holds only blank lines)" in capsys.readouterr().out


def test_cli_prepare_writes_valid_files_and_refuses_to_overwrite(required_only, tmp_path,
                                                                capsys):
    out = tmp_path / "out"
    assert main(["prepare", str(required_only), str(out), "--profile", "quick"]) == 0
    text = capsys.readouterr().out
    assert f"{len(DERIVED)} derived column(s) computed" in text
    assert "can be analysed" in text and text.index("can be analysed") < text.index("Wrote")
    assert main(["prepare", str(required_only), str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["prepare", str(required_only), str(out), "--force", "--profile",
                 "quick"]) == 0


def test_missing_input_folder_or_file_is_one_line(tmp_path, required_only):
    with pytest.raises(DataError, match="directory not found"):
        prepare(tmp_path / "nowhere", tmp_path / "out")
    (required_only / WORKSITE_FILE).unlink()
    with pytest.raises(DataError, match=f"{WORKSITE_FILE}: file not found"):
        prepare(required_only, tmp_path / "out")


def test_mean_degree_is_one_definition_checked_by_validate(tmp_path, shipped, capsys):
    """Edges per worker in the study's files, in prepare, in the simulator; validate
    refuses another (such as the graph-theoretic 2E/n)."""
    sites = shipped[WORKSITE_FILE].copy()
    sites["Mean degree"] *= 2
    sites["Log(Mean degree)"] = np.log(sites["Mean degree"])
    folder = tmp_path / "c"
    folder.mkdir()
    shipped[WORKER_FILE].to_csv(folder / WORKER_FILE, index=False)
    sites.to_csv(folder / WORKSITE_FILE, index=False)
    assert main(["validate", str(folder)]) == 1
    assert ("Mean degree: is not No. edges / the worksite's workers in the worker file in 120 "
            "rows") in capsys.readouterr().out


def test_percent_male_without_known_gender_is_one_half():
    workers = pd.DataFrame({"Worksite ID": [1, 1, 2, 2, 2], "Is Male": [0.5, 0.5, 1, 0, 0.5]})
    sites = pd.DataFrame({"Worksite ID": [1, 2]})
    rule = next(r for r in DERIVED if r.column == "Percent male")
    np.testing.assert_allclose(rule.compute(workers, sites), [0.5, 0.5])
    workers["Is Male"] = [0.0, 1.0, 1.0, 1.0, 0.0]
    np.testing.assert_allclose(rule.compute(workers, sites), [0.5, 2 / 3])


# ------------------------------------------------------------ the tables built from it


def _text(table) -> str:
    import html

    return html.unescape(table.as_raw_html())


def test_contract_table_marks_every_column_required_or_derived_with_its_formula():
    from organizing.data.prepare import generic_name
    from organizing.report import tables

    text = _text(tables.column_table())
    for rule in DERIVED:
        assert rule.formula in text, rule.column
    rows = {(f, generic_name(c)) for f, names in COLUMNS.items() for c in names}
    derived = {(f, generic_name(c)) for f, c in ((r.file, r.column) for r in DERIVED)}
    assert text.count(">derived<") == len(derived)
    assert text.count(">required<") == len(rows - derived)
    assert "exactly one level is 1 in every row" in text
    assert "equals ln(No. edges)" in text


@pytest.fixture(scope="module")
def small_summary(tmp_path_factory):
    from organizing.data import load_campaign
    from organizing.features import build_design
    from organizing.pipeline.data_summary import describe_data
    from organizing.simulate import simulate_campaign

    folder = tmp_path_factory.mktemp("small")
    simulate_campaign(n_sites=10, n_workers=500, seed=1).write(folder)
    campaign = load_campaign(folder)
    return describe_data(campaign, build_design(campaign, drop_reference=True), 5)


def test_feature_table_gives_level_meaning_and_transform_of_every_feature(small_summary):
    from organizing.data.prepare import meaning
    from organizing.report import tables

    d = small_summary
    text = _text(tables.feature_summary(d))
    features = (*d.worker_features, *d.site_features)
    for feature in features:
        assert f">{feature}<" in text and meaning(feature) in text
    dropped = len(features) - len(d.reduced_worker_features) - len(d.reduced_site_features)
    assert dropped > 0 and text.count("reference level (dropped)") == dropped
    logs = [f for f in features if f.startswith("Log(")]
    assert text.count("natural log of") == len(logs)
    assert "Worker features" in text and "Worksite features" in text


def test_requirements_table_measures_every_profile_it_shows(small_summary):
    from dataclasses import replace
    from types import SimpleNamespace

    from organizing.data.checks import MIN_PER_CLASS, MIN_SITES
    from organizing.pipeline.data_summary import minimum_sites_by_profile
    from organizing.report import tables

    quick = load_config(profile="quick")
    # this book's own settings, here with more folds than the packaged quick profile
    own = quick.model_copy(update={"evaluation": quick.evaluation.model_copy(
        update={"worksite_folds": 9})})
    data = replace(small_summary, minimum_sites=minimum_sites_by_profile(own))
    results = SimpleNamespace(data=data, meta=SimpleNamespace(
        profile="quick", timings={"total": 123.4}, settings=own))
    text = _text(tables.campaign_requirements(results))
    assert "2 min 03 s" in text and "measured while computing this book's results" in text
    assert "full: not computed" in text
    assert ">9<" in text  # the minimum follows the settings the results were computed with
    full = load_config(profile="full")
    least = max(MIN_SITES, full.evaluation.worksite_folds, max(full.clustering.K_grid))
    assert f">{least}<" in text and f">{MIN_PER_CLASS}<" in text
    other = SimpleNamespace(meta=SimpleNamespace(timings={"total": 3725.0}))
    text = _text(tables.campaign_requirements(results, {"full": other}))
    assert "62 min 05 s" in text and "full: measured when its results were computed" in text
