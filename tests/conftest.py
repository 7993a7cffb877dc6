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
