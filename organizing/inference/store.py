"""Fits kept as ArviZ ``InferenceData`` in netCDF files: the posterior is the result.

A NUTS run (:class:`~organizing.inference.nuts.NUTSResult`) is stored with its draws in
the ``posterior`` group (dims ``chain``, ``draw`` and one per site dimension), its
sampler statistics in ``sample_stats`` (``energy``, ``diverging``, ``n_steps``,
``acceptance_rate``, and the per-chain ``step_size`` and warm-up steps) and how it was
run in the attributes. An SVI fit (:class:`~organizing.inference.svi.SVIFit`) is stored
with the guide's fitted parameters (group ``guide``), its ELBO trace (group
``optimization``) and its settings in the attributes; its posterior draws follow from
the guide exactly, so they are recomputed, not stored.

Files are written with h5netcdf and read back without pickle. Where they live and when
a stored fit is reused is the pipeline's business (:mod:`organizing.pipeline.posteriors`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

with warnings.catch_warnings():  # ArviZ 0.2x announces its 1.0 refactor on import
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az
import xarray as xr  # noqa: E402  (ArviZ's own dependency)

#: Version of the stored layout; a change makes every stored fit a miss.
FORMAT = 1


# ------------------------------------------------------------------------------ NUTS


def nuts_to_inference_data(result) -> az.InferenceData:
    """A NUTS run as ``InferenceData`` (draws, sampler statistics, settings)."""
    posterior = {name: _compact(value) for name, value in result.draws.items()}
    stats = {"energy": _compact(result.energy), "diverging": result.diverging,
             "n_steps": result.num_steps, "acceptance_rate": _compact(result.accept_prob)}
    idata = az.from_dict(posterior=posterior, sample_stats=stats)
    chains = np.arange(result.num_chains)
    idata.add_groups(sampler=xr.Dataset({
        "step_size": (("chain",), np.asarray(result.step_size)),
        "warmup_steps": (("chain", "warmup_draw"), np.asarray(result.warmup_steps)),
    }, coords={"chain": chains}))
    idata.attrs.update({"kind": "nuts", "seconds": float(result.seconds),
                        "settings": json.dumps(dataclasses.asdict(result.settings))})
    return idata


def _compact(values) -> np.ndarray:
    """float32 when that holds the values exactly (a float32 run's draws, widened), else
    the values as they are: the file is half the size and loading gives the same numbers."""
    values = np.asarray(values)
    if values.dtype == np.float64:
        narrow = values.astype(np.float32)
        if np.array_equal(narrow.astype(np.float64), values, equal_nan=True):
            return narrow
    return values


def nuts_from_inference_data(idata: az.InferenceData):
    """The :class:`~organizing.inference.nuts.NUTSResult` a stored run was made from."""
    from organizing.inference.nuts import NUTSResult, NUTSSettings

    stats, sampler = idata.sample_stats, idata.sampler
    return NUTSResult(
        draws={name: np.asarray(idata.posterior[name].values, dtype=np.float64)
               for name in idata.posterior.data_vars},
        energy=np.asarray(stats["energy"].values, dtype=np.float64),
        diverging=np.asarray(stats["diverging"].values, dtype=bool),
        num_steps=np.asarray(stats["n_steps"].values, dtype=np.int64),
        accept_prob=np.asarray(stats["acceptance_rate"].values, dtype=np.float64),
        step_size=np.asarray(sampler["step_size"].values, dtype=np.float64),
        warmup_steps=np.asarray(sampler["warmup_steps"].values, dtype=np.int64),
        seconds=float(idata.attrs["seconds"]),
        settings=NUTSSettings(**json.loads(idata.attrs["settings"])),
    )


# ------------------------------------------------------------------------------- SVI


def svi_to_inference_data(fit) -> az.InferenceData:
    """An SVI fit as ``InferenceData``: the guide's parameters, the ELBO trace, settings."""
    guide = xr.Dataset({name: (tuple(f"{name}_dim_{i}" for i in range(np.ndim(value))),
                               np.asarray(value)) for name, value in fit.guide_params.items()})
    trace = xr.Dataset({"loss": (("step",), np.asarray(fit.losses, dtype=np.float64))})
    idata = az.InferenceData(guide=guide, optimization=trace, warn_on_custom_groups=False)
    idata.attrs.update({
        "kind": "svi", "model_name": fit.model_name, "guide_kind": fit.guide_kind,
        "steps": int(fit.steps), "converged": int(fit.converged),
        "seconds": float(fit.seconds), "seed": int(fit.seed), "lr": float(fit.lr),
        "lr_decay": float(fit.lr_decay), "betas": json.dumps(list(fit.betas)),
        "stop_early": int(fit.stop_early)})
    return idata


def svi_from_inference_data(idata: az.InferenceData):
    """The :class:`~organizing.inference.svi.SVIFit` a stored fit was made from."""
    from organizing.inference.svi import SVIFit

    attrs = idata.attrs
    return SVIFit(
        model_name=str(attrs["model_name"]), guide_kind=str(attrs["guide_kind"]),
        losses=np.asarray(idata.optimization["loss"].values, dtype=np.float64),
        steps=int(attrs["steps"]), converged=bool(attrs["converged"]),
        seconds=float(attrs["seconds"]), seed=int(attrs["seed"]),
        guide_params={name: np.asarray(idata.guide[name].values)
                      for name in idata.guide.data_vars},
        lr=float(attrs["lr"]), lr_decay=float(attrs["lr_decay"]),
        betas=tuple(json.loads(attrs["betas"])), stop_early=bool(attrs["stop_early"]))


# ---------------------------------------------------------------------------- files


def write(idata: az.InferenceData, path: Path) -> None:
    """Write ``idata`` to ``path`` atomically (a temporary file, then a rename), so an
    interrupted write never leaves a partial fit to be read."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".nc.tmp")
    os.close(handle)
    try:
        idata.to_netcdf(temporary, engine="h5netcdf")
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def read(path: Path) -> az.InferenceData | None:
    """The stored fit at ``path`` loaded into memory, or None when there is none (or it
    cannot be read: it is then recomputed)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        idata = az.from_netcdf(path, engine="h5netcdf")
        idata.load()
        return idata
    except (OSError, ValueError, KeyError):
        return None
