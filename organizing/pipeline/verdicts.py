"""The verdicts: the headline model refitted for each sensitivity analysis, every model's
verdicts on the study's claims, and the verdicts' error rates on simulated campaigns."""

from __future__ import annotations

import sys
import time
from dataclasses import replace

import numpy as np
import pandas as pd

from organizing.config import Config
from organizing.data import Campaign
from organizing.models import HEADLINE_MODEL, NUTS_MODELS
from organizing.pipeline.clusters import cluster_test_settings, heldout_sites
from organizing.pipeline.context import Context, nuts_arguments
from organizing.pipeline.fits import coefficient_tables
from organizing.pipeline.products import ClaimsStage, VariantFit
from organizing.results import cache
from organizing.results.sections import Claims, ErrorRates, Posterior, Sensitivity


def fit_sensitivity_variants(ctx: Context) -> dict[str, VariantFit]:
    """The headline model refitted for each sensitivity analysis
    (:data:`organizing.sensitivity.VARIANTS`), with the main NUTS settings."""
    from organizing.claims import Priors
    from organizing.features import headline_design, sensitivity_design, size_moderator
    from organizing.inference.diagnostics import diagnose
    from organizing.models.logits import complete_draws
    from organizing.models.priors import HEADLINE_PRIORS
    from organizing.pipeline import posteriors
    from organizing.results.sections import SensitivityRun
    from organizing.sensitivity import VARIANTS

    campaign = ctx.campaign
    rows_of = {False: np.asarray(ctx.train), True: np.arange(campaign.n_workers)}
    fits = {}
    for key, variant in VARIANTS.items():
        design = (headline_design(campaign) if variant.design == "headline"
                  else sensitivity_design(campaign, variant.design))
        rows = rows_of[variant.all_workers]
        fitted = design.subset(rows)
        priors = HEADLINE_PRIORS.scaled(variant.prior_factor)
        result = posteriors.nuts(
            "headline", fitted.site_x, fitted.worker_x, fitted.site_index, fitted.signed,
            seed=ctx.config.seed, progress=ctx.progress,
            moderator=size_moderator(campaign) if variant.size_interaction else None,
            priors=priors if variant.prior_factor != 1.0 else None,
            label=f"NUTS headline, sensitivity analysis: {key}",
            **nuts_arguments(ctx.config.nuts))
        draws = complete_draws("headline", result.pooled_draws())
        run = SensitivityRun(
            variant=key, n_workers=len(rows), worker_features=design.worker_features,
            site_features=design.site_features,
            coefficients=coefficient_tables(draws, design.worker_features, design.site_features),
            diagnostics=diagnose(result),
            seconds=float(result.seconds))
        fits[key] = VariantFit(draws=draws, design=fitted,
                               priors=Priors.of(HEADLINE_MODEL, priors), run=run)
    return fits


def judge_claims(ctx: Context) -> ClaimsStage:
    """The verdicts on the study's claims: the headline model's (its size claims on the
    size variant's λ), every NUTS model's, and every sensitivity variant's; an effect is
    a takeaway only if its direction survives every sensitivity analysis."""
    from organizing.claims import evaluate_claims
    from organizing.sensitivity import direction_holds

    size_fit = ctx.sensitivity_fits["size_interaction"]
    by_model = pd.concat([
        evaluate_claims(model, ctx.nuts.draws[model], ctx.designs.of(model).subset(ctx.train),
                        accuracy=ctx.evaluation.accuracy,
                        clustering=ctx.clustering.test if model is HEADLINE_MODEL else None,
                        size_fit=((size_fit.draws, size_fit.design, size_fit.priors)
                                  if model is HEADLINE_MODEL else None), seed=ctx.config.seed)
        for model in NUTS_MODELS], ignore_index=True)
    claims = claims_section(by_model, ctx.headline_draws, ctx.designs.headline, ctx.campaign)
    sensitivity = sensitivity_section(ctx.campaign, ctx.sensitivity_fits,
                                      ctx.nuts.posteriors[HEADLINE_MODEL], claims.table,
                                      ctx.config.seed, ctx.config.disclosure.min_count)
    claims = replace(claims, effects=direction_holds(
        claims.effects, {key: run.coefficients for key, run in sensitivity.runs.items()}))
    return ClaimsStage(claims=claims, sensitivity=sensitivity)


def claims_section(by_model: pd.DataFrame, headline_draws: dict, design,
                   campaign: Campaign) -> Claims:
    """The claims of every NUTS model, the headline model's rows, and its effects: the
    average change in the chance of signing for a move of each feature in its own units
    (:mod:`organizing.effects`)."""
    from organizing import effects

    moves = effects.feature_moves(campaign, design)
    return Claims(table=by_model[by_model["model"] == HEADLINE_MODEL.value]
                  .reset_index(drop=True), by_model=by_model,
                  effects=effects.average_marginal_effects(headline_draws, design, campaign,
                                                           moves),
                  signing_rate=float(np.mean(campaign.signed)))


def sensitivity_section(campaign: Campaign, fits: dict[str, VariantFit], headline: Posterior,
                        headline_claims: pd.DataFrame, seed: int,
                        min_count: int) -> Sensitivity:
    """Each variant's verdicts and coefficients against the headline fit's
    (:mod:`organizing.sensitivity`), and the signing rates outside and inside the network
    (withheld below the disclosure threshold ``min_count``)."""
    from organizing import sensitivity
    from organizing.claims import evaluate_claims
    from organizing.features import (
        CENTRALITY,
        OUTSIDE_NETWORK_CUT,
        build_design,
        outside_network,
    )
    headline_features = build_design(campaign, drop_reference=True).worker_features
    claims = {}
    for key, fit in fits.items():
        padded_draws, padded = sensitivity.pad_missing(fit.draws, fit.design, headline_features)
        missing = [f for f in headline_features if f not in fit.design.worker_features]
        size_fit = ((padded_draws, padded, fit.priors) if "size_slope" in fit.draws else None)
        table = evaluate_claims(HEADLINE_MODEL, padded_draws, padded, size_fit=size_fit,
                                priors=fit.priors, seed=seed)
        claims[key] = sensitivity.mark_not_evaluated(table, missing)
    log_centrality = campaign.worker_x[:, list(campaign.worker_features).index(CENTRALITY)]
    outside = outside_network(log_centrality)
    signing_outside, signing_inside = sensitivity.outside_network_rates(
        outside, campaign.signed, min_count=min_count)
    return Sensitivity(
        runs={key: fit.run for key, fit in fits.items()},
        verdicts=sensitivity.compare_verdicts(headline_claims, claims),
        coefficients=sensitivity.moved_coefficients(
            headline.coefficients, {k: f.run.coefficients for k, f in fits.items()}),
        outside_cut=OUTSIDE_NETWORK_CUT,
        share_outside=float(outside.mean()),
        signing_outside=signing_outside,
        signing_inside=signing_inside,
    )


def estimate_error_rates(ctx: Context) -> ErrorRates:
    """:func:`cached_error_rates` for the campaign, from the headline model's posterior."""
    return cached_error_rates(ctx.campaign, ctx.config, ctx.designs.headline, ctx.train,
                              ctx.headline_draws, ctx.claims.claims.table, ctx.progress)


def error_rates_key(campaign: Campaign, config: Config) -> str:
    """The error-rate stage's own cache key: the data, the settings it reads and the code
    of the stages it runs (not the report, planning or evaluation code)."""
    import hashlib
    import json

    root = cache.PACKAGE_ROOT
    digest = hashlib.sha256()
    for name in ("data", "features.py", "models", "inference", "claims.py", "clustering",
                 "error_rates.py", "config.py", "config.yml"):
        path = root / name
        for file in sorted(path.rglob("*.py") if path.is_dir() else [path]):
            digest.update(file.read_bytes())
    values = config.values
    text = json.dumps({"data": campaign.checksums, "seed": config.seed,
                       "split": values["split"], "nuts": values["nuts"],
                       "clustering": values["clustering"], "error_rates": values["error_rates"],
                       "source": digest.hexdigest(), "libraries": cache.library_versions(),
                       "format": cache.FORMAT}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def cached_error_rates(campaign: Campaign, config: Config, design, train: np.ndarray,
                       headline_draws: dict, headline_claims: pd.DataFrame,
                       progress: bool) -> ErrorRates:
    """The verdicts' error rates (:mod:`organizing.error_rates`), from their own cache
    entry when the data, their settings and the code they run are unchanged."""
    folder = cache.cache_dir() / "error_rates" / error_rates_key(campaign, config)
    found = cache.cached(folder, ErrorRates)
    if found is not None:
        return found
    from organizing import error_rates
    from organizing.claims import SUPPORT_THRESHOLD
    from organizing.features import size_moderator
    from organizing.pipeline import posteriors

    settings = config.error_rates
    train_sites, held = heldout_sites(campaign.n_sites, config.clustering.train_sites)
    fitter = error_rates.Fitter(
        design=design, train=np.asarray(train), moderator=size_moderator(campaign),
        chains=settings.chains, warmup=settings.warmup, samples=settings.samples,
        test_settings=cluster_test_settings(config), train_sites=train_sites,
        heldout_sites=held, seed=config.seed, sampler=posteriors.nuts)
    start = time.perf_counter()

    def tick(kind, r, count):
        if progress:
            print(f"  simulated {kind} campaign {r + 1} of {count}", file=sys.stderr,
                  flush=True)

    size = np.log(campaign.site_descriptors["No. workers discovered"].to_numpy(dtype=float))
    campaigns = error_rates.run_campaigns(
        fitter, headline_draws, size, null_campaigns=settings.null_campaigns,
        planted_campaigns=settings.planted_campaigns, seed=config.seed, progress=tick)
    stability = error_rates.stability(fitter, headline_claims)
    result = ErrorRates(campaigns=campaigns, summary=error_rates.summarize_campaigns(campaigns),
                        stability=stability, threshold=SUPPORT_THRESHOLD,
                        chains=settings.chains, warmup=settings.warmup,
                        samples=settings.samples, seconds=time.perf_counter() - start)
    cache.write_entry(result, folder)
    return result


