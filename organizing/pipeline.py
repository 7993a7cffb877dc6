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
from dataclasses import replace

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
                 "beta_individual_scale"):
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


def claims_for(model: ModelId, draws: dict, design, size: np.ndarray, *,
               variance: pd.DataFrame | None = None, metrics: pd.DataFrame | None = None,
               clustering=None) -> pd.DataFrame:
    """The verdict on each of the study's claims under one model's posterior draws.

    ``model``: the model the draws come from (its name fills the ``model`` column).
    ``draws``: posterior draws as NUTS returns them (``beta_group`` (D, Q),
    ``beta_individual`` (D, S, P), ...). ``design``: the model's design restricted to
    the workers it was fitted on (``designs[key].subset(train)``). ``size``: log of
    workers discovered per worksite, (S,). ``variance``: this model's rows of
    :func:`organizing.audit.variance_decomposition`, computed from ``design`` when
    omitted. ``metrics``: the held-out metrics table (for the model-fit claim) and
    ``clustering``: the clustering run whose verdict tests the two-cluster claim;
    each claim that needs one of them is marked "not evaluated" when it is omitted, as
    is a claim whose measure is not in the design or does not vary in it.
    Returns one row per claim of :data:`organizing.claims.REGISTER`, with the columns
    of :func:`organizing.claims.evaluate_claims` (model, id, claim, source, quote, kind,
    measures, direction, quantity, mean, q5, q95, prob_claimed, verdict, reason).
    """
    from organizing import audit, claims

    if variance is None:
        variance = audit.design_variance_decomposition(model, draws, design)
    return claims.evaluate_claims(model, draws, design, size, variance=variance,
                                  metrics=metrics, clustering=clustering)


# ------------------------------------------------------------------------------ run


def run(campaign: Campaign, config: Config, *, cache_key: str = "",
        progress: bool = False) -> Results:
    """Compute every result of the book from validated data and one configuration."""
    from organizing import audit, evaluation
    from organizing.features import (
        build_design,
        study_split,
        within_between,
        worksite_folds,
    )
    from organizing.inference.diagnostics import diagnose, psis_loo
    from organizing.inference.nuts import run_nuts
    from organizing.inference.svi import fit_svi, guide_draw, posterior_draws
    from organizing.models.logits import complete_draws, logits, sigmoid
    from organizing.models.numpyro_models import prior_predictive_rates

    enable_compilation_cache()
    stages = Stages(progress)
    seed = config.seed
    full, reduced = (build_design(campaign, drop_reference=drop) for drop in (False, True))
    # every model's design by the key NUTS_SPECS names (features.py explains each)
    designs = {"full": full, "reduced": reduced, "headline": within_between(reduced)}
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
            loglik = result.log_likelihood(design.site_x, design.worker_x[train],
                                           design.site_index[train], design.signed[train])
            diagnostics = diagnose(result)
            loo = psis_loo(loglik)
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
        rows, curves = [], {}
        for model, p in probabilities.items():
            rows.append({"model": model.value, **evaluation.binary_metrics(y_test, p)})
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
    evaluation_section = Evaluation(metrics=metrics, curves=curves,
                                    folds=pd.DataFrame(fold_rows), ppc=ppc,
                                    fit_seconds=fit_seconds)

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

    # 5. The audit of the published specification and the verdicts on the study's claims.
    with stages.stage("audit"):
        published_audit = audit.audit_published(full.site_x, full.worker_x[train],
                                                full.worker_x[test], published, one_draw,
                                                full.site_features)
        variance = pd.concat([
            audit.design_variance_decomposition(model, nuts_draws[model],
                                                designs[key].subset(train))
            for model, (_, key) in NUTS_SPECS.items()], ignore_index=True)
        size = np.log(campaign.site_descriptors["No. workers discovered"].to_numpy(dtype=float))
        by_model = pd.concat([
            claims_for(model, nuts_draws[model], designs[NUTS_SPECS[model][1]].subset(train),
                       size, variance=variance[variance["model"] == model.value],
                       metrics=evaluation_section.metrics)
            for model in NUTS_MODELS], ignore_index=True)
        claims = _claims_section(by_model, nuts_draws[HEADLINE_MODEL], headline_design,
                                 campaign)

    # 6. The study's mixture, and a planner for randomized experiments.
    with stages.stage("clustering"):
        clustering = _clustering(campaign, config, one_draw["beta_individual"],
                                 nuts_draws[HEADLINE_MODEL], reduced, progress)
        # The two-cluster claim is judged on the headline run's paired verdict.
        claims = _claims_section(claims.by_model, nuts_draws[HEADLINE_MODEL],
                                 headline_design, campaign, clustering.runs["headline"])

    # 6b. Sensitivity analyses: the headline model refitted three ways, against the headline
    # model's final verdicts (the clustering claim included).
    with stages.stage("sensitivity analyses"):
        sensitivity = _sensitivity(campaign, config, train, size, posteriors[HEADLINE_MODEL],
                                   claims.table, progress)
    with stages.stage("planning"):
        workers_per_site = int(np.median(np.bincount(campaign.site_index)))
        planning = _planning(config, nuts_draws[HEADLINE_MODEL], headline_design, train,
                             workers_per_site)

    stages.timings["total"] = sum(stages.timings.values())
    return Results(
        meta=Meta(profile=config.profile, package_version=__version__, cache_key=cache_key,
                  config=config.values, n_train=len(train), n_test=len(test),
                  timings=stages.timings),
        data=describe_data(campaign, reduced, config.section("disclosure")["min_count"]),
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
    )


def _claims_section(by_model: pd.DataFrame, headline_draws: dict, design,
                    campaign: Campaign, clustering_run=None) -> Claims:
    """The claims of every NUTS model, the headline model's rows, and its effects in
    percentage points at the campaign's signing rate (:mod:`organizing.claims`). With
    ``clustering_run``, the headline model's two-cluster claim takes its verdict."""
    from organizing import claims as claims_mod
    from organizing.features import is_composition

    if clustering_run is not None:
        by_model = claims_mod.with_clustering(by_model, clustering_run, HEADLINE_MODEL)
    p0 = float(np.mean(campaign.signed))
    steps = {**claims_mod.feature_steps(campaign.worker_x, campaign.worker_features),
             **claims_mod.feature_steps(campaign.site_x, campaign.site_features)}
    # a worksite mean of a worker feature is standardized over worksites: +1 SD is 1 unit
    steps.update({name: (1.0, "+1 SD") for name in design.site_features
                  if is_composition(name)})
    return Claims(table=by_model[by_model["model"] == HEADLINE_MODEL.value]
                  .reset_index(drop=True), by_model=by_model,
                  effects=claims_mod.percentage_point_effects(headline_draws, design, p0, steps),
                  signing_rate=p0)


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


def _clustering(campaign: Campaign, config: Config, published_vectors: np.ndarray,
                headline_draws: dict, reduced, progress: bool):
    """The study's mixture replicated, then σ and K chosen by a paired held-out comparison.

    The study trained on the first 100 of its 120 vectors and held out the rest; a
    smaller campaign keeps about a sixth of its worksites (at least two) held out.
    """
    from organizing import clustering
    from organizing.results.sections import ClusteringResults, ClusteringRun

    settings = config.section("clustering")
    n_sites = campaign.n_sites
    n_train = min(settings["train_sites"], n_sites - max(2, round(n_sites / 6)))
    burn_in = settings["burn_in"]
    common = dict(alpha0=settings["alpha0"], n_iter=settings["iterations"],
                  n_chains=settings["chains"], seed=config.seed)

    # The replication: one guide draw of the published refit, with the study's settings.
    study = clustering.gibbs_mixture(published_vectors[:n_train], K=settings["K"],
                                     sigma=settings["sigma"], eta=settings["eta"], **common)
    held_out = published_vectors[n_train:]
    study_lpd = clustering.heldout_log_predictive(study, held_out, burn_in=burn_in).total
    study_score = clustering.study_heldout_log_likelihood(study, held_out).total

    # The study's η = 0.1 suits its coefficients (scale ~0.006); the headline model's are
    # of order 1, so their cluster means get a prior on their own scale.
    b = np.asarray(headline_draws["beta_individual"])
    runs = {}
    for name, vectors, eta in (("published", published_vectors, settings["eta"]),
                               ("headline", b.mean(axis=0), settings["eta_corrected"])):
        sigmas = clustering.sigma_grid(
            vectors[:n_train],
            n_above=settings["sigma_grid_points"] - len(clustering.STUDY_SIGMA_SWEEP))
        table = clustering.select_mixture(vectors[:n_train], vectors[n_train:], sigmas=sigmas,
                                          Ks=settings["K_grid"], burn_in=burn_in, eta=eta,
                                          **common)
        verdict = clustering.cluster_verdict(table)
        samples = clustering.gibbs_mixture(vectors, K=verdict.K, sigma=verdict.sigma, eta=eta,
                                           **common)
        chosen = verdict.table.set_index("K").loc[verdict.K]
        runs[name] = ClusteringRun(
            vectors=name, selection=table.drop(columns="heldout_lpd_pointwise"),
            comparison=verdict.table, verdict=verdict.verdict, K=verdict.K,
            sigma=verdict.sigma, eta=eta, heldout_lpd=float(chosen["heldout_lpd"]),
            samples=samples)

    # The headline run's clusters, with the regression's uncertainty carried in.
    final = runs["headline"]
    rng = np.random.default_rng(config.seed)
    picks = rng.choice(len(b), min(settings["coefficient_draws"], len(b)), replace=False)
    over = clustering.mixture_over_draws(b[picks], K=final.K, sigma=final.sigma,
                                         eta=final.eta, burn_in=burn_in, **common)
    probabilities = over.pooled_assignment_probabilities
    descriptors = campaign.site_descriptors
    modal = clustering.modal_assignments(final.samples, burn_in)
    return ClusteringResults(
        study_samples=study,
        study_heldout_lpd=float(study_lpd),
        study_flawed_score=float(study_score),
        runs=runs,
        assignment_probabilities=probabilities,
        coassignment=over.coassignment,
        features_by_cluster=clustering.features_by_cluster(
            descriptors.to_numpy(dtype=float), probabilities,
            feature_names=list(descriptors)),
        cluster_means=clustering.cluster_mean_summary(
            final.samples.mu[:, burn_in:].reshape(-1, *final.samples.mu.shape[2:]),
            feature_names=list(reduced.worker_features)),
        sklearn_ari=(clustering.sklearn_crosscheck(b.mean(axis=0), modal, final.K,
                                                   seed=config.seed)
                     if final.K > 1 else float("nan")),
        train_sites=n_train,
    )


def _planning(config: Config, headline_draws: dict, design, train, workers_per_site: int):
    from organizing import planning
    from organizing.results.sections import Planning

    settings = config.section("planning")
    draws = _thin(headline_draws, PREDICTION_DRAWS)
    # new worksites like all the campaign's (features only: no outcome is used)
    population = planning.population_from_draws(
        draws["alpha"], draws["site_scale"], draws["beta_group"], draws["beta_individual_mean"],
        draws["beta_individual_scale"], design.site_x, design.worker_x, design.site_index,
        seed=config.seed)
    alpha, target_power = 0.05, 0.8
    common = dict(alpha=alpha, sims=settings["sims"], seed=config.seed)
    curves = planning.power_curve(population, settings["sites_grid"], settings["effects"],
                                  workers_per_site, **common)
    mde_rows = []
    for design_name in planning.DESIGNS:
        for n_sites in settings["sites_grid"]:
            result = planning.minimum_detectable_effect(population, design_name, n_sites,
                                                        workers_per_site,
                                                        target_power=target_power, **common)
            mde_rows.append({"design": design_name, "n_sites": n_sites,
                             "workers_per_site": workers_per_site,
                             "mde": np.nan if result.mde is None else result.mde,
                             "mc_se": np.nan if result.mc_se is None else result.mc_se})
    icc = planning.latent_icc(population)
    effect = planning.design_effect(population, workers_per_site)
    icc_observed = planning.observed_icc(population)
    effect_observed = planning.design_effect(population, workers_per_site, scale="observed")
    return Planning(
        power_curves=curves,
        mde=pd.DataFrame(mde_rows),
        icc={"mean": icc.mean, "q5": icc.lower, "q95": icc.upper},
        design_effect={"mean": effect.mean, "q5": effect.lower, "q95": effect.upper},
        icc_observed={"mean": icc_observed.mean, "q5": icc_observed.lower,
                      "q95": icc_observed.upper},
        design_effect_observed={"mean": effect_observed.mean, "q5": effect_observed.lower,
                                "q95": effect_observed.upper},
        baseline_rate=planning.baseline_rate(population),
        workers_per_site=workers_per_site,
        sims=settings["sims"],
        alpha=alpha,
        target_power=target_power,
        baseline_logit=population.baseline_logit,
        site_sd=population.site_sd,
        worker_sd=population.worker_sd,
        site_offsets=population.site_offsets,
        worker_offsets=population.worker_offsets,
    )


# ----------------------------------------------------------------------- sensitivity

def _sensitivity(campaign: Campaign, config: Config, train: np.ndarray, size: np.ndarray,
                 headline: Posterior, headline_claims: pd.DataFrame, progress: bool):
    """The headline model refitted for each sensitivity analysis, with the same NUTS
    settings, and compared with the headline fit
    (:mod:`organizing.sensitivity`)."""
    from organizing import sensitivity
    from organizing.features import (
        CENTRALITY,
        OUTSIDE_NETWORK_CUT,
        SENSITIVITY_VARIANTS,
        build_design,
        outside_network,
        sensitivity_design,
        variant_rows,
    )
    from organizing.inference.diagnostics import diagnose
    from organizing.inference.nuts import run_nuts
    from organizing.models.logits import complete_draws
    from organizing.results.sections import Sensitivity, SensitivityRun

    settings = config.section("nuts")
    headline_features = build_design(campaign, drop_reference=True).worker_features
    runs, claims = {}, {}
    for variant in SENSITIVITY_VARIANTS:
        design = sensitivity_design(campaign, variant)
        rows = variant_rows(variant, train, campaign.n_workers)
        fitted = design.subset(rows)
        result = run_nuts("headline", fitted.site_x, fitted.worker_x, fitted.site_index,
                          fitted.signed, chains=settings["chains"], warmup=settings["warmup"],
                          samples=settings["samples"], target_accept=settings["target_accept"],
                          seed=config.seed, progress=progress,
                          label=f"NUTS headline, sensitivity analysis: {variant}")
        draws = complete_draws("headline", result.pooled_draws())
        runs[variant] = SensitivityRun(
            variant=variant, n_workers=len(rows), worker_features=design.worker_features,
            site_features=design.site_features,
            coefficients=coefficient_tables(draws, design.worker_features, design.site_features),
            diagnostics=Diagnostics(**diagnose(result).as_dict()),
            seconds=float(result.seconds))
        padded_draws, padded = sensitivity.pad_missing(draws, fitted, headline_features)
        missing = [f for f in headline_features if f not in design.worker_features]
        claims[variant] = sensitivity.mark_not_evaluated(
            claims_for(HEADLINE_MODEL, padded_draws, padded, size), missing)
    log_centrality = campaign.worker_x[:, list(campaign.worker_features).index(CENTRALITY)]
    outside = outside_network(log_centrality)
    return Sensitivity(
        runs=runs,
        verdicts=sensitivity.compare_verdicts(headline_claims, claims),
        coefficients=sensitivity.moved_coefficients(headline.coefficients,
                                        {v: r.coefficients for v, r in runs.items()}),
        outside_cut=OUTSIDE_NETWORK_CUT,
        share_outside=float(outside.mean()),
        signing_outside=float(campaign.signed[outside].mean()) if outside.any() else np.nan,
        signing_inside=float(campaign.signed[~outside].mean()) if (~outside).any() else np.nan,
    )


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
