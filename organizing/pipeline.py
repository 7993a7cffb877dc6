"""The pipeline's stages: data → features → fits → evaluation → NUTS → clustering → audit.

:func:`run` computes every result of the book from validated data and one
configuration and returns a :class:`~organizing.results.Results`. It is the
only place that fits models; :func:`organizing.results.load` calls it when the
cache holds nothing for the current data, configuration and package version.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from organizing import __version__, audit, clustering, evaluation
from organizing.config import Config
from organizing.data import ONE_HOT_GROUPS, Campaign
from organizing.features import Design, build_design, study_split, worksite_folds
from organizing.inference import fit_svi, guide_draw, posterior_draws, run_nuts, summarize_draws
from organizing.models.pyro_models import logits_from_draws
from organizing.results import FitSummary, Results, cache_key

# Fits on the study's split: name -> (model, guide, drop one-hot reference levels)
FITS: dict[str, tuple[str, str, bool]] = {
    "corrected": ("corrected", "normal", False),
    "corrected_lowrank": ("corrected", "lowrank", False),
    "extended": ("extended", "normal", True),
    "published": ("published", "normal", False),
}
SCALE_SITES = ("beta_individual_scale", "beta_group_scale")


def _say(progress: bool, text: str) -> None:
    if progress:
        print(f"· {text}", file=sys.stderr, flush=True)


def describe_data(campaign: Campaign, design: Design) -> dict:
    """Counts, per-worksite figures and feature summaries (no worker rows)."""
    n_sites = campaign.n_sites
    workers = np.bincount(campaign.site_index, minlength=n_sites)
    signed = np.bincount(campaign.site_index, campaign.signed, n_sites)
    sites = campaign.site_descriptors.copy()
    sites.insert(0, "workers in file", workers)
    sites.insert(1, "signing rate", signed / workers)
    summary = pd.DataFrame(
        {
            "feature": list(campaign.worker_features) + list(campaign.site_features),
            "level": ["worker"] * len(campaign.worker_features)
            + ["worksite"] * len(campaign.site_features),
        }
    )
    per_feature = [campaign.worker_x[:, j] for j in range(campaign.worker_x.shape[1])] + [
        campaign.site_x[:, q] for q in range(campaign.site_x.shape[1])
    ]
    for stat, fn in (
        ("mean", np.mean), ("sd", np.std), ("min", np.min),
        ("median", np.median), ("max", np.max),
    ):
        summary[stat] = [float(fn(v)) for v in per_feature]
    histograms = {}
    for j, name in enumerate(campaign.worker_features):
        values = campaign.worker_x[:, j]
        if name.startswith("Time To First"):
            continue
        counts, edges = np.histogram(values, bins=40)
        histograms[name] = {"counts": counts, "edges": edges}
    is_male = campaign.worker_x[:, campaign.worker_features.index("Is Male")]
    centrality = campaign.worker_x[:, campaign.worker_features.index("Log(Eigen. Centrality)")]
    quartiles = [campaign.worker_features.index(c) for c in ONE_HOT_GROUPS[
        "Time to first conversation"]]
    return {
        "n_workers": campaign.n_workers,
        "n_sites": n_sites,
        "signing_rate": round(float(campaign.signed.mean()), 4),
        "n_signed": int(campaign.signed.sum()),
        "unknown_gender": int(np.sum(is_male == 0.5)),
        "log_centrality_min": float(centrality.min()),
        "share_log_centrality_below_minus_50": float(np.mean(centrality < -50)),
        "quartile_shares": campaign.worker_x[:, quartiles].mean(axis=0),
        "sites": sites,
        "feature_summary": summary,
        "histograms": histograms,
        "checksums": campaign.checksums,
        "worker_features": design.worker_features,
        "site_features": design.site_features,
    }


def coefficient_tables(draws: dict, design: Design) -> dict[str, pd.DataFrame]:
    """Worksite-level and worker-level coefficient summaries with feature names.

    ``worksite``: α, the 18 β's and the scales. ``worker``: for each worker
    feature, the posterior of the average coefficient across worksites, of its
    spread (sd) across worksites, and the share of worksites where it is > 0.
    """
    shared = {k: v for k, v in draws.items() if k != "beta_individual"
              and not k.endswith("_raw")}
    table = summarize_draws(shared)
    rows = []
    for _, row in table.iterrows():
        site, index = row["site"], (row["index"] or (0,))[0]
        if site == "beta_group":
            feature = design.site_features[index]
        elif site in ("beta_individual_mean",) or (
            site == "beta_individual_scale" and np.ndim(draws[site]) == 2
        ):
            feature = f"{site}: {design.worker_features[index]}"
        else:
            feature = site
        rows.append({"feature": feature, **{k: row[k] for k in ("mean", "sd", "q5", "q50",
                                                                  "q95")}})
    worksite = pd.DataFrame(rows)

    b = np.asarray(draws["beta_individual"])  # (D, S, P)
    across_mean, across_sd = b.mean(axis=1), b.std(axis=1)
    positive = (b.mean(axis=0) > 0).mean(axis=0)
    worker = pd.DataFrame({
        "feature": design.worker_features,
        "mean": across_mean.mean(axis=0),
        "q5": np.quantile(across_mean, 0.05, axis=0),
        "q95": np.quantile(across_mean, 0.95, axis=0),
        "spread": across_sd.mean(axis=0),
        "spread_q5": np.quantile(across_sd, 0.05, axis=0),
        "spread_q95": np.quantile(across_sd, 0.95, axis=0),
        "share_positive": positive,
    })
    return {"worksite": worksite, "worker": worker}


def _predict(model: str, draws: dict, design: Design) -> np.ndarray:
    """Posterior mean probability for each worker of ``design``."""
    site_x, worker_x, site_index, _ = design.tensors(observed=False)
    logits = logits_from_draws(model, draws, site_x, worker_x, site_index)
    return (1 / (1 + np.exp(-logits.numpy().astype(float)))).mean(axis=0)


def _published_as_learned(draws: dict, design: Design, train, test) -> np.ndarray:
    """Published-specification probabilities with the training batch's projection.

    logit_i = α + Σ_s x_s·β + b_{s(i)}·Σ_{j∈train} z_j: the per-worksite intercept
    the fit learned, applied to held-out workers without the study's sign flip.
    """
    projection = design.worker_x[train].sum(axis=0)
    alpha = np.asarray(draws["alpha_mean"]).reshape(-1, 1)
    site_term = (np.asarray(draws["beta_group"]) @ design.site_x.sum(axis=0))[:, None]
    intercepts = np.asarray(draws["beta_individual"]) @ projection  # (D, S)
    logits = alpha + site_term + intercepts[:, design.site_index[test]]
    return (1 / (1 + np.exp(-logits))).mean(axis=0)


def _draws_for_new_sites(model: str, draws: dict, sites: np.ndarray, seed: int) -> dict:
    """Replace the coefficients of unseen worksites by draws from their prior.

    For a worksite with no training workers the hierarchical model's
    prediction uses b_s ~ Normal(μ_b, τ_b) for each posterior draw of the
    hyper-parameters (μ_b = 0 in the corrected model).
    """
    rng = np.random.default_rng(seed)
    out = dict(draws)
    b = np.array(draws["beta_individual"], copy=True)
    n_draws, _, n_features = b.shape
    scale = np.asarray(draws["beta_individual_scale"]).reshape(n_draws, -1)
    mean = np.asarray(draws.get("beta_individual_mean", np.zeros((n_draws, 1))))
    mean = mean.reshape(n_draws, -1)
    noise = rng.standard_normal((n_draws, len(sites), n_features))
    b[:, sites] = mean[:, None, :] + scale[:, None, :] * noise
    out["beta_individual"] = b
    return out


def evaluate_split(fitted: dict, designs: dict, train, test, config: Config, progress: bool):
    """Held-out metrics, curves and the predictive check on the study's split."""
    rows, curves, probabilities = [], {}, {}
    for name, (model, _, drop) in FITS.items():
        design = designs[drop]
        p = _predict(model, fitted[name]["draws"], design.subset(test))
        probabilities[name] = p
    y_test = designs[False].signed[test]
    y_train = designs[False].signed[train]
    base = designs[False]
    # The published specification as it was learned: each worksite's projection on
    # the training batch's column sums (the study's code applied the held-out sums).
    probabilities["published (as learned)"] = _published_as_learned(
        fitted["published"]["draws"], base, train, test)
    pooled_x = evaluation.pooled_features(base.worker_x, base.site_x, base.site_index)
    probabilities["pooled logistic"] = evaluation.pooled_logistic(
        pooled_x[train], y_train, pooled_x[test])
    probabilities["intercept only"] = evaluation.intercept_only(y_train, len(test))
    labels = {"corrected_lowrank": "corrected (low-rank guide)",
              "published": "published (study's prediction)"}
    for name, p in probabilities.items():
        label = labels.get(name, name)
        rows.append({"model": label, **evaluation.binary_metrics(y_test, p)})
        curves[label] = {
            "roc": evaluation.roc_points(y_test, p),
            "calibration": evaluation.calibration_table(y_test, p),
        }
    # Posterior predictive check of per-worksite rates (corrected model).
    rng = np.random.default_rng(config.seed)
    draws = fitted["corrected"]["draws"]
    keep = rng.choice(len(draws["alpha_mean"]), config.section("evaluation")["ppc_draws"])
    subset = {k: np.asarray(v)[keep] for k, v in draws.items()}
    test_design = base.subset(test)
    site_x, worker_x, site_index, _ = test_design.tensors(observed=False)
    logits = logits_from_draws("corrected", subset, site_x, worker_x, site_index).numpy()
    y_rep = rng.random(logits.shape) < 1 / (1 + np.exp(-logits))
    ppc = evaluation.site_rate_check(y_rep, y_test, test_design.site_index, len(base.site_x))
    return pd.DataFrame(rows), curves, ppc


def evaluate_worksites(designs: dict, config: Config, progress: bool) -> pd.DataFrame:
    """Grouped folds: train on some worksites, predict workers at the others."""
    svi = config.section("svi")
    n_draws = config.section("posterior")["draws"]
    rows = []
    base = designs[False]
    pooled_x = evaluation.pooled_features(base.worker_x, base.site_x, base.site_index)
    folds = worksite_folds(
        base.site_index, n_folds=config.section("evaluation")["worksite_folds"], seed=config.seed
    )
    for fold, (train, test) in enumerate(folds):
        _say(progress, f"held-out worksites: fold {fold + 1}")
        unseen = np.unique(base.site_index[test])
        y_test = base.signed[test]
        for model, drop in (("corrected", False), ("extended", True)):
            design = designs[drop]
            fit = fit_svi(model, design.subset(train).tensors(), seed=config.seed,
                          progress=progress, **svi)
            draws = posterior_draws(fit, design.subset(train).tensors(), n_draws, config.seed)
            draws = _draws_for_new_sites(model, draws, unseen, config.seed + fold)
            p = _predict(model, draws, design.subset(test))
            rows.append({"model": model, "fold": fold, **evaluation.binary_metrics(y_test, p)})
        p = evaluation.pooled_logistic(pooled_x[train], base.signed[train], pooled_x[test])
        rows.append({"model": "pooled logistic", "fold": fold,
                     **evaluation.binary_metrics(y_test, p)})
        p = evaluation.intercept_only(base.signed[train], len(test))
        rows.append({"model": "intercept only", "fold": fold,
                     **evaluation.binary_metrics(y_test, p)})
    return pd.DataFrame(rows)


def compare_scales(fitted: dict, nuts_draws: dict) -> pd.DataFrame:
    """τ_b and τ_β under the mean-field guide, the low-rank guide and NUTS."""
    rows = []
    for method, draws in (
        ("mean-field", fitted["corrected"]["draws"]),
        ("low-rank", fitted["corrected_lowrank"]["draws"]),
        ("NUTS", nuts_draws),
    ):
        for parameter in SCALE_SITES:
            values = np.asarray(draws[parameter]).reshape(-1)
            q5, q50, q95 = np.quantile(values, [0.05, 0.5, 0.95])
            rows.append({"method": method, "parameter": parameter, "mean": values.mean(),
                         "sd": values.std(), "q5": q5, "q50": q50, "q95": q95})
    return pd.DataFrame(rows)


def run_clustering(fitted: dict, designs: dict, campaign: Campaign, config: Config,
                   progress: bool) -> dict:
    """The study's mixture on the published vectors, then the corrected analysis."""
    settings = config.section("clustering")
    # The study trained on 100 of 120 vectors; a smaller campaign keeps about a sixth
    # of its worksites (at least two) for the held-out density.
    n_sites = len(campaign.site_ids)
    n_train = min(settings["train_sites"], n_sites - max(2, round(n_sites / 6)))
    common = dict(eta=settings["eta"], alpha0=settings["alpha0"], n_iter=settings["iterations"],
                  n_chains=settings["chains"], seed=config.seed)
    burn_in = settings["burn_in"]

    # 1. Replication: one guide draw of the published refit, as the study used.
    published_vectors = fitted["published"]["one_draw"]["beta_individual"]
    study = clustering.gibbs_mixture(published_vectors[:n_train], K=settings["K"],
                                     sigma=settings["sigma"], **common)
    study_heldout = clustering.heldout_log_predictive(
        study, published_vectors[n_train:], burn_in=burn_in)
    study_flawed = clustering.study_heldout_log_likelihood(study, published_vectors[n_train:])

    # 2. Selection of sigma and K on both sets of vectors.
    corrected_draws = np.asarray(fitted["corrected"]["draws"]["beta_individual"])
    corrected_vectors = corrected_draws.mean(axis=0)
    selection, tables, chosen = {}, {}, {}
    for run, vectors in (("published", published_vectors), ("corrected", corrected_vectors)):
        _say(progress, f"mixture selection on the {run} coefficient vectors")
        # The study's η = 0.1 suits its coefficients (scale ~0.006); corrected ones are
        # of order 1, so their cluster means get a prior on their own scale.
        eta = settings["eta"] if run == "published" else settings["eta_corrected"]
        run_settings = {**common, "eta": eta}
        # The grid: the study's four sigmas, then log-spaced up to the vectors' scale.
        sigmas = clustering.sigma_grid(
            vectors[:n_train],
            n_above=settings["sigma_grid_points"] - len(clustering.STUDY_SIGMA_SWEEP))
        table = clustering.select_mixture(vectors[:n_train], vectors[n_train:], sigmas=sigmas,
                                          Ks=settings["K_grid"], burn_in=burn_in,
                                          **run_settings)
        sigma, K = clustering.best_mixture(table, rule="one_se")
        row = table[(table["sigma"] == sigma) & (table["K"] == K)].iloc[0]
        tables[run] = table
        selection[run] = {"sigma": sigma, "K": K, "heldout_lpd": float(row["heldout_lpd"]),
                          "eta": eta}
        chosen[run] = clustering.gibbs_mixture(vectors, K=K, sigma=sigma, **run_settings)

    # 3. The corrected vectors' clusters, with the regression's uncertainty carried in.
    K, sigma = selection["corrected"]["K"], selection["corrected"]["sigma"]
    rng = np.random.default_rng(config.seed)
    picks = rng.choice(len(corrected_draws), settings["coefficient_draws"], replace=False)
    over_draws = clustering.mixture_over_draws(corrected_draws[picks], K=K, sigma=sigma,
                                               burn_in=burn_in,
                                               **{**common, "eta": settings["eta_corrected"]})
    final = chosen["corrected"]
    probabilities = clustering.assignment_probabilities(final, burn_in)
    modal = clustering.modal_assignments(final, burn_in)
    descriptors = campaign.site_descriptors
    by_cluster = clustering.features_by_cluster(
        descriptors.to_numpy(dtype=float), probabilities, feature_names=list(descriptors))
    means = clustering.cluster_mean_summary(
        final.mu[:, burn_in:].reshape(-1, *final.mu.shape[2:]),
        feature_names=list(designs[False].worker_features))
    ari = clustering.sklearn_crosscheck(corrected_vectors, modal, K, seed=config.seed)

    # 4. The larger-worksites claim: coefficient vs size, across posterior draws. The
    # corrected model shrinks every worksite toward zero, and small worksites most, which
    # alone would correlate a positive coefficient with size; the extended model shrinks
    # toward a population mean instead, so its draws are used. Early contact is the
    # contrast earliest vs latest quartile (-b for quartile 4; quartile 1 is the reference).
    size = np.log(descriptors["No. workers discovered"].to_numpy(dtype=float))
    extended = np.asarray(fitted["extended"]["draws"]["beta_individual"])
    features = designs[True].worker_features
    association = {}
    for key, feature, sign in (("notes", "No. Notes", 1.0),
                               ("early_contact", "Time To First Convo (Quart. 4)", -1.0)):
        draws = sign * extended[:, :, features.index(feature)]
        association[key] = clustering.coefficient_size_association(draws, size).correlation
    return {
        "study": {"samples": study, "heldout": study_heldout, "flawed": study_flawed},
        "selection": selection,
        "tables": tables,
        "chosen": chosen,
        "over_draws": over_draws,
        "assignment_probabilities": probabilities,
        "modal": modal,
        "features_by_cluster": by_cluster,
        "cluster_means": means,
        "sklearn_ari": ari,
        "association": association,
    }


def run(campaign: Campaign, config: Config, *, progress: bool = True) -> Results:
    """Compute every result of the book from validated data and one configuration."""
    started = time.perf_counter()
    timings = {}
    designs = {drop: build_design(campaign, drop_reference=drop) for drop in (False, True)}
    split = config.section("split")
    train, test = study_split(campaign.n_workers, test_size=split["test_size"],
                              seed=split["random_state"])
    svi = config.section("svi")
    n_draws = config.section("posterior")["draws"]

    fitted = {}
    for name, (model, guide, drop) in FITS.items():
        _say(progress, f"SVI: {name}")
        args = designs[drop].subset(train).tensors()
        fit = fit_svi(model, args, guide=guide, seed=config.seed, progress=progress, **svi)
        draws = posterior_draws(fit, args, n_draws, config.seed)
        fitted[name] = {"fit": fit, "draws": draws}
        if name == "published":
            fitted[name]["one_draw"] = guide_draw(fit, args, config.seed)
    timings["svi"] = time.perf_counter() - started

    _say(progress, "held-out evaluation on the study's split")
    metrics, curves, ppc = evaluate_split(fitted, designs, train, test, config, progress)
    folds = evaluate_worksites(designs, config, progress)
    timings["evaluation"] = time.perf_counter() - started - sum(timings.values())

    _say(progress, "NUTS reference posterior")
    nuts_settings = config.section("nuts")
    nuts_fit = run_nuts("corrected", designs[False].subset(train).tensors(),
                        num_chains=nuts_settings["chains"], num_warmup=nuts_settings["warmup"],
                        num_samples=nuts_settings["samples"], seed=config.seed,
                        progress=progress)
    nuts_draws = nuts_fit.pooled_draws()
    nuts = {
        "diagnostics": nuts_fit.diagnostics(),
        "max_r_hat": nuts_fit.max_r_hat,
        "min_ess": nuts_fit.min_ess,
        "divergences": int(np.sum(nuts_fit.divergences)),
        "draws": int(len(nuts_draws["alpha_mean"])),
        "chains": nuts_settings["chains"],
        "seconds": float(nuts_fit.seconds),
        "seconds_per_iteration": nuts_fit.seconds_per_iteration,
        "accept_prob": nuts_fit.accept_prob,
        "step_size": nuts_fit.step_size,
        "coefficients": coefficient_tables(nuts_draws, designs[False]),
    }
    timings["nuts"] = time.perf_counter() - started - sum(timings.values())

    _say(progress, "clustering")
    clusters = run_clustering(fitted, designs, campaign, config, progress)
    timings["clustering"] = time.perf_counter() - started - sum(timings.values())

    base = designs[False]
    published_audit = audit.audit_published(
        base.site_x, base.worker_x[train], base.worker_x[test], fitted["published"]["draws"])
    coefficients = {name: coefficient_tables(f["draws"], designs[FITS[name][2]])
                    for name, f in fitted.items()}
    spread = audit.logit_term_spread(nuts_draws, base.site_x, base.worker_x[train],
                                     base.site_index[train])
    claims = audit.claims_table(nuts["coefficients"]["worksite"], spread,
                                clusters["association"])
    one_draw = fitted["published"]["one_draw"]
    published_one_draw = pd.DataFrame({
        "feature": list(base.site_features),
        "one draw": one_draw["beta_group"],
        "posterior mean": np.asarray(fitted["published"]["draws"]["beta_group"]).mean(axis=0),
    })
    timings["total"] = time.perf_counter() - started
    return Results(
        meta={"profile": config.profile, "config": config.values, "package_version": __version__,
              "cache_key": cache_key(campaign.checksums, config), "n_train": len(train),
              "n_test": len(test)},
        data=describe_data(campaign, base),
        fits={name: FitSummary.of(f["fit"]) for name, f in fitted.items()},
        coefficients=coefficients,
        published_one_draw=published_one_draw,
        metrics=metrics,
        curves=curves,
        ppc=ppc,
        folds=folds,
        scales=compare_scales(fitted, nuts_draws),
        nuts=nuts,
        audit=published_audit,
        claims=claims,
        clustering=clusters,
        timings=timings,
    )
