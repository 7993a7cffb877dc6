"""The data layer: locating, reading and validating the campaign files."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from organizing import data as data_module
from organizing.cli import main
from organizing.data import WORKER_FILE, WORKSITE_FILE, DataError, load_campaign, locate_data
from organizing.simulate import simulate_campaign


def run_validate(directory, capsys) -> tuple[int, str]:
    status = main(["validate", str(directory)])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


@pytest.fixture()
def copy_of_data(data_dir, tmp_path):
    """A writable copy of the real files; returns (dir, workers, worksites)."""
    for name in (WORKER_FILE, WORKSITE_FILE):
        shutil.copy(data_dir / name, tmp_path / name)
    workers = pd.read_csv(tmp_path / WORKER_FILE)
    sites = pd.read_csv(tmp_path / WORKSITE_FILE)
    return tmp_path, workers, sites


def test_real_data_is_valid(data_dir, capsys):
    status, out = run_validate(data_dir, capsys)
    assert status == 0, out
    assert "✓ WorkerRegressionData.csv: valid (16,335 rows)" in out
    assert "✓ WorksiteNetworkData.csv: valid (120 rows)" in out


def test_loading_preserves_every_row(data_dir, campaign):
    with open(data_dir / WORKER_FILE) as handle:
        worker_rows = sum(1 for _ in handle) - 1
    with open(data_dir / WORKSITE_FILE) as handle:
        site_rows = sum(1 for _ in handle) - 1
    assert campaign.n_workers == worker_rows
    assert campaign.n_sites == site_rows
    assert campaign.worker_x.shape == (worker_rows, 7)
    assert campaign.site_x.shape == (site_rows, 18)
    # every worker maps to its own worksite's row
    raw = pd.read_csv(data_dir / WORKER_FILE, dtype={"Worksite ID": str})
    np.testing.assert_array_equal(campaign.site_ids[campaign.site_index], raw["Worksite ID"])


def _columns(campaign):
    """Every column the campaign holds: 1-D arrays, the columns of 2-D arrays, and the
    columns and index of its frames, each named."""
    for name, value in vars(campaign).items():
        if isinstance(value, pd.DataFrame):
            yield f"{name}.index", value.index.to_numpy()
            yield from ((f"{name}[{c!r}]", value[c].to_numpy()) for c in value.columns)
        elif isinstance(value, np.ndarray) and value.ndim == 1:
            yield name, value
        elif isinstance(value, np.ndarray) and value.ndim == 2:
            yield from ((f"{name}[:, {j}]", value[:, j]) for j in range(value.shape[1]))


def _ids_found(values, ids: set[int]) -> set[int]:
    numbers = pd.to_numeric(pd.Series(np.asarray(values).ravel()), errors="coerce").dropna()
    whole = numbers[numbers == np.round(numbers)].astype(np.int64)
    return ids & set(whole.tolist())


def test_campaign_holds_no_worker_ids(data_dir, campaign):
    ids = set(pd.read_csv(data_dir / WORKER_FILE)["Worker ID"].astype(np.int64))
    # a column of small counts or indices meets a few IDs by chance; an ID column meets
    # all of them: no column may hold even 1% of the campaign's distinct IDs
    for name, column in _columns(campaign):
        assert len(_ids_found(column, ids)) < 0.01 * len(ids), name
    # the check finds an ID column wherever it is hidden
    leaked = dataclasses.replace(campaign, worker_x=np.column_stack(
        [campaign.worker_x, sorted(ids)[: campaign.n_workers]]))
    assert any(len(_ids_found(c, ids)) >= 0.01 * len(ids) for _, c in _columns(leaked))


# Each corruption: (description, function(workers, sites) -> None, text the report must show)
def _set(frame, column, row, value):
    frame[column] = frame[column].astype(object if isinstance(value, str) else float)
    frame.loc[row, column] = value


def _two_quartiles(frame, row):
    frame.loc[row, ["Time To First Convo (Quart. 1)", "Time To First Convo (Quart. 2)"]] = 1.0


CORRUPTIONS = {
    "missing column": (lambda w, s: w.pop("No. Notes"),
                       "No. Notes: column missing"),
    "wrong type": (lambda w, s: _set(w, "Is Male", 3, "yes"), "Is Male: is not a number"),
    "NaN": (lambda w, s: _set(s, "Percent male", 2, np.nan), "Percent male: missing value"),
    "duplicate ID": (lambda w, s: _set(s, "Worksite ID", 1, s.loc[0, "Worksite ID"]),
                     "Worksite ID: duplicate ID"),
    "outcome outside {0,1}": (lambda w, s: _set(w, "Signed", 5, 2), "Signed: value not in"),
    "unknown worksite": (lambda w, s: _set(w, "Worksite ID", 7, 987654321),
                         "Worksite ID: not found in the worksite file"),
    "two quartiles set": (lambda w, s: _two_quartiles(w, 9), "exactly one quartile must be 1"),
    "negative count": (lambda w, s: _set(s, "No. workers contacted", 4, -5),
                       "No. workers contacted: must be > 0"),
    "inconsistent log column": (lambda w, s: _set(s, "Log(No. edges)", 6, 9.0),
                                "Log(No. edges): does not equal the log"),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_each_corruption_is_rejected(copy_of_data, capsys, corruption):
    directory, workers, sites = copy_of_data
    corrupt, expected = CORRUPTIONS[corruption]
    corrupt(workers, sites)
    workers.to_csv(directory / WORKER_FILE, index=False)
    sites.to_csv(directory / WORKSITE_FILE, index=False)
    status, out = run_validate(directory, capsys)
    assert status == 1
    assert expected in out, out
    assert "Traceback" not in out


def test_all_corruptions_reported_in_one_run(copy_of_data, capsys):
    directory, workers, sites = copy_of_data
    for corrupt, _ in CORRUPTIONS.values():
        corrupt(workers, sites)
    workers.to_csv(directory / WORKER_FILE, index=False)
    sites.to_csv(directory / WORKSITE_FILE, index=False)
    status, out = run_validate(directory, capsys)
    assert status == 1
    for _, expected in CORRUPTIONS.values():
        assert expected in out, f"{expected!r} missing from:\n{out}"
    assert "line " in out  # failures point at rows of the file


def test_ids_are_text_and_never_truncated(copy_of_data, capsys):
    """``99.5`` is a text ID of its own (not truncated to 99: its workers no longer find
    it), ``12.0`` is the ID ``12``, and text IDs such as ``store-12`` validate."""
    directory, workers, sites = copy_of_data
    first = sites.loc[0, "Worksite ID"]
    _set(sites, "Worksite ID", 0, f"{first}.5")
    sites.to_csv(directory / WORKSITE_FILE, index=False)
    status, out = run_validate(directory, capsys)
    assert status == 1
    n = int((workers["Worksite ID"] == first).sum())
    assert f"Worksite ID: not found in the worksite file in {n} rows" in out
    _set(sites, "Worksite ID", 0, f"{first}.0")
    sites.to_csv(directory / WORKSITE_FILE, index=False)
    assert run_validate(directory, capsys)[0] == 0
    names = {v: f"store-{v:04d}" for v in sites["Worksite ID"].iloc[1:].astype(int)}
    names[first] = f"store-{first:04d}"
    sites["Worksite ID"] = [f"store-{int(float(v)):04d}" for v in sites["Worksite ID"]]
    workers["Worksite ID"] = workers["Worksite ID"].map(names)
    workers["Worker ID"] = [f"A{v}x" for v in workers["Worker ID"]]
    sites.to_csv(directory / WORKSITE_FILE, index=False)
    workers.to_csv(directory / WORKER_FILE, index=False)
    status, out = run_validate(directory, capsys)
    assert status == 0, out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "file is empty"),
        (bytes(range(256)) * 8, "not a text file (it holds NUL bytes)"),
        (b"name,colour\nbob,red\n", "not the expected CSV"),
        (",".join(data_module.WORKER_FEATURES).encode() + b"\n", "file has a header but no rows"),
    ],
    ids=["empty", "binary", "other-csv", "header-only"],
)
def test_unreadable_worker_file_gets_one_line(copy_of_data, capsys, content, expected):
    directory, _, _ = copy_of_data
    (directory / WORKER_FILE).write_bytes(content)
    status, out = run_validate(directory, capsys)
    assert status == 1
    assert f"✗ {WORKER_FILE}: {expected}" in out
    assert "Traceback" not in out


def test_missing_file_and_missing_directory(tmp_path, capsys):
    (tmp_path / WORKSITE_FILE).write_text("x\n1\n")
    status, out = run_validate(tmp_path, capsys)
    assert status == 1
    assert f"✗ {WORKER_FILE}: file not found" in out
    status, out = run_validate(tmp_path / "nowhere", capsys)
    assert status == 1
    assert "directory not found" in out


def test_invalid_data_raises_with_full_report(copy_of_data):
    directory, workers, _ = copy_of_data
    _set(workers, "Signed", 0, 3)
    workers.to_csv(directory / WORKER_FILE, index=False)
    with pytest.raises(DataError, match="Signed: value not in"):
        load_campaign(directory)


def test_simulated_campaign_validates(tmp_path, capsys):
    simulated = simulate_campaign(n_sites=12, n_workers=600, seed=5)
    simulated.write(tmp_path)
    status, out = run_validate(tmp_path, capsys)
    assert status == 0, out
    campaign = load_campaign(tmp_path)
    assert campaign.n_workers == 600 and campaign.n_sites == 12
    assert simulated.b.shape == (12, 7) and simulated.beta.shape == (18,)
    signed_per_site = np.bincount(campaign.site_index, campaign.signed, 12)
    np.testing.assert_array_equal(signed_per_site, simulated.worksites["No. workers signed"])


def test_simulator_is_seeded_and_rejects_bad_sizes():
    a = simulate_campaign(n_sites=5, n_workers=100, seed=1)
    b = simulate_campaign(n_sites=5, n_workers=100, seed=1)
    c = simulate_campaign(n_sites=5, n_workers=100, seed=2)
    pd.testing.assert_frame_equal(a.workers, b.workers)
    assert not a.workers["Signed"].equals(c.workers["Signed"])
    with pytest.raises(ValueError, match="at least 5 per worksite"):
        simulate_campaign(n_sites=50, n_workers=100)


def test_locate_prefers_environment(monkeypatch, tmp_path, data_dir):
    monkeypatch.setenv("ORGANIZING_DATA_DIR", str(data_dir))
    assert locate_data() == data_dir
    monkeypatch.setenv("ORGANIZING_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match="not found in .* ORGANIZING_DATA_DIR"):
        locate_data()


def test_failed_download_says_what_to_do(monkeypatch, tmp_path):
    import pooch

    def offline(*args, **kwargs):
        raise ConnectionError("network unreachable")

    monkeypatch.delenv("ORGANIZING_DATA_DIR", raising=False)
    monkeypatch.chdir(project(tmp_path))
    monkeypatch.setattr(pooch, "retrieve", offline)
    with pytest.raises(DataError, match="Could not download .* set ORGANIZING_DATA_DIR"):
        locate_data(download=True)


def test_checksum_mismatch_is_refused(monkeypatch, tmp_path):
    import pooch

    def tampered(url, known_hash, fname, path, progressbar):
        (path / fname).write_text("tampered")
        actual = data_module.sha256(path / fname)
        raise ValueError(f"SHA256 hash of downloaded file ({actual}) does not match {known_hash}")

    monkeypatch.delenv("ORGANIZING_DATA_DIR", raising=False)
    monkeypatch.chdir(project(tmp_path))
    monkeypatch.setattr(pooch, "retrieve", tampered)
    with pytest.raises(DataError, match="does not match its pinned sha256"):
        locate_data(download=True)


def project(folder: Path) -> Path:
    """A folder that looks like the project's root (its two marker files)."""
    folder.mkdir(parents=True, exist_ok=True)
    for marker in ("pyproject.toml", "_quarto.yml"):
        (folder / marker).write_text("")
    return folder


def test_paths_resolve_against_the_project_root_never_the_working_folder(
        monkeypatch, tmp_path, data_dir, capsys):
    """From a subfolder the project's data/ and cache are found; from an unrelated folder
    nothing is, every command says where it looked, and nothing is downloaded unasked."""
    import pooch

    from organizing.cli import main
    from organizing.results import cache

    monkeypatch.setattr(pooch, "retrieve", lambda *a, **k: pytest.fail("downloaded unasked"))
    monkeypatch.delenv("ORGANIZING_DATA_DIR", raising=False)
    monkeypatch.delenv("ORGANIZING_CACHE_DIR", raising=False)
    root = project(tmp_path / "project")
    (root / "data").mkdir()
    for name in data_module.SOURCES:
        (root / "data" / name).write_bytes((data_dir / name).read_bytes())
    (root / "chapters").mkdir()
    monkeypatch.chdir(root / "chapters")
    assert locate_data() == root / "data"
    assert cache.cache_dir() == root / ".cache" / "organizing"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(DataError, match=f"no campaign data: {elsewhere} is not inside the "
                                        "project .* set ORGANIZING_DATA_DIR"):
        locate_data()
    for argv in (["validate"], ["summary"], ["plan"], ["run"], ["fetch-data"]):
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{elsewhere} is not inside the project" in err, err
    monkeypatch.setenv("ORGANIZING_DATA_DIR", str(root / "data"))
    assert main(["summary"]) == 1  # the data is named, the cache is not
    assert "no results cache" in capsys.readouterr().err

    # inside the project, without its data: say so, and how to get it
    monkeypatch.delenv("ORGANIZING_DATA_DIR")
    empty = project(tmp_path / "empty")
    monkeypatch.chdir(empty)
    assert main(["validate"]) == 1
    err = capsys.readouterr().err
    assert "run `organizing fetch-data`" in err and not (empty / "data").exists()


def test_reading_commands_never_compute(monkeypatch, tmp_path, data_dir, capsys):
    """summary and plan read the cache: without the profile's results they name what is
    cached and the command that computes the rest, and exit 3 without fitting."""
    from organizing import pipeline
    from organizing.cli import NOT_COMPUTED, main
    from organizing.config import load_config
    from organizing.pipeline import stages
    from organizing.results import cache

    monkeypatch.setenv("ORGANIZING_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(stages, "run", lambda *a, **k: pytest.fail("computed unasked"))
    campaign = load_campaign(data_dir)
    quick = cache.entry_path(cache.cache_key(campaign.checksums, load_config(profile="quick")))
    quick.mkdir(parents=True)  # as if `organizing run --profile quick` had run
    for argv in (["summary"], ["plan", "--sites", "20"], ["summary", "--json"]):
        assert main(argv) == NOT_COMPUTED
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert "the results of profile 'full' have not been computed (cached for this " \
               "campaign and code: profile 'quick'); `organizing run --profile full` computes " \
               "them (or add --compute)" in err
    with pytest.raises(pipeline.NotComputed, match="profile 'full'"):
        pipeline.load()


def test_pinned_checksums_match_the_shared_copy(data_dir):
    for name, source in data_module.SOURCES.items():
        assert data_module.sha256(data_dir / name) == source["sha256"]
