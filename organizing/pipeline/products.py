"""What each stage of the pipeline hands on besides its results section: typed products
that later stages read from the :class:`~organizing.pipeline.context.Context` (never
another stage's locals)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from organizing.audit import PublishedAudit
from organizing.models import ModelId
from organizing.results.sections import Claims, Curves, Posterior, Sensitivity, SVIRecord


@dataclass(frozen=True)
class SviStage:
    """The SVI fits' records and draws, and what the audit and the clustering take from
    the published refit: its single guide draw (the study's table was one draw), the
    audit of that draw, and its held-out probabilities as the code computes them and as
    the model learned them."""

    fits: dict[ModelId, SVIRecord]
    draws: dict[ModelId, dict]
    one_draw: dict
    published_audit: PublishedAudit
    published_probabilities: dict[ModelId, np.ndarray]


@dataclass(frozen=True)
class NutsStage:
    """Every NUTS model's posterior section and its pooled draws."""

    posteriors: dict[ModelId, Posterior]
    draws: dict[ModelId, dict]


@dataclass(frozen=True)
class HeldoutWorkers:
    """The study's held-out workers: each model's metrics, curves and accuracy gains, the
    time each took to fit, each model's held-out probabilities (for the log predictive
    density), and the posterior predictive check of per-worksite rates (rates and bins
    below the disclosure threshold withheld)."""

    metrics: pd.DataFrame
    curves: dict[ModelId, Curves]
    accuracy: pd.DataFrame
    fit_seconds: dict[ModelId, float]
    probabilities: dict[ModelId, np.ndarray]
    ppc: pd.DataFrame


@dataclass(frozen=True)
class AuditStage:
    """The audit of the published specification (from the SVI stage's single guide draw)
    and every NUTS model's decomposition of the design's variance."""

    published: PublishedAudit
    variance: pd.DataFrame


@dataclass(frozen=True)
class VariantFit:
    """A sensitivity variant's NUTS fit: its draws, the design it was fitted on, its priors
    (as the claims' reference needs them) and its run record."""

    draws: dict
    design: object
    priors: object
    run: object


@dataclass(frozen=True)
class ClaimsStage:
    """The claims section (effects kept as takeaways only where their direction survives
    every sensitivity analysis) and the sensitivity section it was checked against."""

    claims: Claims
    sensitivity: Sensitivity
