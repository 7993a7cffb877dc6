"""The typed contract between the pipeline and the book.

Every result the book shows is a field of a frozen dataclass below, holding
NumPy arrays, small pandas frames (one row per feature, worksite, bin, fold or
model; never one row per worker) and plain numbers. Nothing here imports a
modelling library, so a chapter loads its results without starting torch or
JAX. Models are named by :class:`~organizing.models.ModelId`; display labels
live in :mod:`organizing.report.labels`.

The cache (:mod:`organizing.results.cache`) stores these sections as JSON and
``.npz`` arrays, so loading one never executes code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from organizing.audit import PublishedAudit
from organizing.clustering import MixtureSamples
from organizing.clustering.heldout_test import ClusterTest
from organizing.inference.convergence import Diagnostics
from organizing.models import ModelId
from organizing.planning.common import Interval
from organizing.planning.rehearsal import Rehearsal


@dataclass(frozen=True)
class Meta:
    """What produced the results."""

    profile: str
    package_version: str
    cache_key: str
    config: dict
    n_train: int
    n_test: int
    timings: dict[str, float]

    @property
    def settings(self):
        """The run's settings, validated and typed (``settings.nuts.chains``): the
        :class:`~organizing.config.Config` that ``config`` (its plain values) came from."""
        from organizing.config import Config

        return Config.model_validate({**self.config, "profile": self.profile})


@dataclass(frozen=True)
class Histogram:
    """Counts of a worker feature in bins (bins below the disclosure threshold merged)."""

    counts: np.ndarray
    edges: np.ndarray


@dataclass(frozen=True)
class Disclosure:
    """What disclosure control withheld (:mod:`organizing.data.disclosure`).

    ``min_count`` is k. ``rates_withheld``: worksites whose signing rate is not
    shown (fewer than k signers or non-signers); ``pooled_rate``: their pooled
    signing rate, None when the pool itself fails the rule or is empty.
    ``bins_merged``: per worker-feature histogram, how many of its bins were
    merged into a neighbour. ``counts``: the counts of workers the book prints (signed,
    unknown gender, fewest and most at a worksite), None where 0 < n < k
    (:func:`organizing.data.disclosure.withhold_count`; printed "fewer than k").
    """

    min_count: int
    rates_withheld: int
    pooled_rate: float | None
    bins_merged: dict[str, int]
    counts: dict[str, int | None]


@dataclass(frozen=True)
class DataSummary:
    """The campaign in aggregate: counts, worksites, feature summaries, histograms.

    ``sites`` holds no signing rate or signer count of a worksite with fewer than
    k signers or non-signers (NaN there); ``disclosure`` says what was withheld.
    """

    n_workers: int
    n_sites: int
    n_signed: int
    signing_rate: float
    unknown_gender: int
    log_centrality_p1: float  # 1st percentile (no single worker's value)
    network_audit: dict[str, float]  # the file's network measures against the package's definitions
    share_log_centrality_below_minus_50: float
    quartile_shares: np.ndarray
    sites: pd.DataFrame  # one row per worksite: workers, signing rate, descriptors
    feature_summary: pd.DataFrame  # one row per feature: level, mean, sd, p1, median, p99
    histograms: dict[str, Histogram]
    checksums: dict[str, str]
    worker_features: tuple[str, ...]
    site_features: tuple[str, ...]
    #: Features of the models that drop one reference level of each one-hot group.
    reduced_worker_features: tuple[str, ...]
    reduced_site_features: tuple[str, ...]
    workers_per_site_median: float
    disclosure: Disclosure
    #: The worksite columns left out of the book's models because others determine them
    #: (:func:`organizing.features.identified`): name, identity, residual_sd.
    aliases: pd.DataFrame | None = None
    #: The fewest worksites a campaign needs under each profile's settings
    #: (:func:`organizing.data.checks.minimum_sites`; this run's own for its profile).
    minimum_sites: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SVIRecord:
    """What the book shows of an SVI fit: its ELBO trace, its optimizer and how it stopped.

    ``optimizer``: "report" (the settings the study's report states, which the
    replication follows) or "code" (the settings its ``hblr.py`` runs). ``stop_early``:
    whether the ELBO-plateau rule could stop the fit before ``max_steps``.
    ``audit_facts`` (published specification only, else empty): the audit's facts
    computed from this fit's posterior draws: ``site_term_max`` (largest
    |Σ_s x_s·β| over draws), ``sign_flip_correlation`` (learned against applied
    per-worksite intercepts), ``heldout_auc`` (held-out workers, predicted as the
    study's code predicts) and ``heldout_auc_as_learned`` (with the training sums);
    ``audit_findings``: whether each finding holds on those facts
    (:data:`organizing.audit.FINDING_RULES`).
    ``code_optimizer``: on the published refit, its second fit with the code's
    optimizer (None elsewhere). ``rule_checks``: where the stopping rule was asked and
    its statistic each time (``step``, ``change``; :func:`organizing.inference.svi.rule_checks`),
    empty for a fit that ran a fixed number of steps.
    """

    model: str
    guide_kind: str
    losses: np.ndarray
    steps: int
    max_steps: int
    converged: bool
    seconds: float
    seed: int
    lr: float
    lr_decay: float
    betas: tuple[float, float]
    optimizer: str
    stop_early: bool
    audit_facts: dict[str, float]
    audit_findings: dict[str, bool]
    rule_checks: pd.DataFrame
    code_optimizer: SVIRecord | None = None


@dataclass(frozen=True)
class LooSummary:
    """PSIS-LOO of one model as the book keeps it (elpd on the log scale, its standard
    error, Pareto k counts): the totals of :class:`organizing.inference.diagnostics.Loo`
    without its per-worker values."""

    elpd: float
    se: float
    p_loo: float
    n: int
    k_good: int  # k <= 0.7
    k_bad: int  # 0.7 < k <= 1
    k_very_bad: int  # k > 1


@dataclass(frozen=True)
class Coefficients:
    """Posterior summaries with feature names.

    ``worksite``: the worksite coefficients β (feature, mean, sd, q5, q50, q95,
    prob_positive). ``worker``: per worker feature, the posterior of the average
    coefficient across worksites (mean, q5, q95), of its spread across worksites
    (spread, spread_q5, spread_q95) and the share of worksites where it is > 0.
    ``scalars``: the intercept and the scales (parameter, mean, sd, q5, q50, q95).
    """

    worksite: pd.DataFrame
    worker: pd.DataFrame
    scalars: pd.DataFrame


@dataclass(frozen=True)
class Posterior:
    """One model's posterior as the book reports it."""

    model: ModelId
    method: str  # "NUTS", "mean-field SVI", "low-rank SVI"
    coefficients: Coefficients
    seconds: float
    diagnostics: Diagnostics | None = None  # NUTS only
    loo: LooSummary | None = None  # NUTS only


@dataclass(frozen=True)
class Curves:
    """ROC points and a calibration (reliability) table for one model's predictions."""

    roc: pd.DataFrame  # fpr, tpr
    calibration: pd.DataFrame  # predicted, observed, count


@dataclass(frozen=True)
class Evaluation:
    """Held-out performance of every model and baseline.

    ``metrics``: one row per model on the study's split (model, accuracy, auc,
    brier, log_loss, ece, baseline_accuracy, n). ``folds``: one row per model
    and fold of held-out worksites (model, fold, auc, log_loss, brier, …; for a NUTS
    model also the fold fit's max_r_hat, min_ess_bulk, divergences and checks_failed,
    the number of convergence checks it failed, NaN for the baselines).
    ``ppc``: the headline model's check of per-worksite signing rates on the
    held-out workers. ``fit_seconds``: time to fit each model once. ``accuracy``: per
    model, held-out accuracy against the base rate's, paired and clustered by worksite
    (model, accuracy, base_accuracy, difference, se, auc;
    :func:`organizing.evaluation.accuracy_gain`). ``new_stores``: the headline model
    against each baseline at held-out worksites, paired by fold, with every feature and
    without No. Notes (:func:`organizing.evaluation.new_store_comparison`). The folds'
    ``features`` column says which feature set a row used ("all" or "without No. Notes").
    ``heldout_elpd``: each model's log predictive density on the held-out workers and its
    paired difference from the headline model, with its standard error
    (:func:`organizing.evaluation.heldout_elpd`): exact, where PSIS-LOO's Pareto k flags
    workers.
    """

    metrics: pd.DataFrame
    curves: dict[ModelId, Curves]
    folds: pd.DataFrame
    ppc: pd.DataFrame
    fit_seconds: dict[ModelId, float]
    accuracy: pd.DataFrame
    heldout_elpd: pd.DataFrame
    new_stores: pd.DataFrame

    def fold_means(self, features: str = "all") -> pd.DataFrame:
        """Mean of each metric over the held-out-worksite folds, one row per model value,
        for one feature set (:func:`organizing.evaluation.fold_means`)."""
        from organizing.evaluation import fold_means

        return fold_means(self.folds, features)


@dataclass(frozen=True)
class Claims:
    """Verdicts on the study's conclusions (:mod:`organizing.claims`).

    ``table``: one row per claim of the register under the headline model, with the
    columns of :data:`organizing.claims.COLUMNS` (model, id, claim, source, quote, kind,
    measures, direction, quantity, mean, q5, q95, prob_claimed, prior_prob,
    identification, verdict, reason, test, follows, jointly_with); verdict is supported,
    inconclusive, contradicted, not identified, not testable or not evaluated, and
    prob_claimed is NaN where undefined.
    ``by_model``: the same rows for every NUTS model. ``effects``: per worker and
    worksite feature, the change in a typical worker's probability of signing in
    percentage points under the headline model (level, feature, change, mean, q5, q95,
    prob_positive). ``signing_rate``: the typical worker's probability, the campaign's
    signing rate.
    """

    table: pd.DataFrame
    by_model: pd.DataFrame
    effects: pd.DataFrame
    signing_rate: float

    def row(self, claim_id: str) -> pd.Series:
        """The headline row of the claim with the stable id ``claim_id``."""
        from organizing.claims import claim_row

        return claim_row(self.table, claim_id)

    @property
    def distinct_tests(self) -> pd.DataFrame:
        """One row per distinct test (:func:`organizing.claims.distinct_tests`)."""
        from organizing.claims import distinct_tests

        return distinct_tests(self.table)

    @property
    def verdict_counts(self) -> dict[str, int]:
        """How many distinct tests reached each verdict."""
        from organizing.claims import verdict_counts

        return verdict_counts(self.table)

    def moved_verdicts(self, sensitivity) -> dict[str, list[str]]:
        """Per claim, the sensitivity analyses under which its verdict moves
        (:func:`organizing.claims.moved_verdicts`)."""
        from organizing.claims import moved_verdicts

        return moved_verdicts(self.table, sensitivity)


@dataclass(frozen=True)
class PriorPredictive:
    """Signing rates implied by the priors alone, per prior draw, for two priors."""

    table: pd.DataFrame  # model, draw, overall_rate, share_extreme (p < 0.01 or > 0.99), ...


@dataclass(frozen=True)
class Calibration:
    """Simulation-based calibration of the headline model on small simulated campaigns."""

    ranks: pd.DataFrame  # parameter, replication, rank (0..draws)
    coverage: pd.DataFrame  # parameter, coverage_50, coverage_90, replications
    draws: int  # posterior draws per replication (ranks run 0..draws)
    sites: int
    workers_per_site: int


@dataclass(frozen=True)
class Planning:
    """Randomized organizing experiments planned from the headline posterior.

    Every count of worksites is a total over both arms. ``power_curves``: design,
    effect (a fraction; 0 gives the type-I error), log_odds_ratio, n_sites, power,
    mc_se, for the plain designs at the campaign's worksite sizes. ``mde``: design,
    n_sites, mde, mc_se (the plain designs over the grid of sizes). ``options``: the
    design options (pair-matching, adjustment, contamination, an effect that varies
    between worksites) at ``option_sites``: design, option, match, adjust,
    contamination, effect_sd, n_sites, mde, mc_se; ``mde_equal_sizes``: the plain
    designs with every worksite of the median size, for comparison.
    """

    power_curves: pd.DataFrame
    mde: pd.DataFrame
    options: pd.DataFrame
    mde_equal_sizes: pd.DataFrame  # design, n_sites, mde, mc_se (every worksite the median size)
    icc: Interval  # posterior mean and 90% interval: proportion scale, the design effect's
    latent_icc: Interval  # the log-odds scale (not a design effect's)
    design_effect: Interval  # at the campaign's worksite sizes
    sizes: dict[str, float]  # mean, median, cv, smallest, largest workers per worksite
    baseline_rate: float  # forecast mean rate of a new worksite, each worksite counting once
    baseline_rate_workers: float  # the same forecast, each worker counting once
    campaign_rate: float  # the campaign's own signing rate (each worker once)
    campaign_store_rate: float  # the mean of the campaign's worksite rates (each once)
    sims: int
    alpha: float  # significance level of every simulated test
    target_power: float  # the power the minimum detectable effects are for
    option_sites: tuple[int, ...]
    # The population of new worksites per posterior draw (organizing.planning.Population):
    # per draw and campaign worksite (template), its offset and K worker-part group means.
    baseline_logit: np.ndarray
    site_sd: np.ndarray
    worker_sd: np.ndarray
    site_offsets: np.ndarray  # (draws, worksites)
    worker_offsets: np.ndarray  # (draws, worksites, K)
    site_sizes: np.ndarray  # (worksites,) workers on each template's roster
    # The campaign's own worksites, for `organizing randomize --stores campaign`: their
    # IDs (text), and the model's posterior mean signing rate of each (its own intercept
    # included). Kept in the local cache only; never shown.
    store_ids: np.ndarray
    store_forecasts: np.ndarray
    rehearsal: Rehearsal  # the protocol appendix's simulated trial


@dataclass(frozen=True)
class SensitivityRun:
    """One sensitivity analysis of the headline model: its NUTS fit and coefficients."""

    variant: str  # a key of organizing.sensitivity.VARIANTS
    n_workers: int  # workers the model was fitted on
    worker_features: tuple[str, ...]
    site_features: tuple[str, ...]
    coefficients: Coefficients
    diagnostics: Diagnostics
    seconds: float


@dataclass(frozen=True)
class Sensitivity:
    """The headline model refitted on each variant of its design, data or priors
    (:data:`organizing.sensitivity.VARIANTS`), against the headline fit.

    ``verdicts``: one row per variant and claim (variant, claim, verdict,
    prob_claimed, headline_verdict, headline_prob, changed); ``changed`` is True
    when both verdicts were evaluated and differ. ``coefficients``: one row per
    variant and coefficient the variant shares with the headline model (variant,
    level "worksite" or "worker", feature, mean, q5, q95, headline_mean,
    headline_q5, headline_q95, moved); a coefficient moves when the variant's mean
    leaves the headline's 90% interval or the variant's interval changes whether it
    excludes zero. ``outside_cut``: the log centrality below which a worker counts
    as outside the network; ``share_outside``: the share of workers below it;
    ``signing_outside`` and ``signing_inside``: their signing rates.
    """

    runs: dict[str, SensitivityRun]
    verdicts: pd.DataFrame
    coefficients: pd.DataFrame
    outside_cut: float
    share_outside: float
    signing_outside: float
    signing_inside: float


@dataclass(frozen=True)
class Results:
    """Everything the book shows."""

    meta: Meta
    data: DataSummary
    svi: dict[ModelId, SVIRecord]
    posteriors: dict[ModelId, Posterior]
    evaluation: Evaluation
    audit: PublishedAudit
    claims: Claims
    variance: pd.DataFrame  # model, term, mean, q5, q95, prob_positive: sd of each logit part
    prior_predictive: PriorPredictive
    calibration: Calibration
    clustering: ClusteringResults
    planning: Planning
    sensitivity: Sensitivity
    error_rates: ErrorRates

    @property
    def headline(self) -> Posterior:
        from organizing.models import HEADLINE_MODEL

        return self.posteriors[HEADLINE_MODEL]


@dataclass(frozen=True)
class ClusteringRun:
    """The mixture chosen for one set of coefficient vectors, and how it was chosen."""

    vectors: str  # "published" or "headline"
    selection: pd.DataFrame  # sigma, K, heldout_lpd, se, ... (the grid)
    comparison: pd.DataFrame  # one row per K: best sigma, lpd, paired difference vs K = 1, se
    verdict: str  # "clusters supported", "inconclusive", "no clusters"
    K: int
    sigma: float
    eta: float
    heldout_lpd: float
    samples: MixtureSamples  # the chosen mixture fitted to every vector


@dataclass(frozen=True)
class ErrorRates:
    """The verdicts' error rates on campaigns simulated from the headline model
    (:mod:`organizing.error_rates`).

    ``campaigns``: one row per simulated campaign (kind "null" or "planted",
    replication, false_verdicts, false_tests, cluster_verdict, chosen_K, two_difference,
    two_difference_se, two_clusters, seconds). ``summary``: the rates and their Monte
    Carlo standard errors (:func:`organizing.error_rates.summarize_campaigns`).
    ``stability``: the real campaign's probabilities at the stage's NUTS settings beside
    the book's. ``chains``, ``warmup``, ``samples``: those settings; ``seconds``: the
    stage's run time (computed once and cached apart from the other results).
    """

    campaigns: pd.DataFrame
    summary: dict[str, float]
    stability: pd.DataFrame
    threshold: float
    chains: int
    warmup: int
    samples: int
    seconds: float


@dataclass(frozen=True)
class ClusteringResults:
    """The study's mixture replicated and chosen again for its vectors (``runs``, keyed
    "published"), and the calibrated test of the headline model's slopes (``test``) with
    the mixture it chose fitted to every worksite: ``assignment_probabilities`` (S, K),
    ``coassignment`` (S, S), ``features_by_cluster``, ``cluster_means``, ``sklearn_ari``
    (scikit-learn's clusters of the posterior-mean slopes against the mixture's most
    probable ones) and ``slope_vectors`` (S, P), the posterior-mean slopes in units of
    their between-worksite spreads."""

    study_samples: MixtureSamples  # the study's settings on the published vectors
    study_heldout_lpd: float  # computed correctly
    study_flawed_score: float  # as the study's code computes it
    runs: dict[str, ClusteringRun]
    assignment_probabilities: np.ndarray
    coassignment: np.ndarray
    features_by_cluster: pd.DataFrame
    cluster_means: pd.DataFrame
    sklearn_ari: float
    slope_vectors: np.ndarray
    train_sites: int
    test: ClusterTest

    @property
    def published_vector_sd(self) -> float:
        """The pooled spread of the vectors the study clustered (the published refit's
        single guide draw): :func:`organizing.clustering.summaries.pooled_sd`."""
        from organizing.clustering.summaries import pooled_sd

        return pooled_sd(self.study_samples.x)

    @property
    def slope_vector_sd(self) -> float:
        """The pooled spread of the headline model's slope vectors."""
        from organizing.clustering.summaries import pooled_sd

        return pooled_sd(self.slope_vectors)
