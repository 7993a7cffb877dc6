"""A rehearsal trial: the whole loop run on simulated outcomes at a campaign's stores.

:func:`rehearse` does what an organizer does with the commands, through the same
functions and files: it writes a store list, draws a pair-matched assignment
(``organizing randomize``), writes the protocol sheet, simulates the outcomes of a
tactic with a known ("planted") effect (``organizing simulate-outcomes``), and
analyses them (``organizing analyse-trial``). The book's protocol appendix shows
the result; the files are written to a temporary folder and deleted. Stores are
labelled ``store 001`` and so on, never by their IDs.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from organizing.planning import files
from organizing.planning import protocol as protocol_mod
from organizing.planning import randomize as randomize_mod
from organizing.planning import trial as trial_mod
from organizing.planning.trial import TrialAnalysis


@dataclass(frozen=True)
class Rehearsal:
    """A rehearsal trial and its analysis (no store or worker IDs)."""

    stores: int
    block_by: str
    seed: int
    planted_effect: float  # the expected average change over the trial's workers (fraction)
    store_sd: float  # how far a store's trial rate strays from its forecast (logit sd)
    planned_power: float  # the planner's power for this design and effect
    balance: pd.DataFrame  # per arm (organizing.planning.randomize.balance)
    max_forecast_spread: float  # the widest gap in forecast rate inside a pair
    protocol_text: str  # the protocol sheet as written
    analysis: TrialAnalysis
    seconds: float


def rehearse(sizes, forecasts, *, n_stores: int, effect: float, seed: int,
             planned_power: float, hypothesis: str, store_sd: float = 0.5,
             warmup: int = 1000, samples: int = 1000, chains: int = 4) -> Rehearsal:
    """Draw ``n_stores`` of the given stores (sizes and forecast rates, one per store)
    at random, pair them on their forecast, and run the trial loop (module docstring)."""
    start = time.perf_counter()
    sizes, forecasts = np.asarray(sizes), np.asarray(forecasts, dtype=float)
    if not 4 <= n_stores <= sizes.size:
        raise ValueError(f"the rehearsal needs 4 to {sizes.size} stores, got {n_stores}")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(sizes.size, n_stores, replace=False))
    stores = pd.DataFrame({"store_id": [f"store {i + 1:03d}" for i in range(n_stores)],
                           "workers": sizes[chosen], "forecast": forecasts[chosen]})
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        files.write_csv(stores, folder / "stores.csv")
        assignment = randomize_mod.randomize(files.read_stores(folder / "stores.csv"),
                                             "worksite", seed, block_by="rate")
        files.write_csv(assignment.table, folder / "assignment.csv")
        sheet = protocol_mod.build(
            assignment, "assignment.csv", protocol_mod.sha256(folder / "assignment.csv"),
            hypothesis=hypothesis,
            planned={"effect": float(effect), "power": float(planned_power)})
        protocol_mod.write(sheet, folder / "protocol.yml")
        read_back = protocol_mod.read(folder / "protocol.yml")
        outcomes = trial_mod.simulate_outcomes(read_back, folder / "protocol.yml", effect,
                                               seed=seed, store_sd=store_sd)
        files.write_csv(outcomes, folder / "outcomes.csv")
        protocol, data = trial_mod.load_trial(folder / "protocol.yml", folder / "outcomes.csv")
        analysis = trial_mod.analyse(protocol, data, seed=seed, warmup=warmup,
                                     samples=samples, chains=chains)
        text = (folder / "protocol.yml").read_text()
    gaps = randomize_mod.within_block_gaps(assignment)
    return Rehearsal(n_stores, "rate", seed, float(effect), store_sd, float(planned_power),
                     randomize_mod.balance(assignment), gaps["max_forecast_spread"], text,
                     analysis, time.perf_counter() - start)
