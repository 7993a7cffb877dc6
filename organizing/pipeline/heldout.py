"""Prediction on data the fits did not see: the study's held-out workers, and worksites
held out whole (grouped folds), the comparison a union deciding where to organize next
needs."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from organizing.models import HEADLINE_MODEL, ModelId
from organizing.pipeline.context import (
    NUTS_SPECS,
    PREDICTION_DRAWS,
    Context,
    fit_nuts,
    nuts_arguments,
    thin,
)
from organizing.pipeline.products import HeldoutWorkers
from organizing.results.sections import Curves, Evaluation

#: The ``features`` of a held-out-worksite fold row: every feature, or all but No. Notes.
ALL_FEATURES, WITHOUT_NOTES = "all", "without No. Notes"
#: The baselines refitted on each fold.
BASELINES = (ModelId.POOLED_LOGISTIC, ModelId.GRADIENT_BOOSTING)


def evaluate_heldout_workers(ctx: Context) -> HeldoutWorkers:
    """Every model's predictions for the study's held-out workers, and the headline
    model's posterior predictive check of per-worksite rates."""
    from organizing import evaluation
    from organizing.data.disclosure import withhold_site_rates, withhold_small_bins
    from organizing.models.logits import logits, sigmoid

    full, train, test, seed = ctx.designs.full, ctx.train, ctx.test, ctx.config.seed
    k = ctx.config.disclosure.min_count
    y_train, y_test = full.signed[train], full.signed[test]
    probabilities = {}
    for model, (name, _) in NUTS_SPECS.items():
        design = ctx.designs.of(model)
        draws = thin(ctx.nuts.draws[model], PREDICTION_DRAWS)
        probabilities[model] = sigmoid(logits(name, draws, design.site_x, design.worker_x[test],
                                              design.site_index[test])).mean(axis=0)
    for model in (ModelId.CORRECTED_MEAN_FIELD, ModelId.CORRECTED_LOW_RANK):
        probabilities[model] = sigmoid(logits("corrected", ctx.svi.draws[model], full.site_x,
                                              full.worker_x[test],
                                              full.site_index[test])).mean(axis=0)
    probabilities.update(ctx.svi.published_probabilities)
    pooled_x = evaluation.pooled_features(full.worker_x, full.site_x, full.site_index)
    fit_seconds = {model: p.seconds for model, p in ctx.nuts.posteriors.items()}
    for model, predict in _baselines(seed).items():
        start = time.perf_counter()
        probabilities[model] = predict(pooled_x[train], y_train, pooled_x[test])
        fit_seconds[model] = time.perf_counter() - start
    probabilities[ModelId.INTERCEPT_ONLY] = evaluation.intercept_only(y_train, len(test))
    fit_seconds[ModelId.INTERCEPT_ONLY] = 0.0
    fit_seconds[ModelId.PUBLISHED] = ctx.svi.fits[ModelId.PUBLISHED].seconds
    rows, curves, gains = [], {}, []
    for model, p in probabilities.items():
        rows.append({"model": model.value, **evaluation.binary_metrics(y_test, p)})
        gains.append({"model": model.value, **evaluation.accuracy_gain(
            y_test, p, full.site_index[test])})
        # disclosure control here, so no bin of fewer than k workers reaches the cache
        curves[model] = Curves(roc=evaluation.roc_points(y_test, p),
                               calibration=withhold_small_bins(
                                   evaluation.calibration_table(y_test, p), min_count=k))

    # Posterior predictive check of per-worksite rates, headline model.
    rng = np.random.default_rng(seed)
    design = ctx.designs.of(HEADLINE_MODEL)
    draws = thin(ctx.headline_draws, ctx.config.evaluation.ppc_draws)
    p_rep = sigmoid(logits(NUTS_SPECS[HEADLINE_MODEL][0], draws, design.site_x,
                           design.worker_x[test], design.site_index[test]))
    ppc = withhold_site_rates(evaluation.site_rate_check(
        rng.random(p_rep.shape) < p_rep, y_test, design.site_index[test],
        ctx.campaign.n_sites), min_count=k)
    return HeldoutWorkers(metrics=pd.DataFrame(rows), curves=curves,
                          accuracy=pd.DataFrame(gains), fit_seconds=fit_seconds,
                          probabilities=probabilities, ppc=ppc)


def evaluate_heldout_worksites(ctx: Context) -> Evaluation:
    """Grouped folds of worksites: every NUTS model and the baselines refitted without a
    fold's worksites and scored on their workers, with every feature and without
    No. Notes (a measure not known at a new store before organizing starts); then the
    evaluation section, with the held-out workers' results."""
    from organizing import evaluation
    from organizing.features import NOTES, sensitivity_design, worksite_folds
    from organizing.inference.diagnostics import diagnose
    from organizing.inference.nuts import sampler_rows
    from organizing.pipeline import posteriors

    full, seed, settings = ctx.designs.full, ctx.config.seed, ctx.config.nuts
    pooled_x = evaluation.pooled_features(full.worker_x, full.site_x, full.site_index)
    folds = list(worksite_folds(full.site_index, n_folds=ctx.config.evaluation.worksite_folds,
                                seed=seed))
    # Every fold's data padded to one size per model: one compiled sampler for all folds.
    pad = {model: max(sampler_rows(ctx.designs.of(model).worker_x[rows],
                                   ctx.designs.of(model).site_index[rows],
                                   ctx.designs.of(model).signed[rows]) for rows, _ in folds)
           for model in NUTS_SPECS}
    # The headline model's folds run at the main settings, so that its comparison with
    # the baselines rests on converged fits; the other models' folds, which are only
    # compared, at half the draws and two chains (their diagnostics are recorded).
    half = settings.model_copy(update={"chains": min(2, settings.chains),
                                       "warmup": max(100, settings.warmup // 2),
                                       "samples": max(100, settings.samples // 2)})
    no_notes = sensitivity_design(ctx.campaign, "no_notes")
    pooled_no_notes = np.delete(pooled_x, list(full.worker_features).index(NOTES), axis=1)
    pad_no_notes = max(sampler_rows(no_notes.worker_x[rows], no_notes.site_index[rows],
                                    no_notes.signed[rows]) for rows, _ in folds)
    rows_out = []
    for fold, (fold_train, fold_test) in enumerate(folds):
        fold_seed = (seed + fold + 1) % 2**32  # within NumPy's and JAX's seed range
        y = full.signed[fold_test]

        for model, (name, _) in NUTS_SPECS.items():
            result = fit_nuts(ctx, model, fold_train,
                              settings if model is HEADLINE_MODEL else half, fold_seed,
                              f", held-out worksites fold {fold + 1}", pad_rows=pad[model])
            p = _new_site_probabilities(name, result, ctx.designs.of(model), fold_test,
                                        fold_seed)
            # A fold fit's convergence is recorded with its metrics, never assumed.
            found = diagnose(result)
            rows_out.append({"model": model.value, "fold": fold,
                             **evaluation.binary_metrics(y, p),
                             "max_r_hat": found.max_r_hat, "min_ess_bulk": found.min_ess_bulk,
                             "divergences": found.divergences,
                             "checks_failed": len(found.flags)})
        rows_out += _baseline_rows(pooled_x, full.signed, fold_train, fold_test, fold, {})
        p = evaluation.intercept_only(full.signed[fold_train], len(fold_test))
        rows_out.append({"model": ModelId.INTERCEPT_ONLY.value, "fold": fold,
                         **evaluation.binary_metrics(y, p)})
        fitted = no_notes.subset(fold_train)
        result = posteriors.nuts("headline", fitted.site_x, fitted.worker_x,
                                 fitted.site_index, fitted.signed, seed=fold_seed,
                                 progress=ctx.progress, pad_rows=pad_no_notes,
                                 label=f"NUTS headline without No. Notes, fold {fold + 1}",
                                 **nuts_arguments(settings))
        p = _new_site_probabilities("headline", result, no_notes, fold_test, fold_seed)
        rows_out.append({"model": HEADLINE_MODEL.value, "fold": fold,
                         "features": WITHOUT_NOTES, **evaluation.binary_metrics(y, p)})
        rows_out += _baseline_rows(pooled_no_notes, full.signed, fold_train, fold_test, fold,
                                   {"features": WITHOUT_NOTES})
    folds_frame = pd.DataFrame(rows_out)
    folds_frame["features"] = folds_frame["features"].fillna(ALL_FEATURES)
    workers = ctx.heldout_workers
    return Evaluation(
        metrics=workers.metrics, curves=workers.curves, folds=folds_frame, ppc=workers.ppc,
        fit_seconds=workers.fit_seconds, accuracy=workers.accuracy,
        heldout_elpd=evaluation.heldout_elpd(full.signed[ctx.test], workers.probabilities,
                                             HEADLINE_MODEL),
        new_stores=evaluation.new_store_comparison(
            folds_frame, HEADLINE_MODEL.value,
            tuple(m.value for m in (*BASELINES, ModelId.INTERCEPT_ONLY))))


def _new_site_probabilities(name: str, result, design, fold_test: np.ndarray,
                            fold_seed: int) -> np.ndarray:
    """A fold fit's posterior mean probabilities for the held-out worksites' workers, each
    held-out worksite's intercept (and slopes) drawn fresh from the population."""
    from organizing import evaluation
    from organizing.models.logits import logits, sigmoid

    unseen = np.unique(design.site_index[fold_test])
    draws = evaluation.new_site_draws(name, result.pooled_draws(), unseen,
                                      np.random.default_rng(fold_seed))
    return sigmoid(logits(name, draws, design.site_x, design.worker_x[fold_test],
                          design.site_index[fold_test])).mean(axis=0)


def _baselines(seed: int | None = None) -> dict:
    """The pooled regression and gradient boosting, as ``predict(x, y, x_new)``."""
    from functools import partial

    from organizing import evaluation

    boosting = (evaluation.gradient_boosting if seed is None
                else partial(evaluation.gradient_boosting, seed=seed))
    return {ModelId.POOLED_LOGISTIC: evaluation.pooled_logistic,
            ModelId.GRADIENT_BOOSTING: boosting}


def _baseline_rows(x: np.ndarray, signed: np.ndarray, fold_train: np.ndarray,
                   fold_test: np.ndarray, fold: int, extra: dict) -> list[dict]:
    """The pooled regression's and gradient boosting's fold rows."""
    from organizing import evaluation

    return [{"model": model.value, "fold": fold, **extra, **evaluation.binary_metrics(
        signed[fold_test], predict(x[fold_train], signed[fold_train], x[fold_test]))}
            for model, predict in _baselines().items()]
