"""Tables, figures and sentences of the methods chapter.

Built from the real cached results (``results.load()``, with the environment's data,
profile and cache directory); the narrative functions are also checked on constructed
inputs so that every wording branch is exercised.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from organizing import audit
from organizing.data import ONE_HOT_GROUPS, published_reference
from organizing.report import figures, narrative, tables


@pytest.fixture(scope="session")
def r(quick_results):
    return quick_results


# --------------------------------------------------------------------------- tables


def test_model_features_table_lists_every_feature_and_the_dropped_levels(r):
    html = tables.model_features(r).as_raw_html()
    for feature in (*r.data["worker_features"], *r.data["site_features"]):
        assert feature in html
    assert html.count("dropped (reference level)") == len(ONE_HOT_GROUPS)
    assert "Worker features" in html and "Worksite features" in html


def test_svi_fits_table_has_one_row_per_fit(r):
    html = tables.svi_fits(r).as_raw_html()
    assert html.count("<tr") - 1 >= len(r.fits)  # header row plus one row per fit
    for words in ("published specification", "low-rank", "mean-field", "Stopped by"):
        assert words in html
    stopped = "convergence rule" if any(f.converged for f in r.fits.values()) else "step limit"
    assert stopped in html


def test_published_one_draw_table_sets_published_values_beside_the_refit(r):
    html = tables.published_one_draw(r).as_raw_html()
    shared = published_reference()["shared"].set_index("parameter")["published_value"]
    for feature in r.data["site_features"]:
        assert feature in html
        assert f"{shared[feature]:.2f}".replace("-", "−") in html
    assert "One guide draw" in html and "Posterior mean" in html


def test_replication_table_has_scales_alpha_and_every_worksite_coefficient(r):
    html = tables.replication(r).as_raw_html()
    for label in ("τ_b, scale of the worker coefficients", "τ_β", "α, intercept",
                  "Refit of the published specification", "Corrected model", "0.00629",
                  *r.data["site_features"]):
        assert label in html
    assert "beta_individual_scale" not in html and "alpha_mean" not in html


# --------------------------------------------------------------------------- figures


def _texts(fig) -> str:
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_plate_diagram_has_every_node_and_both_plates(r):
    fig = figures.plate_diagram(r)
    texts = _texts(fig)
    for node in (r"$\tau_\beta$", r"$\tau_b$", r"$\alpha$", r"$\beta$", "$b_s$", "$x_s$",
                 "$z_i$", "$y_i$"):
        assert node in texts
    assert f"{r.data['n_sites']}" in texts and "workers $i$" in texts
    assert len(fig.axes[0].patches) == 8 + 2 + 8  # nodes, plates, arrows


def test_elbo_traces_draw_every_fit_and_the_threshold(r):
    fig = figures.elbo_traces(r)
    left, right = fig.axes
    assert left.get_yscale() == "log" and right.get_yscale() == "log"
    labels = [t.get_text() for t in left.get_legend().get_texts()]
    assert len(labels) == len(r.fits)
    rtol = r.meta["config"]["svi"]["rtol"]
    assert any(np.allclose(line.get_ydata(), rtol) for line in right.get_lines())


def test_convergence_statistic_agrees_with_the_stopping_rule():
    from organizing.inference import elbo_converged

    rng = np.random.default_rng(0)
    losses = 1000 * np.exp(-np.arange(600) / 80) + 500 + rng.normal(0, 1, 600)
    steps, statistic = figures.convergence_statistic(losses, 100)
    assert steps[0] == 200 and steps[-1] == 600
    for t in (200, 350, 600):
        value = statistic[steps == t][0]
        assert elbo_converged(losses[:t], 100, value * 1.0001)
        assert not elbo_converged(losses[:t], 100, value * 0.9999)


def test_sign_flip_figure_has_one_point_per_worksite(r):
    fig = figures.published_sign_flip(r)
    bars, scatter = fig.axes
    assert len(bars.patches) == 2 * len(r.data["worker_features"])
    offsets = scatter.collections[0].get_offsets()
    assert len(offsets) == r.data["n_sites"]
    assert "learned" in scatter.get_xlabel() and "held out" in scatter.get_ylabel()


# --------------------------------------------------------------------------- narrative


def _fit(steps, converged):
    return SimpleNamespace(steps=steps, converged=converged)


def test_stopping_sentence_branches():
    all_met = {"a": _fit(1200, True), "b": _fit(1800, True)}
    assert narrative.stopping_sentence(all_met, 30_000) == (
        "All 2 fits met the rule, after 1,200 to 1,800 steps.")
    none = {"a": _fit(1500, False), "b": _fit(1500, False)}
    assert narrative.stopping_sentence(none, 1500).startswith("None of the 2 fits")
    some = {"a": _fit(1200, True), "corrected_lowrank": _fit(30_000, False)}
    sentence = narrative.stopping_sentence(some, 30_000)
    assert sentence.startswith("1 of the 2 fits") and "corrected lowrank" in sentence
    assert "30,000" in sentence


def _audit(train, test, intercepts_test):
    return audit.PublishedAudit(
        site_column_sum_max=0.0, site_term_max=0.0,
        train_projection=np.asarray(train, dtype=float),
        test_projection=np.asarray(test, dtype=float),
        intercept_train=np.array([1.0, -2.0, 3.0]),
        intercept_test=np.asarray(intercepts_test, dtype=float),
    )


def test_sign_flip_sentence_branches():
    flipped = _audit([3.0, -1.0], [-3.0, 1.0], [-1.0, 2.0, -3.0])
    assert "changes sign" in narrative.sign_flip_sentence(flipped)
    against = _audit([3.0, -1.0], [-2.0, 2.0], [-1.5, 2.5, -2.0])
    assert "run against" in narrative.sign_flip_sentence(against)
    along = _audit([3.0, -1.0], [2.0, -0.5], [0.5, -1.0, 2.0])
    assert "differ from" in narrative.sign_flip_sentence(along)


def test_sign_flip_holds_on_the_real_audit(r):
    assert narrative.mirrored(r.audit.train_projection, r.audit.test_projection)
    assert "changes sign" in narrative.sign_flip_sentence(r.audit)


def test_versus_chance():
    assert narrative.versus_chance(0.3) == "worse than chance"
    assert narrative.versus_chance(0.8) == "better than chance"
    assert narrative.versus_chance(0.5) == "no better than chance"


def test_published_values_and_root_mean_square():
    values = narrative.published_values(["beta_worker_scale", "alpha_mean"])
    assert np.allclose(values, [0.006294, -1.831840])
    assert narrative.root_mean_square([3.0, -4.0]) == pytest.approx(np.sqrt(12.5))


def test_prior_like_sentence_reports_ranges():
    frame = pd.DataFrame({
        "feature": ["beta_group_scale", "A", "B"],
        "mean": [0.5, -0.1, 0.2], "sd": [0.1, 0.4, 0.45],
    })
    sentence = narrative.prior_like_sentence(frame, ["A", "B"])
    assert "between −0.10 and 0.20" in sentence and "between 0.40 and 0.45" in sentence
    assert "0.50 for the prior scale" in sentence


def test_projection_norm_and_scientific(r):
    assert narrative.projection_norm(r.audit) == pytest.approx(
        float(np.linalg.norm(r.audit.train_projection)))
    assert narrative.scientific(1.2967e-13) == "1.3 × 10⁻¹³"
    assert narrative.scientific(-2.5e4, 2) == "−2.50 × 10⁴"
    assert narrative.scientific(0.0) == "0"
