"""What every stage of the pipeline reads: the data, the settings, and the sections and
fits of the stages before it.

A stage is a function ``Context → product``; :func:`organizing.pipeline.stages.run`
walks :data:`~organizing.pipeline.stages.STAGES` in order and stores each product in
the context's field of the stage's name, so a stage can only read what an earlier one
returned (never its locals), and each field is filled once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from organizing.config import Config, NutsConfig
from organizing.data import Campaign
from organizing.models import ModelId

if TYPE_CHECKING:  # the products' types, for readers and type checkers only
    from organizing.features import Design
    from organizing.pipeline.products import (
        AuditStage,
        ClaimsStage,
        HeldoutWorkers,
        NutsStage,
        SviStage,
        VariantFit,
    )
    from organizing.results.sections import (
        Calibration,
        ClusteringResults,
        DataSummary,
        ErrorRates,
        Evaluation,
        Planning,
        PriorPredictive,
    )

#: Each NUTS model, the Pyro/NumPyro name of its model function, and its design: "full"
#: (every one-hot level), "reduced" (one reference level dropped per one-hot group) or
#: "headline" (reduced, then split within and between worksites, features.within_between).
NUTS_SPECS: dict[ModelId, tuple[str, str]] = {
    ModelId.CORRECTED: ("corrected", "full"),
    ModelId.EXTENDED: ("extended", "reduced"),
    ModelId.HEADLINE: ("headline", "headline"),
}
#: SVI fits: the replication (the study's method) and the mean-field comparison.
SVI_SPECS: dict[ModelId, tuple[str, str]] = {
    ModelId.PUBLISHED: ("published", "normal"),
    ModelId.CORRECTED_MEAN_FIELD: ("corrected", "normal"),
    ModelId.CORRECTED_LOW_RANK: ("corrected", "lowrank"),
}
#: Posterior draws used for predictions (thinned from the NUTS draws).
PREDICTION_DRAWS = 1000


@dataclass(frozen=True)
class Designs:
    """The campaign's three designs (:mod:`organizing.features` explains each): the study's
    specification keeps every column; the book's models leave out the worksite columns
    that others determine (``features.identified``)."""

    full: Design
    reduced: Design
    headline: Design
    #: The reduced design before identification: the columns the data summary lists.
    listed: Design

    def of(self, model: ModelId) -> Design:
        """The design a NUTS model is fitted on."""
        return getattr(self, NUTS_SPECS[model][1])

    @classmethod
    def build(cls, campaign: Campaign) -> Designs:
        from organizing.features import build_design, identified, within_between

        full, reduced = (build_design(campaign, drop_reference=drop) for drop in (False, True))
        return cls(full=full, reduced=identified(reduced),
                   headline=identified(within_between(reduced)), listed=reduced)


@dataclass(frozen=True)
class Context:
    """The data and settings, then one field per stage, filled as the stages run."""

    campaign: Campaign
    config: Config
    progress: bool
    designs: Designs
    #: Worker rows of the study's split (20% of workers held out).
    train: np.ndarray
    test: np.ndarray
    # products, in the order STAGES fills them
    data: DataSummary | None = None
    svi: SviStage | None = None
    nuts: NutsStage | None = None
    heldout_workers: HeldoutWorkers | None = None
    evaluation: Evaluation | None = None
    prior_predictive: PriorPredictive | None = None
    calibration: Calibration | None = None
    audit: AuditStage | None = None
    clustering: ClusteringResults | None = None
    sensitivity_fits: dict[str, VariantFit] | None = None
    claims: ClaimsStage | None = None
    planning: Planning | None = None
    error_rates: ErrorRates | None = None

    @classmethod
    def build(cls, campaign: Campaign, config: Config, progress: bool) -> Context:
        from organizing.features import study_split

        train, test = study_split(campaign.n_workers, test_size=config.split.test_size,
                                  seed=config.split.random_state)
        return cls(campaign=campaign, config=config, progress=progress,
                   designs=Designs.build(campaign), train=train, test=test)

    def with_product(self, field: str, product: Any) -> Context:
        if getattr(self, field) is not None:
            raise RuntimeError(f"the pipeline's {field!r} was already computed")
        return replace(self, **{field: product})

    @property
    def headline_draws(self) -> dict:
        """The headline model's pooled NUTS draws (the NUTS stage's)."""
        return self.nuts.draws[ModelId.HEADLINE]


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline: its name (the progress line and the timings), the
    context field its product fills, the fields it reads, and the function."""

    name: str
    field: str
    reads: tuple[str, ...]
    compute: Callable[[Context], Any]


def thin(draws: dict, n: int) -> dict:
    """At most ``n`` draws, spread evenly over the pooled draws."""
    total = len(next(iter(draws.values())))
    keep = np.linspace(0, total - 1, min(n, total)).round().astype(int)
    return {k: np.asarray(v)[keep] for k, v in draws.items()}


def fit_nuts(ctx: Context, model: ModelId, rows: np.ndarray, settings: NutsConfig,
             seed: int, label: str = "", pad_rows: int | None = None):
    """A NUTS fit of ``model`` on some workers of its design
    (:func:`organizing.inference.nuts.run_nuts`, through the store of fits)."""
    from organizing.pipeline import posteriors

    design = ctx.designs.of(model).subset(rows)
    return posteriors.nuts(NUTS_SPECS[model][0], design.site_x, design.worker_x, design.site_index,
                    design.signed, seed=seed, progress=ctx.progress, pad_rows=pad_rows,
                    label=f"NUTS {model.value}{label}", **nuts_arguments(settings))


def nuts_arguments(settings: NutsConfig) -> dict:
    """``run_nuts``'s sampler settings from a NUTS configuration."""
    return dict(chains=settings.chains, warmup=settings.warmup, samples=settings.samples,
                target_accept=settings.target_accept)
