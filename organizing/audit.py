"""The replication audit and the verdicts on the study's conclusions.

Pure functions of design matrices and posterior draws. Each fact the book
states about the published specification is computed here, on the data:

* the published worksite term Σ_s x_s·β is a single scalar for every worker,
  and zero (up to float rounding) because the worksite columns are
  standardized over the same 120 rows;
* the published worker term gives worker i the value b_{s(i)}·Σ_j z_j: one
  projection per worksite, whatever the worker's own features;
* the study standardized workers over all rows before splitting, so the
  held-out column sums are exactly minus the training ones: at prediction time
  every worksite's learned projection changes sign.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def published_site_term(beta_draws: np.ndarray, site_x: np.ndarray) -> np.ndarray:
    """The study's worksite term Σ_s x_s·β for each draw of β, shape (D,)."""
    return np.asarray(beta_draws) @ np.asarray(site_x).sum(axis=0)


def worker_projection(worker_x: np.ndarray) -> np.ndarray:
    """Σ_j z_j over a batch of workers: what the published worker term projects onto."""
    return np.asarray(worker_x).sum(axis=0)


@dataclass(frozen=True)
class PublishedAudit:
    """Numbers the methods chapter reports about the published specification."""

    site_column_sum_max: float  # max |Σ_s x_sq| over worksite columns
    site_term_max: float  # max |Σ_s x_s·β| over posterior draws of the refit
    train_projection: np.ndarray  # Σ_j z_j over training workers, (P,)
    test_projection: np.ndarray  # Σ_j z_j over held-out workers, (P,)
    intercept_train: np.ndarray  # per-worksite b_s·Σ_train z, posterior mean, (S,)
    intercept_test: np.ndarray  # per-worksite b_s·Σ_test z, posterior mean, (S,)

    @property
    def sign_flip_correlation(self) -> float:
        """Correlation across worksites of the learned and the applied intercepts."""
        return float(np.corrcoef(self.intercept_train, self.intercept_test)[0, 1])


def audit_published(
    site_x: np.ndarray,
    worker_x_train: np.ndarray,
    worker_x_test: np.ndarray,
    draws: dict[str, np.ndarray],
) -> PublishedAudit:
    """Compute the audit's facts from the refit of the published specification."""
    train_projection = worker_projection(worker_x_train)
    test_projection = worker_projection(worker_x_test)
    b = np.asarray(draws["beta_individual"])  # (D, S, P)
    return PublishedAudit(
        site_column_sum_max=float(np.abs(np.asarray(site_x).sum(axis=0)).max()),
        site_term_max=float(np.abs(published_site_term(draws["beta_group"], site_x)).max()),
        train_projection=train_projection,
        test_projection=test_projection,
        intercept_train=(b @ train_projection).mean(axis=0),
        intercept_test=(b @ test_projection).mean(axis=0),
    )


def logit_term_spread(
    draws: dict[str, np.ndarray], site_x: np.ndarray, worker_x: np.ndarray, site_index: np.ndarray
) -> dict[str, np.ndarray]:
    """Posterior draws of the spread (sd over workers) of each part of the logit.

    ``site``: sd_i(x_{s(i)}·β); ``worker``: sd_i(z_i·b_{s(i)}). The study's
    claim that worksite features matter more than individual ones says the
    first is larger.
    """
    beta = np.asarray(draws["beta_group"])  # (D, Q)
    b = np.asarray(draws["beta_individual"])  # (D, S, P)
    site_term = (beta @ site_x.T)[:, site_index]
    worker_term = np.einsum("dnp,np->dn", b[:, site_index], worker_x)
    return {"site": site_term.std(axis=1), "worker": worker_term.std(axis=1)}


def verdict(q5: float, q95: float, claimed_sign: int) -> str:
    """Compare a 90% interval with the sign the study claimed.

    ``supported`` when the interval excludes zero on the claimed side,
    ``reversed`` when it excludes zero on the other side, otherwise
    ``not supported``.
    """
    if claimed_sign > 0:
        return "supported" if q5 > 0 else "reversed" if q95 < 0 else "not supported"
    return "supported" if q95 < 0 else "reversed" if q5 > 0 else "not supported"


# The study's conclusions about single worksite features: (feature, claimed sign, wording).
PUBLISHED_FEATURE_CLAIMS: tuple[tuple[str, int, str], ...] = (
    ("NDO (Eigen., Pearson)", +1, "Network-driven organizing goes with signing"),
    ("Log(No. organizer convers.)", +1, "More organizer conversations go with signing"),
    ("Log(Centrality mean)", +1, "High average workplace centrality goes with signing"),
    ("Campaign length (Quint. 3)", -1, "Mid-length campaigns go with less signing"),
    ("Log(No. workers discovered)", -1, "Large worksites go with less signing"),
    ("Percent Latino in ZIP", -1, "A higher Latino share in the ZIP code goes with less signing"),
)


def claims_table(
    coefficients: pd.DataFrame,
    spread: dict[str, np.ndarray],
    association: dict[str, np.ndarray],
) -> pd.DataFrame:
    """Verdict on each published conclusion, with the numbers behind it.

    ``coefficients`` holds the corrected model's worksite coefficients
    (columns feature, mean, q5, q95); ``spread`` the draws from
    :func:`logit_term_spread`; ``association`` draws of the correlation between
    a worksite's notes (and early-contact) coefficient and its size, from the
    extended model, whose worksite coefficients shrink toward a population mean
    rather than toward zero.
    """
    rows = []
    by_feature = coefficients.set_index("feature")
    for feature, sign, claim in PUBLISHED_FEATURE_CLAIMS:
        row = by_feature.loc[feature]
        rows.append({
            "claim": claim,
            "quantity": f"coefficient of {feature}",
            "mean": row["mean"], "q5": row["q5"], "q95": row["q95"],
            "verdict": verdict(row["q5"], row["q95"], sign),
        })
    difference = spread["site"] - spread["worker"]
    q5, q95 = np.quantile(difference, [0.05, 0.95])
    rows.append({
        "claim": "Worksite features predict signing better than individual ones",
        "quantity": "sd of worksite term minus sd of worker term (logit scale)",
        "mean": difference.mean(), "q5": q5, "q95": q95,
        "verdict": verdict(q5, q95, +1),
    })
    for name, label, verb in (("notes", "organizer notes", "matter"),
                              ("early_contact", "early contact", "matters")):
        draws = association[name]
        q5, q95 = np.quantile(draws, [0.05, 0.95])
        rows.append({
            "claim": f"At larger worksites, {label} {verb} more",
            "quantity": f"correlation of the {label} coefficient with log workers discovered "
                        "(extended model)",
            "mean": draws.mean(), "q5": q5, "q95": q95,
            "verdict": verdict(q5, q95, +1),
        })
    return pd.DataFrame(rows)
