"""The splits of workers every stage shares: the study's 80/20 split and worksite folds.

They live in the data layer so that the analysability checks
(:mod:`organizing.data.checks`) test exactly the splits the models will see.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import GroupKFold, train_test_split


def study_split(n_workers: int, *, test_size: float = 0.2, seed: int = 42):
    """The study's 80/20 split of workers (``train_test_split``, ``random_state=42``).

    Returns ``(train_rows, test_rows)``, the row positions scikit-learn gives
    when it splits the worker table itself.
    """
    rows = np.arange(n_workers)
    train, test = train_test_split(rows, test_size=test_size, random_state=seed)
    return np.asarray(train), np.asarray(test)


def worksite_folds(site_index: np.ndarray, *, n_folds: int = 5, seed: int = 0):
    """Grouped folds: every worksite's workers fall in exactly one test fold.

    Yields ``(train_rows, test_rows)``; the model never sees a test worksite's
    workers, as when an organizer faces a new store.
    """
    folds = GroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    rows = np.arange(len(site_index))
    yield from folds.split(rows, groups=site_index)
