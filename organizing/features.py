"""Design matrices: standardized features, the study's split, worksite folds.

The study standardized every feature over all rows (workers over all
workers, worksites over the 120 worksites) before splitting; this module does
the same so that the replication sees the same inputs. The extended model
drops the first level of each one-hot group, so that its columns are not
collinear with the intercept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from organizing.data import ONE_HOT_GROUPS, Campaign
from organizing.data.splits import study_split, worksite_folds


@dataclass(frozen=True)
class Design:
    """Standardized inputs for the models; workers can be subset, worksites not."""

    worker_x: np.ndarray  # (N, P)
    site_x: np.ndarray  # (S, Q)
    site_index: np.ndarray  # (N,) row of site_x for each worker
    signed: np.ndarray  # (N,) 0/1
    worker_features: tuple[str, ...]
    site_features: tuple[str, ...]

    @property
    def n_workers(self) -> int:
        return len(self.signed)

    def subset(self, rows: np.ndarray) -> Design:
        """The same design restricted to some workers (all worksites kept)."""
        return replace(
            self,
            worker_x=self.worker_x[rows],
            site_index=self.site_index[rows],
            signed=self.signed[rows],
        )

    def tensors(self, *, observed: bool = True) -> tuple[torch.Tensor, ...]:
        """``(site_x, worker_x, site_index, y)`` as the model functions take them."""
        y = torch.as_tensor(self.signed, dtype=torch.float32) if observed else None
        return (
            torch.as_tensor(self.site_x, dtype=torch.float32),
            torch.as_tensor(self.worker_x, dtype=torch.float32),
            torch.as_tensor(self.site_index, dtype=torch.long),
            y,
        )


def standardize(x: np.ndarray) -> np.ndarray:
    """Center each column and divide by its population sd (as scikit-learn's
    ``StandardScaler``); a constant column becomes zeros."""
    x = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(x)):
        raise ValueError("cannot standardize features with NaN or infinite values")
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def _drop_references(x: np.ndarray, names: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    references = {levels[0] for levels in ONE_HOT_GROUPS.values()}
    keep = [i for i, name in enumerate(names) if name not in references]
    return x[:, keep], tuple(names[i] for i in keep)


def build_design(campaign: Campaign, *, drop_reference: bool = False) -> Design:
    """Standardize the campaign's features over all rows, as the study did.

    With ``drop_reference`` the first level of each one-hot group
    (first quartile of time to first conversation, first quintile of campaign
    length) is dropped before standardizing.
    """
    worker_x, worker_names = campaign.worker_x, campaign.worker_features
    site_x, site_names = campaign.site_x, campaign.site_features
    if drop_reference:
        worker_x, worker_names = _drop_references(worker_x, worker_names)
        site_x, site_names = _drop_references(site_x, site_names)
    return Design(
        worker_x=standardize(worker_x),
        site_x=standardize(site_x),
        site_index=np.asarray(campaign.site_index, dtype=np.int64),
        signed=np.asarray(campaign.signed, dtype=float),
        worker_features=worker_names,
        site_features=site_names,
    )

__all__ = ["Design", "build_design", "standardize", "study_split", "worksite_folds"]
