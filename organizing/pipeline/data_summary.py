"""The data section: counts, per-worksite figures and feature summaries, with disclosure
control applied here, before anything reaches the cache (no worker rows)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from organizing.config import Config
from organizing.data import ONE_HOT_GROUPS, Campaign
from organizing.pipeline.context import Context
from organizing.results.sections import DataSummary, Disclosure, Histogram


def summarize_data(ctx: Context) -> DataSummary:
    """:func:`describe_data` of the campaign, with the headline design's aliases (the
    worksite columns left out because the others determine them) and the fewest worksites
    a campaign needs under each profile (this run's own settings for its profile)."""
    aliases = ctx.designs.headline.aliases
    return replace(
        describe_data(ctx.campaign, ctx.designs.listed, ctx.config.disclosure.min_count),
        aliases=pd.DataFrame([{"name": a.name, "identity": a.identity(),
                               "residual_sd": a.residual_sd} for a in aliases],
                             columns=["name", "identity", "residual_sd"]),
        minimum_sites=minimum_sites_by_profile(ctx.config))


def minimum_sites_by_profile(config: Config) -> dict[str, int]:
    """The fewest worksites a campaign needs (:func:`organizing.data.checks.minimum_sites`)
    under each profile's packaged settings, and under ``config`` for its own profile."""
    from organizing.config import PROFILES, load_config
    from organizing.data.checks import minimum_sites

    return {p: minimum_sites(config if p == config.profile else load_config(profile=p))
            for p in PROFILES}


def describe_data(campaign: Campaign, reduced, min_count: int) -> DataSummary:
    """Counts, per-worksite figures and feature summaries (no worker rows).

    Disclosure control (k = ``min_count``): a worksite's signing rate and signer
    count are kept only when it has at least k signers and k non-signers
    (NaN otherwise), and histogram bins below k are merged. No single worker's
    value is kept: a feature's spread is its 1st and 99th percentiles (not its
    minimum and maximum), and the histograms span the 0.5th to 99.5th
    percentiles, the tails counted in the end bins.
    """
    from organizing.data.disclosure import (
        merge_small_bins,
        pooled_rate,
        rate_shown,
        withhold_count,
    )

    n_sites = campaign.n_sites
    workers = np.bincount(campaign.site_index, minlength=n_sites)
    signed = np.bincount(campaign.site_index, campaign.signed, n_sites)
    shown = rate_shown(signed, workers, min_count=min_count)
    sites = campaign.site_descriptors.copy()
    sites.insert(0, "workers in file", workers)
    sites.insert(1, "signing rate", np.where(shown, signed / np.maximum(workers, 1), np.nan))
    if "No. workers signed" in sites:
        sites["No. workers signed"] = sites["No. workers signed"].where(shown)
    columns = [campaign.worker_x[:, j] for j in range(campaign.worker_x.shape[1])] + [
        campaign.site_x[:, q] for q in range(campaign.site_x.shape[1])]
    summary = pd.DataFrame({
        "feature": list(campaign.worker_features) + list(campaign.site_features),
        "level": ["worker"] * len(campaign.worker_features)
        + ["worksite"] * len(campaign.site_features),
        **{stat: [float(fn(v)) for v in columns] for stat, fn in (
            ("mean", np.mean), ("sd", np.std), ("p1", lambda v: np.percentile(v, 1)),
            ("median", np.median), ("p99", lambda v: np.percentile(v, 99)))},
    })
    histograms, merged = {}, {}
    for j, name in enumerate(campaign.worker_features):
        if name.startswith("Time To First"):
            continue
        values = campaign.worker_x[:, j]
        low, high = np.percentile(values, [0.5, 99.5])
        raw = np.histogram(np.clip(values, low, high), bins=40, range=(low, high))
        counts, edges = merge_small_bins(*raw, min_count=min_count)
        histograms[name] = Histogram(counts=counts, edges=edges)
        merged[name] = len(raw[0]) - len(counts)
    features = list(campaign.worker_features)
    centrality = campaign.worker_x[:, features.index("Log(Eigen. Centrality)")]
    quartiles = [features.index(c) for c in ONE_HOT_GROUPS["Time to first conversation"]]
    return DataSummary(
        n_workers=campaign.n_workers,
        n_sites=n_sites,
        n_signed=int(campaign.signed.sum()),
        signing_rate=float(campaign.signed.mean()),
        unknown_gender=int(np.sum(campaign.worker_x[:, features.index("Is Male")] == 0.5)),
        log_centrality_p1=float(np.percentile(centrality, 1)),
        share_log_centrality_below_minus_50=float(np.mean(centrality < -50)),
        network_audit=network_audit(campaign),
        quartile_shares=campaign.worker_x[:, quartiles].mean(axis=0),
        sites=sites,
        feature_summary=summary,
        histograms=histograms,
        checksums=dict(campaign.checksums),
        worker_features=tuple(campaign.worker_features),
        site_features=tuple(campaign.site_features),
        reduced_worker_features=tuple(reduced.worker_features),
        reduced_site_features=tuple(reduced.site_features),
        workers_per_site_median=float(np.median(workers)),
        disclosure=Disclosure(
            min_count=min_count, rates_withheld=int(np.sum(~shown)),
            pooled_rate=pooled_rate(signed[~shown], workers[~shown], min_count=min_count),
            bins_merged=merged,
            counts={name: withhold_count(n, min_count=min_count) for name, n in (
                ("signed", campaign.signed.sum()),
                ("unknown gender", np.sum(campaign.worker_x[:, features.index("Is Male")]
                                          == 0.5)),
                ("fewest workers at a worksite", workers.min()),
                ("most workers at a worksite", workers.max()))}),
    )


def network_audit(campaign: Campaign) -> dict[str, float]:
    """How the file's network measures compare with the package's definitions
    (:mod:`organizing.data.network`), over worksites (never a single worker's value).

    ``ratio_*``: the file's ``Centrality mean`` over the mean of the worksite's
    workers' own centralities (1 under the stated definition), its median and
    5th and 95th percentiles over worksites; ``variance_ratio_median``: the same
    for ``Centrality variance`` (population variance); ``ndo_share_agreeing``:
    the share of worksites whose ``NDO (Eigen., Pearson)`` equals, within 10⁻⁶,
    the Pearson correlation of the worker file's notes and centralities, and
    ``ndo_gap_median`` the median absolute gap; ``share_below_1e-6``: the workers
    whose centrality is below 10⁻⁶; ``share_outside``: those below the
    outside-network floor's cut (2⁻⁵², where the package records 2⁻⁵³).
    """
    features = list(campaign.worker_features)
    centrality = np.exp(campaign.worker_x[:, features.index("Log(Eigen. Centrality)")])
    workers = np.bincount(campaign.site_index, minlength=campaign.n_sites)
    own_mean = np.bincount(campaign.site_index, centrality, campaign.n_sites) / np.maximum(
        workers, 1)
    ratio = campaign.site_descriptors["Centrality mean"].to_numpy(dtype=float) / own_mean
    low, median, high = np.percentile(ratio, [5, 50, 95])
    own_variance = np.bincount(campaign.site_index, (centrality - own_mean[
        campaign.site_index]) ** 2, campaign.n_sites) / np.maximum(workers, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        variance_ratio = campaign.site_x[:, list(campaign.site_features).index(
            "Log(Centrality variance)")]
        variance_ratio = np.exp(variance_ratio) / own_variance
    notes = campaign.worker_x[:, features.index("No. Notes")]
    ndo = np.array([_pearson(notes[campaign.site_index == s], centrality[
        campaign.site_index == s]) for s in range(campaign.n_sites)])
    shipped = campaign.site_x[:, list(campaign.site_features).index("NDO (Eigen., Pearson)")]
    gap = np.abs(ndo - shipped)
    return {"ratio_median": float(median), "ratio_q5": float(low), "ratio_q95": float(high),
            "variance_ratio_median": float(np.nanmedian(variance_ratio)),
            "ndo_share_agreeing": float(np.mean(gap[np.isfinite(gap)] < 1e-6)),
            "ndo_gap_median": float(np.nanmedian(gap)),
            "share_below_1e-6": float(np.mean(centrality < 1e-6)),
            "share_outside": float(np.mean(centrality < np.finfo(float).eps))}


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation, NaN where undefined (organizing.data.measures.correlation)."""
    from organizing.data.measures import correlation

    value = correlation(x, y)
    return np.nan if value is None else value


