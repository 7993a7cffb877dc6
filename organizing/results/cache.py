"""Every result of the book, cached: what the chapters load.

:class:`Results` holds NumPy arrays and small pandas frames (one row per
feature, worksite, bin or fold; never one row per worker). :func:`load`
returns the cached results for the current data, configuration and package
version, and runs :func:`organizing.pipeline.run` first when the cache has
none. Chapters call ``load``; they never fit anything themselves. This module
imports no modelling library, so a chapter starts quickly.

The cache key is a hash of the two data files' sha256, the configuration's
values and the package version, so editing any of them starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from organizing import __version__, audit
from organizing.config import Config, load_config
from organizing.data import Campaign, load_campaign, locate_data, published_reference

CACHE_ENV = "ORGANIZING_CACHE_DIR"
DEFAULT_CACHE = Path(".cache") / "organizing"


@dataclass(frozen=True)
class FitSummary:
    """What the book shows of an SVI fit: its ELBO trace and how it stopped."""

    model_name: str
    guide_kind: str
    losses: np.ndarray
    steps: int
    converged: bool
    seconds: float
    seed: int
    lr: float
    lr_decay: float

    @classmethod
    def of(cls, fit) -> FitSummary:
        """From an :class:`organizing.inference.SVIFit` (its guide parameters dropped)."""
        return cls(**{f.name: getattr(fit, f.name) for f in fields(cls)})


@dataclass
class Results:
    """Everything the book shows, computed by :func:`run`."""

    meta: dict
    data: dict  # counts, site-level frame, feature summaries, histograms
    fits: dict  # name -> FitSummary (ELBO traces, steps, seconds)
    coefficients: dict  # name -> frame of posterior summaries with feature names
    published_one_draw: pd.DataFrame  # the published refit's single guide draw, as the study
    metrics: pd.DataFrame  # held-out metrics on the study's split, one row per model
    curves: dict  # model -> {"roc": frame, "calibration": frame}
    ppc: pd.DataFrame  # per-worksite predictive check (corrected model)
    folds: pd.DataFrame  # held-out worksites: one row per model and fold
    scales: pd.DataFrame  # τ_b and τ_β under mean-field, low-rank and NUTS
    nuts: dict  # diagnostics frame and totals
    audit: audit.PublishedAudit
    claims: pd.DataFrame
    clustering: dict
    timings: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """The headline figures (keys documented in the README)."""
        metrics = self.metrics.set_index("model")
        scales = self.scales.set_index(["method", "parameter"])

        def heldout(model):
            row = metrics.loc[model]
            return {k: round(float(row[k]), 4) for k in ("accuracy", "auc", "brier", "log_loss")}

        nuts = self.nuts
        choice = self.clustering["selection"]
        reported = published_reference()["metrics"].set_index("metric")["published_value"]
        return {
            "data": {k: self.data[k] for k in ("n_workers", "n_sites", "signing_rate")},
            "heldout": {
                "baseline_accuracy": round(float(metrics["baseline_accuracy"].iloc[0]), 4),
                "corrected": heldout("corrected"),
                "published_refit": heldout("published (study's prediction)"),
                "published_refit_as_learned": heldout("published (as learned)"),
                "pooled_logistic": heldout("pooled logistic"),
                "published_reported": {
                    "accuracy": float(reported["heldout_accuracy"]),
                    "auc": float(reported["heldout_auc"]),
                },
            },
            "heldout_worksites_auc": {
                model: round(float(frame["auc"].mean()), 4)
                for model, frame in self.folds.groupby("model")
            },
            "scales": {
                "beta_worker_scale": round(float(scales.loc[("NUTS", "beta_individual_scale"),
                                                            "mean"]), 4),
                "beta_worksite_scale": round(float(scales.loc[("NUTS", "beta_group_scale"),
                                                              "mean"]), 4),
                "beta_worker_scale_mean_field": round(float(
                    scales.loc[("mean-field", "beta_individual_scale"), "mean"]), 4),
            },
            "nuts": {
                "max_r_hat": round(float(nuts["max_r_hat"]), 4),
                "min_ess": round(float(nuts["min_ess"]), 1),
                "divergences": int(nuts["divergences"]),
                "draws": int(nuts["draws"]),
            },
            "clustering": {
                run: {
                    "sigma": float(choice[run]["sigma"]),
                    "K": int(choice[run]["K"]),
                    "heldout_lpd": round(float(choice[run]["heldout_lpd"]), 3),
                }
                for run in ("published", "corrected")
            },
            "meta": {k: self.meta[k] for k in ("profile", "package_version", "cache_key")},
        }


# --------------------------------------------------------------------------- cache


def cache_key(checksums: dict[str, str], config: Config) -> str:
    text = json.dumps(
        {"data": checksums, "config": config.values, "version": __version__}, sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def _cache_file(key: str) -> Path:
    return cache_dir() / key / "results.pkl"


def load(
    config_path: str | os.PathLike | None = None,
    *,
    profile: str | None = None,
    data_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> Results:
    """Cached results for the current data and configuration, computed if missing."""
    config = load_config(config_path, profile)
    campaign = load_campaign(locate_data(data_dir))
    path = _cache_file(cache_key(campaign.checksums, config))
    if path.is_file():
        with open(path, "rb") as handle:
            return pickle.load(handle)
    from organizing.pipeline import run  # fitting libraries load only when needed

    results = run(campaign, config, progress=sys.stderr.isatty() if progress is None else progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as handle:
        pickle.dump(results, handle)
    tmp.replace(path)
    return results


def is_cached(config: Config, campaign: Campaign) -> bool:
    return _cache_file(cache_key(campaign.checksums, config)).is_file()
