"""Tables, figures and sentences of the methods chapter.

Built from the real results of the quick profile (``organizing.pipeline.load``, with
the environment's data and cache); the narrative functions are also checked on
constructed inputs so that every wording branch is exercised.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from organizing import audit
from organizing.data import ONE_HOT_GROUPS, published_reference
from organizing.models import HEADLINE_MODEL, NUTS_MODELS, ModelId
from organizing.report import figures, labels, narrative, tables


@pytest.fixture(scope="module")
def r(quick_results):
    return quick_results


# --------------------------------------------------------------------------- tables


def _model_priors(priors) -> dict:
    """Each prior site of the NumPyro headline model as the sampler sees it: its
    distribution's name and parameters, read from a trace of the model itself."""
    import numpyro
    import numpyro.distributions as dist
    from jax import random

    from organizing.models.numpyro_models import headline

    rng = np.random.default_rng(0)
    site_x, worker_x = rng.normal(size=(4, 2)), rng.normal(size=(40, 3))
    site_index, y = np.repeat(np.arange(4), 10), (rng.random(40) < 0.3).astype(float)
    with numpyro.handlers.trace() as trace, numpyro.handlers.seed(rng_seed=random.PRNGKey(0)):
        headline(site_x, worker_x, site_index, y, priors=priors)
    found = {}
    for name, site in trace.items():
        fn = site.get("fn")
        while isinstance(fn, dist.ExpandedDistribution | dist.Independent):
            fn = fn.base_dist
        if isinstance(fn, dist.Normal):
            found[name] = ("Normal", float(np.ravel(fn.loc)[0]), float(np.ravel(fn.scale)[0]))
        elif isinstance(fn, dist.HalfNormal):
            found[name] = ("HalfNormal", float(np.ravel(fn.scale)[0]))
    return found


@pytest.mark.parametrize("factor", [1.0, 2.0])
def test_priors_table_states_the_priors_the_model_samples(factor):
    """Every row of the table is the prior of the model's own trace, with its constants
    and the ranges they imply (not the dict the table was built from)."""
    from organizing.models.priors import HEADLINE_PRIORS

    priors = HEADLINE_PRIORS.scaled(factor)
    frame = tables.headline_priors(priors)._tbl_data
    rows = frame.set_index("symbol")
    model = _model_priors(priors)
    for site, (symbol, _, _) in tables.PRIOR_REASONS.items():
        kind, *params = model[site]
        stated = rows.loc[symbol, "prior"]
        expected = (f"Normal({params[0]:g}, {params[1]:g})" if kind == "Normal"
                    else f"HalfNormal({params[0]:g})")
        assert stated == expected, (site, stated, expected)
        if kind == "HalfNormal":  # 95% of a half-normal prior lies below 1.96 scales
            assert f"{1.959964 * params[0]:.2g}" in rows.loc[symbol, "reason"], site
    kind, loc, scale = model["alpha"]
    low = 1 / (1 + np.exp(-(loc - 1.959964 * scale)))
    assert f"{low:.0%}" in rows.loc["α", "reason"]


def test_prior_predictive_table_and_figure(r):
    html = tables.prior_predictive(r.prior_predictive).as_raw_html()
    for label in labels.PRIOR_SETS.values():
        assert label.replace("'", "&#x27;") in html
    left, right = figures.prior_predictive(r.prior_predictive).axes
    assert "signing rate" in left.get_title().lower()
    assert len(left.patches) > 0 and left.get_legend() is not None


def test_svi_fits_table_has_one_row_per_fit(r):
    html = tables.svi_fits(r).as_raw_html()
    for model in r.svi:
        assert labels.model_label(model).replace("'", "&#x27;") in html
    stopped = "convergence rule" if any(f.converged for f in r.svi.values()) else "step limit"
    assert stopped in html and "Stopped by" in html


def test_diagnostics_table_has_every_nuts_model_and_its_flags(r):
    html = tables.nuts_diagnostics(r.posteriors).as_raw_html()
    for model in NUTS_MODELS:
        assert labels.model_label(model) in html
        for flag in r.posteriors[model].diagnostics.flags:
            assert flag.replace(">", "&gt;").replace("<", "&lt;") in html
    assert "Max R̂" in html and "Min bulk ESS" in html and "E-BFMI" in html


def test_diagnostics_table_marks_a_flagged_run(r):
    headline = r.posteriors[HEADLINE_MODEL]
    flagged = replace(headline, diagnostics=replace(headline.diagnostics,
                                                    flags=("max R-hat 1.05 > 1.01",)))
    html = tables.nuts_diagnostics({**r.posteriors, HEADLINE_MODEL: flagged}).as_raw_html()
    assert "max R-hat 1.05 &gt; 1.01" in html
    assert labels.VERDICTS["contradicted"][1] in html.lower()


def test_sbc_table_and_figure(r):
    html = tables.sbc_coverage(r.calibration).as_raw_html()
    assert "In the 90% interval" in html
    for parameter in r.calibration.coverage["parameter"]:
        assert labels.parameter_label(parameter) in html
    fig = figures.sbc_ranks(r.calibration)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == r.calibration.ranks["parameter"].nunique()


def test_published_one_draw_table_sets_published_values_beside_the_refit(r):
    html = tables.published_one_draw(r.audit).as_raw_html()
    shared = published_reference()["shared"].set_index("parameter")["published_value"]
    for feature in r.data.site_features:
        assert feature in html
        assert f"{shared[feature]:.2f}".replace("-", "−") in html
    assert "One guide draw" in html and "Posterior mean" in html


def test_replication_table_has_every_worksite_coefficient_and_both_models(r):
    html = tables.replication(r).as_raw_html()
    for label in ("Published", "Refit, mean", "Corrected model (NUTS)",
                  "Headline model (NUTS)", *r.data.site_features):
        assert label in html


def test_approximations_table_and_forest(r):
    html = tables.approximations(r.posteriors).as_raw_html()
    for model in figures.APPROXIMATIONS:
        assert r.posteriors[model].method in html
    assert "τ_b" in html and "τ_β" in html and "beta_group_scale" not in html
    ax = figures.approximations_forest(r.posteriors).axes[0]
    assert len(ax.get_yticklabels()) == len(r.data.site_features)


# --------------------------------------------------------------------------- figures


def _texts(fig) -> str:
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_plate_diagram_has_every_node_and_both_plates(r):
    fig = figures.plate_diagram(r.data)
    texts = _texts(fig)
    for _, symbol, _ in figures.PLATE_NODES.values():
        assert symbol in texts
    assert f"{r.data.n_sites}" in texts and "workers $i$" in texts
    nodes, plates, arrows = len(figures.PLATE_NODES), 2, len(figures.PLATE_EDGES)
    assert len(fig.axes[0].patches) == nodes + plates + arrows


def test_elbo_traces_draw_every_fit_and_the_threshold(r):
    left, right = figures.elbo_traces(r).axes
    assert left.get_yscale() == "log" and right.get_yscale() == "log"
    assert len(left.get_legend().get_texts()) == len(r.svi)
    rtol = r.meta.settings.svi.rtol
    assert any(np.allclose(line.get_ydata(), rtol) for line in right.get_lines())


def test_the_figure_plots_the_stored_rule_checks(r):
    """The right panel draws each fit's stored rule checks: what the fit computed."""
    right = figures.elbo_traces(r).axes[1]
    drawn = [line.get_ydata() for line in right.get_lines() if len(line.get_ydata()) > 1]
    for model in r.svi:
        stored = r.svi[model].rule_checks.dropna()["change"].to_numpy()
        assert any(np.array_equal(y, stored) for y in drawn), model


def test_sign_flip_figure_has_one_point_per_worksite(r):
    bars, scatter = figures.published_sign_flip(r.audit, r.data).axes
    assert len(bars.patches) == 2 * len(r.data.worker_features)
    assert len(scatter.collections[0].get_offsets()) == r.data.n_sites
    assert "learned" in scatter.get_xlabel() and "held out" in scatter.get_ylabel()


# --------------------------------------------------------------------------- narrative


def _fit(steps, converged):
    return SimpleNamespace(steps=steps, converged=converged)


def test_stopping_sentence_branches():
    all_met = {ModelId.PUBLISHED: _fit(1200, True), ModelId.CORRECTED_MEAN_FIELD: _fit(1800, True)}
    assert narrative.stopping_sentence(all_met, 30_000) == (
        "All 2 fits met the rule, after 1,200 to 1,800 steps.")
    none = {ModelId.PUBLISHED: _fit(1500, False)}
    assert narrative.stopping_sentence(none, 1500).startswith("None of the 1 fits")
    some = {ModelId.PUBLISHED: _fit(1200, True), ModelId.CORRECTED_LOW_RANK: _fit(30_000, False)}
    sentence = narrative.stopping_sentence(some, 30_000)
    assert sentence.startswith("1 of the 2 fits met the rule, after 1,200 steps")
    assert labels.model_label(ModelId.CORRECTED_LOW_RANK) in sentence and "30,000" in sentence


def _audit(train, test, intercepts_test):
    return audit.PublishedAudit(
        site_column_sum_max=0.0, site_term_max=0.0,
        train_projection=np.asarray(train, dtype=float),
        test_projection=np.asarray(test, dtype=float),
        intercept_train=np.array([1.0, -2.0, 3.0]),
        intercept_test=np.asarray(intercepts_test, dtype=float),
        one_draw=pd.DataFrame({"feature": ["a"], "one draw": [1.0], "posterior mean": [0.0]}),
    )


def test_sign_flip_sentence_branches():
    flipped = _audit([3.0, -1.0], [-3.0, 1.0], [-1.0, 2.0, -3.0])
    assert "changes sign" in narrative.sign_flip_sentence(flipped)
    against = _audit([3.0, -1.0], [-2.0, 2.0], [-1.5, 2.5, -2.0])
    assert "run against" in narrative.sign_flip_sentence(against)
    along = _audit([3.0, -1.0], [2.0, -0.5], [0.5, -1.0, 2.0])
    assert "differ from" in narrative.sign_flip_sentence(along)


def test_sign_flip_holds_on_the_real_audit(r):
    assert r.audit.mirrored
    assert "changes sign" in narrative.sign_flip_sentence(r.audit)


def test_versus_chance():
    metrics = pd.DataFrame({"model": ["published", "corrected", "extended"],
                            "auc": [0.3, 0.8, 0.5]})
    evaluation = SimpleNamespace(metrics=metrics)
    assert narrative.versus_chance(evaluation, ModelId.PUBLISHED) == "worse than chance"
    assert narrative.versus_chance(evaluation, ModelId.CORRECTED) == "better than chance"
    assert narrative.versus_chance(evaluation, ModelId.EXTENDED) == "no better than chance"


def test_published_figures_and_root_mean_square():
    assert narrative.published("beta_worker_scale") == pytest.approx(0.006294)
    assert narrative.published("heldout_auc") == pytest.approx(0.7688)
    with pytest.raises(KeyError):
        narrative.published("no such figure")
    assert audit.root_mean_square([3.0, -4.0]) == pytest.approx(np.sqrt(12.5))


def test_methods_sentences_on_the_real_results(r):
    assert narrative.reference_levels(r.data).count("“") == len(ONE_HOT_GROUPS)
    assert "100.0%" in narrative.complete_groups(r.data)
    assert "study's priors" in narrative.prior_predictive_sentence(r.prior_predictive)
    assert narrative.diagnostics_sentence(r.posteriors).endswith(".")
    assert "Pareto k" in narrative.pareto_sentence(r.headline)
    assert "90% interval" in narrative.sbc_sentence(r.calibration)
    assert narrative.matrix_entries(r.meta) == f"{r.meta.n_train ** 2:,}"
    assert "the published value" in narrative.scale_against_published(
        r.posteriors[ModelId.CORRECTED])
    assert narrative.width_sentence(r.posteriors).split(",")[0] in ("wider", "narrower")


def test_diagnostics_sentence_branches(r):
    def with_flags(model, flags):
        posterior = r.posteriors[model]
        return replace(posterior, diagnostics=replace(posterior.diagnostics, flags=flags))

    clean = {m: with_flags(m, ()) for m in NUTS_MODELS}
    assert narrative.diagnostics_sentence(clean).startswith("All 3 NUTS posteriors pass")
    # the thresholds are the rule the runs were checked by: 100 per chain (quick: 2 chains)
    ess_min = r.posteriors[HEADLINE_MODEL].diagnostics.ess_min
    assert ess_min == 100 * r.meta.settings.nuts.chains
    assert f"ESS at least {ess_min:,.0f} and" in narrative.diagnostics_sentence(clean)
    rule = narrative.diagnostic_rule(r.posteriors[HEADLINE_MODEL].diagnostics)
    assert "below 100 per chain" in rule and f"({ess_min:,.0f} for" in rule
    one = {**clean, ModelId.CORRECTED: with_flags(ModelId.CORRECTED, ("3 divergences",))}
    text = narrative.diagnostics_sentence(one)
    assert text.startswith("The headline and extended models pass every check")
    assert "the corrected model is flagged (3 divergences)" in text
    every = {m: with_flags(m, ("x",)) for m in NUTS_MODELS}
    assert narrative.diagnostics_sentence(every).startswith("The headline model is flagged")


# ------------------------------------------------------------- the study's optimizer


def _svi_fit(optimizer, steps, max_steps, converged, facts, **kwargs):
    from organizing.results.sections import SVIRecord

    settings = ({"lr": 0.015, "lr_decay": 0.9995, "betas": (0.9, 0.999), "stop_early": True}
                if optimizer == "report" else
                {"lr": 0.05, "lr_decay": 0.999, "betas": (0.95, 0.999), "stop_early": False})
    return SVIRecord(model="published", guide_kind="normal", losses=np.ones(steps), steps=steps,
                  max_steps=max_steps, converged=converged, seconds=1.0, seed=0,
                  optimizer=optimizer, audit_facts=facts,
                  audit_findings=audit.findings(facts), rule_checks=pd.DataFrame(),
                  **settings, **kwargs)


AGREEING = {"site_term_max": 2e-13, "sign_flip_correlation": -1.0, "heldout_auc": 0.27,
            "heldout_auc_as_learned": 0.73}


def _published_fits(code_facts=AGREEING, converged=False, steps=20_000):
    code = _svi_fit("code", 8000, 8000, False, code_facts)
    return {ModelId.PUBLISHED: _svi_fit("report", steps, 20_000, converged, AGREEING,
                                        code_optimizer=code)}


def test_optimizer_table_has_both_fits_and_their_facts():
    html = tables.optimizer_comparison(_published_fits()).as_raw_html()
    for text in ("The report&#x27;s (the replication)", "The code&#x27;s (hblr.py)",
                 "lr 0.015, betas (0.9, 0.999), decay 0.9995 per step",
                 "lr 0.05, betas (0.95, 0.999), decay 0.999 per step", "fixed steps",
                 "step limit", "20,000", "8,000", "0.270", "0.730"):
        assert text in html, text


def test_optimizer_sentences():
    fits = _published_fits()
    assert narrative.optimizer_agreement(fits).endswith("do not depend on the choice.")
    flipped = dict(AGREEING, heldout_auc=0.6)
    sentence = narrative.optimizer_agreement(_published_fits(flipped))
    assert sentence.endswith("but not that held-out workers are ranked worse than chance.")
    runs = narrative.optimizer_runs(fits)
    assert "learning rate of 0.015 multiplied by 0.9995" in runs
    assert "(β₁, β₂) = (0.95, 0.999)" in runs and "fixed 8,000 steps." in runs
    assert "0.05" in narrative.code_optimizer() and "8,000" in narrative.code_optimizer()
    assert "80,000" in narrative.report_optimizer() and "18,000" in narrative.report_optimizer()
    assert "did not meet the rule" in narrative.refit_steps_sentence(fits)
    assert "beyond the 18,000" in narrative.refit_steps_sentence(fits)
    short = _published_fits(steps=8000)
    assert "short of the 18,000" in narrative.refit_steps_sentence(short)
    met = _published_fits(converged=True, steps=12_500)
    assert "met the rule after 12,500 steps" in narrative.refit_steps_sentence(met)


def test_code_citations_name_the_file_lines_and_full_commit():
    from organizing.inference.optimizers import STUDY_CODE_COMMIT

    citation = narrative.code_citation("optimizer")
    assert citation == f"`hblr.py`, lines 127-139, at commit `{STUDY_CODE_COMMIT}`"
    for file, commit, _ in narrative.STUDY_CODE.values():
        assert len(commit) == 40 and int(commit, 16) >= 0 and file.endswith(".py")
