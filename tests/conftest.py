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

    return load(profile="quick", data_dir=data_dir, progress=False, compute=True)


#: The smallest settings that still run every stage: for tests of plumbing (stages,
#: cache, command line, logs), not of estimates. One copy, so that a new setting with a
#: costly default (as the code optimizer's 8,000 fixed steps was) is shortened everywhere.
TINY_CONFIG = """
svi: {max_steps: 200, min_steps: 50, window: 50, code_optimizer: {steps: 100}}
posterior: {draws: 100}
nuts: {chains: 2, warmup: 100, samples: 100}
evaluation: {worksite_folds: 2, ppc_draws: 50}
clustering: {iterations: 60, burn_in: 30, chains: 2, sigma_grid_points: 5, K_grid: [1, 2],
             cv_folds: 2, test_restarts: 2, test_iterations: 100}
error_rates: {null_campaigns: 1, planted_campaigns: 1, warmup: 100, samples: 100}
sbc: {replications: 2, sites: 8, workers_per_site: 10, warmup: 100, samples: 100}
planning: {sims: 100, effects: [0.05, 0.1], sites_grid: [10, 20], option_sites: [10, 20],
           rehearsal: {sites: 10, warmup: 100, samples: 100}}
"""


@pytest.fixture(scope="session")
def tiny_config() -> str:
    """The text of :data:`TINY_CONFIG`, for a ``--config`` file."""
    return TINY_CONFIG



#: Fixtures whose tests run (or read the run of) a whole pipeline.
PIPELINE_FIXTURES = {"quick_results", "small_run"}


def pytest_itemcollected(item):
    """With ``pytest -n 2`` (``make test``), tests run in two processes: each module's tests
    stay together, so a module's costly fixtures are built once, and every test that
    reads the quick results runs in one process, the one that computes them (a second
    would wait on the cache's lock). Marked as each test is collected, before
    pytest-xdist reads the groups."""
    group = "quick_results" if "quick_results" in item.fixturenames else item.module.__name__
    item.add_marker(pytest.mark.xdist_group(group))
    # a test that reads the book's quick results, or the small campaign's run of
    # test_pipeline.py, runs a pipeline (minutes on a cold cache): it is marked, so that
    # `make test-fast` (-m "not slow and not pipeline and not book") leaves it out
    if PIPELINE_FIXTURES & set(item.fixturenames):
        item.add_marker(pytest.mark.pipeline)
