"""The clustering stage: the study's mixture replicated on its own vectors, and the
calibrated test of clusters of the headline model's slopes."""

from __future__ import annotations

import numpy as np

from organizing.config import Config
from organizing.data import Campaign
from organizing.pipeline.context import Context
from organizing.results.sections import ClusteringResults, ClusteringRun


def cluster_worksites(ctx: Context) -> ClusteringResults:
    """:func:`cluster` on the published refit's single guide draw and the headline
    model's posterior on its training workers."""
    return cluster(ctx.campaign, ctx.config, ctx.svi.one_draw["beta_individual"],
                   ctx.headline_draws, ctx.designs.headline.subset(ctx.train))


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


def cluster(campaign: Campaign, config: Config, published_vectors: np.ndarray,
            headline_draws: dict, fitted):
    """The study's mixture replicated on its own vectors (σ and K chosen again on them, as
    the study proposed), and the calibrated test of clusters of the headline model's
    slopes (:mod:`organizing.clustering.heldout_test`) on ``fitted``, the rows the headline
    model was fitted to."""
    from organizing import clustering
    from organizing.clustering.deconvolution import component_means, responsibilities
    from organizing.clustering.heldout_test import (
        cluster_test,
        fit,
        headline_likelihoods,
    )
    from organizing.clustering.summaries import withhold_small_clusters

    settings = config.clustering
    train, held = heldout_sites(campaign.n_sites, settings.train_sites)
    n_train = len(train)
    burn_in = settings.burn_in
    common = dict(alpha0=settings.alpha0, n_iter=settings.iterations,
                  n_chains=settings.chains, seed=config.seed)

    # The replication: one guide draw of the published refit, with the study's settings.
    study = clustering.gibbs_mixture(published_vectors[:n_train], K=settings.K,
                                     sigma=settings.sigma, eta=settings.eta, **common)
    held_out = published_vectors[n_train:]
    study_lpd = clustering.heldout_log_predictive(study, held_out, burn_in=burn_in).total
    study_score = clustering.study_heldout_log_likelihood(study, held_out).total
    sigmas = clustering.sigma_grid(
        published_vectors[:n_train],
        n_above=settings.sigma_grid_points - len(clustering.STUDY_SIGMA_SWEEP))
    table = clustering.select_mixture(published_vectors[:n_train], published_vectors[n_train:],
                                      sigmas=sigmas, Ks=list(settings.K_grid),
                                      burn_in=burn_in,
                                      eta=settings.eta, **common)
    verdict = clustering.cluster_verdict(table)
    chosen = verdict.table.set_index("K").loc[verdict.K]
    runs = {"published": ClusteringRun(
        vectors="published", selection=table.drop(columns="heldout_lpd_pointwise"),
        comparison=verdict.table, verdict=verdict.verdict, K=verdict.K, sigma=verdict.sigma,
        eta=settings.eta, heldout_lpd=float(chosen["heldout_lpd"]),
        samples=clustering.gibbs_mixture(published_vectors, K=verdict.K, sigma=verdict.sigma,
                                         eta=settings.eta, **common))}

    # The headline model's slopes: the calibrated test on each store's likelihood for its
    # slopes, then the chosen mixture fitted to every store, for the displays.
    likelihoods = headline_likelihoods(fitted, headline_draws)
    test_settings = cluster_test_settings(config)
    test = cluster_test(likelihoods, train, held, test_settings)
    mixture = fit(likelihoods, test.chosen_K, test.covariance, test_settings)
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
        test=test,
    )


