"""Sentences for the book's prose, built from typed results, one module per topic.

Chapters put every data-dependent number or sentence in an inline expression that
calls ``narrative.<function>`` (or :mod:`organizing.report.formatting` for a single
number), so running the book on another campaign can never leave prose that
contradicts its own tables. Statistics and rules are computed upstream, by the
pipeline and the analysis modules; what is computed here is presentation only: a value
looked up in a result frame, a mean over folds for a sentence, a ratio of two reported
numbers. A sentence lives in the module of its topic:

- ``lookups``: published figures, metrics and posterior scalars that sentences share;
- ``data``: the data chapter (files, the designs' columns, the network measures);
- ``fitting``: how the models were fitted and checked (priors, the SVI optimizers and
  stopping rule, NUTS diagnostics, calibration, SVI against NUTS);
- ``audit``: the audit of the published specification;
- ``prediction``: held-out workers and worksites, PSIS-LOO, the predictive check;
- ``coefficients``: the coefficients and the variance decomposition;
- ``clusters``: the study's mixture and the test of clusters;
- ``sensitivity``: the sensitivity analyses.
"""

from organizing.report.narrative.audit import (
    matrix_entries,
    one_draw_rms,
    published_rms,
    published_scale_sentence,
    refit_sentence,
    scale_against_published,
    sign_flip_sentence,
)
from organizing.report.narrative.clusters import (
    CLUSTER_FEATURES_CAPTION,
    cluster_features_section,
    cluster_rule,
    cluster_verdict_sentence,
    clusters_shown,
    gibbs_mixing,
    published_worker_spread,
    scale_comparison,
    sklearn_agreement,
)
from organizing.report.narrative.coefficients import (
    disagreement_sentence,
    intervals_including_zero,
    largest_worker_effect,
    scale_direction,
    signal_sentence,
    signed_effects,
    strongest_worker_features,
    term_estimate,
)
from organizing.report.narrative.data import (
    aliases_sentence,
    checksums,
    complete_groups,
    model_site_features,
    outside_network_sentence,
    reference_levels,
)
from organizing.report.narrative.fitting import (
    FINDING_WORDS,
    STUDY_CODE,
    code_citation,
    code_optimizer,
    diagnostic_rule,
    diagnostics_sentence,
    optimizer_agreement,
    optimizer_runs,
    pareto_sentence,
    prior_predictive_sentence,
    refit_steps_sentence,
    report_optimizer,
    sbc_sentence,
    scale_ratio,
    stopping_sentence,
    versus_chance,
    width_ratio,
    width_sentence,
)
from organizing.report.narrative.lookups import (
    compared,
    fold_metric,
    metric,
    metrics_table,
    n_folds,
    odds_factor,
    published,
    ratio,
    scalar,
    scalar_table,
)
from organizing.report.narrative.prediction import (
    best_fold_model,
    calibration_sentence,
    fold_convergence_sentence,
    loo_sentence,
    new_store_sentence,
    ppc_verdict,
    seen_store_sentence,
)
from organizing.report.narrative.sensitivity import (
    n_sensitivity_changes,
    sensitivity_changes,
    sensitivity_diagnostics,
    sensitivity_sentence,
)

__all__ = [
    "CLUSTER_FEATURES_CAPTION",
    "FINDING_WORDS",
    "STUDY_CODE",
    "aliases_sentence",
    "best_fold_model",
    "calibration_sentence",
    "checksums",
    "cluster_features_section",
    "cluster_rule",
    "cluster_verdict_sentence",
    "clusters_shown",
    "code_citation",
    "code_optimizer",
    "compared",
    "complete_groups",
    "diagnostic_rule",
    "diagnostics_sentence",
    "disagreement_sentence",
    "fold_convergence_sentence",
    "fold_metric",
    "gibbs_mixing",
    "intervals_including_zero",
    "largest_worker_effect",
    "loo_sentence",
    "matrix_entries",
    "metric",
    "metrics_table",
    "model_site_features",
    "n_folds",
    "n_sensitivity_changes",
    "new_store_sentence",
    "odds_factor",
    "one_draw_rms",
    "optimizer_agreement",
    "optimizer_runs",
    "outside_network_sentence",
    "pareto_sentence",
    "ppc_verdict",
    "prior_predictive_sentence",
    "published",
    "published_rms",
    "published_scale_sentence",
    "published_worker_spread",
    "ratio",
    "reference_levels",
    "refit_sentence",
    "refit_steps_sentence",
    "report_optimizer",
    "sbc_sentence",
    "scalar",
    "scalar_table",
    "scale_against_published",
    "scale_comparison",
    "scale_direction",
    "scale_ratio",
    "seen_store_sentence",
    "sensitivity_changes",
    "sensitivity_diagnostics",
    "sensitivity_sentence",
    "sign_flip_sentence",
    "signal_sentence",
    "signed_effects",
    "sklearn_agreement",
    "stopping_sentence",
    "strongest_worker_features",
    "term_estimate",
    "versus_chance",
    "width_ratio",
    "width_sentence",
]
