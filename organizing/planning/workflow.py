"""The trial commands' work, file in and file out (``organizing randomize``,
``simulate-outcomes``, ``analyse-trial``); the command line only parses and prints.

Nothing is written until every check has passed, and files are written atomically,
so a refused command leaves no partial output.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from organizing.planning import files
from organizing.planning import protocol as protocol_mod
from organizing.planning import randomize as randomize_mod
from organizing.planning import trial as trial_mod

ASSIGNMENT_FILE = "assignment.csv"
PROTOCOL_FILE = "protocol.yml"


class RefusedError(ValueError):
    """A command that would overwrite files or cannot run as asked; one line."""


def stores_table(path, campaign: pd.DataFrame | None = None) -> pd.DataFrame:
    """The store list: a CSV (:func:`organizing.planning.files.read_stores`), or
    ``campaign`` itself when ``path`` is ``"campaign"``. A store whose forecast is
    missing takes the campaign's forecast when its ID is a campaign store's."""
    if str(path) == "campaign":
        if campaign is None:
            raise RefusedError("--stores campaign needs the campaign's results")
        return campaign.copy()
    stores = files.read_stores(path)
    if campaign is not None:
        known = stores["store_id"].map(campaign.set_index("store_id")["forecast"])
        stores["forecast"] = stores["forecast"].fillna(known)
    return stores


def draw(stores: pd.DataFrame, folder, *, design: str, seed: int, block_by: str = "none",
         block_size: int = 2, workers_path=None, hypothesis: str,
         primary_outcome: str | None = None,
         window: tuple[str, str] | None = None, alpha: float = 0.05,
         planned: dict | None = None, prior: protocol_mod.Prior | None = None,
         force: bool = False):
    """Randomize, then write the assignment and the protocol sheet into ``folder``.

    Returns (assignment, protocol). Refuses to overwrite either file unless ``force``.
    """
    folder = Path(folder)
    targets = [folder / ASSIGNMENT_FILE, folder / PROTOCOL_FILE]
    existing = [p.name for p in targets if p.exists()]
    if existing and not force:
        raise RefusedError(f"{folder} already holds {' and '.join(existing)}; pass --force "
                           "to overwrite (only before the trial starts), or choose another folder")
    if not hypothesis or not hypothesis.strip():
        raise RefusedError("write the hypothesis down (--hypothesis): what the tactic is "
                           "expected to change")
    primary_outcome = primary_outcome or protocol_mod.DEFAULT_OUTCOME
    workers = files.read_workers(workers_path) if workers_path is not None else None
    assignment = randomize_mod.randomize(stores, design, seed, block_by=block_by,
                                         block_size=block_size, workers=workers)
    # checks that need the assignment, before anything is written
    protocol_mod.build(assignment, ASSIGNMENT_FILE, "0" * 64, hypothesis=hypothesis,
                       primary_outcome=primary_outcome, window=window, alpha=alpha,
                       planned=planned, prior=prior)
    folder.mkdir(parents=True, exist_ok=True)
    files.write_csv(assignment.table, targets[0])
    sheet = protocol_mod.build(assignment, ASSIGNMENT_FILE, protocol_mod.sha256(targets[0]),
                               hypothesis=hypothesis, primary_outcome=primary_outcome,
                               window=window, alpha=alpha, planned=planned, prior=prior)
    protocol_mod.write(sheet, targets[1])
    return assignment, sheet


def rehearse_outcomes(protocol_path, out_path, *, effect: float, seed: int = 0,
                      store_sd: float = 0.5, rate: float = 0.2, force: bool = False) -> int:
    """Write simulated outcomes for a drawn trial (a rehearsal); returns the rows."""
    out_path = Path(out_path)
    if out_path.exists() and not force:
        raise RefusedError(f"{out_path} exists; pass --force to overwrite it")
    protocol = protocol_mod.read(protocol_path)
    outcomes = trial_mod.simulate_outcomes(protocol, protocol_path, effect, seed=seed,
                                           rate=rate, store_sd=store_sd)
    files.write_csv(outcomes, out_path)
    return len(outcomes)


def analyse(protocol_path, outcomes_path, *, allow_missing: bool = False, seed: int = 0,
            output=None):
    """Match, analyse and (optionally) write the JSON; returns the TrialAnalysis."""
    protocol, data = trial_mod.load_trial(protocol_path, outcomes_path,
                                          allow_missing=allow_missing)
    analysis = trial_mod.analyse(protocol, data, seed=seed)
    if output is not None:
        output = Path(output)
        temporary = output.with_name(f".{output.name}.tmp")
        temporary.write_text(json.dumps(analysis.to_dict(), indent=2, allow_nan=False))
        temporary.replace(output)
    return analysis


def campaign_prior(baseline_logit: np.ndarray, site_sd: np.ndarray,
                   site_offsets: np.ndarray | None) -> protocol_mod.Prior:
    """Priors for the trial model's nuisance parts from the campaign's posterior: the
    intercept's normal from the typical store's logit over draws and templates, the
    store sd's log-normal from the between-store sd (intercept and features) per draw."""
    offsets = 0.0 if site_offsets is None else site_offsets
    logit = np.asarray(baseline_logit)[:, None] + offsets
    between = np.sqrt(np.asarray(site_sd) ** 2 + (0.0 if site_offsets is None
                                                  else np.var(site_offsets, axis=1)))
    return protocol_mod.Prior(
        source="campaign", intercept_mean=float(np.mean(logit)),
        intercept_sd=float(max(np.std(np.mean(logit, axis=1)), 0.25)),
        store_sd_log_mean=float(np.mean(np.log(between))),
        store_sd_log_sd=float(max(np.std(np.log(between)), 0.1)))
