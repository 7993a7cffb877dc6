"""The fits: SVI for the replication of the published specification and the mean-field
comparisons, NUTS for every model the book reports coefficients for."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from organizing.models import ModelId
from organizing.pipeline.context import NUTS_SPECS, SVI_SPECS, Context, fit_nuts
from organizing.pipeline.products import NutsStage, SviStage
from organizing.results.sections import Coefficients, LooSummary, Posterior, SVIRecord


def fit_svi_models(ctx: Context) -> SviStage:
    """SVI with the optimizer the study's report states, for the replication and the
    mean-field comparisons; the published specification once more with the optimizer its
    code runs, to show the audit's facts do not depend on the choice."""
    from organizing import audit, evaluation
    from organizing.inference.svi import guide_draw, posterior_draws, rule_checks
    from organizing.models.logits import logits, sigmoid
    from organizing.pipeline import posteriors

    full, train, test, seed = ctx.designs.full, ctx.train, ctx.test, ctx.config.seed
    svi = ctx.config.svi
    args = full.subset(train).tensors()
    y_test = full.signed[test]

    def svi_fit(name, guide, settings, optimizer, label):
        fit = posteriors.svi(name, args, guide=guide, seed=seed, progress=ctx.progress,
                             label=label, **settings)
        draws = posterior_draws(fit, args, ctx.config.posterior.draws, seed)
        published = None
        if name == "published":
            one = guide_draw(fit, args, seed)
            found = audit.audit_published(full.site_x, full.worker_x[train],
                                          full.worker_x[test], draws, one, full.site_features)
            as_code = sigmoid(logits("published", draws, full.site_x, full.worker_x[test],
                                     full.site_index[test])).mean(axis=0)
            as_learned = audit.published_as_learned(draws, full, train, test)
            facts = {"site_term_max": found.site_term_max,
                     "sign_flip_correlation": found.sign_flip_correlation,
                     "heldout_auc": evaluation.binary_metrics(y_test, as_code)["auc"],
                     "heldout_auc_as_learned":
                         evaluation.binary_metrics(y_test, as_learned)["auc"]}
            published = one, found, {ModelId.PUBLISHED: as_code,
                                     ModelId.PUBLISHED_AS_LEARNED: as_learned}
        record = SVIRecord(model=name, guide_kind=guide, losses=fit.losses, steps=fit.steps,
                        max_steps=settings["max_steps"], converged=fit.converged,
                        seconds=fit.seconds, seed=seed, lr=fit.lr, lr_decay=fit.lr_decay,
                        betas=fit.betas, optimizer=optimizer, stop_early=fit.stop_early,
                        audit_facts=facts if published else {},
                        audit_findings=audit.findings(facts) if published else {},
                        # a fit of fixed length never asks the rule
                        rule_checks=rule_checks(fit.losses if fit.stop_early else [],
                                                svi.window, svi.min_steps))
        return draws, record, published

    fits, all_draws = {}, {}
    for model, (name, guide) in SVI_SPECS.items():
        all_draws[model], fits[model], found = svi_fit(
            name, guide, svi.fit_settings, "report", f"SVI {model.value}")
        if model is ModelId.PUBLISHED:
            one_draw, published_audit, probabilities = found
            code = svi_fit(name, guide, svi.code_fit_settings, "code",
                           f"SVI {model.value} (code's optimizer)")[1]
            fits[model] = replace(fits[model], code_optimizer=code)
    return SviStage(fits=fits, draws=all_draws, one_draw=one_draw,
                    published_audit=published_audit, published_probabilities=probabilities)


def fit_nuts_models(ctx: Context) -> NutsStage:
    """NUTS for every model the book reports coefficients for, with ArviZ's diagnostics and
    PSIS-LOO; the SVI comparisons' coefficients beside them."""
    from organizing.inference.diagnostics import diagnose, result_psis_loo
    from organizing.models.logits import complete_draws

    train, seed = ctx.train, ctx.config.seed
    posteriors, draws_of = {}, {}
    for model, (name, _) in NUTS_SPECS.items():
        result = fit_nuts(ctx, model, train, ctx.config.nuts, seed)
        design = ctx.designs.of(model)
        draws = complete_draws(name, result.pooled_draws())
        draws_of[model] = draws
        # block by block: the (draws × workers) log-likelihood never exists whole
        loo = result_psis_loo(result, design.site_x, design.worker_x[train],
                              design.site_index[train], design.signed[train])
        posteriors[model] = Posterior(
            model=model, method="NUTS",
            coefficients=coefficient_tables(draws, design.worker_features,
                                            design.site_features),
            seconds=float(result.seconds),
            diagnostics=diagnose(result),
            loo=LooSummary(**loo.as_dict()),
        )
    full = ctx.designs.full
    for model, draws in ctx.svi.draws.items():
        if model is ModelId.PUBLISHED:
            continue
        posteriors[model] = Posterior(
            model=model, method="mean-field SVI" if model is ModelId.CORRECTED_MEAN_FIELD
            else "low-rank SVI",
            coefficients=coefficient_tables(draws, full.worker_features, full.site_features),
            seconds=ctx.svi.fits[model].seconds)
    return NutsStage(posteriors=posteriors, draws=draws_of)


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


