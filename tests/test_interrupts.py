"""The last process faults: Ctrl-C and SIGTERM while JAX compiles or samples, a full disk,
a closed pipe. Each is a real subprocess: one line on stderr, the shell's exit status,
no traceback, no partial cache entry, within 5 seconds of the signal."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from organizing import cli
from organizing.results import cache

#: A command whose work, run in a child as ``organizing run`` runs its computation, is
#: JAX compiling a long function, or NumPyro sampling in one long XLA call (the two
#: places where a process doing the work itself does not see Ctrl-C for minutes).
BUSY = textwrap.dedent("""
    import signal
    import sys

    # as from a terminal: a background job (CI) would inherit SIGINT ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from organizing import cli

    def compiling(args):
        import jax, jax.numpy as jnp

        def f(x):
            for k in range(3000):
                x = jnp.sin(x) * 1.0001 + k
            return x

        print("busy", flush=True)
        jax.jit(f).lower(jnp.ones(3)).compile()
        print("compiled", flush=True)
        return 0

    def sampling(args):
        import jax
        import numpyro
        import numpyro.distributions as dist
        from numpyro.infer.hmc import hmc
        from numpyro.infer.util import initialize_model
        from numpyro.util import fori_collect

        def model():
            numpyro.sample("x", dist.Normal(0, 1).expand([20]))

        info = initialize_model(jax.random.PRNGKey(0), model)
        init_kernel, sample_kernel = hmc(info.potential_fn, algo="NUTS")
        state = init_kernel(info.param_info, num_warmup=100)
        seen = []

        def mark(i):  # called from inside the compiled sampling loop
            if not seen:
                seen.append(1)
                print("busy", flush=True)

        def transform(s):
            jax.debug.callback(mark, s.i)
            return s.z

        fori_collect(0, 5_000_000, sample_kernel, state, transform=transform, progbar=False)
        print("sampled", flush=True)
        return 0

    PHASES = {"compiling": compiling, "sampling": sampling}

    def busy(args):
        cli.run_in_child(PHASES[sys.argv[1]], None)
        return 0

    if __name__ == "__main__":
        cli._validate = busy
        sys.exit(cli.main(["validate"]))
""")


def interrupt(tmp_path: Path, phase: str, number: int) -> tuple[int, str, str, float]:
    """Start the busy command, signal it 1 s into ``phase``; (status, out, err, seconds
    from the signal to the exit)."""
    script = tmp_path / "busy.py"
    script.write_text(BUSY)
    env = {**os.environ, "ORGANIZING_JAX_CACHE": "0", "JAX_PLATFORMS": "cpu"}
    process = subprocess.Popen([sys.executable, str(script), phase], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert process.stdout.readline().strip() == "busy"
        time.sleep(1.0)
        sent = time.perf_counter()
        process.send_signal(number)
        out, err = process.communicate(timeout=60)
        return process.returncode, out, err, time.perf_counter() - sent
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["compiling", "sampling"])
@pytest.mark.parametrize(("number", "status", "word"), [
    (signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
    ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_jax_work_ends_the_run_within_5_seconds(tmp_path, phase, number,
                                                                  status, word):
    code, out, err, seconds = interrupt(tmp_path, phase, number)
    assert code == status, (code, err)
    assert err == f"{word}; nothing was cached\n", err
    assert "compiled" not in out and "sampled" not in out  # it did stop the work
    assert seconds < 5, f"{seconds:.1f} s from the signal to the exit"


def test_an_interrupted_write_leaves_no_partial_entry(tmp_path, monkeypatch):
    """A half-written entry lives in a private folder until its rename; after Ctrl-C the
    clean-up removes it, and no entry appears under its key."""
    monkeypatch.setenv("ORGANIZING_CACHE_DIR", str(tmp_path))
    started, release = threading.Event(), threading.Event()
    real_save = cache.np.savez

    def slow_save(*args, **kwargs):
        started.set()
        release.wait(10)
        return real_save(*args, **kwargs)

    monkeypatch.setattr(cache.np, "savez", slow_save)
    folder = tmp_path / "somekey"
    def write():
        with contextlib.suppress(OSError):  # its folder is gone: the write fails, as it must
            cache.write_entry({"x": 1}, folder)

    writer = threading.Thread(target=write, daemon=True)
    monkeypatch.setattr(cache, "encode", lambda results, arrays: {"x": 1})
    writer.start()
    assert started.wait(10)
    assert len(list(tmp_path.glob(".somekey.*"))) == 1
    cache.discard_staging()
    assert not list(tmp_path.glob(".somekey.*"))
    release.set()
    writer.join(10)
    assert not (folder / "results.json").exists()


# ------------------------------------------------------------------ output errors


def run_cli(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "organizing.cli", *argv], text=True,
                          capture_output=kwargs.pop("capture", True), timeout=120, **kwargs)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_a_full_disk_is_one_line(tmp_path, data_dir):
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "organizing.cli", "validate",
                               str(data_dir)], stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=120)
    assert done.returncode == 1
    assert done.stderr == "error: cannot write the output (No space left on device)\n"


def test_a_closed_pipe_is_one_line(tmp_path):
    """``organizing … | head -c 10``: the reader leaves early; one line, status 1."""
    script = tmp_path / "loud.py"
    script.write_text(textwrap.dedent("""
        import sys
        from organizing import cli

        def loud(args):
            for _ in range(2000):
                print("x" * 1000)
            return 0

        cli._validate = loud
        sys.exit(cli.main(["validate"]))
    """))
    done = subprocess.run(f"{sys.executable} {script} | head -c 10 >/dev/null; "
                          "echo status ${PIPESTATUS[0]} >&2", shell=True, executable="bash",
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert "error: the output was closed before everything was written (broken pipe)" \
        in done.stderr
    assert "status 1" in done.stderr


def test_an_unwritable_output_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert cli.main(["simulate", str(tmp_path / "file" / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write the campaign there" in err
