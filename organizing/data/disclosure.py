"""Disclosure control: no count below a threshold k leaves the package.

A histogram bin or a table cell that holds one or two workers can identify
them even without an ID. :func:`merge_small_bins` merges every non-empty bin
holding fewer than ``min_count`` workers into its neighbour, so each bar that
is drawn stands for at least ``min_count`` workers.
"""

from __future__ import annotations

import numpy as np


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
