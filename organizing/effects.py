r"""Effects for readers: average changes in the chance of signing, in real units.

A coefficient is a change in log-odds per standard deviation of a standardized column.
An organizer needs the change in a worker's chance of signing when a feature moves by an
amount they can picture. Two choices make that honest:

* **Average over the campaign's workers, not a typical worker.** The model spreads
  workers widely on the log-odds scale, so the change at the campaign's mean rate, on the
  steepest part of the logistic curve, overstates the average change (by 1.7× for notes
  on this campaign). The *average marginal effect* of a move is

  .. math:: \mathrm{AME} = \frac1N \sum_{i} \bigl[σ(\ell^{1}_i) - σ(\ell^{0}_i)\bigr],

  per posterior draw, where :math:`\ell^0_i` and :math:`\ell^1_i` are worker i's own logit
  before and after the move, with the slopes of worker i's own store
  (:func:`average_marginal_effects`). Its posterior mean and 90% interval are reported,
  with the range across stores: the 5th and 95th percentiles over stores of the store's
  own average change (posterior mean).
* **Moves in the feature's own units** (:func:`feature_moves`). A count moves by one
  (one more note); the log of a count or of an amount moves from its 25th to its 75th
  percentile (a store with that many times more workers); a share or a correlation moves
  from its 25th to its 75th percentile; a yes-or-no feature is set from 0 to 1, and a
  level of a grouped feature from the reference level to that level, for every worker
  (so each worker is compared with themselves at both values). A worksite mean of a
  worker feature moves from the 25th to the 75th percentile of the stores' means.

In the headline design a worker feature is measured from its store's mean
(:func:`organizing.features.within_between`): moving one worker's value does not move
the store's mean, so a worker move shifts the within-store column only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from organizing.data import ONE_HOT_GROUPS, Campaign
from organizing.data.meaning import BINARY, COUNT, LEVEL, LOG_COUNT, LOG_MONEY, meaning
from organizing.features import COMPOSITION_SUFFIX, is_composition, site_means
from organizing.models.logits import logits, sigmoid

#: Posterior draws the effects are averaged over.
EFFECT_DRAWS = 400


@dataclass(frozen=True)
class Move:
    """How a feature moves for its effect.

    ``level``: "worker" or "worksite"; ``kind``: "set" (every unit is set to ``start``,
    then to ``end``: a yes-or-no feature or a level) or "shift" (every unit's own value
    moves by ``end - start``); ``start``, ``end``: raw values of the move (for a log
    column, the raw values: counts, dollars); ``log``: the column is the log of the raw
    value; ``reference``: for a level, the group's reference level; ``column_sd``: the raw
    column's standard deviation, the design's unit; ``also``: the other levels of the
    group, which the move sets to 0.
    """

    feature: str
    level: str
    kind: str
    start: float
    end: float
    log: bool = False
    reference: str = ""
    column_sd: float = 1.0
    also: tuple[str, ...] = ()


def _raw_column(campaign: Campaign, name: str) -> tuple[np.ndarray, str]:
    if name in campaign.worker_features:
        return campaign.worker_x[:, list(campaign.worker_features).index(name)], "worker"
    if name in campaign.site_features:
        return campaign.site_x[:, list(campaign.site_features).index(name)], "worksite"
    raise KeyError(f"the campaign has no column {name!r}")


def feature_moves(campaign: Campaign, design) -> dict[str, Move]:
    """The move of every column of ``design`` (the headline design), in raw units
    (module docstring). Columns the campaign files do not hold are left out."""
    references = {level: levels[0] for levels in ONE_HOT_GROUPS.values() for level in levels}
    groups = {level: tuple(lv for lv in levels if lv != level)
              for levels in ONE_HOT_GROUPS.values() for level in levels}
    moves = {}
    for name in (*design.worker_features, *design.site_features):
        base = name.removesuffix(COMPOSITION_SUFFIX)
        try:
            raw, level = _raw_column(campaign, base)
        except KeyError:
            continue
        kind = meaning(base).kind
        if is_composition(name):
            means = site_means(raw[:, None], campaign.site_index, campaign.n_sites)[:, 0]
            occupied = np.bincount(campaign.site_index, minlength=campaign.n_sites) > 0
            values = means[occupied]
            q25, q75 = np.percentile(values, [25, 75])
            moves[name] = Move(name, "worksite", "shift", float(q25), float(q75),
                               column_sd=float(values.std()))
            continue
        sd = float(raw.std())
        if kind in (BINARY, LEVEL):
            moves[name] = Move(name, level, "set", 0.0, 1.0, reference=references.get(name, ""),
                               column_sd=sd, also=groups.get(name, ()))
        elif kind == COUNT:
            median = float(np.median(raw))
            moves[name] = Move(name, level, "shift", median, median + 1.0, column_sd=sd)
        else:
            q25, q75 = np.percentile(raw, [25, 75])
            log = kind in (LOG_COUNT, LOG_MONEY)
            moves[name] = Move(name, level, "shift", float(np.exp(q25) if log else q25),
                               float(np.exp(q75) if log else q75), log=log, column_sd=sd)
    return moves


def _step(move: Move) -> float:
    """The move in the design's standardized units (a shift's size)."""
    span = np.log(move.end) - np.log(move.start) if move.log else move.end - move.start
    return float(span / move.column_sd) if move.column_sd > 0 else 0.0


def _set_offsets(move: Move, raw: np.ndarray, coefficient: np.ndarray,
                 others: list[tuple[np.ndarray, np.ndarray, float]]):
    """Logit offsets (D, N) that set a yes-or-no feature or a level to 0 and to 1 (the
    group's other levels to 0), from each unit's own value."""
    to_zero = -(raw / move.column_sd)[None, :] * coefficient
    for other_raw, other_coefficient, other_sd in others:
        to_zero = to_zero - (other_raw / other_sd)[None, :] * other_coefficient
    return to_zero, to_zero + coefficient / move.column_sd


def average_marginal_effects(draws: Mapping[str, np.ndarray], design, campaign: Campaign,
                             moves: Mapping[str, Move], *,
                             draws_kept: int = EFFECT_DRAWS) -> pd.DataFrame:
    r"""The average change in the chance of signing for each move (module docstring).

    ``draws``: the headline model's posterior draws; ``design``: the headline design of
    every worker; ``campaign``: its raw columns (for levels set to 0 and 1). Per draw d,
    worker i with logit :math:`\ell_i` and store slopes :math:`b_{s(i)}`:

    * a shift of a worker column by step δ: :math:`\ell^0 = \ell_i`,
      :math:`\ell^1 = \ell_i + δ\, b_{s(i),p}`;
    * a shift of a worksite column: :math:`\ell^1 = \ell_i + δ β_q`;
    * setting a yes-or-no feature or a level: :math:`\ell^v = \ell_i + ((v - x_i)/\mathrm{sd})
      b_{s(i),p}` for v = 0, 1, the group's other levels set to 0 as well.

    Returns one row per move: level, feature, kind, start, end, log, reference, step
    (standardized units; NaN for a set), mean, q5, q95 (percentage points),
    prob_positive, store_q5, store_q95 (points), stores.
    """
    total = len(np.asarray(draws["alpha"]))
    keep = np.linspace(0, total - 1, min(draws_kept, total)).round().astype(int)
    thinned = {k: np.asarray(v)[keep] for k, v in draws.items()}
    base = logits("headline", thinned, design.site_x, design.worker_x, design.site_index)
    p0 = sigmoid(base)
    sites = design.site_index
    counts = np.bincount(sites, minlength=len(design.site_x)).astype(float)
    occupied = counts > 0
    b = np.asarray(thinned["beta_individual"])  # (D, S, P)
    beta = np.asarray(thinned["beta_group"])  # (D, Q)
    workers, worksites = list(design.worker_features), list(design.site_features)
    rows = []
    for name, move in moves.items():
        if move.level == "worker" and name in workers:
            coefficient = b[:, sites, workers.index(name)]  # (D, N)
            columns, index = workers, lambda n: b[:, sites, workers.index(n)]
        elif name in worksites:
            coefficient = beta[:, [worksites.index(name)]]  # (D, 1)
            columns, index = worksites, lambda n: beta[:, [worksites.index(n)]]
        else:
            continue
        if move.kind == "shift":
            step = _step(move)
            low, high = base, base + step * coefficient
            before = p0
        else:
            step = np.nan
            raw, _ = _raw_column(campaign, name)
            if move.level == "worksite":
                raw = raw[sites]
            others = []
            for other in move.also:
                if other in columns:
                    other_raw, _ = _raw_column(campaign, other)
                    other_sd = float(other_raw.std())  # over the unit the column varies over
                    if move.level == "worksite":
                        other_raw = other_raw[sites]
                    others.append((other_raw, index(other), other_sd))
            zero, one = _set_offsets(move, raw, coefficient, others)
            low, high = base + zero, base + one
            before = sigmoid(low)
        change = sigmoid(high) - before  # (D, N)
        per_draw = 100 * change.mean(axis=1)
        by_store = np.stack([np.bincount(sites, weights=row, minlength=len(counts))
                             for row in change]) / np.maximum(counts, 1)
        store_means = 100 * by_store.mean(axis=0)[occupied]
        q5, q95 = np.quantile(per_draw, [0.05, 0.95])
        rows.append({"level": move.level, "feature": name, "kind": move.kind,
                     "start": move.start, "end": move.end, "log": move.log,
                     "reference": move.reference, "step": step,
                     "mean": float(per_draw.mean()), "q5": float(q5), "q95": float(q95),
                     "prob_positive": float(np.mean(per_draw > 0)),
                     "store_q5": float(np.percentile(store_means, 5)),
                     "store_q95": float(np.percentile(store_means, 95)),
                     "stores": int(occupied.sum())})
    return pd.DataFrame(rows)
