"""The planning stage: randomized organizing experiments at stores like the campaign's."""

from __future__ import annotations

import numpy as np

from organizing.pipeline.context import PREDICTION_DRAWS, Context, thin
from organizing.results.sections import Planning


def plan_trials(ctx: Context) -> Planning:
    """Power, detectable effects and design options for randomized trials at stores like
    the campaign's, and the protocol appendix's rehearsal trial (:mod:`organizing.planning`),
    from the headline model's posterior."""
    from organizing import planning
    from organizing.models.logits import logits, sigmoid
    from organizing.planning.rehearsal import rehearse

    config, campaign, headline_draws = ctx.config, ctx.campaign, ctx.headline_draws
    design = ctx.designs.headline
    settings = config.planning
    draws = thin(headline_draws, PREDICTION_DRAWS)
    # new worksites like all the campaign's (features only: no outcome is used), each
    # with its own number of workers
    population = planning.population_from_draws(
        draws["alpha"], draws["site_scale"], draws["beta_group"], draws["beta_individual_mean"],
        draws["beta_individual_scale"], design.site_x, design.worker_x, design.site_index,
        seed=config.seed)
    alpha, target_power, seed, sims = 0.05, 0.8, config.seed, settings.sims
    common = dict(alpha=alpha, sims=sims, seed=seed)
    grid, option_sites = list(settings.sites_grid), list(settings.option_sites)
    curves = planning.power_curve(population, grid, [0.0, *settings.effects], **common)
    # the plain designs over the grid, and every option at the compared sizes: one
    # search per experiment (options that only change the analysis share its counts)
    both = sorted({*grid, *option_sites})
    cases = [("worksite", planning.Options(match=m, adjust=a), both if m == "none" and not a
              else option_sites)
             for m, a in (("none", False), ("size", False), ("rate", False), ("none", True),
                          ("rate", True))]
    cases.append(("worksite", planning.Options(effect_sd=settings.effect_sd), option_sites))
    cases += [("worker", planning.Options(contamination=c), both if c == 0 else option_sites)
              for c in (0.0, *settings.contamination)]
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
    probabilities = sigmoid(logits("headline", thin(headline_draws, 200), design.site_x,
                                   design.worker_x, design.site_index)).mean(axis=0)
    sizes = np.bincount(design.site_index, minlength=design.site_x.shape[0])
    staffed = sizes > 0  # the templates: worksites with workers in the file
    store_forecasts = (np.bincount(design.site_index, weights=probabilities,
                                   minlength=sizes.size)[staffed] / sizes[staffed])
    signed = np.bincount(campaign.site_index, weights=campaign.signed, minlength=sizes.size)
    store_rates, sizes = signed[staffed] / sizes[staffed], sizes[staffed]
    trial = settings.rehearsal
    n_trial = min(trial.sites, 2 * (sizes.size // 2))  # a small campaign: all its stores
    planned = planning.power(population, "worksite", n_trial, sizes.tolist(),
                             effect=trial.effect, options=planning.Options(match="rate"),
                             **common)
    rehearsal = rehearse(sizes, store_forecasts, n_stores=n_trial,
                         effect=trial.effect, seed=trial.seed,
                         planned_power=planned.power,
                         hypothesis="the tactic raises the share of workers who sign a card",
                         warmup=trial.warmup, samples=trial.samples)
    summary = planning.size_summary(population)

    return Planning(
        power_curves=curves, mde=mde[["design", "n_sites", "mde", "mc_se"]], options=options,
        mde_equal_sizes=equal[["design", "n_sites", "mde", "mc_se"]],
        icc=planning.observed_icc(population),
        latent_icc=planning.latent_icc(population),
        design_effect=planning.design_effect(population),
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
