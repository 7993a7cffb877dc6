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

from organizing.data import SITE_FEATURES, WORKER_FEATURES, WORKER_FILE, WORKSITE_FILE, network
from organizing.data.records import Records, StudyFiles, build_study_files
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
        write_tables(directory, {WORKER_FILE: self.workers, WORKSITE_FILE: self.worksites},
                     overwrite=overwrite)


def write_tables(directory, tables: dict[str, pd.DataFrame], *, overwrite: bool = False) -> None:
    """Write each table as ``directory / name``, atomically; refuse (FileExistsError) to
    replace any of them unless ``overwrite``."""
    directory = Path(directory)
    existing = [n for n in tables if (directory / n).exists() or (directory / n).is_symlink()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{directory} already holds {' and '.join(existing)} (pass overwrite=True)")
    directory.mkdir(parents=True, exist_ok=True)
    umask = os.umask(0)
    os.umask(umask)
    for name, table in tables.items():
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
        try:
            os.chmod(temporary, 0o666 & ~umask)  # as an ordinary new file
            with os.fdopen(handle, "w", newline="") as stream:
                table.to_csv(stream, index=False, date_format="%Y-%m-%d")
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
    mean_degree = network.mean_degree(edges, sizes)
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


def _worksite_sizes(rng: np.random.Generator, n_sites: int, n_workers: int,
                    tau_beta: float, tau_b: float) -> np.ndarray:
    """Checked arguments, then worksite sizes in proportion to a log-normal draw, each at
    least five workers, summing to ``n_workers``."""
    if n_sites < 2:
        raise ValueError("n_sites must be at least 2")
    if n_workers < 5 * n_sites:
        raise ValueError("n_workers must be at least 5 per worksite")
    if tau_beta <= 0 or tau_b <= 0:
        raise ValueError("tau_beta and tau_b must be positive")
    weights = rng.lognormal(0, 0.8, n_sites)
    return 5 + rng.multinomial(n_workers - 5 * n_sites, weights / weights.sum())


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
    rng = np.random.default_rng(seed)
    sizes = _worksite_sizes(rng, n_sites, n_workers, tau_beta, tau_b)
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


# ------------------------------------------------------------------ raw records


@dataclass(frozen=True)
class SimulatedRecords:
    """A campaign's raw records (text IDs), the study's files the package builds from them
    (:func:`organizing.data.records.build_study_files`: the simulator's own measures),
    and the parameters that generated ``Signed``."""

    records: Records
    study: StudyFiles
    alpha: float
    beta: np.ndarray
    b: np.ndarray

    def write(self, directory, *, overwrite: bool = False) -> None:
        """Write the five record files (atomically; refuses to replace them unless
        ``overwrite``)."""
        write_tables(directory, self.records.tables(), overwrite=overwrite)


def _ids(rng: np.random.Generator, n: int, prefix: str, digits: int) -> list[str]:
    alphabet = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"))
    ids: set[str] = set()
    while len(ids) < n:
        ids.add(prefix + "".join(rng.choice(alphabet, digits)))
    ordered = sorted(ids)  # a set's order varies between processes
    return [ordered[k] for k in rng.permutation(n)]


def _ties(rng: np.random.Generator, members: list[str]) -> list[tuple[str, str]]:
    """A store's ties: most within a core group, a few anywhere (smaller components and
    isolated workers remain), some recorded twice or in both directions."""
    n = len(members)
    core = rng.choice(n, max(2, n // 3), replace=False)
    pairs = []
    for _ in range(1 + rng.poisson(n / 4)):
        pool = core if rng.random() < 0.8 else np.arange(n)
        i, j = rng.choice(pool, 2, replace=False)
        pairs.append((members[i], members[j]))
    for i, j in pairs[: len(pairs) // 10]:
        pairs.append((j, i))  # the same tie, recorded again from the other side
    return pairs


def simulate_records(*, n_sites: int = 30, n_workers: int = 1500, alpha: float = -1.8,
                     tau_beta: float = 0.5, tau_b: float = 0.8, seed: int = 0
                     ) -> SimulatedRecords:
    """Draw a campaign's raw records, then ``Signed`` from the corrected model on the
    standardized features the package builds from those records.

    Stores, workers, conversations, notes, ties and ZIP codes are drawn to look
    like a campaign's exports: text IDs, ZIP codes with leading zeros, genders
    partly unknown and variously capitalized, some workers never contacted,
    ties recorded twice, campaign lengths in whole weeks (so that some tie).
    """
    rng = np.random.default_rng(seed)
    sizes = _worksite_sizes(rng, n_sites, n_workers, tau_beta, tau_b)

    store_ids = [f"store-{k:03d}" for k in rng.choice(1000, n_sites, replace=False)]
    zip_codes = sorted({f"{z:05d}" for z in rng.integers(1000, 99999, max(2, n_sites - 3))})
    start = pd.Timestamp("2010-06-01") + pd.to_timedelta(rng.integers(0, 900, n_sites), "D")
    weeks = rng.integers(20, 250, n_sites)
    stores = pd.DataFrame({"Store ID": store_ids,
                           "ZIP": rng.choice(zip_codes, n_sites),
                           "Campaign start": start,
                           "Campaign end": start + pd.to_timedelta(7 * weeks, "D")})
    zips = pd.DataFrame({"ZIP": zip_codes,
                         "Share Black": rng.beta(1.2, 4, len(zip_codes)),
                         "Share Latino": rng.beta(1.2, 5, len(zip_codes)),
                         "Mean AGI": rng.lognormal(4, 0.3, len(zip_codes))})

    worker_ids = _ids(rng, int(sizes.sum()), "W", 6)
    site = np.repeat(np.arange(n_sites), sizes)
    workers = pd.DataFrame({
        "Worker ID": worker_ids,
        "Store ID": np.asarray(store_ids)[site],
        "Gender": rng.choice(["female", "Male", "male", "Female", ""], len(site),
                             p=[0.4, 0.05, 0.3, 0.05, 0.2]),
        "Signed": 0,
    })

    contacts, ties = [], []
    organizers = [f"org-{k}" for k in range(max(2, n_sites // 3))]
    for s in range(n_sites):
        members = [worker_ids[i] for i in np.flatnonzero(site == s)]
        days = 7 * int(weeks[s])
        for k, worker in enumerate(members):
            reached = rng.random() < 0.85 or k == 0  # every store has a conversation
            first = int(rng.integers(0, days))
            if reached:
                talks = first + np.sort(rng.integers(0, days - first + 1, rng.poisson(1.2)))
                for day in (first, *talks):
                    contacts.append((worker, start[s] + pd.Timedelta(int(day), "D"),
                                     "conversation", rng.choice(organizers)))
            for day in rng.integers(0, days + 1, rng.negative_binomial(1, 0.3)):
                contacts.append((worker, start[s] + pd.Timedelta(int(day), "D"), "note",
                                 rng.choice(organizers)))
        ties += [(a, b, rng.choice(["note", "chart", "meeting"])) for a, b in
                 _ties(rng, members)]
    contacts = pd.DataFrame(contacts, columns=["Worker ID", "Date", "Kind", "Organizer"])
    ties = pd.DataFrame(ties, columns=["Worker ID", "Coworker ID", "Source"])
    records = Records(workers=workers, contacts=contacts, ties=ties, stores=stores, zips=zips)

    study = build_study_files(_normalized(records))
    site_x = standardize(study.worksites[list(SITE_FEATURES)].to_numpy())
    worker_x = standardize(study.workers[list(WORKER_FEATURES)].to_numpy())
    beta = rng.normal(0, tau_beta, site_x.shape[1])
    b = rng.normal(0, tau_b, (n_sites, worker_x.shape[1]))
    row = pd.Series(np.arange(n_sites), index=store_ids)
    index = row.loc[study.workers["Worksite ID"]].to_numpy()
    logits = alpha + site_x[index] @ beta + np.einsum("np,np->n", worker_x, b[index])
    signed = rng.binomial(1, 1 / (1 + np.exp(-logits)))
    workers["Signed"] = signed
    days = (stores["Campaign end"] - stores["Campaign start"]).dt.days.to_numpy()[site]
    signing = stores["Campaign start"].to_numpy()[site] + pd.to_timedelta(
        rng.integers(0, days), "D")
    workers["Signing date"] = pd.Series(signing).where(signed == 1)
    study = build_study_files(_normalized(records))
    return SimulatedRecords(records, study, alpha, beta, b)


def _normalized(records: Records) -> Records:
    """The records as :func:`organizing.data.records.read_records` returns them."""
    workers = records.workers.assign(Gender=records.workers["Gender"].str.lower(),
                                     Signed=records.workers["Signed"].astype(float))
    return Records(workers, records.contacts, records.ties, records.stores, records.zips)
