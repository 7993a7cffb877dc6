"""Sentences of the clustering chapter: the study's mixture and the test of clusters."""

from __future__ import annotations

import numpy as np
import pandas as pd

from organizing.report import formatting as fmt
from organizing.report.narrative.lookups import ratio


def published_worker_spread() -> str:
    """The range of the published standard deviations of the worker coefficients."""
    from organizing.data import published_reference

    sd = published_reference()["worker"]["std"]
    return f"{fmt.number(sd.min(), 4)} to {fmt.number(sd.max(), 4)}"


def scale_comparison(clustering) -> str:
    """The spread of the clustered vectors: published refit against the headline model."""
    published_scale = clustering.published_vector_sd
    headline_scale = clustering.slope_vector_sd
    return (f"a pooled standard deviation of {fmt.number(published_scale, 4)}; the headline "
            f"model's posterior-mean vectors have {fmt.number(headline_scale)}, "
            f"{ratio(headline_scale, published_scale, 0)} as much")


def gibbs_mixing(samples, burn_in: int) -> str:
    """Whether the Gibbs chains still move worksites between clusters after burn-in."""
    moves = samples.reassignments(burn_in)
    if moves:
        return (f"after burn-in the chains still move worksites between clusters "
                f"({fmt.count(moves)} reassignments), as a mixing sampler should")
    spread = samples.final_log_joint_spread
    different = (f"; the chains end at log joints up to {fmt.log_density(spread)} apart, each "
                 f"stuck where its first sweeps put it" if spread > 1 else "")
    return f"after burn-in no worksite ever changes cluster in any chain{different}"


def cluster_verdict_sentence(run) -> str:
    """The paired held-out comparison behind a run's verdict, in one sentence."""
    table = run.comparison.set_index("K")
    others = table.drop(index=1, errors="ignore")
    if others.empty:
        return f"only one cluster was tried, so the verdict is “{run.verdict}”"
    best = others["diff_vs_one"].idxmax()
    row = others.loc[best]
    return (f"the best fit with more than one cluster (K = {int(best)}) scores "
            f"{fmt.plus_minus(row['diff_vs_one'], row['diff_vs_one_se'])} against one cluster "
            f"in held-out log predictive density (difference ± its paired standard error), so "
            f"the verdict is “{run.verdict}” and the mixture fitted has K = {run.K}")


def clusters_shown(K: int) -> str:
    """What the clusters figure shows for K clusters."""
    if K >= 2:
        return ("the cluster means with their 90% intervals (left) and the probability that "
                "two worksites share a cluster (right)")
    return ("the cross-validated comparison of each K with one cluster: with a single "
            "cluster fitted, cluster means and co-assignments would show nothing but the "
            "population mean")


def cluster_rule() -> str:
    """The paired rule that turns the comparison of K into a verdict, with its thresholds."""
    from organizing.clustering import NO_CLUSTERS_SE, SUPPORTED_SE

    return (f"Clusters are *supported* when the best K beats one cluster by more than "
            f"{fmt.number(SUPPORTED_SE, 0)} standard errors of the paired difference; there "
            f"are *no clusters* when one cluster is best or the best K beats it by at most "
            f"{fmt.number(NO_CLUSTERS_SE, 0)}; in between the comparison is *inconclusive*, "
            "and the simpler mixture, one cluster, is fitted")


def _cell(x) -> str:
    """A table cell: three significant digits, thousands separators from 1,000 on."""
    if isinstance(x, str):
        return x
    if not np.isfinite(x):
        return ""
    if x == 0 or abs(x) >= 1000:
        return fmt.count(x)
    return fmt.number(x, max(0, 2 - int(np.floor(np.log10(abs(x))))))


def _pipe_table(frame: pd.DataFrame) -> str:
    """A Markdown pipe table: first column left-aligned, the others right-aligned."""
    columns = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(columns) + " |",
             "|:--" + "|--:" * (len(columns) - 1) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines)


#: The caption of the features-by-cluster table (printed with the table when K >= 2).
CLUSTER_FEATURES_CAPTION = (
    "Worksite features averaged within each cluster of the headline model's slopes, each "
    "worksite weighted by its posterior probability of belonging to the cluster. The first "
    "row is the expected number of worksites in the cluster; a cluster of fewer worksites "
    "than the disclosure threshold shows only that number, since its averages would be "
    "those few stores' own values.")


def cluster_features_section(clustering) -> str:
    """The chapter's reading of the clusters through worksite features, as Markdown.

    With K >= 2: the cluster means explained, the features-by-cluster table (a pipe
    table with its caption and label ``tbl-cluster-features``) and the scikit-learn
    cross-check. With one cluster there is nothing to read or cross-check; the
    paragraph says so and points to the comparison of K values.
    """
    K = clustering.test.chosen_K
    if K < 2:
        return ("With one cluster fitted, there are no clusters to read through worksite "
                "features, as the study did (its Fig. 7), and no cluster assignments to "
                "cross-check; @fig-clusters shows instead the comparison of K values on "
                "which the verdict rests.")
    table = clustering.features_by_cluster
    names = {k: f"Cluster {k + 1}" for k in table.index}
    wide = table.drop(columns="weight").T.rename(columns=names)
    wide.insert(0, "Worksite feature", wide.index.astype(str))
    weight = pd.DataFrame([["Worksites (expected number)", *table["weight"]]],
                          columns=wide.columns)
    frame = pd.concat([weight, wide], ignore_index=True)
    return ("A cluster mean is the mixture's estimate of the average slopes of the "
            "worksites in that cluster, in units of each slope's spread between worksites, "
            "each worksite weighted by how much its workers say about its slopes; its 90% "
            "interval comes from the curvature of the likelihood. It is not the headline "
            "model's average slope across all worksites (@sec-results), and it is not an "
            "effect estimated by the regression.\n\n"
            "The study read its clusters through worksite features (its Fig. 7), and "
            "@tbl-cluster-features does the same: each worksite counts toward each cluster "
            "in proportion to its probability of belonging there. As an independent check, "
            "a maximum-likelihood spherical Gaussian mixture from scikit-learn with the same "
            "number of components was fitted to the worksites' posterior-mean slopes (which "
            "ignores how uncertain each is) and compared with the mixture's most probable "
            "clusters by the adjusted Rand index "
            f"[@hubert1985]: {sklearn_agreement(clustering.sklearn_ari, K)}.\n\n"
            f"{_pipe_table(frame)}\n\n: {CLUSTER_FEATURES_CAPTION} {{#tbl-cluster-features}}\n")


def sklearn_agreement(ari: float, K: int) -> str:
    """The adjusted Rand index between the mixture's clusters and scikit-learn's, in words."""
    if K == 1:
        return (f"with a single component both methods put every worksite in one cluster, "
                f"so their agreement (adjusted Rand index {fmt.number(ari)}) is automatic")
    quality = "close" if ari >= 0.8 else "partial" if ari >= 0.4 else "poor"
    return f"the agreement is {quality} (adjusted Rand index {fmt.number(ari)})"

