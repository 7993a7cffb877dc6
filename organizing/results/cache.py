"""The results cache: one entry per (data, configuration, code), safe to share and to race.

:func:`organizing.pipeline.load` looks here first and computes only on a miss.

* **Never stale.** The key hashes the two data files' sha256, every
  configuration value, the package's own source files and the versions of the
  libraries that compute results. Editing any of them starts afresh.
* **Never runs code.** An entry is ``results.json`` plus ``arrays.npz`` read
  with ``allow_pickle=False`` (:mod:`organizing.results.codec`).
* **Atomic and race-safe.** A writer builds its entry in a private temporary
  folder and renames it into place; a lock file makes a second run for the same
  key wait for the first and then load its entry instead of computing again.
* **Self-healing.** An entry that cannot be read is set aside and recomputed,
  with a one-line notice.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from organizing import __version__
from organizing.config import Config, require_root
from organizing.results.codec import CodecError, decode, encode
from organizing.results.sections import Results

CACHE_ENV = "ORGANIZING_CACHE_DIR"
DEFAULT_CACHE = Path(".cache") / "organizing"  # under the project root
#: Libraries whose version can change a computed number.
COMPUTING_LIBRARIES = ("torch", "pyro-ppl", "numpyro", "jax", "jaxlib", "numpy", "scipy",
                       "scikit-learn", "pandas", "arviz", "statsmodels")
#: Free space a run needs in the cache folder before it starts fitting.
MIN_FREE_BYTES = 200 * 2**20
FORMAT = 1  # bump when the layout of an entry changes


class CacheError(OSError):
    """The cache folder cannot hold results (read-only, full, or not a folder)."""


PACKAGE_ROOT = Path(__file__).resolve().parents[1]


#: Parts of the package that present results but never compute them: editing them must
#: not throw away hours of sampling.
PRESENTATION = ("report", "cli.py")


def source_fingerprint(root: Path = PACKAGE_ROOT) -> str:
    """sha256 over the package's source, configuration and reference files that compute results.

    The report layer and the command line only present results, so they are left out.
    """
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).parts
        if (path.suffix in (".py", ".yml", ".csv") and "__pycache__" not in relative
                and relative[0] not in PRESENTATION):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    out = {}
    for name in COMPUTING_LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def cache_key(checksums: dict[str, str], config: Config) -> str:
    """A hash of everything that determines the results."""
    text = json.dumps({
        "format": FORMAT,
        "data": checksums,
        "config": config.values,
        "profile": config.profile,
        "package": __version__,
        "source": source_fingerprint(),
        "libraries": library_versions(),
    }, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def cache_dir() -> Path:
    """``$ORGANIZING_CACHE_DIR``, else ``.cache/organizing`` under the project root (never
    under the working directory); a one-line PathError outside the project."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    return require_root("results cache", CACHE_ENV) / DEFAULT_CACHE


def entry_path(key: str) -> Path:
    return cache_dir() / key


def write_entry(results, folder: Path) -> None:
    """Write ``results`` as ``folder`` atomically (no-op if another writer got there first)."""
    arrays: dict[str, np.ndarray] = {}
    tree = encode(results, arrays)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.{os.getpid()}.", dir=folder.parent))
    _STAGING.add(staging)
    try:
        with open(staging / "results.json", "w") as handle:
            json.dump(tree, handle)
        np.savez(staging / "arrays.npz", **arrays)
        try:
            staging.rename(folder)
        except OSError:  # an entry appeared meanwhile: keep it, drop ours
            if not (folder / "results.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        _STAGING.discard(staging)


#: Entries this process is writing (private folders until their rename).
_STAGING: set[Path] = set()


def discard_staging(pids=()) -> None:
    """Remove the private folders of entries this process, or the child processes
    ``pids`` (ended after Ctrl-C), were still writing: a half-written entry never
    becomes one, and leaves no folder behind."""
    for staging in list(_STAGING):
        shutil.rmtree(staging, ignore_errors=True)
        _STAGING.discard(staging)
    if pids:
        try:
            folder = cache_dir()
        except OSError:
            return
        for pid in pids:
            for staging in folder.glob(f".*.{pid}.*"):
                shutil.rmtree(staging, ignore_errors=True)


def read_entry(folder: Path, kind: type = Results):
    """Read an entry; raises CodecError for anything missing, partial or malformed."""
    try:
        with open(folder / "results.json") as handle:
            tree = json.load(handle)
        with np.load(folder / "arrays.npz", allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        return decode(kind, tree, arrays)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise CodecError(f"{type(error).__name__}: {error}") from error


def check_writable(folder: Path) -> None:
    """Fail before any fitting if ``folder`` cannot take a new entry."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as error:
        raise CacheError(f"cannot write results to the cache folder {folder} "
                         f"({error.strerror or type(error).__name__}); set {CACHE_ENV} "
                         "to a writable folder") from None
    free = shutil.disk_usage(folder).free
    if free < MIN_FREE_BYTES:
        raise CacheError(f"the cache folder {folder} has only {free / 2**20:.0f} MB free; "
                         f"results need about {MIN_FREE_BYTES / 2**20:.0f} MB")


@contextlib.contextmanager
def locked(folder: Path):
    """An exclusive lock for one cache key (released when the process ends, even killed)."""
    with open(folder.parent / f"{folder.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached(folder: Path, kind: type = Results):
    """The entry in ``folder``, or None; an unreadable entry is removed with a notice."""
    if not folder.exists():
        return None
    try:
        return read_entry(folder, kind)
    except CodecError as error:
        print(f"note: the cached results in {folder} could not be read ({error}); "
              "computing them again", file=sys.stderr)
        shutil.rmtree(folder, ignore_errors=True)
        return None
