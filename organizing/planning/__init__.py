"""Randomized organizing experiments: plan them, draw them, write them down, analyse them.

- :mod:`~organizing.planning.population`: new worksites as the fitted model describes
  them (posterior draws, the campaign's worksites as templates, their sizes and
  forecast rates), the baseline rate, the ICCs and the design effect.
- :mod:`~organizing.planning.analyses`: the tests a trial's design supports
  (worksite-level regression with pairs and a covariate, CMH), vectorized.
- :mod:`~organizing.planning.power`: power, minimum detectable effects and sizes by
  posterior-predictive simulation of whole trials.
- :mod:`~organizing.planning.randomize`: drawing a trial's assignment (blocked or
  pair-matched) and its balance.
- :mod:`~organizing.planning.protocol`: the protocol sheet written before a trial.
- :mod:`~organizing.planning.trial`: analysing a trial once it has run, including a
  Bayesian multilevel estimate (NumPyro, imported only when used).
- :mod:`~organizing.planning.files`: reading and writing the trial's CSV files;
  :mod:`~organizing.planning.workflow`: the trial commands' work, file in and file out;
  :mod:`~organizing.planning.rehearsal`: the whole loop on simulated outcomes.
- :mod:`~organizing.planning.common`: shared constants and argument checks.

The names used most are re-exported here.
"""

from organizing.planning.analyses import (
    GeeResult,
    StoreTest,
    cluster_t_test,
    cmh_test,
    gee_test,
    store_tests,
    stratified_difference,
)
from organizing.planning.common import DESIGNS, MATCHES, MAX_SITES, Interval
from organizing.planning.population import (
    WORKER_OFFSETS,
    Effect,
    Population,
    baseline_rate,
    design_effect,
    latent_icc,
    observed_icc,
    population_from_draws,
    site_sizes,
    template_forecasts,
    treatment_effect,
)
from organizing.planning.power import (
    MdeResult,
    Options,
    PlanSummary,
    PowerResult,
    SitesResult,
    SizeSummary,
    Trials,
    check_plan_arguments,
    mde_grid,
    minimum_detectable_effect,
    plan,
    power,
    power_curve,
    simulate_trials,
    sites_needed,
    size_summary,
    trial_p_values,
)

__all__ = [
    "DESIGNS", "MATCHES", "MAX_SITES", "WORKER_OFFSETS", "Effect", "GeeResult", "Interval",
    "MdeResult", "Options", "PlanSummary", "Population", "PowerResult", "SitesResult",
    "SizeSummary", "StoreTest", "Trials", "baseline_rate", "check_plan_arguments",
    "cluster_t_test", "cmh_test", "design_effect", "gee_test", "latent_icc", "mde_grid",
    "minimum_detectable_effect", "observed_icc", "plan", "population_from_draws", "power",
    "power_curve", "simulate_trials", "site_sizes", "sites_needed", "size_summary",
    "store_tests", "stratified_difference", "template_forecasts", "treatment_effect",
    "trial_p_values",
]
