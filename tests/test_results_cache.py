"""The results cache: typed round trips, never stale, never executes code, race-safe."""

from __future__ import annotations

import multiprocessing
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from organizing.models import ModelId
from organizing.results import cache
from organizing.results.codec import CodecError, decode, encode


@dataclass(frozen=True)
class Inner:
    values: np.ndarray
    label: str
    score: float


@dataclass(frozen=True)
class Entry:
    frame: pd.DataFrame
    by_model: dict[ModelId, Inner]
    names: tuple[str, ...]
    optional: float | None
    settings: dict


def _entry(n: int = 50) -> Entry:
    rng = np.random.default_rng(n)
    frame = pd.DataFrame({"feature": [f"f{i}" for i in range(n)], "mean": rng.normal(size=n),
                          "flag": rng.random(n) > 0.5, "count": np.arange(n)})
    return Entry(
        frame=frame,
        by_model={ModelId.HEADLINE: Inner(rng.normal(size=(3, n)), "a", float("nan")),
                  ModelId.POOLED_LOGISTIC: Inner(np.arange(4), "b", -np.inf)},
        names=("x", "y"), optional=None, settings={"svi": {"lr": 0.015, "grid": [1, 2]}},
    )


def _assert_equal(a: Entry, b: Entry) -> None:
    pd.testing.assert_frame_equal(a.frame, b.frame, check_dtype=False)
    assert set(a.by_model) == set(b.by_model)
    for key in a.by_model:
        np.testing.assert_array_equal(a.by_model[key].values, b.by_model[key].values)
        assert a.by_model[key].label == b.by_model[key].label
        np.testing.assert_equal(a.by_model[key].score, b.by_model[key].score)
    assert (a.names, a.optional, a.settings) == (b.names, b.optional, b.settings)


def test_codec_round_trip_is_exact():
    entry = _entry()
    arrays: dict[str, np.ndarray] = {}
    tree = encode(entry, arrays)
    back = decode(Entry, tree, arrays)
    _assert_equal(entry, back)
    assert isinstance(next(iter(back.by_model)), ModelId)


def test_codec_refuses_python_objects():
    with pytest.raises(CodecError, match="objects"):
        encode(np.array([{"a": 1}], dtype=object), {})


def test_write_then_read_entry(tmp_path):
    entry = _entry()
    cache.write_entry(entry, tmp_path / "key")
    _assert_equal(entry, cache.read_entry(tmp_path / "key", Entry))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "staging left behind"


def test_editing_a_source_file_changes_the_key(tmp_path, monkeypatch):
    copy = tmp_path / "organizing"
    shutil.copytree(cache.PACKAGE_ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = cache.source_fingerprint(copy)
    assert cache.source_fingerprint(copy) == before
    target = copy / "evaluation.py"
    target.write_text(target.read_text() + "\n# an edit\n")
    assert cache.source_fingerprint(copy) != before

    from organizing.config import load_config

    config = load_config(profile="quick")
    key = cache.cache_key({"a": "1"}, config)
    monkeypatch.setattr(cache, "source_fingerprint", lambda: "edited")
    assert cache.cache_key({"a": "1"}, config) != key


def test_corrupt_entry_is_recomputed_with_a_notice(tmp_path, capsys):
    folder = tmp_path / "key"
    cache.write_entry(_entry(), folder)
    data = (folder / "arrays.npz").read_bytes()
    (folder / "arrays.npz").write_bytes(data[: len(data) // 2])
    assert cache.cached(folder, Entry) is None
    assert "could not be read" in capsys.readouterr().err
    assert not folder.exists()


class _Payload:
    """Unpickling this object would create a file: proof that code ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path(self.marker).touch, ())


def test_a_cache_entry_cannot_execute_code(tmp_path):
    folder = tmp_path / "key"
    cache.write_entry(_entry(), folder)
    marker = tmp_path / "code-ran"
    arrays = dict(np.load(folder / "arrays.npz"))
    arrays["r.frame.0"] = np.array([_Payload(str(marker))], dtype=object)
    np.savez(folder / "arrays.npz", **arrays)  # a pickled object array, as an attacker would
    with pytest.raises(CodecError):
        cache.read_entry(folder, Entry)
    assert not marker.exists()
    assert cache.cached(folder, Entry) is None and not marker.exists()


def _writer(root: str, n: int) -> None:
    for k in range(8):
        cache.write_entry(_entry(n), Path(root) / f"key{k}")


def test_concurrent_writers_never_leave_a_partial_entry(tmp_path):
    """Three processes race to write the same eight entries while this one reads them:
    an entry that exists always loads whole."""
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_writer, args=(str(tmp_path), 3000)) for _ in range(3)]
    for w in writers:
        w.start()
    reads = 0
    while any(w.is_alive() for w in writers):
        for k in range(8):
            folder = tmp_path / f"key{k}"
            if folder.exists():
                assert len(cache.read_entry(folder, Entry).frame) == 3000
                reads += 1
    for w in writers:
        w.join()
        assert w.exitcode == 0
    for k in range(8):
        assert len(cache.read_entry(tmp_path / f"key{k}", Entry).frame) == 3000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "staging left behind"


def test_lock_serializes_runs(tmp_path):
    folder = tmp_path / "key"
    with cache.locked(folder):
        assert (tmp_path / "key.lock").exists()


def test_unwritable_cache_folder_is_reported_before_fitting(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(cache.CacheError, match="cannot write results"):
        cache.check_writable(blocker / "cache")


def test_editing_the_report_layer_keeps_the_results(tmp_path):
    """Tables, figures and the command line present results; editing them recomputes nothing."""
    copy = tmp_path / "organizing"
    shutil.copytree(cache.PACKAGE_ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = cache.source_fingerprint(copy)
    for name in ("report/figures/methods.py", "report/narrative/fitting.py", "cli.py"):
        (copy / name).write_text((copy / name).read_text() + "\n# an edit\n")
    assert cache.source_fingerprint(copy) == before
