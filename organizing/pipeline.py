"""Orchestration: call every stage once and store what it returns in typed sections.

    data → features → models → inference → evaluation → clustering → planning → audit
         → results (typed sections + cache) → report → chapters

:func:`load` is what the chapters and the command line call: it returns the
cached :class:`~organizing.results.sections.Results` for the current data,
configuration and code; it computes them (:func:`run`) only when asked
(``compute=True``, as ``organizing run`` does), and otherwise says which
profiles are cached and what to run.
:func:`run` is the only place that fits models. The heavy stages (torch, Pyro,
JAX) are imported inside :func:`run`, so a chapter that only loads results
starts quickly.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from organizing import __version__
from organizing.config import Config, load_config
from organizing.data import ONE_HOT_GROUPS, Campaign, assert_analysable, load_campaign
from organizing.models import HEADLINE_MODEL, NUTS_MODELS, ModelId
from organizing.results import cache
from organizing.results.sections import (
    Claims,
    Coefficients,
    Curves,
    DataSummary,
    Diagnostics,
    Disclosure,
    Evaluation,
    Histogram,
    Loo,
    Meta,
    Posterior,
    PriorPredictive,
    Results,
    SVIFit,
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
#: The ``features`` of a held-out-worksite fold row: every feature, or all but No. Notes.
ALL_FEATURES, WITHOUT_NOTES = "all", "without No. Notes"


class Stages:
    """One line per stage with its time (progress bars only on a terminal)."""

    def __init__(self, progress: bool):
        self.progress = progress
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - start
        if self.progress:
            print(f"· {name}: {self.timings[name]:.1f} s", file=sys.stderr, flush=True)


def enable_compilation_cache() -> None:
    """Keep JAX's compiled samplers between runs, in the user's own cache folder.

    Compiling a NUTS sampler takes longer than running it on this data; with the
    cache a second run (a re-render, a test, another fold of the same size) starts
    at once. The folder is per user (``$XDG_CACHE_HOME/organizing/jax``, else
    ``~/.cache/organizing/jax``), never the project's shared results cache: compiled
    code is code, and a shared folder must not be able to supply it. Set
    ``ORGANIZING_JAX_CACHE=0`` to turn it off.
    """
    if os.environ.get("ORGANIZING_JAX_CACHE", "1") == "0":
        return
    import jax

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    jax.config.update("jax_compilation_cache_dir", os.path.join(base, "organizing", "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


# ------------------------------------------------------------------------ summaries


def describe_data(campaign: Campaign, reduced, min_count: int) -> DataSummary:
    """Counts, per-worksite figures and feature summaries (no worker rows).

    Disclosure control (k = ``min_count``): a worksite's signing rate and signer
    count are kept only when it has at least k signers and k non-signers
    (NaN otherwise), and histogram bins below k are merged. No single worker's
    value is kept: a feature's spread is its 1st and 99th percentiles (not its
    minimum and maximum), and the histograms span the 0.5th to 99.5th
    percentiles, the tails counted in the end bins.
    """
    from organizing.data.disclosure import merge_small_bins, pooled_rate, rate_shown

    n_sites = campaign.n_sites
    workers = np.bincount(campaign.site_index, minlength=n_sites)
    signed = np.bincount(campaign.site_index, campaign.signed, n_sites)
    shown = rate_shown(signed, workers, min_count=min_count)
    sites = campaign.site_descriptors.copy()
    sites.insert(0, "workers in file", workers)
    sites.insert(1, "signing rate", np.where(shown, signed / np.maximum(workers, 1), np.nan))
    if "No. workers signed" in sites:
        sites["No. workers signed"] = sites["No. workers signed"].where(shown)
    columns = [campaign.worker_x[:, j] for j in range(campaign.worker_x.shape[1])] + [
        campaign.site_x[:, q] for q in range(campaign.site_x.shape[1])]
    summary = pd.DataFrame({
        "feature": list(campaign.worker_features) + list(campaign.site_features),
        "level": ["worker"] * len(campaign.worker_features)
        + ["worksite"] * len(campaign.site_features),
        **{stat: [float(fn(v)) for v in columns] for stat, fn in (
            ("mean", np.mean), ("sd", np.std), ("p1", lambda v: np.percentile(v, 1)),
            ("median", np.median), ("p99", lambda v: np.percentile(v, 99)))},
    })
    histograms, merged = {}, {}
    for j, name in enumerate(campaign.worker_features):
        if name.startswith("Time To First"):
            continue
        values = campaign.worker_x[:, j]
        low, high = np.percentile(values, [0.5, 99.5])
        raw = np.histogram(np.clip(values, low, high), bins=40, range=(low, high))
        counts, edges = merge_small_bins(*raw, min_count=min_count)
        histograms[name] = Histogram(counts=counts, edges=edges)
        merged[name] = len(raw[0]) - len(counts)
    features = list(campaign.worker_features)
    centrality = campaign.worker_x[:, features.index("Log(Eigen. Centrality)")]
    quartiles = [features.index(c) for c in ONE_HOT_GROUPS["Time to first conversation"]]
    return DataSummary(
        n_workers=campaign.n_workers,
        n_sites=n_sites,
        n_signed=int(campaign.signed.sum()),
        signing_rate=float(campaign.signed.mean()),
        unknown_gender=int(np.sum(campaign.worker_x[:, features.index("Is Male")] == 0.5)),
        log_centrality_p1=float(np.percentile(centrality, 1)),
        share_log_centrality_below_minus_50=float(np.mean(centrality < -50)),
        network_audit=network_audit(campaign),
        quartile_shares=campaign.worker_x[:, quartiles].mean(axis=0),
        sites=sites,
        feature_summary=summary,
        histograms=histograms,
        checksums=dict(campaign.checksums),
        worker_features=tuple(campaign.worker_features),
        site_features=tuple(campaign.site_features),
        reduced_worker_features=tuple(reduced.worker_features),
        reduced_site_features=tuple(reduced.site_features),
        workers_per_site_median=float(np.median(workers)),
        disclosure=Disclosure(
            min_count=min_count, rates_withheld=int(np.sum(~shown)),
            pooled_rate=pooled_rate(signed[~shown], workers[~shown], min_count=min_count),
            bins_merged=merged),
    )


def network_audit(campaign: Campaign) -> dict[str, float]:
    """How the file's network measures compare with the package's definitions
    (:mod:`organizing.data.network`), over worksites (never a single worker's value).

    ``ratio_*``: the file's ``Centrality mean`` over the mean of the worksite's
    workers' own centralities (1 under the stated definition), its median and
    5th and 95th percentiles over worksites; ``variance_ratio_median``: the same
    for ``Centrality variance`` (population variance); ``ndo_share_agreeing``:
    the share of worksites whose ``NDO (Eigen., Pearson)`` equals, within 10⁻⁶,
    the Pearson correlation of the worker file's notes and centralities, and
    ``ndo_gap_median`` the median absolute gap; ``share_below_1e-6``: the workers
    whose centrality is below 10⁻⁶; ``share_outside``: those below the
    outside-network floor's cut (2⁻⁵², where the package records 2⁻⁵³).
    """
    features = list(campaign.worker_features)
    centrality = np.exp(campaign.worker_x[:, features.index("Log(Eigen. Centrality)")])
    workers = np.bincount(campaign.site_index, minlength=campaign.n_sites)
    own_mean = np.bincount(campaign.site_index, centrality, campaign.n_sites) / np.maximum(
        workers, 1)
    ratio = campaign.site_descriptors["Centrality mean"].to_numpy(dtype=float) / own_mean
    low, median, high = np.percentile(ratio, [5, 50, 95])
    own_variance = np.bincount(campaign.site_index, (centrality - own_mean[
        campaign.site_index]) ** 2, campaign.n_sites) / np.maximum(workers, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        variance_ratio = campaign.site_x[:, list(campaign.site_features).index(
            "Log(Centrality variance)")]
        variance_ratio = np.exp(variance_ratio) / own_variance
    notes = campaign.worker_x[:, features.index("No. Notes")]
    ndo = np.array([_pearson(notes[campaign.site_index == s], centrality[
        campaign.site_index == s]) for s in range(campaign.n_sites)])
    shipped = campaign.site_x[:, list(campaign.site_features).index("NDO (Eigen., Pearson)")]
    gap = np.abs(ndo - shipped)
    return {"ratio_median": float(median), "ratio_q5": float(low), "ratio_q95": float(high),
            "variance_ratio_median": float(np.nanmedian(variance_ratio)),
            "ndo_share_agreeing": float(np.mean(gap[np.isfinite(gap)] < 1e-6)),
            "ndo_gap_median": float(np.nanmedian(gap)),
            "share_below_1e-6": float(np.mean(centrality < 1e-6)),
            "share_outside": float(np.mean(centrality < np.finfo(float).eps))}


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation, NaN where undefined (organizing.data.measures.correlation)."""
    from organizing.data.measures import correlation

    value = correlation(x, y)
    return np.nan if value is None else value


def coefficient_tables(draws: dict, worker_features, site_features) -> Coefficients:
    """Posterior summaries of a model's draws (leading dimension: draws) with feature names."""
    from organizing.inference.summaries import quantile_row

    beta = np.asarray(draws["beta_group"])
    worksite = pd.DataFrame([{"feature": name, **quantile_row(beta[:, q])}
                             for q, name in enumerate(site_features)])
    scalars = []
    for site in ("alpha", "alpha_mean", "site_scale", "beta_group_scale",
                 "beta_individual_scale", "size_slope"):
        if site in draws:
            values = np.asarray(draws[site])
            if values.ndim == 1:
                scalars.append({"parameter": site, **quantile_row(values)})
            else:
                scalars.extend({"parameter": f"{site}: {name}", **quantile_row(values[:, p])}
                               for p, name in enumerate(worker_features))
    b = np.asarray(draws["beta_individual"])  # (D, S, P)
    across_mean, across_sd = b.mean(axis=1), b.std(axis=1)
    worker = pd.DataFrame({
        "feature": list(worker_features),
        "mean": across_mean.mean(axis=0),
        "q5": np.quantile(across_mean, 0.05, axis=0),
        "q95": np.quantile(across_mean, 0.95, axis=0),
        "prob_positive": (across_mean > 0).mean(axis=0),
        "spread": across_sd.mean(axis=0),
        "spread_q5": np.quantile(across_sd, 0.05, axis=0),
        "spread_q95": np.quantile(across_sd, 0.95, axis=0),
        "share_positive": (b.mean(axis=0) > 0).mean(axis=0),
    })
    return Coefficients(worksite=worksite, worker=worker, scalars=pd.DataFrame(scalars))


def _thin(draws: dict, n: int) -> dict:
    """At most ``n`` draws, spread evenly over the pooled draws."""
    total = len(next(iter(draws.values())))
    keep = np.linspace(0, total - 1, min(n, total)).round().astype(int)
    return {k: np.asarray(v)[keep] for k, v in draws.items()}


# --------------------------------------------------------------------------- claims


# ------------------------------------------------------------------------------ run


def run(campaign: Campaign, config: Config, *, cache_key: str = "",
        progress: bool = False) -> Results:
    """Compute every result of the book from validated data and one configuration."""
    from organizing import audit, evaluation
    from organizing.claims import evaluate_claims
    from organizing.features import (
        NOTES,
        build_design,
        identified,
        sensitivity_design,
        study_split,
        within_between,
        worksite_folds,
    )
    from organizing.inference.diagnostics import diagnose, result_psis_loo
    from organizing.inference.nuts import run_nuts
    from organizing.inference.svi import fit_svi, guide_draw, posterior_draws
    from organizing.models.logits import complete_draws, logits, sigmoid
    from organizing.models.numpyro_models import prior_predictive_rates
    from organizing.sensitivity import direction_holds

    enable_compilation_cache()
    stages = Stages(progress)
    seed = config.seed
    full, reduced = (build_design(campaign, drop_reference=drop) for drop in (False, True))
    # every model's design by the key NUTS_SPECS names (features.py explains each); the
    # study's specification keeps its columns, the book's models leave out the worksite
    # columns that others determine (features.identified)
    designs = {"full": full, "reduced": identified(reduced),
               "headline": identified(within_between(reduced))}
    headline_design = designs["headline"]
    split = config.section("split")
    train, test = study_split(campaign.n_workers, test_size=split["test_size"],
                              seed=split["random_state"])
    y_train, y_test = full.signed[train], full.signed[test]
    nuts_settings = config.section("nuts")

    def nuts(model: ModelId, rows, settings: dict, run_seed: int, label: str = "",
             pad_rows: int | None = None):
        name, key = NUTS_SPECS[model]
        design = designs[key].subset(rows)
        return run_nuts(name, design.site_x, design.worker_x, design.site_index, design.signed,
                        chains=settings["chains"], warmup=settings["warmup"],
                        samples=settings["samples"], target_accept=settings["target_accept"],
                        seed=run_seed, progress=progress, label=f"NUTS {model.value}{label}",
                        pad_rows=pad_rows)

    # 1. SVI: the replication of the published specification and the mean-field comparison,
    # with the optimizer the study's report states; the published specification once more
    # with the optimizer its code runs, to show the audit's facts do not depend on the choice.
    svi_fits, svi_draws = {}, {}
    with stages.stage("SVI fits"):
        args = full.subset(train).tensors()
        n_draws = config.section("posterior")["draws"]

        def svi_fit(name, guide, settings, optimizer, label):
            fit = fit_svi(name, args, guide=guide, seed=seed, progress=progress, label=label,
                          **settings)
            draws = posterior_draws(fit, args, n_draws, seed)
            facts = {}
            if name == "published":
                facts_audit = audit.audit_published(full.site_x, full.worker_x[train],
                                                    full.worker_x[test], draws,
                                                    guide_draw(fit, args, seed),
                                                    full.site_features)
                p_code = sigmoid(logits("published", draws, full.site_x, full.worker_x[test],
                                        full.site_index[test])).mean(axis=0)
                p_learned = audit.published_as_learned(draws, full, train, test)
                facts = {"site_term_max": facts_audit.site_term_max,
                         "sign_flip_correlation": facts_audit.sign_flip_correlation,
                         "heldout_auc": evaluation.binary_metrics(y_test, p_code)["auc"],
                         "heldout_auc_as_learned":
                             evaluation.binary_metrics(y_test, p_learned)["auc"]}
            record = SVIFit(model=name, guide_kind=guide, losses=fit.losses, steps=fit.steps,
                            max_steps=settings["max_steps"], converged=fit.converged,
                            seconds=fit.seconds, seed=seed, lr=fit.lr, lr_decay=fit.lr_decay,
                            betas=fit.betas, optimizer=optimizer, stop_early=fit.stop_early,
                            audit_facts=facts)
            return fit, draws, record

        for model, (name, guide) in SVI_SPECS.items():
            fit, svi_draws[model], svi_fits[model] = svi_fit(
                name, guide, config.svi.fit_settings, "report", f"SVI {model.value}")
            if model is ModelId.PUBLISHED:
                one_draw = guide_draw(fit, args, seed)
                code = svi_fit(name, guide, config.svi.code_fit_settings, "code",
                               f"SVI {model.value} (code's optimizer)")[2]
                svi_fits[model] = replace(svi_fits[model], code_optimizer=code)

    # 2. NUTS for every model the book reports coefficients for.
    posteriors, nuts_draws = {}, {}
    with stages.stage("NUTS posteriors"):
        for model, (name, key) in NUTS_SPECS.items():
            result = nuts(model, train, nuts_settings, seed)
            design = designs[key]
            draws = complete_draws(name, result.pooled_draws())
            nuts_draws[model] = draws
            diagnostics = diagnose(result)
            # block by block: the (draws × workers) log-likelihood never exists whole
            loo = result_psis_loo(result, design.site_x, design.worker_x[train],
                                  design.site_index[train], design.signed[train])
            posteriors[model] = Posterior(
                model=model, method="NUTS",
                coefficients=coefficient_tables(draws, design.worker_features,
                                                design.site_features),
                seconds=float(result.seconds),
                diagnostics=Diagnostics(**diagnostics.as_dict()),
                loo=Loo(**loo.as_dict()),
            )
        for model, draws in svi_draws.items():
            if model is ModelId.PUBLISHED:
                continue
            posteriors[model] = Posterior(
                model=model, method="mean-field SVI" if model is ModelId.CORRECTED_MEAN_FIELD
                else "low-rank SVI",
                coefficients=coefficient_tables(draws, full.worker_features, full.site_features),
                seconds=svi_fits[model].seconds)

    # 3. Held-out workers of the study's split, and held-out worksites.
    with stages.stage("held-out evaluation"):
        probabilities = {}
        for model, (name, key) in NUTS_SPECS.items():
            design = designs[key]
            draws = _thin(nuts_draws[model], PREDICTION_DRAWS)
            probabilities[model] = sigmoid(logits(name, draws, design.site_x,
                                                  design.worker_x[test],
                                                  design.site_index[test])).mean(axis=0)
        for model in (ModelId.CORRECTED_MEAN_FIELD, ModelId.CORRECTED_LOW_RANK):
            probabilities[model] = sigmoid(logits("corrected", svi_draws[model], full.site_x,
                                                  full.worker_x[test],
                                                  full.site_index[test])).mean(axis=0)
        published = svi_draws[ModelId.PUBLISHED]
        probabilities[ModelId.PUBLISHED] = sigmoid(logits(
            "published", published, full.site_x, full.worker_x[test],
            full.site_index[test])).mean(axis=0)
        probabilities[ModelId.PUBLISHED_AS_LEARNED] = audit.published_as_learned(
            published, full, train, test)
        pooled_x = evaluation.pooled_features(full.worker_x, full.site_x, full.site_index)
        fit_seconds = {model: p.seconds for model, p in posteriors.items()}
        start = time.perf_counter()
        probabilities[ModelId.POOLED_LOGISTIC] = evaluation.pooled_logistic(
            pooled_x[train], y_train, pooled_x[test])
        fit_seconds[ModelId.POOLED_LOGISTIC] = time.perf_counter() - start
        start = time.perf_counter()
        probabilities[ModelId.GRADIENT_BOOSTING] = evaluation.gradient_boosting(
            pooled_x[train], y_train, pooled_x[test], seed=seed)
        fit_seconds[ModelId.GRADIENT_BOOSTING] = time.perf_counter() - start
        probabilities[ModelId.INTERCEPT_ONLY] = evaluation.intercept_only(y_train, len(test))
        fit_seconds[ModelId.INTERCEPT_ONLY] = 0.0
        fit_seconds[ModelId.PUBLISHED] = svi_fits[ModelId.PUBLISHED].seconds
        rows, curves, gains = [], {}, []
        for model, p in probabilities.items():
            rows.append({"model": model.value, **evaluation.binary_metrics(y_test, p)})
            gains.append({"model": model.value, **evaluation.accuracy_gain(
                y_test, p, full.site_index[test])})
            curves[model] = Curves(roc=evaluation.roc_points(y_test, p),
                                   calibration=evaluation.calibration_table(y_test, p))
        metrics = pd.DataFrame(rows)

        # Posterior predictive check of per-worksite rates, headline model.
        rng = np.random.default_rng(seed)
        name, key = NUTS_SPECS[HEADLINE_MODEL]
        design = designs[key]
        draws = _thin(nuts_draws[HEADLINE_MODEL], config.section("evaluation")["ppc_draws"])
        p_rep = sigmoid(logits(name, draws, design.site_x, design.worker_x[test],
                               design.site_index[test]))
        ppc = evaluation.site_rate_check(rng.random(p_rep.shape) < p_rep, y_test,
                                         design.site_index[test], campaign.n_sites)

    with stages.stage("held-out worksites"):
        fold_rows = []
        from organizing.inference.nuts import sampler_rows

        folds = list(worksite_folds(full.site_index,
                                    n_folds=config.section("evaluation")["worksite_folds"],
                                    seed=seed))
        # Every fold's data padded to one size per model: one compiled sampler for all folds.
        pad = {model: max(sampler_rows(designs[key].worker_x[rows], designs[key].site_index[rows],
                                       designs[key].signed[rows]) for rows, _ in folds)
               for model, (_, key) in NUTS_SPECS.items()}
        # The headline model's folds run at the main settings, so that its comparison with
        # the baselines rests on converged fits; the other models' folds, which are only
        # compared, at half the draws and two chains (their diagnostics are recorded).
        half = {**nuts_settings, "chains": min(2, nuts_settings["chains"]),
                "warmup": max(100, nuts_settings["warmup"] // 2),
                "samples": max(100, nuts_settings["samples"] // 2)}
        fold_settings = {model: nuts_settings if model is HEADLINE_MODEL else half
                         for model in NUTS_SPECS}
        # The same comparison without No. Notes, a measure not known at a new store before
        # organizing starts: the headline model and the baselines refitted without it.
        no_notes = sensitivity_design(campaign, "no_notes")
        notes_column = list(full.worker_features).index(NOTES)
        pooled_no_notes = np.delete(pooled_x, notes_column, axis=1)
        pad_no_notes = max(sampler_rows(no_notes.worker_x[rows], no_notes.site_index[rows],
                                        no_notes.signed[rows]) for rows, _ in folds)
        for fold, (fold_train, fold_test) in enumerate(folds):
            unseen = np.unique(full.site_index[fold_test])
            fold_seed = (seed + fold + 1) % 2**32  # within NumPy's and JAX's seed range
            y = full.signed[fold_test]
            for model, (name, key) in NUTS_SPECS.items():
                design = designs[key]
                result = nuts(model, fold_train, fold_settings[model], fold_seed,
                              f", held-out worksites fold {fold + 1}", pad_rows=pad[model])
                draws = evaluation.new_site_draws(name, result.pooled_draws(), unseen,
                                                  np.random.default_rng(fold_seed))
                p = sigmoid(logits(name, draws, design.site_x, design.worker_x[fold_test],
                                   design.site_index[fold_test])).mean(axis=0)
                # A fold fit's convergence is recorded with its metrics, never assumed.
                fold_diagnostics = diagnose(result)
                fold_rows.append({"model": model.value, "fold": fold,
                                  **evaluation.binary_metrics(y, p),
                                  "max_r_hat": fold_diagnostics.max_r_hat,
                                  "min_ess_bulk": fold_diagnostics.min_ess_bulk,
                                  "divergences": fold_diagnostics.divergences,
                                  "checks_failed": len(fold_diagnostics.flags)})
            for model, predict in ((ModelId.POOLED_LOGISTIC, evaluation.pooled_logistic),
                                   (ModelId.GRADIENT_BOOSTING, evaluation.gradient_boosting)):
                p = predict(pooled_x[fold_train], full.signed[fold_train], pooled_x[fold_test])
                fold_rows.append({"model": model.value, "fold": fold,
                                  **evaluation.binary_metrics(y, p)})
            p = evaluation.intercept_only(full.signed[fold_train], len(fold_test))
            fold_rows.append({"model": ModelId.INTERCEPT_ONLY.value, "fold": fold,
                              **evaluation.binary_metrics(y, p)})
            fitted = no_notes.subset(fold_train)
            result = run_nuts("headline", fitted.site_x, fitted.worker_x, fitted.site_index,
                              fitted.signed, chains=nuts_settings["chains"],
                              warmup=nuts_settings["warmup"], samples=nuts_settings["samples"],
                              target_accept=nuts_settings["target_accept"], seed=fold_seed,
                              progress=progress, pad_rows=pad_no_notes,
                              label=f"NUTS headline without No. Notes, fold {fold + 1}")
            draws = evaluation.new_site_draws("headline", result.pooled_draws(), unseen,
                                              np.random.default_rng(fold_seed))
            p = sigmoid(logits("headline", draws, no_notes.site_x, no_notes.worker_x[fold_test],
                               no_notes.site_index[fold_test])).mean(axis=0)
            fold_rows.append({"model": HEADLINE_MODEL.value, "fold": fold,
                              "features": WITHOUT_NOTES, **evaluation.binary_metrics(y, p)})
            for model, predict in ((ModelId.POOLED_LOGISTIC, evaluation.pooled_logistic),
                                   (ModelId.GRADIENT_BOOSTING, evaluation.gradient_boosting)):
                p = predict(pooled_no_notes[fold_train], full.signed[fold_train],
                            pooled_no_notes[fold_test])
                fold_rows.append({"model": model.value, "fold": fold,
                                  "features": WITHOUT_NOTES, **evaluation.binary_metrics(y, p)})
    folds_frame = pd.DataFrame(fold_rows)
    folds_frame["features"] = folds_frame["features"].fillna(ALL_FEATURES)
    evaluation_section = Evaluation(
        metrics=metrics, curves=curves, folds=folds_frame, ppc=ppc, fit_seconds=fit_seconds,
        accuracy=pd.DataFrame(gains),
        heldout_elpd=evaluation.heldout_elpd(y_test, probabilities, HEADLINE_MODEL),
        new_stores=evaluation.new_store_comparison(
            folds_frame, HEADLINE_MODEL.value,
            (ModelId.POOLED_LOGISTIC.value, ModelId.GRADIENT_BOOSTING.value,
             ModelId.INTERCEPT_ONLY.value)))

    # 4. Priors, and simulation-based calibration of the headline model.
    with stages.stage("prior predictive check"):
        frames = []
        for name, key in (("corrected", "full"), ("headline", "headline")):
            design = designs[key].subset(train)
            rates = prior_predictive_rates(name, design.site_x, design.worker_x,
                                           design.site_index, seed=seed)
            frames.append(rates.frame().assign(model=name))
        prior_predictive = PriorPredictive(table=pd.concat(frames, ignore_index=True))

    with stages.stage("simulation-based calibration"):
        calibration = _calibration(config, headline_design, progress)

    # 5. The audit of the published specification.
    with stages.stage("audit"):
        published_audit = audit.audit_published(full.site_x, full.worker_x[train],
                                                full.worker_x[test], published, one_draw,
                                                full.site_features)
        variance = pd.concat([
            audit.design_variance_decomposition(model, nuts_draws[model],
                                                designs[key].subset(train))
            for model, (_, key) in NUTS_SPECS.items()], ignore_index=True)

    # 6. The study's mixture, and the calibrated test of clusters.
    with stages.stage("clustering"):
        clustering = _clustering(campaign, config, one_draw["beta_individual"],
                                 nuts_draws[HEADLINE_MODEL], headline_design.subset(train))

    # 7. Sensitivity analyses: the headline model refitted on each variant.
    with stages.stage("sensitivity fits"):
        variant_fits = _sensitivity_fits(campaign, config, train, progress)

    # 8. The verdicts on the study's claims: the headline model's (its size claims on the
    # size variant's λ), every NUTS model's, and every sensitivity variant's.
    with stages.stage("claims"):
        size_fit = variant_fits["size_interaction"]
        by_model = pd.concat([
            evaluate_claims(model, nuts_draws[model],
                            designs[NUTS_SPECS[model][1]].subset(train),
                            accuracy=evaluation_section.accuracy,
                            clustering=clustering.test if model is HEADLINE_MODEL else None,
                            size_fit=((size_fit.draws, size_fit.design, size_fit.priors)
                                      if model is HEADLINE_MODEL else None), seed=seed)
            for model in NUTS_MODELS], ignore_index=True)
        claims = _claims_section(by_model, nuts_draws[HEADLINE_MODEL], headline_design,
                                 campaign)
        sensitivity = _sensitivity_section(campaign, variant_fits, posteriors[HEADLINE_MODEL],
                                           claims.table, seed)
        # an effect is a takeaway only if its direction survives every sensitivity analysis
        claims = replace(claims, effects=direction_holds(
            claims.effects, {key: run.coefficients for key, run in sensitivity.runs.items()}))

    with stages.stage("planning"):
        planning = _planning(config, nuts_draws[HEADLINE_MODEL], headline_design, campaign)

    # 9. The verdicts' error rates on simulated campaigns: its own cache entry, since it
    # costs more than the rest and depends on less.
    with stages.stage("error rates of the verdicts"):
        error_rates = _error_rates(campaign, config, headline_design, train,
                                   nuts_draws[HEADLINE_MODEL], claims.table, progress)

    stages.timings["total"] = sum(stages.timings.values())
    return Results(
        meta=Meta(profile=config.profile, package_version=__version__, cache_key=cache_key,
                  config=config.values, n_train=len(train), n_test=len(test),
                  timings=stages.timings),
        data=replace(describe_data(campaign, reduced, config.section("disclosure")["min_count"]),
                     aliases=pd.DataFrame(
                         [{"name": a.name, "identity": a.identity(),
                           "residual_sd": a.residual_sd} for a in headline_design.aliases],
                         columns=["name", "identity", "residual_sd"])),
        svi=svi_fits,
        posteriors=posteriors,
        evaluation=evaluation_section,
        audit=published_audit,
        claims=claims,
        variance=variance,
        prior_predictive=prior_predictive,
        calibration=calibration,
        clustering=clustering,
        planning=planning,
        sensitivity=sensitivity,
        error_rates=error_rates,
    )


def _claims_section(by_model: pd.DataFrame, headline_draws: dict, design,
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


def _calibration(config: Config, design, progress: bool):
    from organizing.inference.calibration import simulation_based_calibration
    from organizing.results.sections import Calibration

    settings = config.section("sbc")
    result = simulation_based_calibration(
        settings["replications"], settings["sites"], settings["workers_per_site"],
        len(design.site_features), len(design.worker_features),
        warmup=settings["warmup"], samples=settings["samples"], seed=config.seed,
        progress=progress)
    return Calibration(ranks=result.ranks, coverage=result.coverage, draws=result.draws,
                       sites=result.sites, workers_per_site=result.workers_per_site)


def cluster_test_settings(config: Config):
    """The calibrated cluster test's settings from the configuration."""
    from organizing.clustering.heldout_test import ClusterTestSettings

    c = config.clustering
    return ClusterTestSettings(Ks=tuple(c.K_grid), folds=c.cv_folds, restarts=c.test_restarts,
                               iterations=c.test_iterations, seed=config.seed)


def heldout_sites(n_sites: int, train_sites: int) -> tuple[np.ndarray, np.ndarray]:
    """The study trained its mixture on the first 100 of its 120 vectors and held out the
    rest; a smaller campaign keeps about a sixth of its worksites (at least two) held out."""
    n_train = min(train_sites, n_sites - max(2, round(n_sites / 6)))
    return np.arange(n_train), np.arange(n_train, n_sites)


def _clustering(campaign: Campaign, config: Config, published_vectors: np.ndarray,
                headline_draws: dict, fitted):
    """The study's mixture replicated on its own vectors (σ and K chosen again on them, as
    the study proposed), and the calibrated test of clusters of the headline model's
    slopes (:mod:`organizing.clustering.heldout_test`) on ``fitted``, the rows the headline
    model was fitted to."""
    from organizing import clustering
    from organizing.clustering.deconvolution import component_means, responsibilities
    from organizing.clustering.heldout_test import (
        chosen_covariance,
        cluster_test,
        fit,
        headline_likelihoods,
    )
    from organizing.clustering.summaries import withhold_small_clusters
    from organizing.results.sections import (
        ClusteringResults,
        ClusteringRun,
        ClusterTestResult,
    )

    settings = config.section("clustering")
    train, held = heldout_sites(campaign.n_sites, settings["train_sites"])
    n_train = len(train)
    burn_in = settings["burn_in"]
    common = dict(alpha0=settings["alpha0"], n_iter=settings["iterations"],
                  n_chains=settings["chains"], seed=config.seed)

    # The replication: one guide draw of the published refit, with the study's settings.
    study = clustering.gibbs_mixture(published_vectors[:n_train], K=settings["K"],
                                     sigma=settings["sigma"], eta=settings["eta"], **common)
    held_out = published_vectors[n_train:]
    study_lpd = clustering.heldout_log_predictive(study, held_out, burn_in=burn_in).total
    study_score = clustering.study_heldout_log_likelihood(study, held_out).total
    sigmas = clustering.sigma_grid(
        published_vectors[:n_train],
        n_above=settings["sigma_grid_points"] - len(clustering.STUDY_SIGMA_SWEEP))
    table = clustering.select_mixture(published_vectors[:n_train], published_vectors[n_train:],
                                      sigmas=sigmas, Ks=settings["K_grid"], burn_in=burn_in,
                                      eta=settings["eta"], **common)
    verdict = clustering.cluster_verdict(table)
    chosen = verdict.table.set_index("K").loc[verdict.K]
    runs = {"published": ClusteringRun(
        vectors="published", selection=table.drop(columns="heldout_lpd_pointwise"),
        comparison=verdict.table, verdict=verdict.verdict, K=verdict.K, sigma=verdict.sigma,
        eta=settings["eta"], heldout_lpd=float(chosen["heldout_lpd"]),
        samples=clustering.gibbs_mixture(published_vectors, K=verdict.K, sigma=verdict.sigma,
                                         eta=settings["eta"], **common))}

    # The headline model's slopes: the calibrated test on each store's likelihood for its
    # slopes, then the chosen mixture fitted to every store, for the displays.
    likelihoods = headline_likelihoods(fitted, headline_draws)
    test_settings = cluster_test_settings(config)
    test = cluster_test(likelihoods, train, held, test_settings)
    mixture = fit(likelihoods, test.chosen_K, chosen_covariance(test), test_settings)
    probabilities = responsibilities(likelihoods, mixture)
    modal = probabilities.argmax(axis=1)
    descriptors = campaign.site_descriptors
    return ClusteringResults(
        study_samples=study,
        study_heldout_lpd=float(study_lpd),
        study_flawed_score=float(study_score),
        runs=runs,
        assignment_probabilities=probabilities,
        coassignment=probabilities @ probabilities.T,
        features_by_cluster=withhold_small_clusters(clustering.features_by_cluster(
            descriptors.to_numpy(dtype=float), probabilities,
            feature_names=list(descriptors)), config.disclosure.min_count),
        cluster_means=component_means(likelihoods, mixture,
                                      feature_names=list(fitted.worker_features)),
        sklearn_ari=(clustering.sklearn_crosscheck(likelihoods.expansion, modal,
                                                   test.chosen_K, seed=config.seed)
                     if test.chosen_K > 1 else float("nan")),
        slope_vectors=likelihoods.expansion,
        train_sites=n_train,
        test=ClusterTestResult(**test.__dict__),
    )


def _planning(config: Config, headline_draws: dict, design, campaign: Campaign):
    """Power, detectable effects and design options for randomized trials at stores like
    the campaign's, and the protocol appendix's rehearsal trial (:mod:`organizing.planning`).
    """
    from organizing import planning
    from organizing.models.logits import logits, sigmoid
    from organizing.planning.rehearsal import rehearse
    from organizing.results.sections import Planning

    settings = config.section("planning")
    draws = _thin(headline_draws, PREDICTION_DRAWS)
    # new worksites like all the campaign's (features only: no outcome is used), each
    # with its own number of workers
    population = planning.population_from_draws(
        draws["alpha"], draws["site_scale"], draws["beta_group"], draws["beta_individual_mean"],
        draws["beta_individual_scale"], design.site_x, design.worker_x, design.site_index,
        seed=config.seed)
    alpha, target_power, seed, sims = 0.05, 0.8, config.seed, settings["sims"]
    common = dict(alpha=alpha, sims=sims, seed=seed)
    grid, option_sites = list(settings["sites_grid"]), list(settings["option_sites"])
    curves = planning.power_curve(population, grid, [0.0, *settings["effects"]], **common)
    # the plain designs over the grid, and every option at the compared sizes: one
    # search per experiment (options that only change the analysis share its counts)
    both = sorted({*grid, *option_sites})
    cases = [("worksite", planning.Options(match=m, adjust=a), both if m == "none" and not a
              else option_sites)
             for m, a in (("none", False), ("size", False), ("rate", False), ("none", True),
                          ("rate", True))]
    cases.append(("worksite", planning.Options(effect_sd=settings["effect_sd"]), option_sites))
    cases += [("worker", planning.Options(contamination=c), both if c == 0 else option_sites)
              for c in (0.0, *settings["contamination"])]
    found = planning.mde_grid(population, cases, grid, target_power=target_power, **common)
    plain = (found["match"] == "none") & ~found["adjust"] & (found["contamination"] == 0) & (
        found["effect_sd"] == 0)
    mde = found[plain & found["n_sites"].isin(grid)].reset_index(drop=True)
    options = found[found["n_sites"].isin(option_sites)].reset_index(drop=True)
    equal = planning.mde_grid(population, [(name, planning.Options())
                                           for name in planning.DESIGNS], option_sites,
                              workers_per_site=int(np.median(population.site_sizes)),
                              target_power=target_power, **common)
    # each campaign store's own forecast: the posterior mean of its workers' probabilities
    probabilities = sigmoid(logits("headline", _thin(headline_draws, 200), design.site_x,
                                   design.worker_x, design.site_index)).mean(axis=0)
    sizes = np.bincount(design.site_index, minlength=design.site_x.shape[0])
    staffed = sizes > 0  # the templates: worksites with workers in the file
    store_forecasts = (np.bincount(design.site_index, weights=probabilities,
                                   minlength=sizes.size)[staffed] / sizes[staffed])
    signed = np.bincount(campaign.site_index, weights=campaign.signed, minlength=sizes.size)
    store_rates, sizes = signed[staffed] / sizes[staffed], sizes[staffed]
    trial = settings["rehearsal"]
    n_trial = min(trial["sites"], 2 * (sizes.size // 2))  # a small campaign: all its stores
    planned = planning.power(population, "worksite", n_trial, sizes.tolist(),
                             effect=trial["effect"], options=planning.Options(match="rate"),
                             **common)
    rehearsal = rehearse(sizes, store_forecasts, n_stores=n_trial,
                         effect=trial["effect"], seed=trial["seed"],
                         planned_power=planned.power,
                         hypothesis="the tactic raises the share of workers who sign a card",
                         warmup=trial["warmup"], samples=trial["samples"])
    summary = planning.size_summary(population)

    def interval(value):
        return {"mean": value.mean, "q5": value.lower, "q95": value.upper}

    return Planning(
        power_curves=curves, mde=mde[["design", "n_sites", "mde", "mc_se"]], options=options,
        mde_equal_sizes=equal[["design", "n_sites", "mde", "mc_se"]],
        icc=interval(planning.observed_icc(population)),
        latent_icc=interval(planning.latent_icc(population)),
        design_effect=interval(planning.design_effect(population)),
        sizes={"mean": summary.mean, "median": summary.median, "cv": summary.cv,
               "smallest": float(summary.smallest), "largest": float(summary.largest)},
        baseline_rate=planning.baseline_rate(population),
        baseline_rate_workers=planning.baseline_rate(population, weighted=True),
        campaign_rate=float(np.mean(campaign.signed)),
        campaign_store_rate=float(np.mean(store_rates)),
        sims=sims, alpha=alpha, target_power=target_power, option_sites=tuple(option_sites),
        baseline_logit=population.baseline_logit, site_sd=population.site_sd,
        worker_sd=population.worker_sd, site_offsets=population.site_offsets,
        worker_offsets=population.worker_offsets, site_sizes=np.asarray(population.site_sizes),
        store_ids=np.asarray([str(i) for i in campaign.site_ids[staffed]]),
        store_forecasts=store_forecasts, rehearsal=rehearsal,
    )


# ----------------------------------------------------------------------- sensitivity


@dataclass(frozen=True)
class VariantFit:
    """A sensitivity variant's NUTS fit: its draws, the design it was fitted on, its priors
    (as the claims' reference needs them) and its run record."""

    draws: dict
    design: object
    priors: object
    run: object


def _sensitivity_fits(campaign: Campaign, config: Config, train: np.ndarray,
                      progress: bool) -> dict[str, VariantFit]:
    """The headline model refitted for each sensitivity analysis
    (:data:`organizing.sensitivity.VARIANTS`), with the main NUTS settings."""
    from organizing.claims import Priors
    from organizing.features import headline_design, sensitivity_design, size_moderator
    from organizing.inference.diagnostics import diagnose
    from organizing.inference.nuts import run_nuts
    from organizing.models.logits import complete_draws
    from organizing.models.priors import HEADLINE_PRIORS
    from organizing.results.sections import SensitivityRun
    from organizing.sensitivity import VARIANTS

    settings = config.nuts
    rows_of = {False: np.asarray(train), True: np.arange(campaign.n_workers)}
    fits = {}
    for key, variant in VARIANTS.items():
        design = (headline_design(campaign) if variant.design == "headline"
                  else sensitivity_design(campaign, variant.design))
        rows = rows_of[variant.all_workers]
        fitted = design.subset(rows)
        priors = HEADLINE_PRIORS.scaled(variant.prior_factor)
        result = run_nuts("headline", fitted.site_x, fitted.worker_x, fitted.site_index,
                          fitted.signed, chains=settings.chains, warmup=settings.warmup,
                          samples=settings.samples, target_accept=settings.target_accept,
                          seed=config.seed, progress=progress,
                          moderator=size_moderator(campaign) if variant.size_interaction
                          else None,
                          priors=priors if variant.prior_factor != 1.0 else None,
                          label=f"NUTS headline, sensitivity analysis: {key}")
        draws = complete_draws("headline", result.pooled_draws())
        run = SensitivityRun(
            variant=key, n_workers=len(rows), worker_features=design.worker_features,
            site_features=design.site_features,
            coefficients=coefficient_tables(draws, design.worker_features, design.site_features),
            diagnostics=Diagnostics(**diagnose(result).as_dict()),
            seconds=float(result.seconds))
        fits[key] = VariantFit(draws=draws, design=fitted,
                               priors=Priors.of(HEADLINE_MODEL, priors), run=run)
    return fits


def _sensitivity_section(campaign: Campaign, fits: dict[str, VariantFit], headline: Posterior,
                         headline_claims: pd.DataFrame, seed: int):
    """Each variant's verdicts and coefficients against the headline fit's
    (:mod:`organizing.sensitivity`)."""
    from organizing import sensitivity
    from organizing.claims import evaluate_claims
    from organizing.features import (
        CENTRALITY,
        OUTSIDE_NETWORK_CUT,
        build_design,
        outside_network,
    )
    from organizing.results.sections import Sensitivity

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
    return Sensitivity(
        runs={key: fit.run for key, fit in fits.items()},
        verdicts=sensitivity.compare_verdicts(headline_claims, claims),
        coefficients=sensitivity.moved_coefficients(
            headline.coefficients, {k: f.run.coefficients for k, f in fits.items()}),
        outside_cut=OUTSIDE_NETWORK_CUT,
        share_outside=float(outside.mean()),
        signing_outside=float(campaign.signed[outside].mean()) if outside.any() else np.nan,
        signing_inside=float(campaign.signed[~outside].mean()) if (~outside).any() else np.nan,
    )


# ----------------------------------------------------------------------- error rates


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


def _error_rates(campaign: Campaign, config: Config, design, train: np.ndarray,
                 headline_draws: dict, headline_claims: pd.DataFrame, progress: bool):
    """The verdicts' error rates (:mod:`organizing.error_rates`), from their own cache
    entry when the data, their settings and the code they run are unchanged."""
    from organizing.results.sections import ErrorRates

    folder = cache.cache_dir() / "error_rates" / error_rates_key(campaign, config)
    found = cache.cached(folder, ErrorRates)
    if found is not None:
        return found
    from organizing import error_rates
    from organizing.claims import SUPPORT_THRESHOLD
    from organizing.features import size_moderator

    settings = config.error_rates
    train_sites, held = heldout_sites(campaign.n_sites, config.clustering.train_sites)
    fitter = error_rates.Fitter(
        design=design, train=np.asarray(train), moderator=size_moderator(campaign),
        chains=settings.chains, warmup=settings.warmup, samples=settings.samples,
        test_settings=cluster_test_settings(config), train_sites=train_sites,
        heldout_sites=held, seed=config.seed)
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


# ----------------------------------------------------------------------------- load


class NotComputed(LookupError):
    """The results asked for are not in the cache, and computing them was not asked for."""


def load(
    config_path: str | os.PathLike | None = None,
    *,
    profile: str | None = None,
    data_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
    compute: bool = False,
    missing_ok: bool = False,
) -> Results | None:
    """Cached results for the current data, configuration and code.

    Reading never computes unasked: when the entry is missing, :class:`NotComputed`
    names the profiles that are cached for this campaign and code, and the
    command that computes the missing one; with ``compute`` (``organizing
    run``) the results are computed and cached instead. With ``missing_ok``, a
    missing entry returns None once the campaign, the settings and the cache
    folder have been checked (so that a computation never starts on data or in a
    folder it cannot finish with).
    """
    config = load_config(config_path, profile)
    campaign = load_campaign(data_dir)
    if not compute:
        folder = cache.entry_path(cache.cache_key(campaign.checksums, config))
        if missing_ok and not folder.exists():
            assert_analysable(campaign, config)
            cache.check_writable(folder.parent)
            return None
        results = cache.cached(folder)
        if results is None:
            raise NotComputed(_not_computed(campaign, config, config_path, data_dir))
        return results
    return load_for(campaign, config, progress=progress)


def _not_computed(campaign: Campaign, config: Config, config_path, data_dir) -> str:
    """Which profiles are cached for this campaign, settings file and code; what to run."""
    from organizing.config import PROFILES

    present = [p for p in PROFILES if cache.entry_path(
        cache.cache_key(campaign.checksums, load_config(config_path, p))).exists()]
    options = f" --profile {config.profile}"
    options += f" --config {config_path}" if config_path else ""
    options += f" --data {data_dir}" if data_dir else ""
    cached = (f"cached for this campaign and code: profile {', '.join(map(repr, present))}"
              if present else "nothing is cached for this campaign and code yet")
    return (f"the results of profile {config.profile!r} have not been computed ({cached}); "
            f"`organizing run{options}` computes them")


def load_for(campaign: Campaign, config: Config, *, progress: bool | None = None) -> Results:
    """:func:`load` for a campaign and configuration already in hand.

    The same analysability checks as ``organizing validate`` run first, and the
    cache folder is checked for write access, so a run never fails after fitting.
    """
    key = cache.cache_key(campaign.checksums, config)
    folder = cache.entry_path(key)
    results = cache.cached(folder)
    if results is not None:
        return results
    assert_analysable(campaign, config)
    cache.check_writable(folder.parent)
    with cache.locked(folder):
        results = cache.cached(folder)  # another run may have finished meanwhile
        if results is None:
            results = run(campaign, config, cache_key=key,
                          progress=sys.stderr.isatty() if progress is None else progress)
            cache.write_entry(results, folder)
    return results
