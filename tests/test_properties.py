"""Property tests (Hypothesis): random corruptions of a small valid campaign, and small
campaigns near each minimum of the analysis.

1. Fuzzing: whatever is done to the two files (cells of the wrong type or out of
   range, encodings, separators, deleted, renamed or duplicated rows and columns,
   truncation, blank lines), ``organizing validate`` never prints a traceback or a
   worker ID, and either accepts the files or names a file and, for each problem, a
   column.
2. Minimums: for campaigns drawn around every minimum of ``checks.MINIMUMS``,
   ``validate`` accepts exactly the campaigns that the later stages' own checks
   accept (planning's worksite size, the grouped folds, the split, the clustering).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from organizing import cli
from organizing.config import load_config
from organizing.data import WORKER_FILE, WORKSITE_FILE, check_campaign, load_campaign
from organizing.data.schemas import QUARTILES, QUINTILES, WorkerSchema, WorksiteSchema
from organizing.simulate import simulate_campaign

try:
    from tests import book
except ImportError:  # tests/ is not a package and the rootdir is not on sys.path
    import book

BASE = simulate_campaign(n_sites=6, n_workers=120, seed=8)
WORKER_IDS = set(BASE.workers["Worker ID"].astype(int))
FILES = {WORKER_FILE: BASE.workers, WORKSITE_FILE: BASE.worksites}
KNOWN = {WORKER_FILE: set(WorkerSchema.to_schema().columns),
         WORKSITE_FILE: set(WorksiteSchema.to_schema().columns)}
LABELS = {f"{QUARTILES[0][:-2]}k)", f"{QUINTILES[0][:-2]}k)", "Mean degree"}

VALUES = st.one_of(
    st.sampled_from(["", "yes", "NaN", "inf", "-inf", "1e308", "-1", "0", "2", "0.5", "1,5",
                     "x" * 60, "2012-03-01", "store-12", "é", "1e-320", " 3 "]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**20, 10**20).map(str),
)


@st.composite
def corruption(draw):
    """A list of edits to the two files, and how to write them."""
    edits = []
    for _ in range(draw(st.integers(1, 4))):
        file = draw(st.sampled_from(list(FILES)))
        kind = draw(st.sampled_from(["cell", "column value", "drop column", "rename column",
                                     "drop rows", "duplicate rows", "add column"]))
        columns = list(FILES[file].columns)
        edits.append((file, kind, draw(st.sampled_from(columns)), draw(VALUES),
                      draw(st.integers(0, len(FILES[file]) - 1)),
                      draw(st.sampled_from(["lower", "space", "typo"]))))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    separator = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    cut = draw(st.one_of(st.none(), st.integers(0, 4000)))
    blanks = draw(st.booleans())
    return edits, encoding, separator, cut, blanks


def _apply(frames: dict[str, pd.DataFrame], edit) -> None:
    file, kind, column, value, row, how = edit
    frame = frames[file]
    if column not in frame:
        return
    if kind == "cell":
        frame[column] = frame[column].astype(object)
        frame.loc[frame.index[row % len(frame)], column] = value
    elif kind == "column value":
        frame[column] = value
    elif kind == "drop column":
        frames[file] = frame.drop(columns=column)
    elif kind == "rename column":
        new = {"lower": column.lower(), "space": f" {column} ", "typo": column[:-1]}[how]
        frames[file] = frame.rename(columns={column: new})
    elif kind == "drop rows":
        frames[file] = frame.iloc[row % len(frame):]
    elif kind == "duplicate rows":
        frames[file] = pd.concat([frame, frame.iloc[: row % 5 + 1]], ignore_index=True)
    elif kind == "add column":
        frames[file] = frame.assign(**{f"Note {how}": value})


@pytest.mark.slow
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(corruption())
def test_corrupted_files_never_crash_nor_leak(capsys, case):
    edits, encoding, separator, cut, blanks = case
    frames = {name: frame.copy() for name, frame in FILES.items()}
    for edit in edits:
        _apply(frames, edit)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for name, frame in frames.items():
            text = frame.to_csv(index=False, sep=separator)
            if blanks:
                text = text.replace("\n", "\n\n", 3)
            data = text.encode(encoding, errors="replace")
            (folder / name).write_bytes(data if cut is None or name != WORKER_FILE
                                        else data[:cut])
        status = cli.main(["validate", str(folder), "--profile", "quick"])
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "Traceback" not in out
    assert status in (0, 1), out
    assert not book.find_integer_tokens(out, WORKER_IDS), out
    if status == 0:
        return
    assert re.search(rf"✗ ({re.escape(WORKER_FILE)}|{re.escape(WORKSITE_FILE)}|the settings)",
                     out), out
    names = set().union(*KNOWN.values(), *(set(f.columns) for f in frames.values()), LABELS)
    for line in out.splitlines():
        if line.startswith("    - "):
            column = line[6:].split(": ", 1)[0]
            assert column in names or column in {"split", "evaluation.worksite_folds",
                                                 "clustering.K_grid", "split.test_size"}, line


# ------------------------------------------------------------------ minimums


def _subset(sizes: list[int], signed: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """BASE cut to len(sizes) worksites with those many workers, and outcomes."""
    sites = BASE.worksites.iloc[: len(sizes)].copy()
    parts = []
    for site, size in zip(sites["Worksite ID"], sizes, strict=True):
        parts.append(BASE.workers[BASE.workers["Worksite ID"] == site].iloc[:size])
    workers = pd.concat(parts, ignore_index=True)
    workers["Signed"] = np.resize(np.asarray(signed, dtype=float), len(workers))
    from organizing.data.network import mean_degree

    sites["Mean degree"] = mean_degree(sites["No. edges"], np.asarray(sizes))
    sites["Log(Mean degree)"] = np.log(sites["Mean degree"])
    return workers, sites


def _stages_accept(campaign, config) -> bool:
    """What the later stages themselves require, asked of their own code."""
    from organizing import planning
    from organizing.features import study_split, worksite_folds

    signed = campaign.signed
    if min(signed.sum(), len(signed) - signed.sum()) < 2:
        return False
    try:
        workers = np.bincount(campaign.site_index, minlength=campaign.n_sites)
        if (workers == 0).any():
            return False
        planning.check_plan_arguments("worksite", 40, int(np.median(workers)), 0.05, 2000, 0)
        train, test = study_split(campaign.n_workers, test_size=config.split.test_size,
                                  seed=config.split.random_state)
        for rows in (train, test):
            if len(set(signed[rows])) < 2:
                return False
        for train, test in worksite_folds(campaign.site_index,
                                          n_folds=config.evaluation.worksite_folds,
                                          seed=config.seed):
            if len(set(signed[train])) < 2 or len(set(signed[test])) < 2:
                return False
    except ValueError:
        return False
    return campaign.n_sites >= 4 and max(config.clustering.K_grid) <= campaign.n_sites


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 4), min_size=3, max_size=6),
       signed=st.lists(st.integers(0, 1), min_size=1, max_size=8),
       folds=st.integers(2, 6))
def test_validate_accepts_exactly_what_the_stages_accept(sizes, signed, folds):
    from organizing.data import campaign_from_frames
    from organizing.data.io import validate_tables

    workers, sites = _subset(sizes, signed)
    assert validate_tables(workers, sites).ok
    frames = {WORKER_FILE: workers, WORKSITE_FILE: sites}
    from organizing.data.checks import validate_frames

    report = validate_frames(frames)
    assert report.ok
    config = _with_folds(folds)
    campaign = campaign_from_frames({k: v.assign(**{"Worksite ID": v["Worksite ID"].astype(str)})
                                     for k, v in frames.items()})
    assert (check_campaign(campaign, config) == []) == _stages_accept(campaign, config)


def _with_folds(folds: int):
    import yaml

    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        yaml.safe_dump({"evaluation": {"worksite_folds": folds},
                        "clustering": {"K_grid": [1, 2, 3]}}, handle)
    try:
        return load_config(handle.name, profile="quick")
    finally:
        Path(handle.name).unlink()


def test_one_worker_per_worksite_is_refused_by_validate(tmp_path, capsys):
    """The campaign that passed validate and then failed after minutes of fitting."""
    workers, sites = _subset([1] * 6, [1, 0, 1, 0, 1, 0])
    workers.to_csv(tmp_path / WORKER_FILE, index=False)
    sites.to_csv(tmp_path / WORKSITE_FILE, index=False)
    assert cli.main(["validate", str(tmp_path), "--profile", "quick"]) == 1
    out = capsys.readouterr().out
    assert "Worksite ID: the median worksite has 1 worker(s)" in out
    assert load_campaign(tmp_path) is not None  # the files themselves are valid


@pytest.mark.slow
def test_a_campaign_at_the_minimums_runs_to_the_end(tmp_path, tiny_config):
    """Validate's guarantee at its edge: the fewest worksites and the smallest median
    worksite it accepts, with the tiny settings (2 folds, K up to 2), run every stage.

    The run writes its output to a file, as a logged batch job does: no bar frames, one
    line per stage (this run also stands for that test, a whole run being costly)."""
    import os
    import subprocess
    import sys

    from organizing.data.checks import MIN_MEDIAN_WORKERS, MIN_SITES
    from organizing.results import cache

    sizes = [MIN_MEDIAN_WORKERS] * (MIN_SITES - 1) + [20]
    workers, sites = _subset(sizes, [1, 0, 0, 1, 0])
    data = tmp_path / "data"
    data.mkdir()
    workers.to_csv(data / WORKER_FILE, index=False)
    sites.to_csv(data / WORKSITE_FILE, index=False)
    config = tmp_path / "tiny.yml"
    config.write_text(tiny_config)
    exe = Path(sys.executable).with_name("organizing")
    env = {**os.environ, "ORGANIZING_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([str(exe), "validate", str(data), "--config", str(config)],
                          capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, (done.stdout, done.stderr[-3000:])
    log = tmp_path / "run.log"
    with open(log, "w") as handle:
        done = subprocess.run([str(exe), "run", "--data", str(data), "--config", str(config)],
                              stdout=handle, stderr=subprocess.STDOUT, env=env, timeout=900,
                              cwd=tmp_path)
    text = log.read_text()
    assert done.returncode == 0, text[-3000:]
    assert "\r" not in text and "it/s" not in text
    # The run's own entry (not a key recomputed here, which a source edit would change).
    [entry] = (tmp_path / "cache").glob("*/results.json")
    stages = [name for name in cache.cached(entry.parent).meta.timings if name != "total"]
    stage_lines = [line for line in text.splitlines() if line.startswith("· ")]
    assert [line[2:].rsplit(":", 1)[0] for line in stage_lines] == stages
    assert len(text) < 5_000, text
