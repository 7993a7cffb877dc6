r"""The study's claims, one register, and their verdicts under a posterior.

The register (:data:`REGISTER`) lists every conclusion of the study's final
report and of its README (including the README's "Implications for
Organizing"), each with its source, its wording, the measures it rests on, the
direction it claims and the kind of test it needs. The README's "Future Work"
proposes work rather than concluding anything, so it is not in the register.

**Verdicts.** A claim says that a quantity θ has a sign. From posterior draws
of θ, P(claimed) is the posterior probability of that sign, and

* **supported** when P(claimed) ≥ :data:`SUPPORT_THRESHOLD`,
* **contradicted** when P(claimed) ≤ 1 − :data:`SUPPORT_THRESHOLD`,
* **inconclusive** otherwise,

but only for a quantity the data identify. **Identification.** Every verdict on a
posterior quantity compares the posterior sd of θ with its *reference* sd: the spread
θ would have if the data said nothing about it (:func:`reference_sd`): the
worksite coefficients drawn from their prior given each posterior draw of their
scale τ_β (a hierarchical prior learns its scale from all the coefficients, so the
plain prior would be too wide a yardstick); the worker slopes' means, the size
interactions and the slope spreads from their priors. When
sd_post / sd_ref ≥ :data:`IDENTIFICATION_RATIO` the data have not narrowed θ enough for
a verdict (the data then carry less information about θ than the reference does), and
the claim is **not identified**. Worksite columns that other columns
determine are left out of the design before any fit
(:func:`organizing.features.identified`); a claim about one of them is tested through
the columns that determine it (:func:`composite_direction`).

**Counted once.** Claims that share a test share one row of evidence: a
recommendation *follows from* the finding it rests on (``Claim.follows``), and claims
about measures that move together across worksites (|r| ≥ :data:`JOINT_CORRELATION`, or
one determined by columns of the other's) are *tested jointly*
(:func:`joint_groups`). Every count of verdicts counts distinct tests
(:func:`distinct_tests`).

**Causal statements, one rule.** Correlational data cannot show that acting on a
recommendation works. A recommendation is scored on the association it rests on,
under the finding it comes from; a statement whose association the study does not
define is not testable.

**Special kinds.** A ranking claim ("the strongest predictor") is the event that the
measure has the claimed sign and the largest |coefficient| among comparable, identified
features; its prior share is 1/(2m) for m such features, and a verdict needs the data to
move the odds (:data:`RANKING_BAYES_FACTOR`). "Varies little" is tested against a stated
threshold, :data:`LITTLE_SPREAD`. The model-fit claim is scored on the study's model as
its code predicts, on held-out workers, by a paired, worksite-clustered comparison with
the base rate (:func:`organizing.evaluation.accuracy_gain`). The size claims rest on the
size interaction λ of the headline model's size variant
(:func:`organizing.models.numpyro_models.headline`). The two-cluster claim takes the
clustering chapter's held-out comparison of two clusters with one
(:mod:`organizing.clustering.heldout_test`), with P(claimed) = Φ(Δ/se).

The threshold's error rate over the whole scorecard is measured on campaigns
simulated with every tested effect zero (:mod:`organizing.error_rates`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from math import erf, sqrt

import numpy as np
import pandas as pd

from organizing.data import ONE_HOT_GROUPS
from organizing.features import is_composition
from organizing.models import ModelId
from organizing.models.priors import HALF_CAUCHY_SCALE, HEADLINE_PRIORS, MEAN_PRIOR_SCALE

#: Posterior probability of the claimed sign needed to call a claim supported; one minus it
#: is the probability at or below which the claim is contradicted.
SUPPORT_THRESHOLD = 0.95
#: A posterior sd at least this share of the reference sd: the data have not identified θ.
#: With precisions adding, sd_post / sd_ref = 1/√(1 + data precision / reference
#: precision): at 1/√2 the data carry exactly as much information about θ as the reference
#: does; above it, less, and the prior would decide the verdict.
IDENTIFICATION_RATIO = float(1 / np.sqrt(2))
#: Claims whose measures correlate at least this much across units are tested jointly.
JOINT_CORRELATION = 0.95
#: A ranking verdict needs the posterior odds of the ranking to differ from its prior odds
#: by at least this factor (either way).
RANKING_BAYES_FACTOR = 3.0
#: "Varies little": the root mean square over worker features of the between-worksite sd
#: of their slopes below this (log-odds per SD of the feature): a spread at which a
#: typical worker's chance of signing differs by at most about 2.5 points between stores.
LITTLE_SPREAD = 0.1

#: The three verdicts on a tested claim, and the labels of a claim without one.
VERDICTS = ("supported", "inconclusive", "contradicted")
DECISIVE = ("supported", "contradicted")
NOT_IDENTIFIED = "not identified"
NOT_TESTABLE = "not testable"
NOT_EVALUATED = "not evaluated"

#: Kinds of test.
SINGLE = "single coefficient"
JOINT = "joint of several coefficients"
RANKING = "ranking of coefficients"
VARIANCE = "variance decomposition"
SIZE = "size interaction"
SPREAD = "spread of slopes between worksites"
CLUSTERING = "clustering"
MODEL_FIT = "model fit"
UNTESTABLE = "not testable"
KINDS = (SINGLE, JOINT, RANKING, VARIANCE, SIZE, SPREAD, CLUSTERING, MODEL_FIT, UNTESTABLE)

#: Where the study's two documents are (repository head, which holds both).
STUDY_COMMIT = "7202569b48cee2c328d656fc39326c74edda8af0"
SOURCE_URLS = {
    "report": "https://github.com/rfspringer/walmart-modelling-bayesian/blob/"
              f"{STUDY_COMMIT}/report.pdf",
    "README": "https://github.com/rfspringer/walmart-modelling-bayesian/blob/"
              f"{STUDY_COMMIT}/README.md",
}


@dataclass(frozen=True)
class Claim:
    """One conclusion of the study.

    ``sources``: (document, section) pairs, document "report" or "README".
    ``claim``: the book's one-line statement; ``quote``: the study's words (short quote or
    close paraphrase). ``measures``: feature names as in the data; ``orientation``: the
    sign of each measure inside a combined effect (default all +1); ``direction``: the
    sign the study claims for the tested quantity (0 when not testable). ``reason``: why
    a claim cannot be tested. ``follows``: the id of the finding a recommendation rests
    on; its verdict is that finding's and it is not counted again.
    """

    id: str
    sources: tuple[tuple[str, str], ...]
    claim: str
    quote: str
    kind: str
    measures: tuple[str, ...] = ()
    direction: int = 0
    orientation: tuple[int, ...] = ()
    reason: str = ""
    follows: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id}: unknown kind {self.kind!r}")
        if (self.kind == UNTESTABLE) != (self.direction == 0):
            raise ValueError(f"claim {self.id}: a direction is needed exactly when testable")
        if self.kind == UNTESTABLE and not self.reason:
            raise ValueError(f"claim {self.id}: an untestable claim needs a reason")
        if self.orientation and len(self.orientation) != len(self.measures):
            raise ValueError(f"claim {self.id}: one orientation per measure")

    @property
    def signs(self) -> np.ndarray:
        return np.asarray(self.orientation or (1,) * len(self.measures), dtype=float)

    @property
    def source(self) -> str:
        """The sources as text: ``report: Abstract, Conclusion; README: Key Findings``."""
        by_document: dict[str, list[str]] = {}
        for document, section in self.sources:
            by_document.setdefault(document, []).append(section)
        return "; ".join(f"{d}: {', '.join(s)}" for d, s in by_document.items())


_R, _M = "report", "README"
NOTES, LATEST_CONTACT = "No. Notes", "Time To First Convo (Quart. 4)"
DISCOVERED, CONTACTED = "Log(No. workers discovered)", "Log(No. workers contacted)"
NDO = "NDO (Eigen., Pearson)"

#: Every conclusion of the study's report and README.
REGISTER: tuple[Claim, ...] = (
    Claim("worksite_over_worker",
          ((_R, "Abstract"), (_R, "Regression Results"), (_R, "Conclusion"),
           (_M, "Key Findings")),
          "Worksite features predict signing better than individual ones",
          "worksite level features a better predictor of card signing than individual "
          "attributes ... the importance of social factors over individual features",
          VARIANCE, direction=+1),
    Claim("ndo", ((_R, "Abstract"), (_R, "Regression Results"), (_R, "Conclusion"),
                  (_M, "Key Findings")),
          "Network-driven organizing goes with signing",
          "network-driven organizing (NDO) acted as the strongest predictor ... supporting "
          "previous research on the topic that it is an effective organizing tactic",
          SINGLE, (NDO,), +1),
    Claim("ndo_strongest", ((_R, "Regression Results"), (_R, "Conclusion")),
          "Network-driven organizing is the strongest worksite predictor",
          "network-driven organizing (NDO) acted as the strongest predictor",
          RANKING, (NDO,), +1),
    Claim("conversations", ((_R, "Abstract"), (_R, "Regression Results"), (_R, "Conclusion"),
                            (_M, "Key Findings")),
          "More organizer conversations go with signing",
          "the number of organizer conversations also positively correlates with a workers "
          "choice to sign", SINGLE, ("Log(No. organizer convers.)",), +1),
    Claim("centrality_mean", ((_R, "Abstract"), (_R, "Regression Results"),
                              (_R, "Conclusion"), (_M, "Key Findings")),
          "High average workplace centrality goes with signing",
          "workplace networks with a high average centrality were also correlated with an "
          "individual signing a card", SINGLE, ("Log(Centrality mean)",), +1),
    Claim("mobilizing", ((_R, "Regression Results"),),
          "Mobilizing goes with signing",
          "the positive correlation between workplace mobilizing and a card being signed",
          SINGLE, ("Mobilizing (Pearson)",), +1),
    Claim("centrality_variance", ((_R, "Regression Results"),),
          "Higher centrality variance goes with signing",
          "[the positive correlation between] centrality variance and a card being signed",
          SINGLE, ("Log(Centrality variance)",), +1),
    Claim("mid_length", ((_R, "Abstract"), (_R, "Regression Results"), (_R, "Conclusion"),
                         (_M, "Key Findings")),
          "Mid-length campaigns go with less signing",
          "mid-length campaigns ... were correlated negatively with an individuals choice to "
          "sign a card", SINGLE, ("Campaign length (Quint. 3)",), -1),
    Claim("large_worksites", ((_R, "Abstract"), (_R, "Regression Results"),
                              (_R, "Clustering Results"), (_R, "Conclusion"),
                              (_M, "Key Findings")),
          "Large worksites go with less signing",
          "large worksites ... were correlated negatively; ... the number of workers contacted "
          "and the number of workers discovered ... correspond to larger worksites",
          JOINT, (DISCOVERED, CONTACTED), -1),
    Claim("latino", ((_R, "Abstract"), (_R, "Regression Results"), (_R, "Conclusion"),
                     (_M, "Key Findings")),
          "A higher Latino share in the ZIP code goes with less signing",
          "workplaces located in zip codes with a higher Latino population were correlated "
          "negatively", SINGLE, ("Percent Latino in ZIP",), -1),
    Claim("size_attention", ((_R, "Abstract"), (_R, "Clustering Results"), (_R, "Conclusion"),
                             (_M, "Key Findings")),
          "At larger worksites, organizer attention to the individual matters more",
          "in larger worksites organizer attention to the individual worker was more "
          "important in predicting their choice to sign a card",
          SIZE, (NOTES, LATEST_CONTACT), +1, (+1, -1)),
    Claim("size_notes", ((_R, "Clustering Results"), (_R, "Conclusion"),
                         (_M, "Gaussian Mixture Model Analysis")),
          "At larger worksites, organizer notes matter more",
          "larger worksites had a more positive correlation between the number of organizer "
          "notes on the worker and card signing", SIZE, (NOTES,), +1),
    Claim("size_early_contact", ((_R, "Clustering Results"), (_R, "Conclusion"),
                                 (_M, "Gaussian Mixture Model Analysis")),
          "At larger worksites, early contact matters more",
          "[a more positive correlation between] earlier contact and card signing",
          SIZE, (LATEST_CONTACT,), +1, (-1,)),
    Claim("two_clusters", ((_R, "Methods"), (_R, "Clustering Results"),
                           (_M, "Gaussian Mixture Model Analysis")),
          "Worksites fall into two clusters of worker coefficients",
          "The log likelihood of the joint plateaud after 2 clusters ... Identified two "
          "distinct clusters of workplaces", CLUSTERING, direction=+1),
    Claim("clusters_by_size", ((_R, "Clustering Results"),
                               (_M, "Gaussian Mixture Model Analysis")),
          "The two clusters differ by worksite size, not by network metrics",
          "some stratification in the number of workers contacted and the number of workers "
          "discovered ... First cluster: Smaller worksites ... Second cluster: Larger "
          "worksites ... Network metrics ... distributed similarly", CLUSTERING,
          (DISCOVERED, CONTACTED), +1, follows="two_clusters",
          reason="two clusters split by size need two clusters first; whether slopes change "
                 "with size is tested directly by the size-interaction claims"),
    Claim("model_fit", ((_R, "Methods"), (_M, "Results")),
          "The model predicts held-out signing well",
          "a good fit for the model, acheiving an accuracy score of 0.9356 (compared to a "
          "baseline of 0.8274 when predicting only 0) and an AUC of 0.7688",
          MODEL_FIT, direction=+1),
    Claim("worker_scale_small", ((_R, "Regression Results"),),
          "Worker-level effects vary little between worksites",
          "The small scale for β ... implies little variance between workplaces and smaller "
          "coefficients (mostly clustered around 0)", SPREAD, direction=+1),
    Claim("tactics_over_inherent", ((_R, "Conclusion"),),
          "Organizer tactics matter more than inherent workplace features",
          "the effectiveness and importance of organizer tactics over inherent workplace "
          "features", UNTESTABLE,
          reason="the study does not say which features count as tactics, so the "
                 "association it would rest on is not defined; its causal part, "
                 "effectiveness, no correlational data can test"),
    Claim("recommend_group_level", ((_R, "Abstract"),),
          "Recommended: focus on group-level interventions",
          "we suggest a focus on group-level interventions on workplace organizing",
          VARIANCE, direction=+1, follows="worksite_over_worker"),
    Claim("recommend_size_strategies", ((_M, "Implications for Organizing"), (_R, "Abstract")),
          "Recommended: different organizing strategies by workplace size",
          "Different organizing strategies needed based on workplace size",
          SIZE, (NOTES, LATEST_CONTACT), +1, (+1, -1), follows="size_attention"),
    Claim("recommend_individual_outreach", ((_M, "Implications for Organizing"),),
          "Recommended: more focused individual outreach at large workplaces",
          "Large workplaces require more focused individual outreach", SIZE, (NOTES,), +1,
          follows="size_notes"),
    Claim("recommend_contact_timing", ((_M, "Implications for Organizing"),),
          "Recommended: early first contact matters more at large workplaces",
          "Timing of initial contact more critical in larger workplaces",
          SIZE, (LATEST_CONTACT,), +1, (-1,), follows="size_early_contact"),
    Claim("recommend_systems_theory", ((_R, "Abstract"),),
          "Recommended: a systems-theory approach to workplace organizing",
          "a systems theory approach to understanding workplace organizing", UNTESTABLE,
          reason="a research orientation, not a statement about the data"),
    Claim("correlational_only", ((_R, "Conclusion"),),
          "The findings are correlational and may miss an unmeasured characteristic",
          "This work, however, is limited to correlational relationships, and may have missed "
          "a salient or unmeasured characteristic", UNTESTABLE,
          reason="a limitation, not a finding; the book shares it"),
)


#: What each kind of test measures, for the "Tested by" column.
_QUANTITIES = {
    VARIANCE: "sd of the worksite-feature term minus sd of the worker term (logit scale)",
    RANKING: "share of draws in which it has the claimed sign and the largest |coefficient| "
             "of the comparable, identified worksite features",
    SPREAD: "root mean square over worker features of the between-worksite sd of their "
            f"slopes (log-odds per SD), claimed below {LITTLE_SPREAD}",
    CLUSTERING: "held-out log marginal likelihood of two clusters minus one (paired over "
                "held-out worksites)",
    MODEL_FIT: "held-out accuracy of the study's model as its code predicts, minus the "
               "base-rate accuracy",
}
#: Columns of a claims table, in order.
COLUMNS = ("model", "id", "claim", "source", "quote", "kind", "measures", "direction",
           "quantity", "mean", "q5", "q95", "prob_claimed", "prior_prob", "identification",
           "verdict", "reason", "test", "follows", "jointly_with")


def verdict(prob_claimed: float) -> str:
    """Three levels from the posterior probability of the claimed sign (module docstring)."""
    if not 0 <= prob_claimed <= 1:
        raise ValueError(f"a probability is needed, got {prob_claimed!r}")
    if prob_claimed >= SUPPORT_THRESHOLD:
        return "supported"
    if prob_claimed <= 1 - SUPPORT_THRESHOLD:
        return "contradicted"
    return "inconclusive"


def decide(prob_claimed: float, identification: float = np.nan) -> str:
    """:func:`verdict`, or :data:`NOT_IDENTIFIED` when sd_post / sd_ref (``identification``)
    is at least :data:`IDENTIFICATION_RATIO`."""
    if np.isfinite(identification) and identification >= IDENTIFICATION_RATIO:
        return NOT_IDENTIFIED
    return verdict(prob_claimed)


def joint_weights(correlation: np.ndarray) -> np.ndarray:
    r"""Weights c of the combined effect θ = Σ_q c_q β_q of several measures.

    With R the correlation matrix of the (standardized) measures z_q across the units
    they vary over, let C = 1ᵀz / √(1ᵀR1) be their standardized sum, the composite the
    claim is about ("larger worksites": more workers discovered *and* contacted). The
    expected shift of each measure when C rises by one standard deviation is

    .. math:: c = \frac{R\,\mathbf 1}{\sqrt{\mathbf 1^\top R\,\mathbf 1}},
       \qquad c_q = \frac{\operatorname{cov}(z_q, C)}{\operatorname{var}(C)},

    so the log-odds shift by θ = Σ_q c_q β_q. Uncorrelated measures get c_q = 1/√m (one
    SD of the composite is 1/√m SD of each); perfectly correlated ones get c_q = 1 (they
    cannot move apart, so their coefficients add). A single measure gets c = 1. Testing
    θ, rather than each β_q, credits the shared signal once even when the model cannot
    tell collinear measures apart.
    """
    r = np.atleast_2d(np.asarray(correlation, dtype=float))
    if r.ndim != 2 or r.shape[0] != r.shape[1]:
        raise ValueError(f"a square correlation matrix is needed, got shape {r.shape}")
    if not np.allclose(r, r.T) or not np.allclose(np.diag(r), 1):
        raise ValueError("the correlation matrix must be symmetric with a unit diagonal")
    total = r.sum()
    if total <= 0:
        raise ValueError("the measures' standardized sum has zero variance")
    return r.sum(axis=1) / np.sqrt(total)


def measure_correlation(x: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """Correlation matrix of the columns of ``x`` (units in rows), each times its sign."""
    x = np.asarray(x, dtype=float) * np.asarray(signs, dtype=float)
    if x.shape[1] == 1:
        return np.ones((1, 1))
    return np.corrcoef(x, rowvar=False)


def combined_effect(coefficients: np.ndarray, x: np.ndarray, signs: np.ndarray) -> np.ndarray:
    r"""Draws of θ = Σ_q c_q s_q β_q (:func:`joint_weights`).

    ``coefficients``: (..., m) draws of the measures' coefficients; ``x``: (units, m) the
    measures where they vary (worksites for worksite features, workers for worker
    features); ``signs``: the orientation s_q of each measure inside the composite.
    """
    signs = np.asarray(signs, dtype=float)
    c = joint_weights(measure_correlation(x, signs))
    return np.asarray(coefficients, dtype=float) @ (c * signs)


def site_column(design, name: str) -> np.ndarray | None:
    """A worksite measure's standardized values over worksites, (S,): a column of the
    design, or one the design left out because others determine it (``design.aliases``);
    None when the design has neither."""
    if name in design.site_features:
        return np.asarray(design.site_x)[:, list(design.site_features).index(name)]
    alias = next((a for a in getattr(design, "aliases", ()) if a.name == name), None)
    return None if alias is None else np.asarray(alias.column, dtype=float)


def composite_direction(design, measures, signs) -> tuple[list[int], np.ndarray]:
    r"""The design's columns a claim about ``measures`` moves, and by how much.

    With :math:`x_q` the standardized measures over worksites (a column left out because
    others determine it, :func:`organizing.features.identified`, included), let
    :math:`C = \sum_q s_q x_q / \operatorname{sd}(\sum_q s_q x_q)`. The claim moves the
    *support*: its measures that are columns of the design, and for each measure left
    out, the columns its identity names (:class:`organizing.features.Alias`). Each
    support column moves by its expected shift when C rises by one SD,

    .. math:: Δ_k = \operatorname{cov}(x_k, C), \qquad θ = \sum_{k} Δ_k β_k ,

    over worksites. For measures that are all columns this is :func:`joint_weights`'
    :math:`c_q s_q`; for a measure that others determine it is the move of those others
    that stores differing in the measure show, so that no coefficient settled by the
    prior alone enters θ. Returns (support column indices, Δ).
    """
    columns = [site_column(design, m) for m in measures]
    if any(c is None for c in columns):
        raise KeyError("a measure is not in the design")
    composite = np.column_stack(columns) @ np.asarray(signs, dtype=float)
    spread = composite.std()
    if not spread > 0:
        raise ValueError("the measures' combination does not vary over worksites")
    composite = (composite - composite.mean()) / spread
    names = list(design.site_features)
    support: list[int] = []
    for m in measures:
        if m in names:
            support.append(names.index(m))
        else:
            alias = next(a for a in design.aliases if a.name == m)
            support.extend(names.index(n) for n in alias.on if n in names)
    support = sorted(set(support))
    if not support:
        raise ValueError("the measures are not determined by any column of the design")
    x = np.asarray(design.site_x)[:, support]
    delta = ((x - x.mean(axis=0)) * composite[:, None]).mean(axis=0)
    return support, delta


def _normal_cdf(z: float) -> float:
    return 0.5 * (1 + erf(z / sqrt(2)))


def summarize(values: np.ndarray) -> dict[str, float]:
    """Posterior mean, 5% and 95% quantiles and probability of a positive value."""
    q5, q95 = np.quantile(values, [0.05, 0.95])
    return {"mean": float(np.mean(values)), "q5": float(q5), "q95": float(q95),
            "prob_positive": float(np.mean(values > 0))}


def _row(model: ModelId, claim: Claim, quantity: str, mean=np.nan, q5=np.nan, q95=np.nan,
         prob=np.nan, result: str | None = None, reason: str = "", *, prior=np.nan,
         identification=np.nan) -> dict:
    if result is None:
        result = decide(prob, identification)
    return {"model": model.value, "id": claim.id, "claim": claim.claim, "source": claim.source,
            "quote": claim.quote, "kind": claim.kind, "measures": "; ".join(claim.measures),
            "direction": {1: "positive", -1: "negative", 0: ""}[claim.direction],
            "quantity": quantity, "mean": float(mean), "q5": float(q5), "q95": float(q95),
            "prob_claimed": float(prob), "prior_prob": float(prior),
            "identification": float(identification), "verdict": result,
            "reason": reason or claim.reason, "test": claim.id, "follows": claim.follows,
            "jointly_with": ""}


def _from_draws(model, claim, quantity, values, reference_sd: float, direction=None) -> dict:
    values = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(values)):
        return _row(model, claim, quantity, result=NOT_EVALUATED,
                    reason="the quantity is undefined for some posterior draws")
    s = summarize(values)
    direction = claim.direction if direction is None else direction
    prob = s["prob_positive"] if direction > 0 else 1 - s["prob_positive"]
    ratio = float(np.std(values) / reference_sd) if reference_sd > 0 else np.inf
    return _row(model, claim, quantity, s["mean"], s["q5"], s["q95"], prob,
                identification=ratio)


def _quantity(claim: Claim, measures=None) -> str:
    measures = claim.measures if measures is None else measures
    if claim.kind == SINGLE and len(measures) == 1:
        return f"coefficient of {measures[0]}"
    if claim.kind in (SINGLE, JOINT):
        return "combined coefficient of " + " and ".join(measures)
    if claim.kind == SIZE:
        named = [("minus " if s < 0 else "") + f"its change for {m}"
                 for m, s in zip(claim.measures, claim.signs, strict=True)]
        return ("size interaction λ (change of a worker slope per SD of log workers "
                "discovered): " + " combined with ".join(named))
    return _QUANTITIES.get(claim.kind, "")


# ------------------------------------------------------------------ the reference


@dataclass(frozen=True)
class Priors:
    """The priors of the model a verdict comes from, as the reference needs them.

    ``mean_scale``: sd of the prior of the population mean of a worker slope (None when
    the model has none); ``spread``: the prior of a slope's between-worksite sd,
    ``("half-normal", s)`` or ``("half-cauchy", s)``, with ``per_feature`` telling
    whether each worker feature has its own; ``interaction_scale``: sd of the size
    interaction λ's prior.
    """

    mean_scale: float | None
    spread: tuple[str, float]
    per_feature: bool
    interaction_scale: float

    @classmethod
    def of(cls, model: ModelId, headline=HEADLINE_PRIORS) -> Priors:
        """The study's HalfCauchy priors for the corrected and extended models, the
        headline model's (``headline``: possibly scaled, for the prior sensitivity)."""
        if model is ModelId.CORRECTED:
            return cls(None, ("half-cauchy", HALF_CAUCHY_SCALE), False, np.nan)
        if model is ModelId.EXTENDED:
            return cls(MEAN_PRIOR_SCALE, ("half-cauchy", HALF_CAUCHY_SCALE), True, np.nan)
        return cls(headline.mean_scale, ("half-normal", headline.individual_scale), True,
                   headline.interaction_scale)

    def spread_draws(self, n: int, features: int, rng: np.random.Generator) -> np.ndarray:
        """(n, features) prior draws of the between-worksite sd of each slope."""
        kind, scale = self.spread
        shape = (n, features if self.per_feature else 1)
        base = np.abs(rng.standard_normal(shape) if kind == "half-normal"
                      else rng.standard_cauchy(shape))
        return np.broadcast_to(scale * base, (n, features))


def site_reference_sd(draws: Mapping[str, np.ndarray], delta: np.ndarray) -> float:
    r"""Reference sd of θ = Δ·β: β_q ~ N(0, τ_β) given each posterior draw of τ_β,
    so sd_ref = √(E[τ_β²]) ‖Δ‖ (exact, no Monte Carlo error)."""
    tau = np.asarray(draws["beta_group_scale"], dtype=float)
    return float(np.sqrt(np.mean(tau**2)) * np.linalg.norm(delta))


# ------------------------------------------------------------------ joint tests


def joint_groups(design, register: tuple[Claim, ...] = None) -> dict[str, tuple[str, ...]]:
    """For each worksite-coefficient claim, the claims tested jointly with it (itself
    first in register order): claims whose measures correlate at least
    :data:`JOINT_CORRELATION` in absolute value across worksites, linked transitively.
    Two such measures cannot move apart in the data, so a claim about one "holding the
    other fixed" has no support; their claims get one test of the combined effect."""
    register = REGISTER if register is None else register
    claims = [c for c in register if c.kind in (SINGLE, JOINT) and not c.follows]
    columns = {c.id: [site_column(design, m) for m in c.measures] for c in claims}
    parent = {c.id: c.id for c in claims}

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i, a in enumerate(claims):
        for b in claims[i + 1:]:
            pairs = [(x, y) for x in columns[a.id] for y in columns[b.id]
                     if x is not None and y is not None]
            if any(abs(np.corrcoef(x, y)[0, 1]) >= JOINT_CORRELATION for x, y in pairs
                   if x.std() > 0 and y.std() > 0):
                parent[root(b.id)] = root(a.id)
    groups: dict[str, list[str]] = {}
    for c in claims:
        groups.setdefault(root(c.id), []).append(c.id)
    return {member: tuple(ids) for ids in groups.values() for member in ids}


def _group_measures(group: tuple[Claim, ...]) -> tuple[tuple[str, ...], np.ndarray]:
    """The union of a joint group's measures and their signs s_q = (d_c / d_first) · o_q.

    With these signs a rise of the composite moves every measure the way its own claim
    says goes with *more* signing when d_first = +1 (with less when −1), so every claim of
    the group claims the same sign of θ, the first claim's direction d_first."""
    names, signs = [], []
    first = group[0].direction
    for claim in group:
        for m, o in zip(claim.measures, claim.signs, strict=True):
            if m not in names:
                names.append(m)
                signs.append(o * claim.direction / first)
    return tuple(names), np.asarray(signs, dtype=float)


# ------------------------------------------------------------------ one test per kind


def _site_claim(model, claim, draws, design, group: tuple[Claim, ...]) -> dict:
    measures, signs = _group_measures(group)
    quantity = _quantity(claim, measures)
    if missing := [m for m in measures if site_column(design, m) is None]:
        return _row(model, claim, quantity, result=NOT_EVALUATED,
                    reason=f"{', '.join(missing)} is not in this model")
    if constant := [m for m in measures if not site_column(design, m).std() > 0]:
        return _row(model, claim, quantity, result=NOT_EVALUATED,
                    reason=f"{', '.join(constant)} does not vary in this model's data")
    try:
        support, delta = composite_direction(design, measures, signs)
    except ValueError as error:
        return _row(model, claim, quantity, result=NOT_EVALUATED, reason=str(error))
    beta = np.asarray(draws["beta_group"])[:, support]
    # the signs orient every claim of the group the first one's way (_group_measures), so
    # each claims the same sign of θ: the first claim's direction
    row = _from_draws(model, claim, quantity, beta @ delta, site_reference_sd(draws, delta),
                      direction=group[0].direction)
    aliased = [m for m in measures if m not in design.site_features]
    notes = []
    if len(group) > 1:
        others = [c for c in group if c.id != claim.id]
        r = _max_correlation(design, group)
        notes.append("tested jointly with " + "; ".join(f"“{c.claim}”" for c in others)
                     + f": their measures correlate at {r:.3f} across worksites, so the "
                     "data cannot move one without the other")
    for m in aliased:
        alias = next(a for a in design.aliases if a.name == m)
        notes.append(f"{m} is determined by {' and '.join(alias.on)} (to "
                     f"{100 * alias.residual_sd:.1f}% of its spread), so it moves with them")
    row["reason"] = "; ".join(notes)
    row["test"] = group[0].id
    row["jointly_with"] = "; ".join(c.id for c in group if c.id != claim.id)
    return row


def _max_correlation(design, group) -> float:
    columns = [site_column(design, m) for c in group for m in c.measures]
    best = 0.0
    for i, x in enumerate(columns):
        for y in columns[i + 1:]:
            if x is not None and y is not None and x.std() > 0 and y.std() > 0:
                best = max(best, abs(float(np.corrcoef(x, y)[0, 1])))
    return best


def comparable_features(design) -> list[int]:
    """Worksite columns a ranking compares: the worksite's own continuous features
    (not a level of a one-hot group, not a worksite mean of a worker feature)."""
    levels = {level for group in ONE_HOT_GROUPS.values() for level in group}
    return [j for j, name in enumerate(design.site_features)
            if not is_composition(name) and name not in levels]


def _ranking(model, claim, draws, design) -> dict:
    quantity = _quantity(claim)
    (measure,) = claim.measures
    if measure not in design.site_features:
        return _row(model, claim, quantity, result=NOT_EVALUATED,
                    reason=f"{measure} is not in this model")
    beta = np.asarray(draws["beta_group"])
    tau_sd = float(np.sqrt(np.mean(np.asarray(draws["beta_group_scale"]) ** 2)))
    ratios = beta.std(axis=0) / tau_sd
    index = list(design.site_features).index(measure)
    if ratios[index] >= IDENTIFICATION_RATIO:
        return _row(model, claim, quantity, result=NOT_IDENTIFIED,
                    identification=float(ratios[index]),
                    reason=f"{measure}'s own coefficient is not identified")
    compared = [j for j in comparable_features(design) if ratios[j] < IDENTIFICATION_RATIO]
    if index not in compared:
        return _row(model, claim, quantity, result=NOT_EVALUATED,
                    reason=f"{measure} is not among the comparable worksite features")
    largest = np.abs(beta[:, compared]).max(axis=1)
    event = (claim.direction * beta[:, index] > 0) & (np.abs(beta[:, index]) >= largest)
    draws_n = len(event)
    post = float(event.mean())
    prior = 1.0 / (2 * len(compared))

    def odds(p):
        p = min(max(p, 0.5 / draws_n), 1 - 0.5 / draws_n)
        return p / (1 - p)

    factor = odds(post) / odds(prior)
    if post >= SUPPORT_THRESHOLD and factor >= RANKING_BAYES_FACTOR:
        result = "supported"
    elif post <= 1 - SUPPORT_THRESHOLD and factor <= 1 / RANKING_BAYES_FACTOR:
        result = "contradicted"
    else:
        result = "inconclusive"
    left_out = len(comparable_features(design)) - len(compared)
    reason = (f"ranked against {len(compared)} comparable worksite features (no one-hot "
              f"contrasts, no worksite means of worker features"
              + (f", {left_out} not identified left out" if left_out else "")
              + f"); a share of {prior:.3f} is what the prior gives; the data move the "
              f"odds by a factor of {factor:.2g}")
    return _row(model, claim, quantity, post, prob=post, prior=prior, result=result,
                identification=float(ratios[index]), reason=reason)


def reference_draws(draws: Mapping[str, np.ndarray], priors: Priors,
                    rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draws with the quantities a verdict tests replaced by their reference: β from
    N(0, τ_β) given each draw's τ_β, the worker slopes' population means from their
    prior, and the slopes as those means plus each draw's between-worksite spread."""
    out = dict(draws)
    tau = np.asarray(draws["beta_group_scale"], dtype=float)
    beta = np.asarray(draws["beta_group"])
    out["beta_group"] = tau[:, None] * rng.standard_normal(beta.shape)
    b = np.asarray(draws["beta_individual"])
    d, s, p = b.shape
    means = (np.zeros((d, p)) if priors.mean_scale is None
             else priors.mean_scale * rng.standard_normal((d, p)))
    spread = np.broadcast_to(np.asarray(draws["beta_individual_scale"], dtype=float)
                             .reshape(d, -1), (d, p))
    out["beta_individual"] = means[:, None, :] + spread[:, None, :] * rng.standard_normal(
        (d, s, p))
    return out


def _variance(model, claim, draws, design, priors, rng) -> dict:
    from organizing.audit import design_variance_parts

    quantity = _quantity(claim)
    term = "features: worksite minus worker"
    posterior = design_variance_parts(model, draws, design)[term]
    reference = design_variance_parts(model, reference_draws(draws, priors, rng), design)[term]
    return _from_draws(model, claim, quantity, posterior, float(np.std(reference)))


def _spread(model, claim, draws, priors, rng) -> dict:
    quantity = _quantity(claim)
    tau = np.asarray(draws["beta_individual_scale"], dtype=float)
    features = np.asarray(draws["beta_individual"]).shape[-1]
    tau = np.broadcast_to(tau.reshape(len(tau), -1), (len(tau), features))
    rms = np.sqrt((tau**2).mean(axis=1))
    reference = np.sqrt((priors.spread_draws(4000, features, rng) ** 2).mean(axis=1))
    s = summarize(rms)
    prob = float(np.mean(rms < LITTLE_SPREAD))
    ratio = float(rms.std() / reference.std()) if reference.std() > 0 else np.inf
    return _row(model, claim, quantity, s["mean"], s["q5"], s["q95"], prob,
                identification=ratio)


def _size(model, claim, size_fit) -> dict:
    quantity = _quantity(claim)
    if size_fit is None:
        return _row(model, claim, quantity, result=NOT_EVALUATED,
                    reason="the size interaction is fitted as a variant of the headline "
                           "model only")
    draws, design, priors = size_fit
    features = list(design.worker_features)
    if missing := [m for m in claim.measures if m not in features]:
        return _row(model, claim, quantity, result=NOT_EVALUATED,
                    reason=f"{', '.join(missing)} is not in this model")
    index = [features.index(m) for m in claim.measures]
    x = np.asarray(design.worker_x)[:, index]
    if not np.all(x.std(axis=0) > 0):
        return _row(model, claim, quantity, result=NOT_EVALUATED,
                    reason="a measure does not vary in this model's data")
    weights = joint_weights(measure_correlation(x, claim.signs)) * claim.signs
    slope = np.asarray(draws["size_slope"])[:, index] @ weights
    return _from_draws(model, claim, quantity, slope,
                       priors.interaction_scale * float(np.linalg.norm(weights)))


def _model_fit(model, claim, accuracy) -> dict:
    quantity = _quantity(claim)
    rows = None if accuracy is None else accuracy[accuracy["model"] == ModelId.PUBLISHED.value]
    if rows is None or rows.empty:
        return _row(model, claim, quantity, result=NOT_EVALUATED,
                    reason="no held-out predictions of the study's model")
    m = rows.iloc[0]
    difference, se = float(m["difference"]), float(m["se"])
    prob = _normal_cdf(claim.direction * difference / se) if se > 0 else float(
        claim.direction * difference > 0)
    beside = accuracy[accuracy["model"] != ModelId.PUBLISHED.value]
    others = ", ".join(f"{r['model']} {r['accuracy']:.3f}" for _, r in beside.iterrows())
    text = (f"{quantity} ({m['accuracy']:.3f} against {m['base_accuracy']:.3f}; AUC "
            f"{m['auc']:.3f})" + (f"; the book's models: {others}" if others else ""))
    return _row(model, claim, text, difference, difference - 1.645 * se,
                difference + 1.645 * se, prob,
                reason="a held-out measurement, not a posterior quantity: the standard error "
                       "pairs the two accuracies worker by worker and clusters by worksite")


def _clustering(model, claim, clustering) -> dict:
    quantity = _quantity(claim)
    if clustering is None:
        return _row(model, claim, quantity, result=NOT_EVALUATED,
                    reason="the clustering was run on the headline model's slopes only")
    d, se = float(clustering.two_difference), float(clustering.two_difference_se)
    prob = _normal_cdf(d / se) if se > 0 else float(d > 0)
    return _row(model, claim, quantity, d, d - 1.645 * se, d + 1.645 * se, prob,
                reason="held-out comparison of two clusters with one (the one-cluster "
                       "model chosen by cross-validation inside the training worksites); P "
                       "is the normal approximation Φ(Δ/se), not a posterior probability")


def evaluate_claims(model: ModelId, draws: Mapping[str, np.ndarray], design, *,
                    accuracy: pd.DataFrame | None = None, clustering=None,
                    size_fit=None, priors: Priors | None = None,
                    register: tuple[Claim, ...] = REGISTER, seed: int = 0,
                    reference_draws_kept: int = 400) -> pd.DataFrame:
    """The verdict on every claim of the register under one model's posterior draws.

    ``draws``: posterior draws as NUTS returns them, pooled over chains, with the
    deterministic sites (``beta_group`` (D, Q), ``beta_individual`` (D, S, P), ...).
    ``design``: the model's design restricted to the workers it was fitted on (its
    ``aliases`` name the columns left out). ``accuracy``: the held-out accuracy table of
    :func:`organizing.evaluation.accuracy_gain` (for the model-fit claim);
    ``clustering``: the clustering test (:class:`organizing.clustering.heldout_test.ClusterTest`);
    ``size_fit``: (draws, design, priors) of the size-interaction variant, whose λ the
    size claims rest on; ``priors``: the model's priors (:meth:`Priors.of` by default).
    A claim whose inputs are missing is "not evaluated", with the reason. Returns one row
    per claim, columns :data:`COLUMNS`.
    """
    priors = Priors.of(model) if priors is None else priors
    rng = np.random.default_rng(seed)
    keep = np.linspace(0, len(np.asarray(draws["beta_group"])) - 1,
                       min(reference_draws_kept, len(np.asarray(draws["beta_group"]))))
    thinned = {k: np.asarray(v)[keep.round().astype(int)] for k, v in draws.items()}
    groups = joint_groups(design, register)
    by_id = {c.id: c for c in register}
    rows: dict[str, dict] = {}
    for claim in register:
        if claim.follows:
            continue
        if claim.kind == UNTESTABLE:
            row = _row(model, claim, "", result=NOT_TESTABLE)
        elif claim.kind in (SINGLE, JOINT):
            row = _site_claim(model, claim, draws, design,
                              tuple(by_id[i] for i in groups[claim.id]))
        elif claim.kind == RANKING:
            row = _ranking(model, claim, draws, design)
        elif claim.kind == VARIANCE:
            row = _variance(model, claim, thinned, design, priors, rng)
        elif claim.kind == SPREAD:
            row = _spread(model, claim, draws, priors, rng)
        elif claim.kind == SIZE:
            row = _size(model, claim, size_fit)
        elif claim.kind == MODEL_FIT:
            row = _model_fit(model, claim, accuracy)
        else:
            row = _clustering(model, claim, clustering)
        rows[claim.id] = row
    for claim in register:
        if claim.follows:
            rows[claim.id] = _follower(model, claim, rows[claim.follows], by_id[claim.follows])
    return pd.DataFrame([rows[c.id] for c in register], columns=list(COLUMNS))


def _follower(model, claim: Claim, finding: dict, source: Claim) -> dict:
    """A row that rests on ``finding``'s test: its evidence and verdict, not counted again."""
    if claim.kind == CLUSTERING and finding["verdict"] == "supported":
        return _row(model, claim, finding["quantity"], result=NOT_EVALUATED,
                    reason="two clusters are supported; how they split by size is shown in "
                           "the clustering chapter, not scored")
    own = _row(model, claim, "", result=finding["verdict"])
    row = {**finding, **{k: v for k, v in own.items()
                         if k in ("id", "claim", "source", "quote", "kind", "measures",
                                  "direction", "follows")}}
    row["reason"] = f"follows from “{source.claim}”" + (
        f", which is not evaluated: {finding['reason']}"
        if finding["verdict"] == NOT_EVALUATED else "") + (
        f"; {claim.reason}" if claim.reason else "")
    row["jointly_with"] = ""
    return row


def distinct_tests(table: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct test among the claims that were tested (a three-level verdict
    or not identified): the first claim of each test, in register order. Recommendations
    that follow from a finding and claims tested jointly share their test's row."""
    tested = table[table["verdict"].isin((*VERDICTS, NOT_IDENTIFIED))]
    return tested.drop_duplicates("test").reset_index(drop=True)


def verdict_counts(table: pd.DataFrame) -> dict[str, int]:
    """How many distinct tests (:func:`distinct_tests`) reached each verdict."""
    tests = distinct_tests(table)
    return {v: int((tests["verdict"] == v).sum()) for v in (*VERDICTS, NOT_IDENTIFIED)}


def claim_row(table: pd.DataFrame, claim_id: str) -> pd.Series:
    """The row of ``table`` for the claim with the stable id ``claim_id``."""
    rows = table[table["id"] == claim_id]
    if rows.empty:
        raise KeyError(f"no claim with id {claim_id!r}; ids: {', '.join(table['id'])}")
    return rows.iloc[0]


# ------------------------------------------------------------------ sensitivity marker


def moved_verdicts(table: pd.DataFrame, sensitivity) -> dict[str, list[str]]:
    """For each claim of ``table``, the sensitivity analyses under which its verdict moves.

    ``table``: the headline claims (claim, verdict). ``sensitivity``: ``None`` (no
    analyses: every claim maps to an empty list) or an object whose ``verdicts`` frame has
    one row per analysis and claim (variant, claim, verdict, and optionally ``changed``).
    A verdict moves when both it and the headline verdict are one of the three levels or
    "not identified" and they differ (or where ``changed`` says so); "not testable" and
    "not evaluated" never move.
    """
    moved: dict[str, list[str]] = {c: [] for c in table["claim"]}
    frame = getattr(sensitivity, "verdicts", None)
    if frame is None:
        return moved
    headline = table.drop_duplicates("claim").set_index("claim")["verdict"]
    for row in frame.to_dict("records"):
        claim, before = row["claim"], headline.get(row["claim"])
        if claim not in moved:
            continue
        changed = row["changed"] if "changed" in row else (
            before in (*VERDICTS, NOT_IDENTIFIED) and row["verdict"] in (
                *VERDICTS, NOT_IDENTIFIED) and row["verdict"] != before)
        if changed and row["variant"] not in moved[claim]:
            moved[claim].append(row["variant"])
    return moved
