"""The clustering chapter's calibrated test and size interaction, in words, tables and
figures.

Presents :class:`~organizing.clustering.heldout_test.ClusterTest` (the test of
:mod:`organizing.clustering.heldout_test`), the error rates of
:class:`~organizing.results.sections.ErrorRates` and the size interaction λ of the
``size_interaction`` sensitivity fit. Nothing here decides anything.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from great_tables import GT
from matplotlib.figure import Figure

from organizing.clustering.selection import CLUSTERS_SUPPORTED
from organizing.models import HEADLINE_MODEL
from organizing.report import formatting as fmt
from organizing.report.figures import CLUSTER_COLOURS, new_figure, styled
from organizing.report.labels import COLOURS, model_style
from organizing.report.tables import house_style, new_table


def _test(clustering):
    return clustering.test


def _one(t) -> str:
    """The one-cluster model the test compared with, in words."""
    if t.one_cluster == "full":
        return "one Gaussian of any shape, its covariance learned"
    return "one Gaussian with its own spread for each slope"


def choice_sentence(clustering) -> str:
    """What cross-validation inside the training stores chose."""
    t = _test(clustering)
    chosen = (f"{fmt.count(t.chosen_K)} clusters" if t.chosen_K > 1
              else f"one cluster: {_one(t)}")
    return (f"cross-validation in {fmt.count(t.folds)} folds of the "
            f"{fmt.count(t.n_train)} training stores chose {chosen}")


def test_sentence(clustering) -> str:
    """The one held-out test of the chosen K against one cluster, and its verdict."""
    t = _test(clustering)
    if t.chosen_K == 1:
        return ("one cluster scored best inside the training stores, so there is nothing to "
                f"test on the {fmt.count(t.n_heldout)} held-out stores: *{t.verdict}*")
    return (f"on the {fmt.count(t.n_heldout)} held-out stores, the log marginal likelihood "
            f"of their workers' signing under the chosen mixture minus that under "
            f"{_one(t)} is {fmt.number(t.difference, 1)} (standard error of the paired "
            f"difference {fmt.number(t.difference_se, 1)}): *{t.verdict}*")


def two_clusters_sentence(clustering) -> str:
    """The study's own number: two clusters against one, on the held-out stores."""
    t = _test(clustering)
    if not np.isfinite(t.two_difference):
        return "two clusters were not among the mixtures tried"
    return (f"two clusters against {_one(t)} differ by {fmt.number(t.two_difference, 1)} in "
            f"the held-out stores' log marginal likelihood (standard error "
            f"{fmt.number(t.two_difference_se, 1)})")


def calibration_sentence(error_rates) -> str:
    """The test's false-cluster and detection rates, measured on simulated campaigns."""
    s = error_rates.summary
    return (f"on {fmt.count(s['null_campaigns'])} campaigns simulated from the headline "
            f"model with slopes from one Gaussian (the fitted spreads, the real stores and "
            f"workers), the test called clusters in "
            f"{fmt.share(s['false_cluster_rate'], 0)} (Monte Carlo standard error "
            f"{fmt.share(s['false_cluster_se'], 0)}; with 95% confidence the rate is at most "
            f"{fmt.share(s['false_cluster_upper'], 0)}); on "
            f"{fmt.count(s['planted_campaigns'])} campaigns with two clusters of slopes "
            f"planted, split by store size, it found them in "
            f"{fmt.share(s['detection_rate'], 0)} ({fmt.share(s['detection_se'], 0)})")


#: The false-cluster rate the book allows its clustering test.
ALLOWED_FALSE_CLUSTERS = 0.10
#: Detection rates below which the test is said to find planted clusters rarely, or in
#: fewer than half of the campaigns.
RARE_DETECTION, LOW_DETECTION = 0.25, 0.5


def calibration_reading(error_rates, n_heldout: int) -> str:
    """What the measured rates allow the verdict to say: whether the test kept its false
    clusters to :data:`ALLOWED_FALSE_CLUSTERS` (the rate's one-sided 95% upper bound below
    it; else the rate itself, or within two Monte Carlo standard errors of it) and how
    often it found planted clusters (``n_heldout``: the held-out stores its
    comparison rests on)."""
    s = error_rates.summary
    false, se = s["false_cluster_rate"], s["false_cluster_se"]
    allowed = fmt.share(ALLOWED_FALSE_CLUSTERS, 0)
    bounded = s["false_cluster_upper"] <= ALLOWED_FALSE_CLUSTERS
    if false <= ALLOWED_FALSE_CLUSTERS and bounded:
        kept = (f"the false-cluster rate is within the {allowed} the book allows, with 95% "
                "confidence")
    elif false <= ALLOWED_FALSE_CLUSTERS:
        kept = (f"the test called false clusters no more often than the {allowed} the book "
                f"allows, though {fmt.count(s['null_campaigns'])} campaigns are too few to "
                f"show that its rate is below it (95% upper bound "
                f"{fmt.share(s['false_cluster_upper'], 0)})")
    elif false - 2 * se <= ALLOWED_FALSE_CLUSTERS:
        kept = (f"the false-cluster rate is above the {allowed} the book allows, though "
                "within two Monte Carlo standard errors of it, so a *clusters supported* "
                "verdict would need more simulations to be trusted")
    else:
        kept = (f"the false-cluster rate is above the {allowed} the book allows, so a "
                "*clusters supported* verdict could not be trusted")
    if s["detection_rate"] < RARE_DETECTION:
        power = ("and the test rarely finds clusters that are there: with the slopes as "
                 "uncertain as this campaign leaves them, an *inconclusive* or *no clusters* "
                 "verdict says little about whether the stores fall into groups")
    elif s["detection_rate"] < LOW_DETECTION:
        power = ("but the test finds planted clusters in fewer than half of the campaigns "
                 f"(its held-out comparison rests on {fmt.count(n_heldout)} "
                 "stores), so *no clusters* means the data show none, not that there are "
                 "none")
    else:
        power = "and the test finds planted clusters more often than not"
    return f"{kept}, {power}"


def settings_sentence(error_rates) -> str:
    """The NUTS settings of the simulations, and how far the real campaign's verdicts move
    at those settings."""
    stability = error_rates.stability
    moved = int((stability["verdict"] != stability["verdict_at_stage_settings"]).sum())
    largest = float((stability["prob_claimed"]
                     - stability["prob_claimed_at_stage_settings"]).abs().max()) if len(
        stability) else np.nan
    return (f"each simulated campaign was fitted with {fmt.count(error_rates.chains)} chains "
            f"of {fmt.count(error_rates.warmup)} warm-up and {fmt.count(error_rates.samples)} "
            f"draws; refitted at these settings, the real campaign's probabilities move by at "
            f"most {fmt.number(largest, 3)} and {fmt.count(moved)} of its "
            f"{fmt.count(len(stability))} verdicts change. The simulations took "
            f"{fmt.count(round(error_rates.seconds / 60))} minutes, computed once and kept in "
            "their own cache entry")


def _cv_frame(t) -> pd.DataFrame:
    """The cross-validation table with each model named and its difference from one
    cluster with per-slope spreads."""
    cv = t.cv.sort_values(["covariance", "K"], ascending=[True, True]).reset_index(drop=True)
    base = float(cv.loc[(cv["K"] == 1) & (cv["covariance"] == "diagonal"), "cv_lpd"].iloc[0])
    names = [f"{K} clusters" if K > 1 else ("1, any shape" if cov == "full"
                                             else "1, per-slope spreads")
             for K, cov in zip(cv["K"], cv["covariance"], strict=True)]
    chosen = (cv["K"] == t.chosen_K) & (cv["covariance"] == t.covariance)
    return cv.assign(model=names, diff=cv["cv_lpd"] - base,
                     chosen=np.where(chosen, "chosen", ""))


def cv_table(clustering) -> GT:
    """Cross-validated log marginal likelihood inside the training stores, for every model
    tried, and its difference from one cluster with per-slope spreads."""
    frame = _cv_frame(clustering.test)
    return (
        new_table(frame[["model", "cv_lpd", "diff", "chosen"]])
        .cols_label(model="Clusters", cv_lpd="Cross-validated log marginal likelihood",
                    diff="Difference from one cluster with per-slope spreads", chosen="")
        .fmt_number(columns=["cv_lpd", "diff"], decimals=1)
        .pipe(house_style)
    )


@styled
def cv_figure(clustering) -> Figure:
    """Cross-validated log marginal likelihood of each model against one cluster with
    per-slope spreads: one point per number of clusters, and one for one cluster of any
    shape."""
    frame = _cv_frame(clustering.test)
    fig, ax = new_figure(height=3.0)
    mixtures = frame[frame["covariance"] == "diagonal"]
    ax.plot(mixtures["K"], mixtures["diff"], marker="o", ms=5, lw=1.2,
            color=CLUSTER_COLOURS[0], label="clusters with per-slope spreads")
    full = frame[frame["covariance"] == "full"]
    ax.scatter(full["K"], full["diff"], marker="s", s=40, color=CLUSTER_COLOURS[1], zorder=3,
               label="one cluster of any shape")
    chosen = frame[frame["chosen"] == "chosen"]
    ax.scatter(chosen["K"], chosen["diff"], s=160, facecolor="none", edgecolor="black",
               lw=1.5, zorder=4, label="chosen")
    ax.axhline(0, color=COLOURS["reference"], lw=1)
    ax.set_xticks(sorted(frame["K"].unique()))
    ax.set(xlabel="number of clusters K",
           ylabel="cross-validated log marginal likelihood\nminus one cluster's")
    ax.legend(fontsize=8, loc="best")
    return fig


def size_slopes(sensitivity) -> pd.DataFrame:
    """The size interaction λ per worker feature (posterior mean and 90% interval)."""
    scalars = sensitivity.runs["size_interaction"].coefficients.scalars
    rows = scalars[scalars["parameter"].str.startswith("size_slope: ")]
    return rows.assign(feature=rows["parameter"].str.removeprefix("size_slope: "))


@styled
def size_figure(sensitivity) -> Figure:
    """λ_p for every worker feature: the change of its slope per SD of log store size."""
    rows = size_slopes(sensitivity)
    y = np.arange(len(rows))[::-1]
    fig, ax = new_figure(height=0.4 * len(rows) + 1.2)
    colour = model_style(HEADLINE_MODEL).colour
    ax.hlines(y, rows["q5"], rows["q95"], color=colour, lw=2)
    ax.plot(rows["mean"], y, "o", color=colour)
    ax.axvline(0, color=COLOURS["reference"], lw=1)
    ax.set_yticks(y, list(rows["feature"]), fontsize=8)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("λ: change of the slope per SD of log workers discovered")
    return fig


def supported(clustering) -> bool:
    """Whether the test supports clusters (then the chapter shows them)."""
    return clustering.test.verdict == CLUSTERS_SUPPORTED
