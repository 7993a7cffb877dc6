"""A campaign simulator: synthetic worker and worksite tables with known truth.

The tables have the campaign files' columns and pass the same schemas. The
features are drawn to look like a campaign (sizes, shares, networks); the
outcome is drawn from the corrected hierarchical model's generative process,
on the standardized features that the analysis itself builds:

    τ_β, τ_b fixed;  β_q ~ Normal(0, τ_β);  α fixed;  b_{s,p} ~ Normal(0, τ_b)
    Signed_i ~ Bernoulli(logistic(α + x_{s(i)}·β + z_i·b_{s(i)}))

Use it to test parameter recovery, or to try the book on data that is safe
to share. Worker IDs are random seven-digit numbers.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from organizing.data import SITE_FEATURES, WORKER_FEATURES, WORKER_FILE, WORKSITE_FILE
from organizing.data.schemas import QUARTILES, QUINTILES
from organizing.features import standardize


@dataclass(frozen=True)
class SimulatedCampaign:
    """Synthetic tables and the parameters that generated ``Signed``."""

    workers: pd.DataFrame
    worksites: pd.DataFrame
    alpha: float
    beta: np.ndarray  # (Q,) worksite coefficients, on standardized features
    b: np.ndarray  # (S, P) worker coefficients per worksite
    tau_beta: float
    tau_b: float

    def write(self, directory, *, overwrite: bool = False) -> None:
        """Write both tables as CSV files named like the campaign's.

        Refuses (FileExistsError) to replace campaign files already in
        ``directory`` unless ``overwrite``. Each file is written under a
        temporary name and then renamed, so an interrupted write leaves no
        partial campaign file (and replacing a symbolic link never writes
        through it).
        """
        directory = Path(directory)
        names = (WORKER_FILE, WORKSITE_FILE)
        existing = [n for n in names if (directory / n).exists() or (directory / n).is_symlink()]
        if existing and not overwrite:
            raise FileExistsError(
                f"{directory} already holds {' and '.join(existing)} (pass overwrite=True)")
        directory.mkdir(parents=True, exist_ok=True)
        umask = os.umask(0)
        os.umask(umask)
        for name, table in zip(names, (self.workers, self.worksites), strict=True):
            handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
            try:
                os.chmod(temporary, 0o666 & ~umask)  # as an ordinary new file
                with os.fdopen(handle, "w", newline="") as stream:
                    table.to_csv(stream, index=False)
                os.replace(temporary, directory / name)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise


def _one_hot(levels: np.ndarray, n_levels: int) -> np.ndarray:
    return np.eye(n_levels)[levels]


def _worksites(rng: np.random.Generator, sizes: np.ndarray) -> pd.DataFrame:
    n = len(sizes)
    contacted = np.maximum(1, np.round(sizes * rng.uniform(0.5, 0.9, n)))
    conversations = np.round(contacted * rng.uniform(1.2, 2.5, n))
    edges = 1 + rng.poisson(sizes / 10)
    mean_degree = 2 * edges / sizes
    centrality_mean = rng.lognormal(-6, 1.5, n).clip(1e-8, 0.5)
    centrality_variance = centrality_mean**2 * rng.uniform(0.5, 2.0, n)
    weeks = rng.uniform(20, 250, n)
    quintile = np.clip(np.searchsorted(np.quantile(weeks, [0.2, 0.4, 0.6, 0.8]), weeks), 0, 4)
    agi = rng.lognormal(4, 0.3, n)
    table = {
        "Worksite ID": rng.choice(np.arange(100, 10_000), n, replace=False),
        "No. workers discovered": sizes.astype(float),
        "No. organizer convers.": conversations,
        "Campaign length": weeks,
        "No. workers signed": np.zeros(n),  # filled in from the workers' outcomes
        "No. workers contacted": contacted,
        "Percent black in ZIP": rng.beta(1.2, 4, n),
        "Percent Latino in ZIP": rng.beta(1.2, 5, n),
        "Percent male": rng.beta(4, 6, n),
        "Mean AGI in ZIP": agi,
        "No. edges": edges.astype(float),
        "Mean degree": mean_degree,
        "Centrality mean": centrality_mean,
        "Centrality variance": centrality_variance,
        "NDO (Eigen., Pearson)": rng.uniform(-0.6, 0.8, n),
        "Mobilizing (Pearson)": rng.uniform(-0.2, 0.8, n),
    }
    frame = pd.DataFrame(table)
    frame[list(QUINTILES)] = _one_hot(quintile, 5)
    for level in (
        "Mean AGI in ZIP",
        "No. organizer convers.",
        "No. workers contacted",
        "No. workers discovered",
        "No. edges",
        "Mean degree",
        "Centrality variance",
        "Centrality mean",
    ):
        frame[f"Log({level})"] = np.log(frame[level])
    return frame


def _workers(rng: np.random.Generator, site_ids: np.ndarray, sizes: np.ndarray) -> pd.DataFrame:
    site = np.repeat(np.arange(len(sizes)), sizes)
    n = len(site)
    centrality = np.exp(-rng.exponential(6, n)).clip(1e-300, 0.7)
    notes = rng.negative_binomial(1, 0.3, n).astype(float)
    frame = pd.DataFrame(
        {
            "Worker ID": rng.choice(np.arange(1_000_000, 10_000_000), n, replace=False),
            "Worksite ID": site_ids[site],
            "Is Male": rng.choice([0.0, 0.5, 1.0], n, p=[0.45, 0.2, 0.35]),
            "Eigen. Centrality": centrality,
            "No. Notes": notes,
        }
    )
    frame[list(QUARTILES)] = _one_hot(rng.integers(0, 4, n), 4)
    frame["Never Contacted"] = 0
    frame["Log(Eigen. Centrality)"] = np.log(centrality)
    with np.errstate(divide="ignore"):
        frame["Log(No. Notes)"] = np.log(notes)
    return frame


def simulate_campaign(
    *,
    n_sites: int = 40,
    n_workers: int = 3000,
    alpha: float = -1.8,
    tau_beta: float = 0.5,
    tau_b: float = 0.8,
    seed: int = 0,
) -> SimulatedCampaign:
    """Draw a synthetic campaign from the corrected model's generative process.

    Worksite sizes are drawn in proportion to a log-normal, so that every
    worksite has at least five workers and the total is ``n_workers``.
    """
    if n_sites < 2:
        raise ValueError("n_sites must be at least 2")
    if n_workers < 5 * n_sites:
        raise ValueError("n_workers must be at least 5 per worksite")
    if tau_beta <= 0 or tau_b <= 0:
        raise ValueError("tau_beta and tau_b must be positive")
    rng = np.random.default_rng(seed)
    weights = rng.lognormal(0, 0.8, n_sites)
    extra = rng.multinomial(n_workers - 5 * n_sites, weights / weights.sum())
    sizes = 5 + extra
    worksites = _worksites(rng, sizes)
    workers = _workers(rng, worksites["Worksite ID"].to_numpy(), sizes)

    site_index = np.repeat(np.arange(n_sites), sizes)
    site_x = standardize(worksites[list(SITE_FEATURES)].to_numpy())
    worker_x = standardize(workers[list(WORKER_FEATURES)].to_numpy())
    beta = rng.normal(0, tau_beta, site_x.shape[1])
    b = rng.normal(0, tau_b, (n_sites, worker_x.shape[1]))
    logits = alpha + site_x[site_index] @ beta + np.einsum("np,np->n", worker_x, b[site_index])
    workers["Signed"] = rng.binomial(1, 1 / (1 + np.exp(-logits)))
    worksites["No. workers signed"] = np.bincount(site_index, workers["Signed"], n_sites)

    # Column order as in the campaign's files.
    workers = workers[
        ["Worker ID", "Worksite ID", "Is Male", "Eigen. Centrality", "No. Notes", *QUARTILES,
         "Never Contacted", "Signed", "Log(Eigen. Centrality)", "Log(No. Notes)"]
    ]
    return SimulatedCampaign(workers, worksites, alpha, beta, b, tau_beta, tau_b)
