"""The report layer as a whole: one label map, one number format, a style context.

Every table and figure the chapters call is built here from the quick results (with
warnings as errors), each model has exactly one display style, prose numbers read as
the tables print them, and importing or calling the figures leaves matplotlib's global
rcParams alone.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings

import matplotlib as mpl
import numpy as np
import pytest
from great_tables import GT
from matplotlib.figure import Figure

from organizing.models import ModelId
from organizing.report import clustering as cw
from organizing.report import effect_sizes, figures, labels, scorecard, tables
from organizing.report import formatting as fmt
from organizing.report import planning as report_planning


@pytest.fixture(scope="module")
def r(quick_results):
    return quick_results


#: Every table and figure as a chapter calls it.
TABLES = {
    "column_table": lambda r: tables.column_table(),
    "data_overview": lambda r: tables.data_overview(r),
    "feature_summary": lambda r: tables.feature_summary(r.data),
    "campaign_requirements": lambda r: tables.campaign_requirements(r),
    "disclosure_table": lambda r: tables.disclosure_table(r),
    "optimizer_comparison": lambda r: tables.optimizer_comparison(r.svi),
    "headline_priors": lambda r: tables.headline_priors(),
    "prior_predictive": lambda r: tables.prior_predictive(r.prior_predictive),
    "svi_fits": lambda r: tables.svi_fits(r),
    "nuts_diagnostics": lambda r: tables.nuts_diagnostics(r.posteriors),
    "sbc_coverage": lambda r: tables.sbc_coverage(r.calibration),
    "published_one_draw": lambda r: tables.published_one_draw(r.audit),
    "replication": lambda r: tables.replication(r),
    "approximations": lambda r: tables.approximations(r.posteriors),
    "worksite_effects": lambda r: tables.worksite_effects(r.headline),
    "worker_effects": lambda r: tables.worker_effects(r.headline),
    "model_comparison": lambda r: tables.model_comparison(r),
    "cluster_comparison": lambda r: tables.cluster_comparison(r.clustering),
    "claims_table": lambda r: scorecard.claims_table(r.claims, r.sensitivity),
    "effects_table": lambda r: effect_sizes.effects_table(r.claims),
    "verdict_matrix": lambda r: scorecard.verdict_matrix(r.claims),
    "cv_table": lambda r: cw.cv_table(r.clustering),
    "heldout_elpd": lambda r: tables.heldout_elpd(r.evaluation),
    "other_models": lambda r: tables.other_models(r.posteriors),
    "variance_table": lambda r: tables.variance_table(r.variance),
    "minimum_detectable_effects": lambda r: report_planning.minimum_detectable_effects(
        r.planning),
    "power_table": lambda r: report_planning.power_table(r.planning),
    "design_options": lambda r: report_planning.design_options(r.planning),
    "rehearsal_balance": lambda r: report_planning.balance_table(r.planning.rehearsal.balance),
    "rehearsal_protocol": lambda r: report_planning.protocol_table(
        r.planning.rehearsal.protocol_text),
    "rehearsal_estimates": lambda r: report_planning.trial_estimates(
        r.planning.rehearsal.analysis),
}
FIGURES = {
    "site_signing_rates": lambda r: figures.site_signing_rates(r.data),
    "worker_feature_distributions": lambda r: figures.worker_feature_distributions(r.data),
    "plate_diagram": lambda r: figures.plate_diagram(r.data),
    "prior_predictive": lambda r: figures.prior_predictive(r.prior_predictive),
    "elbo_traces": lambda r: figures.elbo_traces(r),
    "approximations_forest": lambda r: figures.approximations_forest(r.posteriors),
    "sbc_ranks": lambda r: figures.sbc_ranks(r.calibration),
    "published_sign_flip": lambda r: figures.published_sign_flip(r.audit, r.data),
    "worksite_effects": lambda r: figures.worksite_effects(r.posteriors, r.data),
    "worker_effects": lambda r: figures.worker_effects(r.headline),
    "roc_curves": lambda r: figures.roc_curves(r.evaluation),
    "reliability": lambda r: figures.reliability(r.evaluation),
    "ppc_worksites": lambda r: figures.ppc_worksites(r.evaluation.ppc,
                                                     r.data.disclosure.min_count),
    "heldout_worksites": lambda r: figures.heldout_worksites(r.evaluation),
    "clustering_logjoint": lambda r: figures.clustering_logjoint(
        r.clustering, r.meta.settings.clustering.burn_in),
    "clustering_selection": lambda r: figures.clustering_selection(
        r.clustering, r.meta.settings.clustering.sigma),
    "cv_figure": lambda r: cw.cv_figure(r.clustering),
    "size_figure": lambda r: cw.size_figure(r.sensitivity),
    "variance_decomposition": lambda r: figures.variance_decomposition(r.variance),
    "power_curves": lambda r: report_planning.power_curves(r.planning),
    "design_options_plot": lambda r: report_planning.design_options_plot(r.planning),
}


@pytest.mark.parametrize("name", TABLES)
def test_every_table_builds_without_warnings(r, name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = TABLES[name](r)
        html = table.as_raw_html()
    assert isinstance(table, GT)
    assert tables.SOURCE.replace("'", "&#x27;") in html
    assert not re.search(r">\s*(nan|NaN|None)\s*<", html)  # missing values print blank


@pytest.mark.parametrize("name", FIGURES)
def test_every_figure_builds_without_warnings_or_style_leaks(r, name):
    before = dict(mpl.rcParams)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = FIGURES[name](r)
    assert isinstance(fig, Figure)
    assert fig.get_figwidth() == pytest.approx(figures.WIDTH)
    assert dict(mpl.rcParams) == before


def test_importing_figures_leaves_rcparams_unchanged():
    """A fresh interpreter: rcParams before and after importing the figures module."""
    code = (
        "import matplotlib as mpl\n"
        "before = {k: repr(v) for k, v in mpl.rcParams.items()}\n"
        "import organizing.report.figures\n"
        "after = {k: repr(v) for k, v in mpl.rcParams.items()}\n"
        "changed = sorted(k for k in before if before[k] != after[k])\n"
        "assert not changed, changed\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_figures_apply_the_house_style_inside_their_context(r):
    fig = figures.ppc_worksites(r.evaluation.ppc, r.data.disclosure.min_count)
    ax = fig.axes[0]
    assert not ax.spines["top"].get_visible() and not ax.spines["right"].get_visible()
    assert mpl.rcParams["axes.spines.top"]  # the global default is untouched


# --------------------------------------------------------------------------- labels


def test_every_model_has_one_style():
    assert set(labels.MODELS) == set(ModelId)
    names = [style.label for style in labels.MODELS.values()]
    assert len(set(names)) == len(names)
    pairs = [(s.colour, s.linestyle) for s in labels.MODELS.values()]
    assert len(set(pairs)) == len(pairs)  # no two models drawn alike
    for model in ModelId:
        assert labels.model_label(model.value) == labels.model_label(model)


def test_model_order_is_the_books():
    assert labels.model_order(["intercept_only", "headline", "corrected"]) == [
        ModelId.HEADLINE, ModelId.CORRECTED, ModelId.INTERCEPT_ONLY]


@pytest.mark.parametrize(("name", "short", "expected"), [
    ("site_scale", False, "σ_u, sd of the worksite intercepts"),
    ("beta_individual_scale: No. Notes", False, "τ_b: No. Notes"),
    ("beta_group[3]", False, "β[3]"),
    ("beta_group_scale", True, r"$\tau_\beta$"),
    ("something else", False, "something else"),
])
def test_parameter_labels(name, short, expected):
    assert labels.parameter_label(name, short=short) == expected


def test_no_display_label_is_a_key():
    """Labels are values of the map, never keys of another table in the report layer."""
    identifiers = {model.value for model in ModelId}
    display = {style.label for style in labels.MODELS.values()} - identifiers
    for module in (tables, figures):
        for value in vars(module).values():
            if isinstance(value, dict):
                assert not display & {k for k in value if isinstance(k, str)}


# ----------------------------------------------------------------------- formatting


@pytest.mark.parametrize(("value", "decimals", "expected"), [
    (-3257.14, 1, "−3,257.1"), (0.5, 2, "0.50"), (-0.001, 2, "0.00"), (1234567.0, 0, "1,234,567"),
    (float("nan"), 2, "n/a"),
])
def test_number(value, decimals, expected):
    assert fmt.number(value, decimals) == expected


def test_prose_numbers_read_as_the_tables_print_them():
    frame_value, decimals = -1234.567, fmt.COEFFICIENT_DECIMALS
    import pandas as pd

    html = GT(pd.DataFrame({"x": [frame_value]})).fmt_number(columns="x",
                                                              decimals=decimals).as_raw_html()
    assert fmt.number(frame_value, decimals) in html
    table = (GT(pd.DataFrame({"lo": [-0.47], "hi": [0.44]}))
             .pipe(tables.interval, "lo", "hi").as_raw_html())
    assert fmt.interval(-0.47, 0.44) in table


def test_other_formats():
    assert fmt.count(16335) == "16,335"
    assert fmt.share(0.1724) == "17.2%"
    assert fmt.estimate(0.34, 0.12, 0.57) == "0.34 (0.12 to 0.57)"
    assert fmt.plus_minus(-3257.0, 64.0) == "−3,257.0 ± 64.0"
    assert fmt.scientific(1.2967e-13) == "1.3 × 10⁻¹³"
    assert fmt.scientific(0.0) == "0"
    assert fmt.probability(1.0) == "more than 99%" and fmt.probability(0.0) == "less than 1%"
    assert fmt.probability(0.42) == "42%"
    # rounded toward 50%, so a printed value never reaches a threshold the value misses
    assert fmt.probability(0.987) == "98%" and fmt.probability(0.013) == "2%"
    assert fmt.probability(0.995) == "more than 99%" and fmt.probability(0.005) == "less than 1%"
    assert fmt.probability(0.99) == "99%" and fmt.probability(0.95) == "95%"
    assert fmt.probability(0.5) == "50%"
    assert fmt.times(1.523) == "1.5×"
    assert fmt.seconds(4.2) == "4.2 s" and fmt.seconds(600) == "10.0 min"
    assert fmt.listing(["a", "b", "c"]) == "a, b and c" and fmt.listing(["a"]) == "a"
    assert np.isclose(float(fmt.number(2.0)), 2.0)


def test_the_text_summary_states_every_clustering_result(r):
    """`organizing summary` (the last step of `make results`) prints every block of the
    summary, the calibrated clustering test included."""
    from organizing.report.summary import summary, summary_text

    text = summary_text(r)
    blocks = summary(r)["clustering"]
    assert set(blocks) == {"published", "headline"}
    assert f"published coefficient vectors: {blocks['published']['verdict']}" in text
    assert f"headline model's slopes: {blocks['headline']['verdict']}" in text
    assert f"{blocks['headline']['two_clusters_difference']:+.2f}" in text
