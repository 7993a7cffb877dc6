"""Disclosure control: no count of workers below a threshold k leaves the package.

A histogram bin or a table cell that holds one or two workers can identify
them even without an ID, and so can a rate: a worksite's signing rate s/n,
beside its size n, tells how many of its workers signed (s) and how many did
not (n − s). The threshold rule applies to both kinds of output, with
k = ``disclosure.min_count`` in the configuration:

- :func:`merge_small_bins` merges every non-empty bin holding fewer than k
  workers into its neighbour, so each bar that is drawn stands for at least k;
- :func:`rate_shown` allows a group's signing rate only when the group has at
  least k signers and at least k non-signers (s ≥ k and n − s ≥ k); the other
  groups are pooled (:func:`pooled_rate`), and the pool's rate is shown only
  when it passes the same rule;
- :func:`withhold_site_rates` and :func:`withhold_small_bins` apply the rule to the
  held-out checks' tables where they are computed, so a withheld rate never reaches
  the results cache.

Zero counts are allowed in histograms (an empty bin discloses no one), but a
rate of 0 or 1 is a count of 0 on one side and is withheld: it would say that
every worker of the group did, or did not, sign.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def rate_shown(signed, workers, *, min_count: int) -> np.ndarray:
    """Element-wise: True where the rate ``signed / workers`` may be shown.

    With s signers among n workers, the rate is shown when s ≥ k and n − s ≥ k
    (k = ``min_count``); ``signed`` may hold fractional sums only through
    rounding error, so both counts are rounded first.
    """
    s = np.rint(np.asarray(signed, dtype=float))
    n = np.rint(np.asarray(workers, dtype=float))
    return (s >= min_count) & (n - s >= min_count)


def pooled_rate(signed, workers, *, min_count: int) -> float | None:
    """The signing rate Σs / Σn of the groups given, or None when the pool itself has
    fewer than k signers or non-signers (or no workers)."""
    s, n = float(np.sum(signed)), float(np.sum(workers))
    if n == 0 or not rate_shown(s, n, min_count=min_count):
        return None
    return s / n


def withhold_site_rates(check: pd.DataFrame, *, min_count: int) -> pd.DataFrame:
    """A per-worksite table of held-out rates (columns ``observed``, a rate, and
    ``workers``) with each observed rate withheld (NaN) unless the worksite's workers in
    it include k signers and k non-signers; the column ``shown`` says which were kept."""
    shown = rate_shown(check["observed"] * check["workers"], check["workers"],
                       min_count=min_count)
    return check.assign(observed=check["observed"].where(shown), shown=shown)


def withhold_small_bins(table: pd.DataFrame, *, min_count: int) -> pd.DataFrame:
    """A reliability table (columns ``predicted``, ``observed``, ``count``) with every bin
    of fewer than k workers withheld: its share and count NaN, ``shown`` False."""
    shown = table["count"].to_numpy() >= min_count
    return table.assign(observed=table["observed"].where(shown),
                        count=table["count"].where(shown), shown=shown)


def merge_small_bins(counts: np.ndarray, edges: np.ndarray, *,
                     min_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge adjacent histogram bins until every non-empty bin holds ≥ ``min_count``.

    Scans left to right, accumulating bins until the running count reaches
    ``min_count`` (empty bins are kept as they are: they disclose no one); a
    small remainder at the right end joins the last kept bin. Returns the new
    counts and edges (``len(edges) == len(counts) + 1``); the total is unchanged.
    """
    counts = np.asarray(counts)
    edges = np.asarray(edges, dtype=float)
    if min_count <= 1 or counts.sum() == 0:
        return counts, edges
    new_counts, new_edges = [], [edges[0]]
    running = 0
    for i, c in enumerate(counts):
        if running == 0 and c == 0:
            new_counts.append(0)
            new_edges.append(edges[i + 1])
            continue
        running += int(c)
        if running >= min_count:
            new_counts.append(running)
            new_edges.append(edges[i + 1])
            running = 0
    if running:
        last = max((j for j, c in enumerate(new_counts) if c), default=None)
        if last is None:  # fewer than min_count in all: one bin over the whole range
            return np.array([running]), np.array([edges[0], edges[-1]])
        new_counts[last] += running
        del new_counts[last + 1:]
        del new_edges[last + 2:]
        new_edges[-1] = edges[-1]
    return np.asarray(new_counts), np.asarray(new_edges)


def withhold_count(n: float, *, min_count: int) -> int | None:
    """A count of workers as the book may keep it: the count, or None when it is below k
    (printed "fewer than k"); zero is kept, since it discloses no one."""
    n = round(float(n))
    return None if 0 < n < min_count else n
