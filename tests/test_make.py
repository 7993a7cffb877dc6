"""`make book` renders wherever Quarto can be had and says why where it cannot; logs stay
readable outside a terminal (bars only on a terminal, one line per stage elsewhere).

The rendering tests run the real Makefile and tools/render_book.sh against stub
executables (a `quarto` that records its arguments and environment, a venv `python`
that plays pip), with `RESULTS=` so that no result is computed.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from organizing.inference.svi import fit_svi
from organizing.pipeline import Stages

ROOT = Path(__file__).resolve().parents[1]
MAKE = shutil.which("make")
SYSTEM_PATH = "/usr/bin:/bin"
INSTALL_ERROR = ("      Error downloading Quarto: <urlopen error [Errno -2] "
                 "Name or service not known>")

needs_make = pytest.mark.skipif(MAKE is None or shutil.which("sh") is None,
                                reason="make and sh are needed")


def stub(path: Path, body: str) -> Path:
    """An executable shell script at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def quarto_stub(folder: Path, record: Path, version: str = "1.9.38", status: int = 0) -> Path:
    """A `quarto` that answers --version and records every other call."""
    return stub(folder / "quarto", f"""\
if [ "$1" = "--version" ]; then echo {version}; exit 0; fi
{{
  echo "argv=$*"
  echo "profile=$ORGANIZING_PROFILE"
  echo "path=$PATH"
  echo "cwd=$(pwd)"
}} >> "{record}"
exit {status}
""")


def pip_stub(venv: Path, record: Path, body: str) -> Path:
    """The environment's `python`, recording its arguments, then running ``body``."""
    return stub(venv / "bin" / "python", f'echo "$*" >> "{record}"\n{body}')


def recorded(record: Path) -> dict[str, str]:
    lines = record.read_text().splitlines()
    assert sum(line.startswith("argv=") for line in lines) == 1, lines
    return dict(line.split("=", 1) for line in lines)


def make_book(venv: Path, path: str, profile: str = "quick") -> subprocess.CompletedProcess:
    """`make book` with no results step, the given PATH and environment folder."""
    env = {"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
    return subprocess.run(
        [MAKE, "--no-print-directory", "book", "RESULTS=", f"VENV={venv}", f"PROFILE={profile}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@needs_make
def test_make_book_renders_with_quarto_on_path(tmp_path):
    record = tmp_path / "quarto-calls"
    quarto_stub(tmp_path / "elsewhere", record)
    venv = tmp_path / "venv"
    pip_stub(venv, tmp_path / "pip-calls", "exit 1")
    done = make_book(venv, f"{tmp_path / 'elsewhere'}:{SYSTEM_PATH}", profile="quick")
    assert done.returncode == 0, done.stderr
    call = recorded(record)
    assert call["argv"] == "render"
    assert call["profile"] == "quick"
    # The environment comes first on PATH, so the chapters' kernel finds the package.
    assert call["path"].split(":")[0] == str(venv / "bin")
    assert Path(call["cwd"]) == ROOT
    assert not (tmp_path / "pip-calls").exists()  # nothing installed when Quarto is there


@needs_make
def test_make_book_finds_quarto_in_the_environment(tmp_path):
    record = tmp_path / "quarto-calls"
    venv = tmp_path / "venv"
    quarto_stub(venv / "bin", record)
    done = make_book(venv, SYSTEM_PATH, profile="full")
    assert done.returncode == 0, done.stderr
    assert recorded(record)["profile"] == "full"


@needs_make
@pytest.mark.skipif(shutil.which("quarto", path=SYSTEM_PATH) is not None,
                    reason="a system Quarto is installed in /usr/bin or /bin")
def test_failed_install_prints_one_line_and_succeeds(tmp_path):
    venv = tmp_path / "venv"
    calls = tmp_path / "pip-calls"
    pip_stub(venv, calls, f'echo "{INSTALL_ERROR}"\n'
                          'echo "ERROR: Failed building wheel for quarto-cli" >&2\nexit 1')
    done = make_book(venv, SYSTEM_PATH)
    assert done.returncode == 0, done.stderr
    assert calls.read_text().split() == ["-m", "pip", "install", "--quiet", "-e", ".[render]"]
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    line = lines[0]
    assert ("Quarto could not be installed (Error downloading Quarto: <urlopen error "
            "[Errno -2] Name or service not known>") in line
    assert ".cache/organizing/" in line and "make book" in line and "1.9.18" in line
    assert done.stderr == ""
    # pip's full output is kept for whoever wants the details.
    assert "Failed building wheel" in (venv / "quarto-install.log").read_text()


@needs_make
def test_old_quarto_is_replaced_by_the_render_extra(tmp_path):
    old_record, new_record = tmp_path / "old-calls", tmp_path / "new-calls"
    quarto_stub(tmp_path / "elsewhere", old_record, version="1.6.42")
    venv = tmp_path / "venv"
    new_quarto = quarto_stub(tmp_path / "wheel", new_record, version="1.10.19")
    # "Installing" the extra puts a recent quarto into the environment.
    pip_stub(venv, tmp_path / "pip-calls", f'cp "{new_quarto}" "{venv / "bin" / "quarto"}"')
    done = make_book(venv, f"{tmp_path / 'elsewhere'}:{SYSTEM_PATH}")
    assert done.returncode == 0, done.stderr
    assert recorded(new_record)["argv"] == "render"
    assert not old_record.exists()


@needs_make
def test_old_quarto_and_failed_install_name_the_old_version(tmp_path):
    quarto_stub(tmp_path / "elsewhere", tmp_path / "old-calls", version="1.6.42")
    venv = tmp_path / "venv"
    pip_stub(venv, tmp_path / "pip-calls", 'echo "ERROR: No matching distribution" >&2; exit 1')
    done = make_book(venv, f"{tmp_path / 'elsewhere'}:{SYSTEM_PATH}")
    assert done.returncode == 0
    [line] = done.stdout.splitlines()
    assert "Quarto 1.6.42 is older than 1.9.18" in line
    assert "ERROR: No matching distribution" in line
    assert not (tmp_path / "old-calls").exists()


@needs_make
def test_a_failing_render_fails_make(tmp_path):
    quarto_stub(tmp_path / "elsewhere", tmp_path / "calls", status=3)
    done = make_book(tmp_path / "venv", f"{tmp_path / 'elsewhere'}:{SYSTEM_PATH}")
    assert done.returncode != 0


@needs_make
def test_make_report_computes_the_results_then_renders():
    done = subprocess.run([MAKE, "-n", "--no-print-directory", "report", "PROFILE=quick"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    run, render = text.find("organizing run --profile quick"), text.find("tools/render_book.sh")
    assert 0 <= run < render
    assert 'PROFILE="quick"' in text[render - 80:render]
    # every command of the results step uses the profile asked for (a summary without it
    # would compute the full profile)
    commands = [line for line in text.splitlines() if "bin/organizing " in line]
    assert [c.split("bin/organizing ")[1].split()[0] for c in commands] == [
        "fetch-data", "validate", "run", "summary"]
    assert all("--profile quick" in c for c in commands[1:])


# ------------------------------------------------------------------------- quiet logs


class Terminal(io.StringIO):
    """A captured standard error that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def tiny_args():
    generator = torch.Generator().manual_seed(0)
    site_index = torch.arange(3).repeat_interleave(8)
    return (torch.randn(3, 1, generator=generator), torch.randn(24, 1, generator=generator),
            site_index, (torch.rand(24, generator=generator) < 0.3).float())


def test_stages_print_one_line_each_with_its_time(capsys):
    stages = Stages(progress=True)
    for name in ("SVI fits", "NUTS posteriors", "audit"):
        with stages.stage(name):
            pass
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert [line.split(":")[0] for line in lines] == ["· SVI fits", "· NUTS posteriors",
                                                      "· audit"]
    assert all(line.endswith(" s") for line in lines)
    assert set(stages.timings) == {"SVI fits", "NUTS posteriors", "audit"}

    quiet = Stages(progress=False)
    with quiet.stage("SVI fits"):
        pass
    assert capsys.readouterr().err == "" and "SVI fits" in quiet.timings


def test_svi_bar_only_on_a_terminal_and_named_after_its_fit(monkeypatch, capsys):
    args = tiny_args()
    settings = dict(max_steps=20, min_steps=20, check_every=10, seed=0, progress=True)
    fit_svi("corrected", args, guide="lowrank", **settings)
    assert capsys.readouterr().err == ""  # not a terminal: no bar

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    fit_svi("corrected", args, guide="lowrank", **settings)
    fit_svi("corrected", args, guide="normal", label="SVI corrected_mean_field", **settings)
    text = terminal.getvalue()
    assert "SVI corrected (low-rank)" in text and "SVI corrected_mean_field" in text
    assert "20/20" in text


@pytest.mark.slow
def test_nuts_bar_is_named_on_a_terminal_and_absent_elsewhere(monkeypatch, capsys):
    from organizing.inference.nuts import run_nuts

    site_x, worker_x, site_index, y = (np.asarray(a) for a in tiny_args())
    settings = dict(chains=1, warmup=20, samples=20, seed=0, progress=True)
    run_nuts("corrected", site_x, worker_x, site_index, y, **settings)
    assert capsys.readouterr().err == ""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run_nuts("corrected", site_x, worker_x, site_index, y, label="NUTS corrected, fold 2",
             **settings)
    assert terminal.getvalue().startswith("NUTS corrected, fold 2: 1 chain(s), 20 warmup + 20")


