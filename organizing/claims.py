r"""The study's claims, one register, and their verdicts under a posterior.

The register (:data:`REGISTER`) lists every conclusion of the study's final
report and of its README (including the README's "Implications for
Organizing"), each with its source, its wording, the measures it rests on, the
direction it claims and the kind of test it needs. The README's "Future Work"
proposes work rather than concluding anything, so it is not in the register.
A conclusion the data cannot test is kept, with the reason.

**Verdicts.** A claim says that a quantity θ has a sign. From posterior draws
of θ, P(claimed) is the posterior probability of that sign, and

* **supported** when P(claimed) ≥ :data:`SUPPORT_THRESHOLD` (0.95),
* **contradicted** when P(claimed) ≤ 1 − :data:`SUPPORT_THRESHOLD` (0.05),
* **inconclusive** otherwise.

Two kinds of claim are not about a posterior quantity. The model-fit claim is
judged on held-out accuracy against the base rate, with P(claimed) the normal
approximation Φ(Δ / se(Δ)). The two-cluster claim takes the clustering
chapter's paired held-out verdict (:func:`organizing.clustering.cluster_verdict`):
"clusters supported", "inconclusive" and "no clusters" map to supported,
inconclusive and contradicted; its P(claimed) is left undefined, since that
rule is not a posterior probability.

**Joint tests.** Claims that rest on several measures q ∈ M (for example "larger
worksites go with less signing": workers discovered *and* workers contacted) are
tested on one combined effect, :func:`joint_weights`, so that correlated
measures are neither double-counted nor split into individually inconclusive
pieces.

**Effects in percentage points.** :func:`probability_change` turns a log-odds
effect into the change in the probability of signing for a typical worker.
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

#: Posterior probability of the claimed sign needed to call a claim supported; one minus it
#: is the probability at or below which the claim is contradicted.
SUPPORT_THRESHOLD = 0.95

#: The three verdicts on a tested claim, and the two labels of a claim without one.
VERDICTS = ("supported", "inconclusive", "contradicted")
NOT_TESTABLE = "not testable"
NOT_EVALUATED = "not evaluated"

#: Kinds of test.
SINGLE = "single coefficient"
JOINT = "joint of several coefficients"
RANKING = "ranking of coefficients"
VARIANCE = "variance decomposition"
SIZE = "size interaction"
CLUSTERING = "clustering"
MODEL_FIT = "model fit"
UNTESTABLE = "not testable"
KINDS = (SINGLE, JOINT, RANKING, VARIANCE, SIZE, CLUSTERING, MODEL_FIT, UNTESTABLE)

#: Where the study's two documents are (repository head, which holds both).
STUDY_COMMIT = "7202569b48cee2c328d656fc39326c74edda8af0"
SOURCE_URLS = {
    "report": "https://github.com/rfspringer/walmart-modelling-bayesian/blob/"
              f"{STUDY_COMMIT}/report.pdf",
    "README": "https://github.com/rfspringer/walmart-modelling-bayesian/blob/"
              f"{STUDY_COMMIT}/README.md",
}

#: Clustering verdicts (organizing.clustering) as claim verdicts.
CLUSTER_VERDICTS = {"clusters supported": "supported", "inconclusive": "inconclusive",
                    "no clusters": "contradicted"}


@dataclass(frozen=True)
class Claim:
    """One conclusion of the study.

    ``sources``: (document, section) pairs, document "report" or "README".
    ``claim``: the book's one-line statement; ``quote``: the study's words (short quote or
    close paraphrase). ``measures``: feature names as in the data; ``orientation``: the
    sign of each measure inside a combined effect (default all +1); ``direction``: the
    sign the study claims for the tested quantity (0 when not testable). ``reason``: why
    a claim cannot be tested.
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
          "worksites ... Network metrics ... distributed similarly", UNTESTABLE,
          (DISCOVERED, CONTACTED),
          reason="it describes clusters found in the published coefficient vectors, which "
                 "were a draw from the prior (see the audit); whether clusters exist is the "
                 "two-cluster claim, and the size pattern it points to is tested directly "
                 "by the size-interaction claims"),
    Claim("model_fit", ((_R, "Methods"), (_M, "Results")),
          "The model predicts held-out signing well",
          "a good fit for the model, acheiving an accuracy score of 0.9356 (compared to a "
          "baseline of 0.8274 when predicting only 0) and an AUC of 0.7688",
          MODEL_FIT, direction=+1),
    Claim("worker_scale_small", ((_R, "Regression Results"),),
          "Worker-level effects vary little between worksites",
          "The small scale for β ... implies little variance between workplaces and smaller "
          "coefficients (mostly clustered around 0)", UNTESTABLE,
          reason="'little' has no threshold, so there is no sign to test; the scale it rests "
                 "on (0.0063) is an artifact of the published code (see the audit), and the "
                 "headline model's spreads of the worker coefficients are reported with the "
                 "results"),
    Claim("tactics_over_inherent", ((_R, "Conclusion"),),
          "Organizer tactics matter more than inherent workplace features",
          "the effectiveness and importance of organizer tactics over inherent workplace "
          "features", UNTESTABLE,
          reason="the study does not say which features count as tactics, and effectiveness "
                 "is a causal statement that correlational data cannot test"),
    Claim("recommend_group_level", ((_R, "Abstract"),),
          "Recommended: focus on group-level interventions",
          "we suggest a focus on group-level interventions on workplace organizing",
          VARIANCE, direction=+1),
    Claim("recommend_size_strategies", ((_M, "Implications for Organizing"), (_R, "Abstract")),
          "Recommended: different organizing strategies by workplace size",
          "Different organizing strategies needed based on workplace size",
          SIZE, (NOTES, LATEST_CONTACT), +1, (+1, -1)),
    Claim("recommend_individual_outreach", ((_M, "Implications for Organizing"),),
          "Recommended: more focused individual outreach at large workplaces",
          "Large workplaces require more focused individual outreach", SIZE, (NOTES,), +1),
    Claim("recommend_contact_timing", ((_M, "Implications for Organizing"),),
          "Recommended: early first contact matters more at large workplaces",
          "Timing of initial contact more critical in larger workplaces",
          SIZE, (LATEST_CONTACT,), +1, (-1,)),
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

#: What each testable kind measures, for the "Tested by" column.
_QUANTITIES = {
    VARIANCE: "sd of the worksite-feature term minus sd of the worker term (logit scale)",
    RANKING: "share of draws in which it has the largest |coefficient| of the worksite "
             "features",
    CLUSTERING: "held-out log density, best K ≥ 2 minus K = 1 (paired over worksites)",
    MODEL_FIT: "held-out accuracy minus the base-rate accuracy",
}


def verdict(prob_claimed: float) -> str:
    """Three levels from the posterior probability of the claimed sign (module docstring)."""
    if not 0 <= prob_claimed <= 1:
        raise ValueError(f"a probability is needed, got {prob_claimed!r}")
    if prob_claimed >= SUPPORT_THRESHOLD:
        return "supported"
    if prob_claimed <= 1 - SUPPORT_THRESHOLD:
        return "contradicted"
    return "inconclusive"


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
    tell collinear measures apart (their β_q are then negatively correlated in the
    posterior, and each alone looks inconclusive).
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


def _normal_cdf(z: float) -> float:
    return 0.5 * (1 + erf(z / sqrt(2)))


def _summary(values: np.ndarray) -> dict[str, float]:
    q5, q95 = np.quantile(values, [0.05, 0.95])
    return {"mean": float(np.mean(values)), "q5": float(q5), "q95": float(q95),
            "prob_positive": float(np.mean(values > 0))}


def _row(model: ModelId, claim: Claim, quantity: str, mean=np.nan, q5=np.nan, q95=np.nan,
         prob=np.nan, result: str | None = None, reason: str = "") -> dict:
    if result is None:
        result = verdict(prob)
    return {"model": model.value, "id": claim.id, "claim": claim.claim, "source": claim.source,
            "quote": claim.quote, "kind": claim.kind, "measures": "; ".join(claim.measures),
            "direction": {1: "positive", -1: "negative", 0: ""}[claim.direction],
            "quantity": quantity, "mean": float(mean), "q5": float(q5), "q95": float(q95),
            "prob_claimed": float(prob), "verdict": result, "reason": reason or claim.reason}


def _from_draws(model, claim, quantity, values) -> dict:
    if not np.all(np.isfinite(values)):
        return _row(model, claim, quantity, result=NOT_EVALUATED,
                    reason="the quantity is undefined for some posterior draws")
    s = _summary(values)
    prob = s["prob_positive"] if claim.direction > 0 else 1 - s["prob_positive"]
    return _row(model, claim, quantity, s["mean"], s["q5"], s["q95"], prob)


def _quantity(claim: Claim) -> str:
    if claim.kind == SINGLE:
        return f"coefficient of {claim.measures[0]}"
    if claim.kind == JOINT:
        return "combined coefficient of " + " and ".join(claim.measures)
    if claim.kind == SIZE:
        named = [("minus " if s < 0 else "") + f"the {m} coefficient"
                 for m, s in zip(claim.measures, claim.signs, strict=True)]
        return ("correlation with log workers discovered of " + " combined with ".join(named))
    return _QUANTITIES.get(claim.kind, "")


def evaluate_claim(claim: Claim, model: ModelId, draws: Mapping[str, np.ndarray], design,
                   size: np.ndarray, *, variance: pd.DataFrame | None = None,
                   metrics: pd.DataFrame | None = None, clustering=None) -> dict:
    r"""One row of :func:`evaluate_claims`: the quantity that tests ``claim`` and its verdict.

    * single and joint coefficients: draws of θ = Σ c_q s_q β_q (:func:`combined_effect`,
      R across worksites; for one measure θ = β);
    * ranking: the share of draws in which the measure has the largest |β_q| among the
      worksite's own features (worksite means of worker features excluded);
    * variance decomposition: the posterior of sd(worksite term) − sd(worker term);
    * size interaction: per draw, the correlation across worksites between log size and
      the combined worker coefficient Σ c_q s_q b_{s,q} (R across workers, from the
      model's own worker columns: measured from the worksite means in the headline
      design, raw in the others);
    * model fit: Δ = accuracy − base-rate accuracy a₀ = max(ȳ, 1 − ȳ) on held-out
      workers, se(Δ) = √((a(1−a) + a₀(1−a₀))/n), P = Φ(Δ/se). The se ignores the pairing
      of the two accuracies (conservative) and the clustering of workers in worksites
      (not conservative); with Δ many standard errors from zero neither moves a verdict;
    * clustering: the paired held-out verdict (module docstring).

    A claim whose inputs are missing (a measure not in this model's design, no metrics,
    no clustering run) is "not evaluated", with the reason.
    """
    from organizing.clustering import coefficient_size_association

    quantity = _quantity(claim)
    if claim.kind == UNTESTABLE:
        return _row(model, claim, "", result=NOT_TESTABLE)
    if claim.kind == VARIANCE:
        if variance is None:
            return _row(model, claim, quantity, result=NOT_EVALUATED,
                        reason="no variance decomposition given")
        s = variance.set_index("term").loc["features: worksite minus worker"]
        prob = s["prob_positive"] if claim.direction > 0 else 1 - s["prob_positive"]
        return _row(model, claim, quantity, s["mean"], s["q5"], s["q95"], prob)
    if claim.kind == MODEL_FIT:
        return _model_fit(claim, model, quantity, metrics)
    if claim.kind == CLUSTERING:
        return _clustering(claim, model, quantity, clustering)
    worker_level = claim.kind == SIZE
    features = design.worker_features if worker_level else design.site_features
    x = design.worker_x if worker_level else design.site_x
    if missing := [m for m in claim.measures if m not in features]:
        return _row(model, claim, quantity, result=NOT_EVALUATED,
                    reason=f"{', '.join(missing)} is not in this model")
    index = [list(features).index(m) for m in claim.measures]
    if constant := [m for m, j in zip(claim.measures, index, strict=True)
                    if not np.std(x[:, j]) > 0]:
        return _row(model, claim, quantity, result=NOT_EVALUATED,
                    reason=f"{', '.join(constant)} does not vary in this model's data")
    if claim.kind in (SINGLE, JOINT):
        beta = np.asarray(draws["beta_group"])[:, index]
        return _from_draws(model, claim, quantity, combined_effect(beta, x[:, index],
                                                                    claim.signs))
    if claim.kind == RANKING:
        # among the worksite's own features: the headline design's worksite means of
        # worker features (features.within_between) are not worksite features
        own = [j for j, name in enumerate(features) if not is_composition(name)]
        largest = np.asarray(own)[np.abs(np.asarray(draws["beta_group"])[:, own]).argmax(axis=1)]
        share = float(np.mean(largest == index[0]))
        return _row(model, claim, quantity, share,
                    prob=share if claim.direction > 0 else 1 - share)
    size = np.asarray(size, dtype=float)
    if len(size) < 3 or not np.all(np.isfinite(size)) or not np.ptp(size) > 0:
        return _row(model, claim, quantity, result=NOT_EVALUATED,
                    reason="a correlation with worksite size needs at least three worksites "
                    "of finite, differing sizes")
    b = np.asarray(draws["beta_individual"])[:, :, index]  # size interaction
    composite = combined_effect(b, x[:, index], claim.signs)
    if not np.all(np.std(composite, axis=1) > 0):
        return _row(model, claim, quantity, result=NOT_EVALUATED,
                    reason="the coefficients do not vary across worksites in this model")
    values = coefficient_size_association(composite, size).correlation
    return _from_draws(model, claim, quantity, values)


def _model_fit(claim: Claim, model: ModelId, quantity: str, metrics) -> dict:
    rows = None if metrics is None else metrics[metrics["model"] == model.value]
    if rows is None or rows.empty:
        return _row(model, claim, quantity, result=NOT_EVALUATED,
                    reason="no held-out metrics for this model")
    m = rows.iloc[0]
    a, n = float(m["accuracy"]), float(m["n"])
    # the base rate's accuracy: predict the commoner outcome for everyone
    a0 = max(float(m["baseline_accuracy"]), 1.0 - float(m["baseline_accuracy"]))
    difference, se = a - a0, sqrt((a * (1 - a) + a0 * (1 - a0)) / n)
    signed = claim.direction * difference
    prob = _normal_cdf(signed / se) if se > 0 else float(signed > 0)
    return _row(model, claim, f"{quantity} ({a:.3f} against {a0:.3f})", difference,
                difference - 1.645 * se, difference + 1.645 * se, prob)


def _clustering(claim: Claim, model: ModelId, quantity: str, run) -> dict:
    if run is None:
        return _row(model, claim, quantity, result=NOT_EVALUATED,
                    reason="the clustering was run on the headline model's coefficients only")
    if run.verdict not in CLUSTER_VERDICTS:
        raise ValueError(f"unknown clustering verdict {run.verdict!r}")
    rule = "decided by the paired held-out rule of the clustering chapter"
    several = run.comparison[run.comparison["K"] >= 2]
    if several.empty:
        return _row(model, claim, quantity, result=CLUSTER_VERDICTS[run.verdict], reason=rule)
    best = several.sort_values("heldout_lpd", ascending=False).iloc[0]
    d, se = float(best["diff_vs_one"]), float(best["diff_vs_one_se"])
    return _row(model, claim, f"{quantity}; best K = {int(best['K'])}", d, d - 1.645 * se,
                d + 1.645 * se, result=CLUSTER_VERDICTS[run.verdict], reason=rule)


def with_clustering(claims_frame: pd.DataFrame, run, model: ModelId) -> pd.DataFrame:
    """``claims_frame`` with ``model``'s clustering claims judged on the clustering ``run``."""
    frame = claims_frame.copy()
    for claim in REGISTER:
        if claim.kind != CLUSTERING:
            continue
        rows = (frame["id"] == claim.id) & (frame["model"] == model.value)
        row = _clustering(claim, model, _quantity(claim), run)
        for column, value in row.items():
            frame.loc[rows, column] = value
    return frame


def evaluate_claims(model: ModelId, draws: Mapping[str, np.ndarray], design, size: np.ndarray,
                    *, variance: pd.DataFrame | None = None,
                    metrics: pd.DataFrame | None = None, clustering=None,
                    register: tuple[Claim, ...] = REGISTER) -> pd.DataFrame:
    """The verdict on every claim of the register under one model's posterior draws.

    Columns: model, id, claim, source, quote, kind, measures, direction, quantity, mean,
    q5, q95, prob_claimed (NaN when undefined), verdict (supported, inconclusive,
    contradicted, not testable, not evaluated), reason. Arguments as
    :func:`organizing.pipeline.claims_for`.
    """
    return pd.DataFrame([evaluate_claim(c, model, draws, design, size, variance=variance,
                                        metrics=metrics, clustering=clustering)
                         for c in register])


def register_frame(register: tuple[Claim, ...] = REGISTER) -> pd.DataFrame:
    """The register as a table: id, claim, source, quote, kind, measures, direction, reason."""
    return pd.DataFrame([{"id": c.id, "claim": c.claim, "source": c.source, "quote": c.quote,
                          "kind": c.kind, "measures": "; ".join(c.measures),
                          "direction": {1: "positive", -1: "negative", 0: ""}[c.direction],
                          "reason": c.reason} for c in register])


# ------------------------------------------------------------------ percentage points


def logit(p: float) -> float:
    """log(p / (1 − p)) for 0 < p < 1."""
    if not 0 < p < 1:
        raise ValueError(f"a rate strictly between 0 and 1 is needed, got {p!r}")
    return float(np.log(p / (1 - p)))


def probability_change(effect: np.ndarray, p0: float) -> np.ndarray:
    r"""Change in the probability of signing, Δ = σ(logit p₀ + effect) − p₀, per draw.

    ``effect`` is the shift of the log-odds (β for +1 SD of a standardized feature;
    β/sd for a 0 → 1 move of a standardized 0/1 column); p₀ the probability before the
    move, a typical worker's.
    """
    return 1 / (1 + np.exp(-(logit(p0) + np.asarray(effect, dtype=float)))) - p0


def feature_steps(raw_x: np.ndarray, names: tuple[str, ...]) -> dict[str, tuple[float, str]]:
    """For each feature, the standardized step of the move to report, and its label.

    A 0/1 column (a level of a one-hot group; a binary feature, whose midpoint code for
    an unknown value is ignored) moves from 0 to 1: 1/sd standardized units, labelled
    "from <reference level>" for a one-hot level and "from 0 to 1" otherwise. Any other
    feature moves by one standard deviation: 1 unit, "+1 SD". ``raw_x`` holds the
    unstandardized columns, sd their population standard deviation as in
    :func:`organizing.features.standardize`.
    """
    raw_x = np.asarray(raw_x, dtype=float)
    references = {level: levels[0] for levels in ONE_HOT_GROUPS.values() for level in levels}
    steps = {}
    for j, name in enumerate(names):
        column = raw_x[:, j]
        sd = float(column.std())
        if sd > 0 and set(np.unique(column)) - {0.0, 0.5, 1.0} == set() and (
                {0.0, 1.0} <= set(np.unique(column))):
            label = (f"from {references[name]}" if name in references else "from 0 to 1")
            steps[name] = (1 / sd, label)
        else:
            steps[name] = (1.0, "+1 SD")
    return steps


def percentage_point_effects(draws: Mapping[str, np.ndarray], design, p0: float,
                             steps: Mapping[str, tuple[float, str]]) -> pd.DataFrame:
    r"""Each feature's effect on a typical worker's probability of signing, in points.

    For a worksite feature the log-odds shift is step·β_q; for a worker feature it is
    step·b̄_p with b̄_p = (1/S) Σ_s b_{s,p} the average coefficient across worksites (the
    quantity of the worker-effects table). Δ = σ(logit p₀ + shift) − p₀ per draw
    (:func:`probability_change`), times 100. ``steps`` from :func:`feature_steps`; in a
    design with one reference level dropped per one-hot group, a level's 0 → 1 move is
    the move from the reference level. Columns: level, feature, change, mean, q5, q95
    (percentage points), prob_positive.
    """
    rows = []
    groups = (("worker", design.worker_features,
               np.asarray(draws["beta_individual"]).mean(axis=1)),
              ("worksite", design.site_features, np.asarray(draws["beta_group"])))
    for level, names, coefficients in groups:
        for j, name in enumerate(names):
            if name not in steps:
                raise KeyError(f"no step given for feature {name!r}")
            step, label = steps[name]
            delta = 100 * probability_change(step * coefficients[:, j], p0)
            rows.append({"level": level, "feature": name, "change": label,
                         **_summary(delta)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ sensitivity marker


def moved_verdicts(table: pd.DataFrame, sensitivity) -> dict[str, list[str]]:
    """For each claim of ``table``, the sensitivity analyses under which its verdict moves.

    ``table``: the headline claims (claim, verdict). ``sensitivity``: ``None`` (no
    analyses: every claim maps to an empty list) or an object whose ``verdicts`` frame has
    one row per analysis and claim (variant, claim, verdict, and optionally ``changed``).
    A verdict moves when both it and the headline verdict are one of the three levels and
    they differ (or where ``changed`` says so); "not testable" and "not evaluated" never
    move.
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
            before in VERDICTS and row["verdict"] in VERDICTS and row["verdict"] != before)
        if changed and row["variant"] not in moved[claim]:
            moved[claim].append(row["variant"])
    return moved
