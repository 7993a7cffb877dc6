"""Every fit of the pipeline through one door: its stored posterior when the same fit was
made before, else the fit itself, stored.

A fit is stored as ArviZ ``InferenceData`` in netCDF (:mod:`organizing.inference.store`)
under ``<cache>/posteriors/``, named by :func:`fingerprint`: the hash of everything that
determines it (its data, by value; its settings and seed; the code of the models and of
inference; the libraries). A stored fit is therefore reused exactly when a new run would
reproduce it, and nothing else: a change to a summary, a table, a verdict or the report
recomputes from the stored posteriors in seconds instead of refitting, while a change
to a model, the sampler or the data refits. ``ORGANIZING_POSTERIORS=0`` turns the store
off (every fit is made afresh and nothing is written).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from organizing.results import cache

#: The package folders whose code determines a fit.
FITTING_CODE = ("models", "inference")


def enabled() -> bool:
    return os.environ.get("ORGANIZING_POSTERIORS", "1") != "0"


def folder() -> Path:
    """Where the fits are stored: ``posteriors/`` in the results cache."""
    return cache.cache_dir() / "posteriors"


def fingerprint(kind: str, arrays: dict[str, np.ndarray], settings: dict) -> str:
    """sha256 of a fit's inputs (``arrays``, by value, shape and dtype), its settings, the
    fitting code (:data:`FITTING_CODE`) and the libraries' versions."""
    from organizing.inference.store import FORMAT

    digest = hashlib.sha256()
    for name in sorted(arrays):
        value = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{value.dtype.str}:{value.shape}".encode())
        digest.update(value.tobytes())
    for code in FITTING_CODE:
        for path in sorted((cache.PACKAGE_ROOT / code).rglob("*.py")):
            digest.update(path.relative_to(cache.PACKAGE_ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    digest.update(json.dumps({"kind": kind, "settings": settings, "format": FORMAT,
                              "libraries": cache.library_versions()}, sort_keys=True,
                             default=str).encode())
    return digest.hexdigest()[:24]


def nuts(model_name: str, site_x, worker_x, site_index, y, *, moderator=None, priors=None,
         **settings):
    """:func:`organizing.inference.nuts.run_nuts` with the same arguments, through the
    store (``progress`` and ``label`` only change what is printed)."""
    import jax

    from organizing.inference import store
    from organizing.inference.nuts import run_nuts

    def fit():
        return run_nuts(model_name, site_x, worker_x, site_index, y, moderator=moderator,
                        priors=priors, **settings)

    if not enabled():
        return fit()
    arrays = {"site_x": site_x, "worker_x": worker_x, "site_index": site_index, "y": y}
    if moderator is not None:
        arrays["moderator"] = moderator
    shown = {k: v for k, v in settings.items() if k not in ("progress", "label")}
    key = fingerprint("nuts", arrays, {
        "model": model_name, **shown, "devices": jax.local_device_count(),
        "priors": None if priors is None else dataclasses.astuple(priors)})
    path = folder() / f"nuts-{model_name}-{key}.nc"
    found = store.read(path)
    if found is not None:
        return store.nuts_from_inference_data(found)
    result = fit()
    store.write(store.nuts_to_inference_data(result), path)
    return result


def svi(model_name: str, args, **settings):
    """:func:`organizing.inference.svi.fit_svi` with the same arguments, through the store
    (``args``: the design's tensors)."""
    from organizing.inference import store
    from organizing.inference.svi import fit_svi

    def fit():
        return fit_svi(model_name, args, **settings)

    if not enabled():
        return fit()
    arrays = {f"arg{i}": np.asarray(a.cpu().numpy()) for i, a in enumerate(args)
              if a is not None}
    shown = {k: v for k, v in settings.items() if k not in ("progress", "label")}
    key = fingerprint("svi", arrays, {"model": model_name, **shown})
    path = folder() / f"svi-{model_name}-{key}.nc"
    found = store.read(path)
    if found is not None:
        return store.svi_from_inference_data(found)
    result = fit()
    store.write(store.svi_to_inference_data(result), path)
    return result
