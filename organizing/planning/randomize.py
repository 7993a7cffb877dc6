r"""Draw a trial's assignment: who gets the tactic, decided by a seeded random draw.

**Worksite design.** The stores are first put in a canonical order (by ID, so the
order of the input file does not matter), then cut into blocks:

- ``block_by="none"``: one block of all stores (complete randomization);
- ``block_by="size"`` or ``"rate"``: stores sorted by size (workers on the roster)
  or by forecast signing rate, ties broken at random, and cut into consecutive
  blocks of ``block_size`` (2: pair-matching). A last block of one store joins the
  block before it.

Within a block of :math:`b` stores a random permutation treats the first
:math:`\lfloor b/2\rfloor` (plus one more with probability 1/2 when :math:`b` is odd),
so every store has probability 1/2 of each arm and every block is balanced to within
one store.

**Worker design.** Every store is its own block; within it the same rule assigns the
workers (by ID order, then a random permutation), so each store's two arms differ by
at most one worker.

The random draws come from ``numpy.random.default_rng(seed)`` in that canonical
order: the same seed and the same lists give the same assignment on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from organizing.planning.common import DESIGNS, check_seed, is_int

BLOCK_BY = ("none", "size", "rate")


@dataclass(frozen=True)
class Assignment:
    """A drawn assignment. ``table`` has one row per unit: for the worksite design
    store_id, workers, forecast, block, arm; for the worker design worker_id,
    store_id, block, arm (``arm`` is "treated" or "control"). ``stores`` has one row
    per store (store_id, workers, forecast, block; and the arm in the worksite
    design)."""

    design: str
    seed: int
    block_by: str
    block_size: int | None
    table: pd.DataFrame
    stores: pd.DataFrame

    @property
    def blocks(self) -> int:
        return int(self.table["block"].nunique())


def _treat(rng: np.random.Generator, size: int) -> np.ndarray:
    """A balanced random arm vector for one block (True = treated)."""
    treated = size // 2 + (int(rng.random() < 0.5) if size % 2 else 0)
    arms = np.zeros(size, dtype=bool)
    arms[rng.permutation(size)[:treated]] = True
    return arms


def _store_blocks(rng, stores: pd.DataFrame, block_by: str, block_size: int) -> np.ndarray:
    n = len(stores)
    if block_by == "none":
        return np.zeros(n, dtype=np.int64)
    key = stores["workers" if block_by == "size" else "forecast"].to_numpy(dtype=float)
    order = np.lexsort((rng.random(n), key))  # by key, ties at random
    block = np.empty(n, dtype=np.int64)
    block[order] = np.arange(n) // block_size
    last = block.max()
    if n > 1 and np.sum(block == last) == 1:
        block[block == last] = last - 1
    return block


def randomize(stores: pd.DataFrame, design: str, seed: int, *, block_by: str = "none",
              block_size: int = 2, workers: pd.DataFrame | None = None) -> Assignment:
    """Draw the assignment (module docstring).

    ``stores``: store_id (text), workers (int), forecast (float, NaN if unknown), as
    :func:`organizing.planning.files.read_stores` returns. ``workers`` (worker design
    only): worker_id, store_id. Raises ValueError with a one-line message for an
    impossible request.
    """
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")
    seed = check_seed(seed)
    if block_by not in BLOCK_BY:
        raise ValueError(f"block_by must be one of {BLOCK_BY}, got {block_by!r}")
    if not is_int(block_size) or block_size < 2:
        raise ValueError(f"block_size must be an integer >= 2, got {block_size!r}")
    stores = stores.sort_values("store_id", kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    if design == "worksite":
        if workers is not None:
            raise ValueError("a worker list is only used by the worker design")
        if len(stores) < 4:
            raise ValueError(f"the worksite design needs at least 4 stores, got {len(stores)}")
        if block_by == "rate" and stores["forecast"].isna().any():
            raise ValueError(f"{int(stores['forecast'].isna().sum())} store(s) have no forecast "
                             "rate; give one for every store, or block by size")
        block = _store_blocks(rng, stores, block_by, block_size)
        arm = np.zeros(len(stores), dtype=bool)
        for b in np.unique(block):
            members = np.flatnonzero(block == b)
            arm[members] = _treat(rng, members.size)
        table = stores.assign(block=block + 1, arm=np.where(arm, "treated", "control"))
        return Assignment(design, seed, block_by, None if block_by == "none" else block_size,
                          table, table.copy())
    if block_by != "none":
        raise ValueError("block_by applies to the worksite design; in the worker design "
                         "every store is its own block")
    if workers is None:
        raise ValueError("the worker design needs a worker list (worker_id, store_id)")
    known = workers["store_id"].isin(stores["store_id"])
    if not known.all():
        raise ValueError(f"{int((~known).sum())} worker(s) belong to no store in the store "
                         "list")
    workers = workers.sort_values(["store_id", "worker_id"], kind="stable").reset_index(
        drop=True)
    counts = workers["store_id"].value_counts()
    single = int((counts < 2).sum())
    if single:
        raise ValueError(f"{single} store(s) have fewer than 2 workers in the worker list: "
                         "a store needs a worker in each arm")
    if len(counts) < 2:
        raise ValueError("the worker design needs at least 2 stores with workers")
    stores = stores[stores["store_id"].isin(counts.index)].reset_index(drop=True)
    stores["block"] = np.arange(1, len(stores) + 1)
    block = workers["store_id"].map(stores.set_index("store_id")["block"]).to_numpy()
    arm = np.zeros(len(workers), dtype=bool)
    starts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])
    ends = np.r_[starts[1:], len(workers)]
    for start, end in zip(starts, ends, strict=True):
        arm[start:end] = _treat(rng, end - start)
    table = workers.assign(block=block, arm=np.where(arm, "treated", "control"))
    return Assignment(design, seed, "store", None, table, stores)


def balance(assignment: Assignment) -> pd.DataFrame:
    """Per arm: stores, workers, mean store size, mean forecast rate (of stores that
    have one), and for the worksite design the share of stores; one row per arm
    (control, treated). No unit-level row, no ID."""
    rows = []
    if assignment.design == "worksite":
        table = assignment.table
        for arm in ("control", "treated"):
            part = table[table["arm"] == arm]
            rows.append({"arm": arm, "stores": len(part), "workers": int(part["workers"].sum()),
                         "mean_store_size": float(part["workers"].mean()),
                         "mean_forecast": float(part["forecast"].mean())
                         if part["forecast"].notna().any() else np.nan})
        return pd.DataFrame(rows)
    table, stores = assignment.table, assignment.stores
    forecast = table["store_id"].map(stores.set_index("store_id")["forecast"])
    for arm in ("control", "treated"):
        part = table["arm"] == arm
        rows.append({"arm": arm, "stores": int(table.loc[part, "store_id"].nunique()),
                     "workers": int(part.sum()),
                     "mean_store_size": float(stores["workers"].mean()),
                     "mean_forecast": float(forecast[part].mean())
                     if forecast[part].notna().any() else np.nan})
    return pd.DataFrame(rows)


def within_block_gaps(assignment: Assignment) -> dict[str, float]:
    """The largest imbalance inside a block: treated minus control units, and for
    matched worksite blocks the largest spread of the matching variable."""
    table = assignment.table
    treated = (table["arm"] == "treated").groupby(table["block"]).sum()
    size = table.groupby("block").size()
    out = {"max_arm_difference": int((2 * treated - size).abs().max())}
    if assignment.design == "worksite" and assignment.block_by in ("size", "rate"):
        column = "workers" if assignment.block_by == "size" else "forecast"
        spread = table.groupby("block")[column].agg(lambda v: v.max() - v.min())
        out[f"max_{column}_spread"] = float(spread.max())
    return out
