"""Every fit of the pipeline through one door: its stored posterior when the same fit was
made before, else the fit itself, stored.

A fit is stored as ArviZ ``InferenceData`` in netCDF (:mod:`organizing.inference.store`)
under ``<cache>/posteriors/``, named by :func:`fingerprint`: the hash of everything that
determines it (its data, by value; its settings and seed; the code of the models and of
inference; the libraries). A stored fit is therefore reused exactly when a new run would
reproduce it, and nothing else: a change to a summary, a table, a verdict or the report
recomputes from the stored posteriors (at the summaries' own cost: 66 s for the quick
profile and 193 s for the full one on the study's data, against 267 s and 2,503 s),
while a change to a model, the sampler or the data refits. ``ORGANIZING_POSTERIORS=0``
turns the store off (every fit is made afresh and nothing is written).
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
    """Whether fits go through the store (``ORGANIZING_POSTERIORS`` is not ``0``)."""
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


def _through_store(kind: str, model_name: str, arrays: dict, settings: dict, fit,
                   to_inference_data, from_inference_data):
    """``fit()``'s result, from its stored file when there is one, else fitted and stored.
    ``settings``: the fit's keyword arguments (``progress`` and ``label`` only change what
    is printed, so they are not part of the key)."""
    from organizing.inference import store

    if not enabled():
        return fit()
    shown = {k: v for k, v in settings.items() if k not in ("progress", "label")}
    path = folder() / f"{kind}-{model_name}-{fingerprint(kind, arrays, shown)}.nc"
    found = store.read(path)
    if found is not None:
        return from_inference_data(found)
    result = fit()
    store.write(to_inference_data(result), path)
    return result


def nuts(model_name: str, site_x, worker_x, site_index, y, *, moderator=None, priors=None,
         **settings):
    """:func:`organizing.inference.nuts.run_nuts` with the same arguments, through the
    store."""
    import jax

    from organizing.inference import store
    from organizing.inference.nuts import run_nuts

    arrays = {"site_x": site_x, "worker_x": worker_x, "site_index": site_index, "y": y}
    if moderator is not None:
        arrays["moderator"] = moderator
    key = {"model": model_name, **settings, "devices": jax.local_device_count(),
           "priors": None if priors is None else dataclasses.astuple(priors)}
    return _through_store(
        "nuts", model_name, arrays, key,
        lambda: run_nuts(model_name, site_x, worker_x, site_index, y, moderator=moderator,
                         priors=priors, **settings),
        store.nuts_to_inference_data, store.nuts_from_inference_data)


def svi(model_name: str, args, **settings):
    """:func:`organizing.inference.svi.fit_svi` with the same arguments, through the store
    (``args``: the design's tensors)."""
    from organizing.inference import store
    from organizing.inference.svi import fit_svi

    arrays = {f"arg{i}": np.asarray(a.cpu().numpy()) for i, a in enumerate(args)
              if a is not None}
    return _through_store(
        "svi", model_name, arrays, {"model": model_name, **settings},
        lambda: fit_svi(model_name, args, **settings),
        store.svi_to_inference_data, store.svi_from_inference_data)
