"""Shared fixtures: the real campaign data (via ORGANIZING_DATA_DIR or data/)."""

from __future__ import annotations

import pytest

from organizing.data import load_campaign, locate_data


@pytest.fixture(scope="session")
def data_dir():
    return locate_data()


@pytest.fixture(scope="session")
def campaign(data_dir):
    return load_campaign(data_dir)


@pytest.fixture(scope="session")
def quick_results(data_dir):
    """The real data's results in the quick profile, computed once (cached on disk).

    Tests of tables, figures and chapters build on these; the quick profile runs
    the same code path as the book's full profile with fewer steps and draws.
    """
    from organizing.pipeline import load

    return load(profile="quick", data_dir=data_dir, progress=False)
