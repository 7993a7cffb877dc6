"""Checks of the models themselves: prior predictive simulation, simulation-based
calibration of the headline model, and the audit of the published specification."""

from __future__ import annotations

import pandas as pd

from organizing.pipeline.context import NUTS_SPECS, Context
from organizing.pipeline.products import AuditStage
from organizing.results.sections import Calibration, PriorPredictive


def check_priors(ctx: Context) -> PriorPredictive:
    """Signing rates simulated from the priors alone, for the corrected and headline
    models on the training workers' designs."""
    from organizing.models.numpyro_models import prior_predictive_rates

    frames = []
    for name, design in (("corrected", ctx.designs.full), ("headline", ctx.designs.headline)):
        design = design.subset(ctx.train)
        rates = prior_predictive_rates(name, design.site_x, design.worker_x, design.site_index,
                                       seed=ctx.config.seed)
        frames.append(rates.frame().assign(model=name))
    return PriorPredictive(table=pd.concat(frames, ignore_index=True))


def calibrate_sampler(ctx: Context) -> Calibration:
    """Simulation-based calibration of the headline model with the book's sampler
    (:mod:`organizing.inference.calibration`), at the headline design's dimensions; kept
    in its own cache entry, since it depends only on its settings, those dimensions and
    the fitting code (not on the campaign's values)."""
    from organizing.inference.calibration import simulation_based_calibration
    from organizing.pipeline import posteriors
    from organizing.results import cache

    settings, design = ctx.config.sbc, ctx.designs.headline
    key = posteriors.fingerprint("sbc", {}, {
        "sbc": settings.model_dump(mode="json"), "seed": ctx.config.seed,
        "sites": len(design.site_features), "workers": len(design.worker_features)})
    entry = cache.cache_dir() / "calibration" / key
    found = cache.cached(entry, Calibration) if posteriors.enabled() else None
    if found is not None:
        return found
    result = simulation_based_calibration(
        settings.replications, settings.sites, settings.workers_per_site,
        len(design.site_features), len(design.worker_features),
        warmup=settings.warmup, samples=settings.samples, seed=ctx.config.seed,
        progress=ctx.progress)
    section = Calibration(ranks=result.ranks, coverage=result.coverage, draws=result.draws,
                          sites=result.sites, workers_per_site=result.workers_per_site)
    if posteriors.enabled():
        cache.write_entry(section, entry)
    return section


def audit_models(ctx: Context) -> AuditStage:
    """The published audit as the SVI stage found it, and how the variance of each NUTS
    model's linear predictor splits between worksite and worker terms."""
    from organizing import audit

    variance = pd.concat([
        audit.design_variance_decomposition(model, ctx.nuts.draws[model],
                                            ctx.designs.of(model).subset(ctx.train))
        for model in NUTS_SPECS], ignore_index=True)
    return AuditStage(published=ctx.svi.published_audit, variance=variance)
