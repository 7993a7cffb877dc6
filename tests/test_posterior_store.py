"""Fits stored as ArviZ InferenceData: a stored fit gives back exactly what the fit gave,
it is reused only for the same inputs, settings and code, and a broken file is refitted."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from organizing.inference import store
from organizing.pipeline import posteriors


@pytest.fixture()
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ORGANIZING_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ORGANIZING_POSTERIORS", raising=False)
    return tmp_path


def _campaign(seed=0, sites=6, per_site=20):
    rng = np.random.default_rng(seed)
    site_x = rng.normal(size=(sites, 2))
    worker_x = rng.normal(size=(sites * per_site, 3))
    site_index = np.repeat(np.arange(sites), per_site)
    logits = -0.5 + worker_x @ np.array([0.8, -0.4, 0.0]) + rng.normal(0, 0.5, sites)[site_index]
    y = (rng.random(len(site_index)) < 1 / (1 + np.exp(-logits))).astype(float)
    return site_x, worker_x, site_index, y


SETTINGS = dict(chains=2, warmup=60, samples=40, seed=3)


def _same_nuts(a, b):
    assert set(a.draws) == set(b.draws)
    for site in a.draws:
        np.testing.assert_array_equal(a.draws[site], b.draws[site], err_msg=site)
        assert b.draws[site].dtype == np.float64
    for field in ("energy", "diverging", "num_steps", "accept_prob", "step_size",
                  "warmup_steps"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert a.settings == b.settings and a.seconds == b.seconds


@pytest.mark.slow
def test_a_stored_nuts_fit_is_the_fit(cache_dir, monkeypatch):
    from organizing.inference import nuts

    data = _campaign()
    first = posteriors.nuts("headline", *data, **SETTINGS)
    files = list((cache_dir / "posteriors").glob("nuts-headline-*.nc"))
    assert len(files) == 1
    monkeypatch.setattr(nuts, "run_nuts", lambda *a, **k: pytest.fail("refitted"))
    again = posteriors.nuts("headline", *data, **SETTINGS, label="printed only")
    _same_nuts(first, again)
    # the diagnostics and the draws' summaries computed from it are the fit's
    from organizing.inference.diagnostics import diagnose

    assert diagnose(first) == diagnose(again)


@pytest.mark.slow
def test_another_input_setting_or_seed_is_another_fit(cache_dir):
    site_x, worker_x, site_index, y = _campaign()
    posteriors.nuts("headline", site_x, worker_x, site_index, y, **SETTINGS)
    flipped = y.copy()
    flipped[0] = 1 - flipped[0]
    posteriors.nuts("headline", site_x, worker_x, site_index, flipped, **SETTINGS)
    posteriors.nuts("headline", site_x, worker_x, site_index, y, **{**SETTINGS, "seed": 4})
    from organizing.models.priors import HEADLINE_PRIORS

    posteriors.nuts("headline", site_x, worker_x, site_index, y,
                    priors=HEADLINE_PRIORS.scaled(2.0), **SETTINGS)
    assert len(list((cache_dir / "posteriors").glob("nuts-*.nc"))) == 4


def test_the_fitting_code_is_part_of_the_key(monkeypatch):
    arrays = {"y": np.arange(3.0)}
    before = posteriors.fingerprint("nuts", arrays, {"seed": 0})
    assert before == posteriors.fingerprint("nuts", {"y": np.arange(3.0)}, {"seed": 0})
    assert before != posteriors.fingerprint("nuts", {"y": np.arange(3.0) + 1}, {"seed": 0})
    assert before != posteriors.fingerprint("nuts", arrays, {"seed": 1})
    assert before != posteriors.fingerprint("nuts", {"y": np.arange(3)}, {"seed": 0})  # dtype
    monkeypatch.setattr(posteriors, "FITTING_CODE", ("models",))
    assert before != posteriors.fingerprint("nuts", arrays, {"seed": 0})


@pytest.mark.slow
def test_a_broken_file_is_refitted_and_the_store_can_be_turned_off(cache_dir, monkeypatch):
    data = _campaign(seed=1)
    first = posteriors.nuts("headline", *data, **SETTINGS)
    [path] = (cache_dir / "posteriors").glob("nuts-*.nc")
    path.write_bytes(path.read_bytes()[:100])  # an interrupted copy, a full disk
    assert store.read(path) is None
    _same_nuts(first, dataclasses.replace(posteriors.nuts("headline", *data, **SETTINGS),
                                          seconds=first.seconds))
    assert store.read(path) is not None  # rewritten whole
    monkeypatch.setenv("ORGANIZING_POSTERIORS", "0")
    path.unlink()
    posteriors.nuts("headline", *data, **SETTINGS)
    assert not path.exists()


def test_a_stored_svi_fit_gives_the_same_draws(cache_dir, monkeypatch):
    import torch

    from organizing.inference import svi

    site_x, worker_x, site_index, y = _campaign(seed=2)
    args = (torch.as_tensor(site_x, dtype=torch.float32),
            torch.as_tensor(worker_x, dtype=torch.float32),
            torch.as_tensor(site_index, dtype=torch.long), torch.as_tensor(y, dtype=torch.float32))
    settings = dict(guide="lowrank", seed=0, max_steps=60, min_steps=10, window=10,
                    progress=False)
    first = posteriors.svi("corrected", args, **settings)
    monkeypatch.setattr(svi, "fit_svi", lambda *a, **k: pytest.fail("refitted"))
    again = posteriors.svi("corrected", args, **settings)
    np.testing.assert_array_equal(first.losses, again.losses)
    assert (again.steps, again.converged, again.seconds, again.betas) == (
        first.steps, first.converged, first.seconds, first.betas)
    for draws in (lambda fit: svi.posterior_draws(fit, args, 50, 0),
                  lambda fit: svi.guide_draw(fit, args, 0)):
        a, b = draws(first), draws(again)
        for site in a:
            np.testing.assert_array_equal(a[site], b[site], err_msg=site)
