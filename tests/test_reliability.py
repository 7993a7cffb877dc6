"""Data and settings that validate always analyse: no traceback, no NaN, no silent change.

One table of broken inputs (files, settings, the file system, commands), each with
the message fragment and exit code it must give; then the invariant that
``organizing validate`` accepts exactly what :func:`organizing.data.assert_analysable`
accepts, privacy of the messages, bounded memory, a clean Ctrl-C and strict JSON.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from organizing import cli
from organizing.config import load_config
from organizing.data import (
    MAX_EXAMPLES,
    WORKER_FILE,
    WORKSITE_FILE,
    DataError,
    assert_analysable,
    check_campaign,
    load_campaign,
    read_and_validate,
)
from organizing.data import io as data_io
from organizing.data.checks import MIN_SITES
from organizing.data.splits import study_split
from organizing.simulate import simulate_campaign

try:
    from tests import book
except ImportError:  # tests/ is not a package and the rootdir is not on sys.path
    import book

ROOT = Path(__file__).resolve().parents[1]
BASE = simulate_campaign(n_sites=12, n_workers=600, seed=5)
SITE_IDS = BASE.worksites["Worksite ID"].to_numpy()


# --------------------------------------------------------------------------- helpers


def write_campaign(directory: Path, workers: pd.DataFrame, sites: pd.DataFrame) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    workers.to_csv(directory / WORKER_FILE, index=False)
    sites.to_csv(directory / WORKSITE_FILE, index=False)
    return directory


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    status = cli.main(argv)
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def set_value(column: str, value, rows=slice(0, 1)) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        frame[column] = frame[column].astype(object if isinstance(value, str) else float)
        frame.loc[frame.index[rows], column] = value
        return frame
    return change


def both(*changes):
    def change(frame):
        for one in changes:
            frame = one(frame)
        return frame
    return change


def first_sites(k: int):
    keep = set(SITE_IDS[:k])
    return (lambda w: w[w["Worksite ID"].isin(keep)], lambda s: s[s["Worksite ID"].isin(keep)])


def signers_only_in_training(workers: pd.DataFrame) -> pd.DataFrame:
    train, _ = study_split(len(workers), test_size=0.2, seed=42)
    workers = workers.copy()
    workers["Signed"] = 0
    workers.loc[workers.index[train[:60]], "Signed"] = 1
    return workers


def no_signer_at_first_site(workers: pd.DataFrame) -> pd.DataFrame:
    workers = workers.copy()
    workers.loc[workers["Worksite ID"] == SITE_IDS[0], "Signed"] = 0
    return workers


def duplicated_column(workers: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([workers, workers[["Signed"]].rename(columns={"Signed": "Signed"})], axis=1)


def deny_reading(name: str):
    """Make opening ``name`` raise PermissionError (the tests may run as root)."""
    def setup(directory: Path, monkeypatch) -> None:
        real_open = open

        def guarded(path, *args, **kwargs):
            if Path(path).name == name:
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)
        monkeypatch.setattr(data_io, "open", guarded, raising=False)
    return setup


def replace_with_directory(name: str):
    def setup(directory: Path, monkeypatch) -> None:
        (directory / name).unlink()
        (directory / name).mkdir()
    return setup


def replace_with_link(name: str, target: str):
    def setup(directory: Path, monkeypatch) -> None:
        (directory / name).unlink()
        os.symlink(target, directory / name)
    return setup


def as_file(directory: Path, monkeypatch) -> None:
    shutil.rmtree(directory)
    directory.write_text("not a folder\n")


def read_only_copy_of_campaign(directory: Path, monkeypatch) -> None:
    (directory / WORKER_FILE).chmod(0o444)


@dataclass(frozen=True)
class Case:
    workers: Callable | None = None
    sites: Callable | None = None
    config: str | None = None  # YAML for --config
    setup: Callable | None = None  # (directory, monkeypatch) -> None, after writing the files
    argv: Callable | None = None  # (directory, config path) -> argv; default: validate
    fragment: str = ""
    code: int = 1


def validate_argv(directory: Path, config: Path | None) -> list[str]:
    return ["validate", str(directory)] + (["--config", str(config)] if config else [])


CASES: dict[str, Case] = {
    "valid": Case(fragment="the campaign can be analysed", code=0),
    "valid, quick profile": Case(argv=lambda d, c: ["validate", str(d), "--profile", "quick"],
                                 fragment="analysed with the settings of profile 'quick'",
                                 code=0),
    # Files that pass the schemas but could not be analysed.
    "every worker signed": Case(workers=set_value("Signed", 1.0, slice(None)),
                                fragment="Signed: every worker signed"),
    "no worker signed": Case(workers=set_value("Signed", 0.0, slice(None)),
                             fragment="Signed: no worker signed"),
    "a single worker": Case(workers=lambda w: w.iloc[:1],
                            fragment="the models and every held-out metric need at least 2"),
    "a worksite file with one row": Case(*first_sites(1), fragment="only 1 worksite(s)"),
    "fewer worksites than folds": Case(*first_sites(MIN_SITES),
                                       fragment="evaluation.worksite_folds: is 5, but the "
                                                "campaign has 4 worksite(s) with workers"),
    "a worksite without workers": Case(workers=lambda w: w[w["Worksite ID"] != SITE_IDS[3]],
                                       fragment="Worksite ID: has no worker in the worker file "
                                                "in 1 row (line 5)"),
    "infinite Mean AGI and its log": Case(
        sites=both(set_value("Mean AGI in ZIP", np.inf), set_value("Log(Mean AGI in ZIP)", np.inf)),
        fragment="Log(Mean AGI in ZIP): is not a finite number in 1 row (line 2: inf)"),
    "infinite campaign length": Case(sites=set_value("Campaign length", np.inf, slice(2, 3)),
                                     fragment="Campaign length: is not a finite number"),
    "No. Notes of 1e308": Case(
        workers=both(set_value("No. Notes", 1e308), set_value("Log(No. Notes)", np.log(1e308))),
        fragment="No. Notes: is too large to standardize"),
    "a duplicated Signed column": Case(workers=duplicated_column,
                                       fragment="Signed: the header names this column 2 times"),
    "every signer in the training split": Case(
        workers=signers_only_in_training,
        fragment="the held-out part (120 workers; test_size 0.2, random_state 42) has no signer"),
    # Settings that validate on their own, but not against this campaign.
    "more folds than worksites": Case(config="evaluation: {worksite_folds: 13}\n",
                                      fragment="is 13, but the campaign has 12 worksite(s)"),
    "a fold without signers": Case(workers=no_signer_at_first_site,
                                   config="evaluation: {worksite_folds: 12}\n",
                                   fragment="the held-out workers hold no signer, so the "
                                            "fold's AUC is undefined"),
    "a tiny test split": Case(config="split: {test_size: 0.0001}\n",
                              fragment="split: the held-out part (1 worker;"),
    "K beyond the worksites": Case(config="clustering: {K_grid: [1, 2, 13]}\n",
                                   fragment="clustering.K_grid: goes up to K = 13"),
    # Settings refused on their own.
    "a negative seed": Case(config="seed: -1\n", fragment="seed must be >= 0 and < 2**32"),
    "a seed of 1e23": Case(config="seed: 1.0e+23\n", fragment="seed must be of type int"),
    "a negative random_state": Case(config="split: {random_state: -5}\n",
                                    fragment="split.random_state must be >= 0"),
    "an infinite learning rate": Case(config="svi: {lr: .inf}\n",
                                      fragment="svi.lr must be a finite number (got inf)"),
    "too few NUTS samples": Case(config="nuts: {samples: 10}\n",
                                 fragment="nuts.samples must be >= 100 (got 10)"),
    "profiles in a user file": Case(config="profiles: {quick: {seed: 3}}\n",
                                    fragment="the key 'profiles' is not allowed"),
    "a duplicate YAML key": Case(config="svi:\n  lr: 0.1\n  lr: 0.2\n",
                                 fragment="duplicate key 'svi.lr'"),
    "an unknown key": Case(config="svi: {foo: 1}\n",
                           fragment="unknown configuration key 'svi.foo'"),
    # The file system.
    "permission denied": Case(setup=deny_reading(WORKER_FILE),
                              fragment=f"✗ {WORKER_FILE}: permission denied"),
    "a directory where a file should be": Case(
        setup=replace_with_directory(WORKSITE_FILE),
        fragment=f"✗ {WORKSITE_FILE}: is a directory, not a file"),
    "a symbolic link loop": Case(setup=replace_with_link(WORKER_FILE, WORKER_FILE),
                                 fragment=f"✗ {WORKER_FILE}: symbolic link loop"),
    "a broken symbolic link": Case(setup=replace_with_link(WORKER_FILE, "gone.csv"),
                                   fragment=f"✗ {WORKER_FILE}: broken symbolic link"),
    "a folder that is a file": Case(setup=as_file, fragment="is a file, not a directory"),
    "a file without its header line": Case(
        setup=lambda d, m: (d / WORKER_FILE).write_text(
            "\n".join((d / WORKER_FILE).read_text().splitlines()[1:]) + "\n"),
        fragment="not the expected CSV: none of its 13 column(s)"),
    # simulate never overwrites a campaign, and says so in one line.
    "simulate over a campaign": Case(
        setup=read_only_copy_of_campaign,
        argv=lambda d, c: ["simulate", str(d), "--sites", "5", "--workers", "100"],
        fragment="already holds WorkerRegressionData.csv and WorksiteNetworkData.csv; pass "
                 "--force", code=2),
    "simulate into a file": Case(
        setup=as_file, argv=lambda d, c: ["simulate", str(d)],
        fragment="is a file, not a directory", code=2),
}


@pytest.fixture()
def case_dir(tmp_path, monkeypatch, request):
    """Write the case's campaign and settings; returns (directory, config path, case)."""
    case = CASES[request.param]
    workers, sites = BASE.workers, BASE.worksites
    if case.workers:
        workers = case.workers(workers)
    if case.sites:
        sites = case.sites(sites)
    directory = write_campaign(tmp_path / "campaign", workers, sites)
    config = None
    if case.config is not None:
        config = tmp_path / "settings.yml"
        config.write_text(case.config)
    if case.setup:
        case.setup(directory, monkeypatch)
    return directory, config, case


@pytest.mark.parametrize("case_dir", list(CASES), indirect=True)
def test_broken_input_gives_one_clear_message(case_dir, capsys):
    directory, config, case = case_dir
    argv = (case.argv or validate_argv)(directory, config)
    status, out = run_cli(argv, capsys)
    assert status == case.code, out
    assert case.fragment in out, out
    assert "Traceback" not in out
    assert "nan" not in out.lower().replace("(nan)", ""), out
    leaked = book.find_integer_tokens(out, set(BASE.workers["Worker ID"].astype(int)))
    assert not leaked, f"worker IDs in the message: {sorted(leaked)}\n{out}"


ANALYSIS_CASES = [name for name, case in CASES.items()
                  if case.argv is None and case.setup is None]


@pytest.mark.parametrize("case_dir", ANALYSIS_CASES, indirect=True)
def test_validate_accepts_exactly_what_can_be_analysed(case_dir, capsys):
    """For every campaign and settings of the table: ``validate`` exits 0 exactly when
    ``assert_analysable`` passes (the check every run makes before fitting; the
    end-to-end run of each valid case belongs with the pipeline's tests)."""
    directory, config_path, case = case_dir
    status, out = run_cli(validate_argv(directory, config_path), capsys)
    try:
        config = load_config(config_path)
        campaign = load_campaign(directory)
    except Exception as error:  # settings or files refused before the analysis checks
        assert status == 1 and case.fragment in str(error) + out
        return
    if status == 0:
        assert_analysable(campaign, config)
        assert not check_campaign(campaign, config)
    else:
        with pytest.raises(DataError, match="cannot be analysed") as caught:
            assert_analysable(campaign, config)
        assert case.fragment in str(caught.value)
        with pytest.raises(DataError, match="cannot be analysed"):
            load_campaign(directory, config=config)


# --------------------------------------------------------------------------- the checks


def test_real_data_can_be_analysed_under_every_profile(campaign):
    for profile in ("full", "quick"):
        assert check_campaign(campaign, load_config(profile=profile)) == []


def test_checks_take_frames_as_well(tmp_path):
    directory = write_campaign(tmp_path, BASE.workers.assign(Signed=0), BASE.worksites)
    report, frames = read_and_validate(directory)
    assert report.ok and frames
    assert "no worker signed" in str(check_campaign(frames, load_config()))
    report, _ = read_and_validate(directory, load_config())
    assert not report.ok and report.analysed
    assert "no worker signed" in report.render()


def test_analysis_waits_for_valid_files(tmp_path):
    workers = set_value("Signed", 3.0)(BASE.workers)
    report, frames = read_and_validate(write_campaign(tmp_path, workers, BASE.worksites),
                                       load_config())
    assert not report.analysed and frames == {}
    assert "checked against the campaign once both files are valid" in report.render()


# --------------------------------------------------------------------------- privacy


def test_no_worker_id_in_any_message_about_the_real_data(data_dir, tmp_path, capsys):
    """Failures about worker rows give line numbers only, never a worker's ID."""
    workers = pd.read_csv(data_dir / WORKER_FILE)
    sites = pd.read_csv(data_dir / WORKSITE_FILE)
    ids = set(workers["Worker ID"].astype(int))
    workers["Worker ID"] = workers["Worker ID"].astype(object)
    workers.loc[3, "Worker ID"] = workers.loc[0, "Worker ID"]  # duplicate ID
    workers.loc[5, "Worker ID"] = f"{workers.loc[5, 'Worker ID']}.5"  # a text ID
    workers.loc[6, "Worker ID"] = f"x{workers.loc[6, 'Worker ID']}"  # a text ID
    workers.loc[10, "Worker ID"] = workers.loc[6, "Worker ID"]  # a duplicated text ID
    workers.loc[7, "Worksite ID"] = int(workers.loc[8, "Worker ID"])  # an unknown worksite
    workers.loc[9, "Signed"] = workers.loc[9, "Worker ID"]  # an ID in the outcome column
    write_campaign(tmp_path, workers, sites)
    status, out = run_cli(["validate", str(tmp_path)], capsys)
    assert status == 1
    for fragment in ("Worker ID: duplicate ID in 4 rows (e.g. lines 2, 5, 8, …)",
                     "Worksite ID: not found in the worksite file in 1 row (line 9)",
                     "Signed: value not in [0.0, 1.0] in 1 row"):
        assert fragment in out, out
    # The outcome column's values are shown (0 or 1 is expected there) -- except this one,
    # which is a worker ID: the scan is what guards the report.
    leaked = book.find_integer_tokens(out.replace(f"line 11: {workers.loc[9, 'Signed']}", ""),
                                      ids)
    assert not leaked, out
    # the scan itself finds an ID written in the old style
    some = next(iter(ids))
    assert book.find_integer_tokens(f"duplicate ID (e.g. line 5: {some})", ids) == {some}

    # A worker file that lost its header line would quote a worker's row as its header.
    text = (data_dir / WORKER_FILE).read_text().splitlines()
    (tmp_path / WORKER_FILE).write_text("\n".join(text[1:]) + "\n")
    status, out = run_cli(["validate", str(tmp_path)], capsys)
    assert status == 1 and "is the header line missing?" in out
    assert not book.find_integer_tokens(out, ids), out


# --------------------------------------------------------------------------- bounded memory


def errors_everywhere(n_rows: int) -> pd.DataFrame:
    """A worker file with an error in every row (IDs duplicated across the whole file)."""
    base = BASE.workers
    reps = -(-n_rows // len(base))
    workers = pd.concat([base] * reps, ignore_index=True).iloc[:n_rows].copy()
    workers["Signed"] = 2.0
    workers["Is Male"] = workers["Is Male"].astype(object)
    workers.loc[::2, "Is Male"] = "yes"
    return workers


def test_report_counts_every_failure_and_keeps_few_examples(tmp_path, monkeypatch):
    n = 3 * len(BASE.workers) + 7
    directory = write_campaign(tmp_path, errors_everywhere(n), BASE.worksites)
    whole, _ = read_and_validate(directory)
    monkeypatch.setattr(data_io, "CHUNK_ROWS", 250)  # the same file, in 8 chunks
    chunked, _ = read_and_validate(directory)
    assert [str(p) for p in chunked.problems] == [str(p) for p in whole.problems]
    problems = {p.column: p for p in chunked.problems}
    assert problems["Signed"].count == n
    assert problems["Is Male"].count == (n + 1) // 2  # every other row
    assert problems["Worker ID"].count == n  # duplicates across chunks are found
    assert problems["Worker ID"].examples == "e.g. lines 2, 3, 4, …"
    for problem in chunked.problems:
        shown = problem.examples.count("line") + problem.examples.count(",")
        assert shown <= MAX_EXAMPLES + 1, problem
    assert "Signed: value not in [0.0, 1.0] in 1,807 rows (e.g. line 2: 2.0; line 3: 2.0; " \
           "line 4: 2.0)" in chunked.render()


@pytest.mark.slow
def test_peak_memory_stays_bounded_on_a_large_bad_file(tmp_path):
    """150,000 bad rows (13 MB) in a subprocess: the peak stays far below what the old
    validation needed (about 3 KB per failing row, 450 MB more here). The 200 MB case
    (2.4 million rows) peaks at about 300 MB, measured with /usr/bin/time -v."""
    errors_everywhere(150_000).to_csv(tmp_path / WORKER_FILE, index=False)
    BASE.worksites.to_csv(tmp_path / WORKSITE_FILE, index=False)
    script = textwrap.dedent(f"""
        import resource, sys
        from organizing.cli import main
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        status = main(["validate", {str(tmp_path)!r}])
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print("RSS", baseline, peak, status, file=sys.stderr)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    line = [x for x in done.stderr.splitlines() if x.startswith("RSS")][-1]
    baseline, peak, status = map(int, line.split()[1:])
    assert status == 1
    assert "in 150,000 rows" in done.stdout
    assert (peak - baseline) * 1024 < 250 * 2**20, f"peak grew by {(peak - baseline) // 1024} MB"
    # (RUSAGE_CHILDREN is not checked: it holds the largest of every child the test
    # process ever waited for, e.g. the pipeline's, not this one's.)


# --------------------------------------------------------------------------- Ctrl-C and JSON


def test_interrupt_prints_one_line_and_exits_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    before = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(cli, "_validate", interrupted)
    assert cli.main(["validate"]) == 130
    captured = capsys.readouterr()
    assert captured.err == "interrupted; nothing was cached\n"
    assert captured.out == ""
    assert signal.getsignal(signal.SIGINT) is before


def test_real_ctrl_c_ends_the_children_without_a_traceback(tmp_path):
    script = tmp_path / "busy.py"
    script.write_text(textwrap.dedent("""
        import multiprocessing, signal, sys, time
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal
        from organizing import cli

        def busy(args):
            child = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(120,))
            child.start()
            print(child.pid, flush=True)
            time.sleep(120)

        if __name__ == "__main__":
            cli._validate = busy
            sys.exit(cli.main(["validate"]))
    """))
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        child = int(process.stdout.readline())
        os.kill(process.pid, signal.SIGINT)  # this process only: it must end its children
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert err.strip() == "interrupted; nothing was cached", err
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def test_summary_json_never_writes_nan():
    """An undefined metric is null with a reason, and the JSON has no NaN or Infinity."""
    import json

    from organizing.report import summary as summary_module

    row = {"accuracy": 0.9, "auc": float("nan"), "brier": float("inf")}
    out = summary_module._metrics(row, ("accuracy", "auc", "brier"))
    assert out["accuracy"] == 0.9 and out["auc"] is None and out["brier"] is None
    assert out["auc_undefined"] == summary_module.UNDEFINED_REASON
    text = json.dumps(out, allow_nan=False)
    assert "NaN" not in text and "Infinity" not in text


def test_simulate_force_overwrites_and_the_result_validates(tmp_path, capsys):
    write_campaign(tmp_path, BASE.workers, BASE.worksites)
    before = (tmp_path / WORKER_FILE).read_bytes()
    status, out = run_cli(["simulate", str(tmp_path), "--sites", "6", "--workers", "300"], capsys)
    assert status == 2 and (tmp_path / WORKER_FILE).read_bytes() == before
    status, out = run_cli(["simulate", str(tmp_path), "--sites", "6", "--workers", "300",
                           "--force"], capsys)
    assert status == 0, out
    assert (tmp_path / WORKER_FILE).read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == [WORKER_FILE, WORKSITE_FILE]
    assert run_cli(["validate", str(tmp_path), "--profile", "quick"], capsys)[0] == 0


def test_simulated_write_refuses_existing_files(tmp_path):
    BASE.write(tmp_path)
    with pytest.raises(FileExistsError, match="already holds"):
        BASE.write(tmp_path)
    BASE.write(tmp_path, overwrite=True)


def test_locate_data_reports_file_system_problems(tmp_path, monkeypatch):
    from organizing.data import locate_data

    write_campaign(tmp_path, BASE.workers, BASE.worksites)
    (tmp_path / WORKER_FILE).unlink()
    (tmp_path / WORKER_FILE).mkdir()
    with pytest.raises(DataError, match=f"{WORKER_FILE} in .*: is a directory, not a file"):
        locate_data(tmp_path)
    monkeypatch.setenv("ORGANIZING_DATA_DIR", str(tmp_path / WORKSITE_FILE))
    with pytest.raises(DataError, match="ORGANIZING_DATA_DIR.*is a file, not a directory"):
        locate_data()
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    with pytest.raises(DataError, match="symbolic link loop"):
        locate_data(loop)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_for_real(tmp_path, capsys):
    write_campaign(tmp_path, BASE.workers, BASE.worksites)
    (tmp_path / WORKER_FILE).chmod(0)
    status, out = run_cli(["validate", str(tmp_path)], capsys)
    assert status == 1 and f"✗ {WORKER_FILE}: permission denied" in out


@pytest.mark.parametrize(("argv", "fragment"), [
    (["simulate", "x", "--seed", "-1"],
     "organizing simulate: error: argument --seed: must be an integer >= 0 and < 4,294,967,296 "
     "(got -1)"),
    (["simulate", "x", "--sites", "1"], "argument --sites: must be an integer >= 2 (got 1)"),
    (["simulate", "x", "--sites", "many"], "argument --sites: must be an integer >= 2 (got "
                                           "'many')"),
    (["simulate", "x", "--sites", "30", "--workers", "40"], "error: --workers must be at least 5 "
                                                            "per worksite"),
    (["plan", "--seed", "-3"], "argument --seed: must be an integer >= 0"),
    (["plan", "--alpha", "2"], "error: --alpha must be in (0, 1), got 2.0"),
    (["validate", "--profile", "fast"], "argument --profile: invalid choice: 'fast'"),
])
def test_command_line_errors_name_the_option_and_its_range(argv, fragment, capsys):
    try:
        status = cli.main(argv)
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code
    err = capsys.readouterr().err
    assert status == 2 and fragment in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
