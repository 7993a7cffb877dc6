"""The clustering chapter's calibrated test and size interaction, in words, tables and
figures.

Presents :class:`~organizing.results.sections.ClusterTestResult` (the test of
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


def choice_sentence(clustering) -> str:
    """What cross-validation inside the training stores chose."""
    t = _test(clustering)
    if t.chosen_K == 1 and t.one_cluster == "any shape":
        chosen = "one cluster, a Gaussian of any shape (its mean and covariance learned)"
    else:
        chosen = (f"K = {fmt.count(t.chosen_K)} (σ = {fmt.number(t.chosen_sigma, 2)} in units "
                  f"of each slope's spread)")
    return (f"cross-validation in {fmt.count(t.folds)} folds of the "
            f"{fmt.count(t.n_train)} training stores, each of "
            f"{fmt.count(t.draws)} posterior draws of the slopes clustered separately, chose "
            f"{chosen}")


def _one(t) -> str:
    """The one-cluster model the test compared with, in words."""
    if t.one_cluster == "any shape":
        return "a Gaussian of any shape, its mean and covariance learned from the training stores"
    return f"round, σ = {fmt.number(t.one_sigma, 2)}"


def test_sentence(clustering) -> str:
    """The one held-out test of the chosen K against one cluster, and its verdict."""
    t = _test(clustering)
    if t.chosen_K == 1:
        return ("one cluster scored best inside the training stores, so there is nothing to "
                f"test on the {fmt.count(t.n_heldout)} held-out stores: *{t.verdict}*")
    return (f"on the {fmt.count(t.n_heldout)} held-out stores, the chosen mixture's log "
            f"predictive density minus that of one cluster ({_one(t)}) is "
            f"{fmt.number(t.difference, 1)} "
            f"(standard error of the paired difference {fmt.number(t.difference_se, 1)}): "
            f"*{t.verdict}*")


def two_clusters_sentence(clustering) -> str:
    """The study's own number: two clusters against one, on the held-out stores."""
    t = _test(clustering)
    if not np.isfinite(t.two_difference):
        return "two clusters were not in the grid"
    return (f"two clusters (σ = {fmt.number(t.two_sigma, 2)}) against one ({_one(t)}) "
            f"differ by {fmt.number(t.two_difference, 1)} in "
            f"held-out log predictive density (standard error "
            f"{fmt.number(t.two_difference_se, 1)})")


def calibration_sentence(error_rates) -> str:
    """The test's false-cluster and detection rates, measured on simulated campaigns."""
    s = error_rates.summary
    return (f"on {fmt.count(s['null_campaigns'])} campaigns simulated from the headline "
            f"model with slopes from one Gaussian (the fitted spreads, the real stores and "
            f"workers), the test called clusters in "
            f"{fmt.share(s['false_cluster_rate'], 0)} (Monte Carlo standard error "
            f"{fmt.share(s['false_cluster_se'], 0)}); on "
            f"{fmt.count(s['planted_campaigns'])} campaigns with two clusters of slopes "
            f"planted, split by store size, it found them in "
            f"{fmt.share(s['detection_rate'], 0)} ({fmt.share(s['detection_se'], 0)})")


#: The false-cluster rate the book allows its clustering test.
ALLOWED_FALSE_CLUSTERS = 0.10
#: The detection rate below which the test is said to have little power here.
LOW_DETECTION = 0.5


def calibration_reading(error_rates) -> str:
    """What the measured rates allow the verdict to say: whether the test kept its false
    clusters to :data:`ALLOWED_FALSE_CLUSTERS` (within two Monte Carlo standard errors)
    and whether it could find planted clusters at all."""
    s = error_rates.summary
    false, se = s["false_cluster_rate"], s["false_cluster_se"]
    if false <= ALLOWED_FALSE_CLUSTERS:
        kept = (f"the false-cluster rate is within the {fmt.share(ALLOWED_FALSE_CLUSTERS, 0)} "
                "the book allows")
    elif false - 2 * se <= ALLOWED_FALSE_CLUSTERS:
        kept = (f"the false-cluster rate is above the {fmt.share(ALLOWED_FALSE_CLUSTERS, 0)} "
                "the book allows, though within two Monte Carlo standard errors of it, so a "
                "*clusters supported* verdict would need more simulations to be trusted")
    else:
        kept = (f"the false-cluster rate is above the {fmt.share(ALLOWED_FALSE_CLUSTERS, 0)} "
                "the book allows, so a *clusters supported* verdict could not be trusted")
    if s["detection_rate"] < LOW_DETECTION:
        power = ("and the test rarely finds clusters that are there: with the slopes as "
                 "uncertain as this campaign leaves them, an *inconclusive* or *no clusters* "
                 "verdict says little about whether the stores fall into groups")
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


def cv_table(clustering) -> GT:
    """Cross-validated log predictive density inside the training stores: for each K its
    best σ, the density and its difference from one cluster."""
    cv = clustering.test.cv
    best = (cv.sort_values(["K", "cv_lpd"], ascending=[True, False]).groupby("K").head(1)
            .sort_values("K").reset_index(drop=True))
    one = float(best.loc[best["K"] == 1, "cv_lpd"].iloc[0])
    t = clustering.test
    any_shape = t.chosen_K == 1 and t.one_cluster == "any shape"
    frame = best.assign(diff=best["cv_lpd"] - one,
                        chosen=np.where((best["K"] == t.chosen_K) & (not any_shape),
                                        "chosen", ""))
    frame["K"] = frame["K"].astype(int).astype(str)
    table = (
        new_table(frame[["K", "sigma", "cv_lpd", "diff", "chosen"]])
        .cols_label(K="K", sigma="Best σ", cv_lpd="Cross-validated lpd",
                    diff="Difference from K = 1", chosen="")
        .fmt_number(columns="sigma", decimals=2)
        .fmt_number(columns=["cv_lpd", "diff"], decimals=1)
    )
    if any_shape:
        table = table.tab_source_note(
            "Chosen: one Gaussian of any shape (its mean and covariance learned), which "
            "scored higher inside the training stores than every mixture in the table.")
    return table.pipe(house_style)


@styled
def cv_figure(clustering) -> Figure:
    """Cross-validated log predictive density against σ, one line per K."""
    cv = clustering.test.cv
    fig, ax = new_figure(height=3.4)
    for i, K in enumerate(sorted(cv["K"].unique())):
        rows = cv[cv["K"] == K].sort_values("sigma")
        ax.plot(rows["sigma"], rows["cv_lpd"], marker="o", ms=3.5, lw=1.2,
                color=CLUSTER_COLOURS[i % len(CLUSTER_COLOURS)], label=f"K = {K}")
    t = clustering.test
    chosen = cv[(cv["K"] == t.chosen_K) & (cv["sigma"] == t.chosen_sigma)]
    ax.scatter(chosen["sigma"], chosen["cv_lpd"], s=160, facecolor="none", edgecolor="black",
               lw=1.5, zorder=4, label="chosen")
    ax.set_xscale("log")
    ax.set(xlabel="component scale σ (units of each slope's spread, log scale)",
           ylabel="cross-validated log predictive density")
    ax.legend(fontsize=8, loc="lower right")
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
