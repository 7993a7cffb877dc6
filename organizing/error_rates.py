r"""How often the verdicts err: the scorecard and the clustering test on simulated campaigns.

A verdict is only as good as the error rates of the rule that produced it. This stage
measures them on campaigns simulated from the fitted headline model, with the real
workers, worksites, features and training split, so that worksite sizes, collinearity
and partial pooling are the campaign's own:

* **Null campaigns** (:func:`null_truth`). Every effect the scorecard tests is set to
  zero: the worksite coefficients of every column a tested claim moves, and the size
  interaction (the slopes come from one Gaussian, :math:`b_s \sim \mathcal N(μ_b,
  \operatorname{diag} τ_b^2)`, whatever a worksite's size). Everything else (α, the other
  β, σ_u, μ_b, τ_b) is the headline posterior mean. Each campaign is fitted as the real
  one is (the headline model and its size variant, NUTS), and the scorecard's rule is
  applied. The *false-verdict count* of a campaign is the number of distinct tests
  (:func:`organizing.claims.distinct_tests`) that came out decisive although their
  quantity is zero: "supported" or "contradicted" for a sign claim, "supported" for the
  ranking and the clustering claims (whose claim is false under the null). The same
  campaigns give the clustering test's *false-cluster rate*: slopes from one Gaussian
  must not be called clustered.
* **Planted campaigns** (:func:`planted_truth`). The worksites are split at their median
  size; each half's slopes come from its own Gaussian, centred
  :math:`±h\,τ_b` away from :math:`μ_b` with spread :math:`\sqrt{1 - h^2}\,τ_b`
  (:data:`PLANTED_SEPARATION` = h), so the slopes' overall spread is the fitted one. The
  clustering test's *detection rate* is the share called clustered.

The fits use fewer draws than the book's (``error_rates`` in the configuration); the
stage also refits the real campaign at those settings and reports how far its
probabilities move (:func:`stability`), so the rates describe the rule the book applies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from organizing.claims import (
    CLUSTERING,
    DECISIVE,
    JOINT,
    RANKING,
    REGISTER,
    SINGLE,
    SIZE,
    Priors,
    composite_direction,
    distinct_tests,
    evaluate_claims,
    site_column,
)
from organizing.clustering.heldout_test import (
    ClusterTestSettings,
    cluster_test,
    headline_likelihoods,
)
from organizing.clustering.selection import CLUSTERS_SUPPORTED
from organizing.models import HEADLINE_MODEL

#: Planted clusters: each half's slope mean lies h·τ_b from μ_b (spread √(1 − h²)·τ_b).
PLANTED_SEPARATION = 0.9
#: Kinds whose quantity is zero under the null: both decisive verdicts are false.
SIGN_KINDS = (SINGLE, JOINT, SIZE)
#: Kinds whose claim is false under the null: only "supported" is false.
FALSE_CLAIM_KINDS = (RANKING, CLUSTERING)


@dataclass(frozen=True)
class Truth:
    """The parameters a campaign is simulated from (standardized features)."""

    alpha: float
    beta: np.ndarray  # (Q,)
    site_effect: np.ndarray  # (S,)
    slopes: np.ndarray  # (S, P)


def posterior_means(draws: dict) -> dict[str, np.ndarray]:
    """Posterior means of the headline model's parameters."""
    return {k: np.asarray(v, dtype=float).mean(axis=0) for k, v in draws.items()}


def tested_columns(design, register=REGISTER) -> list[int]:
    """Every worksite column a testable worksite claim moves (its support,
    :func:`organizing.claims.composite_direction`, or a ranked measure)."""
    columns: set[int] = set()
    for claim in register:
        if claim.follows or claim.kind not in (SINGLE, JOINT, RANKING):
            continue
        if any(site_column(design, m) is None for m in claim.measures):
            continue
        support, _ = composite_direction(design, claim.measures, claim.signs)
        columns.update(support)
    return sorted(columns)


def null_truth(draws: dict, design, rng: np.random.Generator, register=REGISTER) -> Truth:
    """A campaign with every tested effect zero (module docstring)."""
    means = posterior_means(draws)
    beta = means["beta_group"].copy()
    beta[tested_columns(design, register)] = 0.0
    n_sites = len(design.site_x)
    p = np.asarray(means["beta_individual_mean"]).shape[-1]
    slopes = means["beta_individual_mean"] + means["beta_individual_scale"] * rng.standard_normal(
        (n_sites, p))
    site_effect = float(means["site_scale"]) * rng.standard_normal(n_sites)
    return Truth(float(means["alpha"]), beta, site_effect, slopes)


def planted_truth(draws: dict, design, size: np.ndarray, rng: np.random.Generator,
                  separation: float = PLANTED_SEPARATION) -> Truth:
    """A campaign whose slopes fall into two clusters split at the median size."""
    means = posterior_means(draws)
    n_sites = len(design.site_x)
    mu, tau = means["beta_individual_mean"], means["beta_individual_scale"]
    side = np.where(np.asarray(size) > np.median(size), 1.0, -1.0)[:, None]
    slopes = mu + separation * tau * side + np.sqrt(1 - separation**2) * tau * (
        rng.standard_normal((n_sites, len(mu))))
    site_effect = float(means["site_scale"]) * rng.standard_normal(n_sites)
    return Truth(float(means["alpha"]), means["beta_group"].copy(), site_effect, slopes)


def simulate_signing(design, truth: Truth, rng: np.random.Generator) -> np.ndarray:
    r"""Outcomes for every worker of ``design``:
    :math:`y_i \sim \mathrm{Bernoulli}(\mathrm{logit}^{-1}(α + x_{s(i)}·β + u_{s(i)} +
    z_i·b_{s(i)}))`."""
    s = design.site_index
    logit = (truth.alpha + design.site_x[s] @ truth.beta + truth.site_effect[s]
             + (design.worker_x * truth.slopes[s]).sum(axis=1))
    return (rng.random(len(logit)) < 1 / (1 + np.exp(-logit))).astype(float)


def false_verdicts(table: pd.DataFrame) -> list[str]:
    """The distinct tests of a null campaign's scorecard that came out decisive although
    the null makes them wrong (module docstring)."""
    tests = distinct_tests(table)
    wrong = (tests["kind"].isin(SIGN_KINDS) & tests["verdict"].isin(DECISIVE)) | (
        tests["kind"].isin(FALSE_CLAIM_KINDS) & (tests["verdict"] == "supported"))
    return list(tests.loc[wrong, "test"])


@dataclass(frozen=True)
class Fitter:
    """Fits a simulated campaign as the real one is fitted (the headline model and its
    size variant), at the error-rate stage's NUTS settings."""

    design: object  # the headline design, every worker
    train: np.ndarray
    moderator: np.ndarray
    chains: int
    warmup: int
    samples: int
    test_settings: ClusterTestSettings
    train_sites: np.ndarray
    heldout_sites: np.ndarray
    seed: int
    #: The sampler: ``run_nuts`` or a function with its signature (the pipeline passes
    #: its store of fits, so that a simulated campaign is never fitted twice).
    sampler: object = None

    def fit(self, y: np.ndarray, seed: int, *, size: bool = True):
        """Posterior draws of the headline model (and of its size variant) on ``y``."""
        from organizing.inference.nuts import run_nuts as default
        from organizing.models.logits import complete_draws

        run_nuts = self.sampler or default

        fitted = replace(self.design, signed=y).subset(self.train)
        common = dict(chains=self.chains, warmup=self.warmup, samples=self.samples,
                      seed=seed, target_accept=0.9)
        headline = complete_draws("headline", run_nuts(
            "headline", fitted.site_x, fitted.worker_x, fitted.site_index, fitted.signed,
            **common).pooled_draws())
        moderated = None
        if size:
            moderated = complete_draws("headline", run_nuts(
                "headline", fitted.site_x, fitted.worker_x, fitted.site_index, fitted.signed,
                moderator=self.moderator, **common).pooled_draws())
        return fitted, headline, moderated

    def clusters(self, fitted, draws: dict, seed: int):
        """The clustering test on a fitted campaign (``fitted``: the rows it was fitted to)."""
        return cluster_test(headline_likelihoods(fitted, draws), self.train_sites,
                            self.heldout_sites, replace(self.test_settings, seed=seed))

    def scorecard(self, y: np.ndarray, seed: int) -> tuple[pd.DataFrame, object]:
        fitted, headline, moderated = self.fit(y, seed)
        test = self.clusters(fitted, headline, seed)
        table = evaluate_claims(HEADLINE_MODEL, headline, fitted, clustering=test,
                                size_fit=(moderated, fitted, Priors.of(HEADLINE_MODEL)),
                                seed=seed)
        return table, test


def run_campaigns(fitter: Fitter, draws: dict, size: np.ndarray, *, null_campaigns: int,
                  planted_campaigns: int, seed: int, progress=None) -> pd.DataFrame:
    """Simulate and fit every campaign; one row per campaign: kind ("null" or "planted"),
    replication, false_verdicts (count; null campaigns), false_tests (their ids, "; "),
    cluster_verdict, chosen_K, two_clusters (the two-cluster claim's verdict), seconds."""
    rows = []
    for kind, count in (("null", null_campaigns), ("planted", planted_campaigns)):
        for r in range(count):
            start = time.perf_counter()
            run_seed = (seed + 7_654_321 * (kind == "planted") + 1009 * (r + 1)) % 2**32
            rng = np.random.default_rng(run_seed)
            if kind == "null":
                truth = null_truth(draws, fitter.design, rng)
                y = simulate_signing(fitter.design, truth, rng)
                table, test = fitter.scorecard(y, run_seed)
                wrong = false_verdicts(table)
                two = table.loc[table["id"] == "two_clusters", "verdict"].iloc[0]
            else:
                truth = planted_truth(draws, fitter.design, size, rng)
                y = simulate_signing(fitter.design, truth, rng)
                fitted, headline, _ = fitter.fit(y, run_seed, size=False)
                test = fitter.clusters(fitted, headline, run_seed)
                wrong, two = [], ""
            rows.append({"kind": kind, "replication": r, "false_verdicts": len(wrong),
                         "false_tests": "; ".join(wrong), "cluster_verdict": test.verdict,
                         "chosen_K": test.chosen_K, "two_difference": test.two_difference,
                         "two_difference_se": test.two_difference_se, "two_clusters": two,
                         "seconds": time.perf_counter() - start})
            if progress is not None:
                progress(kind, r, count)
    return pd.DataFrame(rows)


def upper_bound(hits: int, n: int, confidence: float = 0.95) -> float:
    r"""One-sided exact (Clopper-Pearson) upper confidence bound of a rate seen ``hits``
    times in ``n`` trials: the p with :math:`P(\mathrm{Binomial}(n, p) \le \text{hits})
    = 1 - \text{confidence}`, i.e. the Beta(hits + 1, n − hits) quantile (1 for n = 0;
    about 3/n when nothing was seen, the "rule of three")."""
    from scipy.stats import beta

    if not 0 <= hits <= n:
        raise ValueError(f"hits must lie in [0, n], got {hits} of {n}")
    if hits == n:
        return 1.0
    return float(beta.ppf(confidence, hits + 1, n - hits))


def summarize_campaigns(campaigns: pd.DataFrame) -> dict[str, float]:
    """The rates with their Monte Carlo standard errors: mean false verdicts per null
    campaign, the false-cluster rate (null; with its one-sided 95% upper bound,
    :func:`upper_bound`) and the detection rate (planted)."""
    null = campaigns[campaigns["kind"] == "null"]
    planted = campaigns[campaigns["kind"] == "planted"]

    def rate(frame, column, value):
        hits = (frame[column] == value).to_numpy(dtype=float)
        n = max(len(hits), 1)
        p = float(hits.mean()) if len(hits) else np.nan
        return p, float(np.sqrt(p * (1 - p) / n)) if len(hits) else np.nan

    false = null["false_verdicts"].to_numpy(dtype=float)
    out = {"null_campaigns": len(null), "planted_campaigns": len(planted),
           "false_verdicts_mean": float(false.mean()) if len(false) else np.nan,
           "false_verdicts_se": float(false.std(ddof=1) / np.sqrt(len(false)))
           if len(false) > 1 else np.nan}
    out["false_cluster_rate"], out["false_cluster_se"] = rate(null, "cluster_verdict",
                                                              CLUSTERS_SUPPORTED)
    out["false_cluster_upper"] = upper_bound(
        int((null["cluster_verdict"] == CLUSTERS_SUPPORTED).sum()), len(null))
    out["false_two_cluster_rate"], out["false_two_cluster_se"] = rate(null, "two_clusters",
                                                                      "supported")
    out["detection_rate"], out["detection_se"] = rate(planted, "cluster_verdict",
                                                      CLUSTERS_SUPPORTED)
    return out


def stability(fitter: Fitter, real: pd.DataFrame) -> pd.DataFrame:
    """The real campaign refitted at the stage's settings against the book's verdicts.

    ``real``: the book's headline claims table. Returns one row per claim tested in both:
    id, prob_claimed (the book's), prob_at_stage_settings, verdict, verdict_at_stage_settings.
    """
    y = fitter.design.signed
    table, _ = fitter.scorecard(y, fitter.seed)
    merged = real[["id", "prob_claimed", "verdict"]].merge(
        table[["id", "prob_claimed", "verdict"]], on="id", suffixes=("", "_at_stage_settings"))
    return merged[merged["prob_claimed"].notna() & merged["prob_claimed_at_stage_settings"]
                  .notna()].reset_index(drop=True)
