"""Tests of the experiment planner: size, closed-form power, monotonicity, CMH, GEE, validation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate, special, stats
from statsmodels.stats.contingency_tables import StratifiedTable

from organizing import planning as pl
from organizing.planning.population import _logistic_normal_mean, _variance_components
from organizing.planning.power import _binomial_quantile

M = 130  # median workers per worksite in the campaign
ALPHA = 0.05


def campaign(worker_sd: float = 0.0, site_sd: float = 1.2) -> pl.Population:
    """One 'known' draw with the campaign's illustrative numbers (baseline logit −1.6)."""
    return pl.Population(baseline_logit=[-1.6], site_sd=[site_sd], worker_sd=[worker_sd])


@pytest.fixture(scope="module")
def posterior() -> pl.Population:
    """200 posterior-like draws around the campaign's numbers, with a worker-level part."""
    rng = np.random.default_rng(7)
    return pl.Population(
        baseline_logit=rng.normal(-1.6, 0.1, 200),
        site_sd=np.abs(rng.normal(1.2, 0.1, 200)),
        worker_sd=np.abs(rng.normal(0.5, 0.1, 200)),
    )


def mc_band(p: float, sims: int, k: float = 3.0) -> float:
    return k * math.sqrt(p * (1 - p) / sims)


# ----------------------------------------------------------------------------- size and power


@pytest.mark.parametrize("design", pl.DESIGNS)
@pytest.mark.parametrize("which", ["campaign", "posterior"])
def test_null_rejection_rate_is_alpha(design, which, posterior):
    population = campaign() if which == "campaign" else posterior
    result = pl.power(population, design, 40, M, effect=0.0, sims=2000, seed=11)
    assert result.log_odds_ratio == 0.0
    assert abs(result.power - ALPHA) <= mc_band(ALPHA, 2000), result


def closed_form_power(population: pl.Population, effect: float, n_sites: int) -> float:
    """Design-effect approximation (Donner and Klar 2000; Hayes and Moulton 2017).

    Arm a has k = n/2 worksites of m workers, marginal rate p_a and proportion-scale ICC
    ρ_a, so n_eff = k·m/DE_a with DE_a = 1 + (m − 1)ρ_a; power = Φ(|p1 − p0|/SE − t_{2k−2}).
    """
    eff = pl.treatment_effect(population, effect=effect)
    treated = pl.Population(
        population.baseline_logit + eff.log_odds_ratio, population.site_sd, population.worker_sd
    )
    k = n_sites // 2
    var = 0.0
    for pop, p in (
        (population, eff.baseline_rate),
        (treated, eff.baseline_rate + eff.marginal_effect),
    ):
        design_effect = pl.design_effect(pop, M).mean
        var += p * (1 - p) / (k * M / design_effect)
    return float(
        stats.norm.cdf(abs(eff.marginal_effect) / math.sqrt(var) - stats.t.ppf(0.975, 2 * k - 2))
    )


@pytest.mark.parametrize(
    ("site_sd", "n_sites", "effect"),
    [(0.6, 40, 0.05), (0.6, 40, 0.08), (0.6, 20, 0.08), (1.2, 40, 0.15)],
)
def test_worksite_power_matches_design_effect_formula(site_sd, n_sites, effect):
    """Tolerance: 3 MC SE + 0.05 (the formula is a normal approximation for skewed
    worksite proportions and a conditional δ; observed ICC by quadrature)."""
    population = campaign(site_sd=site_sd)
    assert pl.latent_icc(population).mean == pytest.approx(site_sd**2 / (site_sd**2 + np.pi**2 / 3))
    expected = closed_form_power(population, effect, n_sites)
    result = pl.power(population, "worksite", n_sites, M, effect=effect, sims=2000, seed=1)
    assert abs(result.power - expected) <= 3 * result.mc_se + 0.05, (result.power, expected)


def test_power_rises_with_sites_and_effect(posterior):
    sizes, effects = [8, 20, 60], [0.02, 0.08, 0.2]
    curve = pl.power_curve(posterior, sizes, effects, M, sims=1000, seed=2)
    assert len(curve) == 2 * len(sizes) * len(effects)
    assert list(curve.columns) == [
        "design",
        "effect",
        "log_odds_ratio",
        "n_sites",
        "power",
        "mc_se",
    ]
    for design, frame in curve.groupby("design"):
        grid = frame.pivot(index="effect", columns="n_sites", values="power").to_numpy()
        slack = 2 * math.sqrt(0.25 / 1000)
        assert np.all(np.diff(grid, axis=0) >= -slack), design
        assert np.all(np.diff(grid, axis=1) >= -slack), design
        assert grid[-1, -1] - grid[0, 0] > 0.3, design
    # worker randomization removes the between-worksite variance
    both = curve.pivot_table(index=["effect", "n_sites"], columns="design", values="power")
    assert (both["worker"] >= both["worksite"] - 0.02).all()


def test_same_seed_reproduces_and_seeds_differ(posterior):
    a = pl.power(posterior, "worker", 10, M, effect=0.03, sims=300, seed=5)
    b = pl.power(posterior, "worker", 10, M, effect=0.03, sims=300, seed=5)
    assert a == b
    t1 = pl.simulate_trials(posterior, "worksite", 10, M, effect=0.03, sims=300, seed=5)
    t2 = pl.simulate_trials(posterior, "worksite", 10, M, effect=0.03, sims=300, seed=5)
    t3 = pl.simulate_trials(posterior, "worksite", 10, M, effect=0.03, sims=300, seed=6)
    np.testing.assert_array_equal(t1.treated_signers, t2.treated_signers)
    np.testing.assert_array_equal(t1.draw, t2.draw)
    assert not np.array_equal(t1.treated_signers, t3.treated_signers)
    assert not np.array_equal(t1.draw, t3.draw)


@pytest.mark.parametrize("design", pl.DESIGNS)
def test_power_is_the_rejection_rate_of_the_simulated_trials(design, posterior):
    result = pl.power(posterior, design, 9, M + 1, odds_ratio=1.3, sims=500, seed=3)
    trials = pl.simulate_trials(posterior, design, 9, M + 1, odds_ratio=1.3, sims=500, seed=3)
    assert result.power == np.mean(pl.trial_p_values(trials) < ALPHA)
    arms = (trials.treated_n > 0).sum(1), (trials.control_n > 0).sum(1)
    expected = (4, 5) if design == "worksite" else (9, 9)  # floor treated, ceil control
    assert set(arms[0]) == {expected[0]} and set(arms[1]) == {expected[1]}
    if design == "worker":
        assert set(np.unique(trials.treated_n)) == {65}
        assert set(np.unique(trials.control_n)) == {66}
    assert np.all(trials.treated_signers <= trials.treated_n)
    assert np.all(trials.control_signers <= trials.control_n)


def test_worker_level_variation_matches_per_worker_simulation():
    """Counts drawn as Binomial(n, E_e expit(η + e)) agree with per-worker Bernoulli draws."""
    population = campaign(worker_sd=1.5)
    trials = pl.simulate_trials(population, "worker", 40, 40, effect=0.1, sims=1000, seed=4)
    ours_t = trials.treated_signers / trials.treated_n
    ours_c = trials.control_signers / trials.control_n
    rng = np.random.default_rng(0)
    u = 1.2 * rng.standard_normal((1000, 40, 1))
    e = 1.5 * rng.standard_normal((1000, 40, 40))
    treated = np.arange(40) < 20
    eta = -1.6 + u + e + trials.log_odds_ratio * treated
    y = rng.random(eta.shape) < special.expit(eta)
    brute_t, brute_c = y[..., treated].mean(-1), y[..., ~treated].mean(-1)
    for ours, brute in ((ours_t, brute_t), (ours_c, brute_c)):
        se = math.sqrt(2 * brute.mean(-1).var() / 1000)  # trial means, independent samples
        assert abs(ours.mean() - brute.mean()) < 4 * se
        assert ours.var() == pytest.approx(brute.var(), rel=0.1)


# ----------------------------------------------------------------------------- analyses


def random_tables(rng, shape, degenerate: bool = True):
    n1 = rng.integers(1, 40, shape)
    n0 = rng.integers(1, 40, shape)
    a = rng.binomial(n1, rng.uniform(0.05, 0.6, shape))
    c = rng.binomial(n0, rng.uniform(0.05, 0.6, shape))
    if degenerate:  # one all-0 and one all-1 stratum per row
        a[..., 0], c[..., 0] = 0, 0
        a[..., 1], c[..., 1] = n1[..., 1], n0[..., 1]
    return a, n1, c, n0


@pytest.mark.parametrize("correction", [False, True])
def test_cmh_equals_statsmodels(correction):
    rng = np.random.default_rng(8)
    a, n1, c, n0 = random_tables(rng, (60, 12))
    statistic, pvalue = pl.cmh_test(a, n1, c, n0, correction=correction)
    checked = 0
    for row in range(60):
        tables = np.stack([[a[row], n1[row] - a[row]], [c[row], n0[row] - c[row]]])  # 2×2×K
        expected = StratifiedTable(tables.astype(float)).test_null_odds(correction=correction)
        score = np.sum(a[row] - n1[row] * (a[row] + c[row]) / (n1[row] + n0[row]))
        if correction and abs(score) < 0.5:  # statsmodels does not clip |S| − 1/2 at 0
            assert statistic[row] == 0.0
            continue
        assert statistic[row] == pytest.approx(expected.statistic, rel=1e-10)
        assert pvalue[row] == pytest.approx(expected.pvalue, rel=1e-8, abs=1e-14)
        checked += 1
    assert checked >= 50


def test_cmh_ignores_uninformative_strata_and_handles_zero_variance():
    rng = np.random.default_rng(9)
    a, n1, c, n0 = random_tables(rng, (20, 8), degenerate=False)
    base = pl.cmh_test(a, n1, c, n0)
    # add an all-0 stratum (0/5 treated, 0/7 control) and an all-1 stratum (5/5, 7/7)
    extra = {"a": [0, 5], "n1": [5, 5], "c": [0, 7], "n0": [7, 7]}
    padded = pl.cmh_test(
        *(
            np.hstack([x, np.tile(extra[k], (20, 1))])
            for k, x in zip(extra, (a, n1, c, n0), strict=True)
        )
    )
    np.testing.assert_allclose(padded[0], base[0], rtol=1e-12)
    np.testing.assert_allclose(padded[1], base[1], rtol=1e-12)
    zero = np.zeros((3, 4))
    statistic, pvalue = pl.cmh_test(zero, zero + 10, zero, zero + 10)  # nobody signs
    np.testing.assert_array_equal(statistic, 0.0)
    np.testing.assert_array_equal(pvalue, 1.0)
    statistic, pvalue = pl.cmh_test(zero + 10, zero + 10, zero + 10, zero + 10)  # everyone signs
    np.testing.assert_array_equal(pvalue, 1.0)


def test_cluster_t_test_equals_scipy_and_handles_zero_variance():
    rng = np.random.default_rng(10)
    treated, control = rng.uniform(0, 1, (50, 7)), rng.uniform(0, 1, (50, 9))
    t, p = pl.cluster_t_test(treated, control)
    expected = stats.ttest_ind(treated, control, axis=-1)
    np.testing.assert_allclose(t, expected.statistic, rtol=1e-12)
    np.testing.assert_allclose(p, expected.pvalue, rtol=1e-10)
    same = np.full((2, 3), 0.2)
    t, p = pl.cluster_t_test(same, np.stack([same[0], same[1] + 0.1]))
    np.testing.assert_array_equal(t, [0.0, -np.inf])
    np.testing.assert_array_equal(p, [1.0, 0.0])


def test_gee_cross_check_agrees_with_cluster_t_test():
    population = campaign(site_sd=0.6)
    trials = pl.simulate_trials(population, "worksite", 40, M, effect=0.06, sims=20, seed=3)
    p_t = pl.trial_p_values(trials)
    fits = [pl.gee_test(trials, i) for i in range(trials.sims)]
    p_gee = np.array([fit.pvalue for fit in fits])
    assert np.mean((p_t < ALPHA) == (p_gee < ALPHA)) >= 0.8
    assert stats.spearmanr(p_t, p_gee)[0] > 0.8
    assert np.mean([fit.log_odds_ratio > 0 for fit in fits]) > 0.5
    worker = pl.simulate_trials(population, "worker", 10, M, effect=0.06, sims=2, seed=3)
    fit = pl.gee_test(worker, 1)
    assert np.isfinite(fit.se) and 0 <= fit.pvalue <= 1


# ----------------------------------------------------------------------------- numerics


def test_binomial_quantile_equals_scipy_and_is_monotone_in_q():
    rng = np.random.default_rng(12)
    u = rng.random(20_000)
    q = np.concatenate([rng.random(19_996), [0.0, 1.0, 0.5, 1e-9]])
    for size in (1, 65, 130):
        ours = _binomial_quantile(u, size, q)
        np.testing.assert_array_equal(ours, stats.binom.ppf(u, size, q))
        assert np.all(_binomial_quantile(u, size, np.minimum(q + 0.01, 1)) >= ours)
    sizes = rng.integers(1, 1500, q.size)  # one size per cell, some above 1,000 (scipy)
    ours = _binomial_quantile(u, sizes, q)
    np.testing.assert_array_equal(ours, stats.binom.ppf(u, sizes, q))
    assert np.all(_binomial_quantile(u, sizes, np.minimum(q + 0.01, 1)) >= ours)


def test_logistic_normal_mean_and_icc_by_quadrature():
    # one sd in every quadrature rule (the node count grows with the sd)
    sds = [0.3, 0.5, 0.8, 1.2, 1.8, 2.4, 3.0, 3.5, 4.0, 5.0, 8.0, 15.0]
    for mu in (-6.0, -1.6, 0.0, 2.0):
        for sd in sds:

            def integrand(z, mu=mu, sd=sd):
                return special.expit(mu + sd * z) * stats.norm.pdf(z)

            exact = integrate.quad(integrand, -12, 12, epsabs=1e-13, limit=200)[0]
            assert _logistic_normal_mean(mu, sd) == pytest.approx(exact, abs=1e-8), (mu, sd)
    vectorized = _logistic_normal_mean(np.full((3, 4), -1.6), np.array(sds)[:4])
    np.testing.assert_allclose(vectorized[0], vectorized[2], rtol=1e-14)
    population = campaign(worker_sd=0.8)
    rng = np.random.default_rng(13)
    q = special.expit(
        -1.6 + 1.2 * rng.standard_normal((20_000, 1)) + 0.8 * rng.standard_normal((20_000, 400))
    )
    q = q.mean(1)  # per-worksite probability, averaged over 400 workers
    assert pl.observed_icc(population).mean == pytest.approx(
        q.var() / (q.mean() * (1 - q.mean())), rel=0.03
    )
    assert pl.baseline_rate(population) == pytest.approx(q.mean(), rel=0.01)


def test_icc_design_effect_and_effect_scales(posterior):
    icc, de = pl.latent_icc(posterior), pl.design_effect(posterior, M)
    assert icc.lower < icc.mean < icc.upper and icc.level == 0.9
    observed = pl.observed_icc(posterior)
    assert 0 < observed.mean < icc.mean  # the proportion-scale ICC is smaller at ~20%
    # equal sizes: Donner and Klar's 1 + (m - 1) rho on the proportion scale
    assert de.mean == pytest.approx(1 + (M - 1) * observed.mean)
    # unequal sizes: m̄ (rho + (1 - rho) mean(1/m)) per draw, larger than at the mean size
    sizes = np.array([11, 40, 91, 130, 300, 946])
    unequal = pl.design_effect(posterior, sizes)
    assert unequal.mean == pytest.approx(
        sizes.mean() * (observed.mean + (1 - observed.mean) * np.mean(1 / sizes)))
    assert unequal.mean > pl.design_effect(posterior, int(sizes.mean())).mean
    eff = pl.treatment_effect(posterior, effect=0.05)
    p0 = pl.baseline_rate(posterior)
    # Δ is the rise of the mean rate; the worker-level δ is larger (non-collapsibility)
    assert eff.effect == pytest.approx(0.05) and eff.marginal_effect == pytest.approx(0.05)
    assert eff.log_odds_ratio > special.logit(p0 + 0.05) - special.logit(p0)
    treated = pl.Population(posterior.baseline_logit + eff.log_odds_ratio, posterior.site_sd,
                            posterior.worker_sd)
    assert pl.baseline_rate(treated) - p0 == pytest.approx(0.05, abs=1e-6)
    by_or = pl.treatment_effect(posterior, odds_ratio=eff.odds_ratio)
    assert by_or.effect == pytest.approx(0.05)
    flat = pl.Population([-1.6], [0.0], [0.0])
    assert pl.treatment_effect(flat, effect=0.05).log_odds_ratio == pytest.approx(
        special.logit(special.expit(-1.6) + 0.05) + 1.6)


# ----------------------------------------------------------------------------- MDE, sites, plan


@pytest.mark.parametrize("design", pl.DESIGNS)
def test_minimum_detectable_effect_is_where_power_crosses_the_target(design, posterior):
    mde = pl.minimum_detectable_effect(posterior, design, 20, M, sims=500, seed=4)
    assert mde.mde is not None and mde.mde > 0 and 0 < mde.mc_se < 0.1 * mde.mde
    band = 2 * math.sqrt(0.8 * 0.2 / 500)  # the interpolated MDE's power is the target ± MC
    assert abs(mde.power - 0.8) <= band
    at = pl.power(posterior, design, 20, M, effect=mde.mde, sims=500, seed=4)
    below = pl.power(posterior, design, 20, M, effect=0.9 * mde.mde, sims=500, seed=4)
    above = pl.power(posterior, design, 20, M, effect=1.1 * mde.mde, sims=500, seed=4)
    assert abs(at.power - mde.power) <= 2 / 500 and below.power < 0.8 < above.power
    assert json.dumps(mde.to_dict(), allow_nan=False)
    grid = pl.mde_grid(posterior, [(design, pl.Options())], [20], M, sims=500, seed=4)
    assert grid["mde"].iloc[0] == pytest.approx(mde.mde)  # one search, shared


def test_mde_unreachable_is_none():
    population = campaign(site_sd=3.0)
    mde = pl.minimum_detectable_effect(population, "worksite", 4, 2, target_power=0.99, sims=100)
    assert mde.mde is None and mde.mc_se is None and "not reached" in mde.note


@pytest.mark.parametrize(("design", "effect"), [("worksite", 0.2), ("worker", 0.03)])
def test_sites_needed_is_the_first_n_reaching_the_target(design, effect, posterior):
    kwargs = {"effect": effect, "sims": 400, "seed": 6}
    result = pl.sites_needed(posterior, design, M, max_sites=120, **kwargs)
    n, step = result.n_sites, 2 if design == "worksite" else 1
    assert n is not None and n % step == 0 and n > 4
    # common random numbers: the first n worksites are the same in every run
    assert pl.power(posterior, design, n, M, **kwargs).power == result.power >= 0.8
    assert pl.power(posterior, design, n - step, M, **kwargs).power < 0.8
    low, high = result.n_sites_range
    assert low <= n and (high is None or high >= n)


def test_sites_needed_not_reached():
    result = pl.sites_needed(campaign(), "worksite", M, effect=0.01, sims=100, max_sites=8)
    assert result.n_sites is None and "max_sites=8" in result.note
    assert json.dumps(result.to_dict(), allow_nan=False)


def test_plan_agrees_with_the_parts_and_is_json_safe(posterior):
    kwargs = {"sims": 300, "seed": 2}
    summary = pl.plan(posterior, "worker", 20, M, effect=0.04, max_sites=60, **kwargs)
    assert summary.power == pl.power(posterior, "worker", 20, M, effect=0.04, **kwargs).power
    assert summary.mde == pl.minimum_detectable_effect(posterior, "worker", 20, M, **kwargs).mde
    needed = pl.sites_needed(posterior, "worker", M, effect=0.04, max_sites=60, **kwargs)
    assert summary.sites_needed == needed.n_sites
    assert summary.design_effect.mean == pytest.approx(pl.design_effect(posterior, M).mean)
    assert summary.type_one_error == pl.power(posterior, "worker", 20, M, effect=0.0,
                                              **kwargs).power
    assert (summary.treated_sites, summary.control_sites) == (20, 20)  # every store, both arms
    as_dict = summary.to_dict()
    json.dumps(as_dict, allow_nan=False)
    assert as_dict["icc"]["level"] == 0.9 and isinstance(as_dict["sites_needed_range"], list)
    assert as_dict["sizes"]["source"] == "equal" and "odds_ratio" not in as_dict
    null = pl.plan(campaign(), "worksite", 4, 2, effect=0.0, sims=100)
    assert null.sites_needed is None and null.sites_needed_note == "undefined for a zero effect"
    json.dumps(null.to_dict(), allow_nan=False)


# ----------------------------------------------------------------------------- validation


def call(name, **overrides):
    base = {
        "population": campaign(),
        "design": "worksite",
        "n_sites": 10,
        "workers_per_site": M,
        "effect": 0.05,
        "sims": 100,
    }
    base.update(overrides)
    base = {k: v for k, v in base.items() if v is not _DROP}
    return getattr(pl, name)(**base)


_DROP = object()

BAD_CALLS = [
    ("power", {"design": "cluster"}, "design must be one of"),
    ("power", {"n_sites": 3}, "n_sites must be an integer >= 4"),
    ("power", {"design": "worker", "n_sites": 1}, "n_sites must be an integer >= 2"),
    ("power", {"n_sites": 10.0}, "n_sites must be an integer"),
    ("power", {"n_sites": 10**6}, "n_sites must be <="),
    ("power", {"sims": 10**6, "n_sites": 40}, "exceeds 20,000,000"),
    ("power", {"workers_per_site": 1}, "workers_per_site must be an integer >= 2"),
    ("power", {"alpha": 0.0}, "alpha must be in"),
    ("power", {"alpha": 1.0}, "alpha must be in"),
    ("power", {"sims": 99}, "sims must be an integer >= 100"),
    ("power", {"seed": -1}, "seed must be a non-negative integer"),
    ("power", {"odds_ratio": 1.5}, "exactly one of effect"),
    ("power", {"effect": None}, "exactly one of effect"),
    ("power", {"effect": 0.9}, "outside"),
    ("power", {"effect": -0.5}, "outside"),
    ("power", {"effect": float("nan")}, "effect must be a finite number"),
    ("power", {"effect": None, "odds_ratio": 0.0}, "odds_ratio must be a finite number > 0"),
    ("power", {"effect": None, "odds_ratio": -2.0}, "odds_ratio must be a finite number > 0"),
    ("power", {"population": "draws"}, "population must be a Population"),
    ("minimum_detectable_effect", {"effect": _DROP, "target_power": 0.01}, "target_power"),
    ("minimum_detectable_effect", {"effect": _DROP, "target_power": 1.0}, "target_power"),
    ("sites_needed", {"n_sites": _DROP, "max_sites": 2}, "max_sites must be an integer >= 4"),
    ("sites_needed", {"n_sites": _DROP, "effect": 0.0}, "non-zero effect"),
    ("plan", {"max_sites": 3}, "max_sites must be an integer >= 4"),
    ("simulate_trials", {"sims": 0}, "sims must be an integer >= 1"),
]


@pytest.mark.parametrize(("name", "overrides", "message"), BAD_CALLS)
def test_bad_arguments_raise_readable_errors(name, overrides, message):
    with pytest.raises(ValueError, match=message) as error:
        call(name, **overrides)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline_logit": [[-1.6]], "site_sd": 1.2, "worker_sd": 0.0}, "must be 1-D"),
        (
            {"baseline_logit": [-1.6, -1.5], "site_sd": [1.2] * 3, "worker_sd": 0.0},
            "differ in length",
        ),
        ({"baseline_logit": [np.nan], "site_sd": 1.2, "worker_sd": 0.0}, "non-finite"),
        (
            {"baseline_logit": [-1.6], "site_sd": -1.2, "worker_sd": 0.0},
            "site_sd must be non-negative",
        ),
        (
            {"baseline_logit": [-1.6], "site_sd": 1.2, "worker_sd": [-0.1]},
            "worker_sd must be non-neg",
        ),
        ({"baseline_logit": [], "site_sd": [], "worker_sd": []}, "at least one draw"),
        ({"baseline_logit": ["a"], "site_sd": 1.2, "worker_sd": 0.0}, "must be numeric"),
    ],
)
def test_bad_population_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pl.Population(**kwargs)


def test_other_bad_arguments():
    population = campaign()
    with pytest.raises(ValueError, match="has no worksite sizes"):
        pl.design_effect(population)
    with pytest.raises(ValueError, match="n_sites must be an integer >= 4"):
        pl.power_curve(population, [2, 10], [0.05], M)
    with pytest.raises(ValueError, match="non-empty"):
        pl.power_curve(population, [], [0.05], M)
    with pytest.raises(ValueError, match="2 worksites per arm"):
        pl.cluster_t_test(np.ones((3, 1)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="between 0 and the arm sizes"):
        pl.cmh_test([5], [4], [1], [4])
    trials = pl.simulate_trials(population, "worker", 4, 10, effect=0.05, sims=2)
    with pytest.raises(ValueError, match="trial must be an integer"):
        pl.gee_test(trials, 2)


# ----------------------------------------------------------------- population from draws


def synthetic_campaign(rng, sites=80, workers=60):
    """A campaign simulated from the headline model with known parameters (one 'draw')."""
    truth = {"alpha": -1.5, "beta": np.array([0.5, -0.3]), "sigma_u": 0.8,
             "mu_b": np.array([1.5, 0.4]), "tau_b": np.array([0.5, 0.3])}
    site_x = rng.standard_normal((sites, 2))
    site_index = np.repeat(np.arange(sites), workers)
    share = rng.uniform(0.1, 0.5, sites)[site_index]  # binary feature, share varies by site
    worker_x = np.column_stack([rng.random(site_index.size) < share,
                                rng.standard_normal(site_index.size)]).astype(float)
    worker_x = (worker_x - worker_x.mean(0)) / worker_x.std(0)
    u = truth["sigma_u"] * rng.standard_normal(sites)
    b = truth["mu_b"] + truth["tau_b"] * rng.standard_normal((sites, 2))
    eta = (truth["alpha"] + (site_x @ truth["beta"] + u)[site_index]
           + (worker_x * b[site_index]).sum(1))
    signed = rng.random(eta.size) < special.expit(eta)
    return truth, site_x, worker_x, site_index, signed


def test_population_from_draws_is_the_posterior_predictive_of_new_worksites():
    """Known truth: the planner's untreated worksites sign like new worksites drawn from the
    model worker by worker, and like the campaign's own worksites; the variance parts are
    the stated ones."""
    rng = np.random.default_rng(3)
    truth, site_x, worker_x, site_index, signed = synthetic_campaign(rng)
    draws = 40  # the truth, repeated: each copy gets its own fresh worksite coefficients
    population = pl.population_from_draws(
        np.full(draws, truth["alpha"]), np.full(draws, truth["sigma_u"]),
        np.tile(truth["beta"], (draws, 1)), np.tile(truth["mu_b"], (draws, 1)),
        np.tile(truth["tau_b"], (draws, 1)), site_x, worker_x, site_index, seed=1)
    m = 60
    trials = pl.simulate_trials(population, "worksite", 40, m, effect=0.0, sims=500, seed=2)
    control = trials.control_signers[:, trials.control_n[0] > 0] / m
    ours_mean, ours_sd = control.mean(), control.std(axis=1, ddof=1).mean()
    # brute force: new worksites worker by worker (template features, fresh u and b)
    sites = 80
    templates = rng.integers(0, sites, 20_000)
    u = truth["sigma_u"] * rng.standard_normal(templates.size)
    b = truth["mu_b"] + truth["tau_b"] * rng.standard_normal((templates.size, 2))
    rows = templates[:, None] * m + np.arange(m)  # the template's workers
    eta = (truth["alpha"] + site_x[templates] @ truth["beta"] + u)[:, None] + np.einsum(
        "twp,tp->tw", worker_x[rows], b)
    rates = (rng.random(eta.shape) < special.expit(eta)).mean(1)
    assert ours_mean == pytest.approx(rates.mean(), abs=0.01)
    assert ours_sd == pytest.approx(rates.std(), rel=0.06)
    assert pl.baseline_rate(population) == pytest.approx(rates.mean(), abs=0.01)
    # the campaign's observed worksite rates (80 worksites: ±3 sampling SE)
    observed = np.bincount(site_index, weights=signed) / m
    assert abs(ours_mean - observed.mean()) < 3 * observed.std() / math.sqrt(sites)
    assert abs(ours_sd - observed.std(ddof=1)) < 3 * observed.std() / math.sqrt(2 * sites)
    # variance parts: between σ_u² + Var(x·β) + E(z̄·(τ⊙ε))² ..., within Var((z − z̄)·b)
    between, within = _variance_components(population)
    z_bar = np.stack([np.bincount(site_index, weights=worker_x[:, p]) / m for p in range(2)], 1)
    expected_between = (truth["sigma_u"] ** 2 + (site_x @ truth["beta"] + z_bar @ truth["mu_b"])
                        .var() + (z_bar**2 @ truth["tau_b"] ** 2).mean())
    assert between.mean() == pytest.approx(expected_between, rel=0.1)
    deviation = worker_x - z_bar[site_index]
    expected_within = ((deviation @ truth["mu_b"]) ** 2).mean() + (
        deviation**2 @ truth["tau_b"] ** 2).mean()
    assert within.mean() == pytest.approx(expected_within, rel=0.1)


# ----------------------------------------------------------------- unequal sizes and options


#: Store sizes like the campaign's: 11 to 946 workers, coefficient of variation about 1.
CAMPAIGN_LIKE = np.array([11, 18, 25, 31, 40, 48, 55, 62, 70, 78, 85, 91, 92, 100, 110, 121,
                          135, 150, 170, 190, 215, 250, 290, 340, 410, 520, 700, 946])


def templated(seed: int = 5, draws: int = 60, templates: int = 30) -> pl.Population:
    """A population of store templates whose forecast rate and size go together: larger
    stores sign less, and the features explain part of the spread between stores."""
    rng = np.random.default_rng(seed)
    sizes = rng.choice(CAMPAIGN_LIKE, templates)
    offsets = (-0.6 * (np.log(sizes) - np.log(sizes).mean())
               + rng.normal(0, 0.8, templates))[None, :] + rng.normal(0, 0.05, (draws, templates))
    return pl.Population(
        baseline_logit=rng.normal(-1.6, 0.1, draws), site_sd=np.abs(rng.normal(0.7, 0.05, draws)),
        worker_sd=0.0, site_offsets=offsets,
        worker_offsets=np.sort(rng.normal(0, 1.0, (draws, templates, 8)), axis=-1),
        site_sizes=sizes)


@pytest.mark.parametrize("design", pl.DESIGNS)
@pytest.mark.parametrize("which", ["size list", "templates"])
def test_type_one_error_with_unequal_store_sizes(design, which, posterior):
    """Sizes from 11 to 946 (cv ~1): the zero-effect rejection rate is alpha within MC error."""
    if which == "size list":
        result = pl.power(posterior, design, 40, CAMPAIGN_LIKE, effect=0.0, sims=2000, seed=21)
    else:
        result = pl.power(templated(), design, 40, effect=0.0, sims=2000, seed=21)
    assert abs(result.power - ALPHA) <= mc_band(ALPHA, 2000), result


@pytest.mark.parametrize("options", [pl.Options(match="size"), pl.Options(match="rate"),
                                     pl.Options(adjust=True),
                                     pl.Options(match="rate", adjust=True),
                                     pl.Options(effect_sd=0.5)])
def test_type_one_error_of_every_worksite_option(options):
    result = pl.power(templated(), "worksite", 40, effect=0.0, sims=2000, seed=22,
                      options=options)
    assert abs(result.power - ALPHA) <= mc_band(ALPHA, 2000), (options, result.power)


def test_unequal_sizes_follow_the_design_effect_formula():
    """Worksite power with sizes drawn from a list matches the closed form with the
    unequal-size variance Var(p̂_s) = p(1-p)(rho + (1-rho)/m_s) (3 MC SE + 0.05)."""
    population = campaign(site_sd=0.6)
    eff = pl.treatment_effect(population, effect=0.08)
    result = pl.power(population, "worksite", 40, CAMPAIGN_LIKE, effect=0.08, sims=2000, seed=1)
    treated = pl.Population(population.baseline_logit + eff.log_odds_ratio,
                            population.site_sd, population.worker_sd)
    var = 0.0
    for pop, p in ((population, eff.baseline_rate),
                   (treated, eff.baseline_rate + eff.marginal_effect)):
        rho = pl.observed_icc(pop).mean
        var += p * (1 - p) * np.mean(rho + (1 - rho) / CAMPAIGN_LIKE) / 20
    expected = stats.norm.cdf(eff.marginal_effect / math.sqrt(var) - stats.t.ppf(0.975, 38))
    assert abs(result.power - expected) <= 3 * result.mc_se + 0.05, (result.power, expected)


def test_store_sizes_come_from_the_templates_or_the_list():
    population = templated()
    trials = pl.simulate_trials(population, "worksite", 20, effect=0.05, sims=50, seed=3)
    sizes = trials.treated_n + trials.control_n
    assert set(np.unique(sizes)) <= set(population.site_sizes)
    listed = pl.simulate_trials(population, "worker", 20, [11, 946], effect=0.05, sims=50)
    assert set(np.unique(listed.treated_n + listed.control_n)) == {11, 946}
    assert set(np.unique(listed.treated_n)) == {5, 473}  # floor(m/2) treated
    with pytest.raises(ValueError, match="has no worksite sizes"):
        pl.power(campaign(), "worksite", 10, effect=0.05, sims=100)


def test_pair_matching_and_adjustment_on_the_forecast_lower_the_detectable_effect():
    population = templated()
    cases = [("worksite", pl.Options()), ("worksite", pl.Options(match="rate")),
             ("worksite", pl.Options(adjust=True))]
    grid = pl.mde_grid(population, cases, [20, 40], sims=800, seed=4)
    plain, matched, adjusted = (grid[grid["option"] == o.describe()]["mde"].to_numpy()
                                for _, o in cases)
    assert np.all(matched < plain) and np.all(adjusted < plain)
    assert np.all(np.diff(plain) < 0)  # more stores, smaller detectable effect
    trials = pl.simulate_trials(population, "worksite", 20, effect=0.05, sims=30, seed=4,
                                options=pl.Options(match="rate"))
    treated = trials.treated_n > 0
    assert np.all(treated[:, 0::2] != treated[:, 1::2])  # one of each pair treated
    gaps = np.abs(np.diff(trials.forecast, axis=1)[:, 0::2])
    spread = np.abs(trials.forecast[:, :, None] - trials.forecast[:, None, :]).mean()
    assert gaps.mean() < spread / 3  # pairs are close on the forecast


def test_contamination_shrinks_the_within_store_comparison(posterior):
    plain = pl.power(posterior, "worker", 20, M, effect=0.05, sims=1000, seed=6)
    spilled = pl.power(posterior, "worker", 20, M, effect=0.05, sims=1000, seed=6,
                       options=pl.Options(contamination=0.5))
    assert spilled.power < plain.power - 0.1
    # half the effect reaches controls: the trial sees about half the effect
    half = pl.power(posterior, "worker", 20, M, effect=0.025, sims=1000, seed=6)
    assert abs(spilled.power - half.power) < 0.1
    null = pl.power(posterior, "worker", 20, M, effect=0.0, sims=2000, seed=6,
                    options=pl.Options(contamination=0.5))
    assert abs(null.power - ALPHA) <= mc_band(ALPHA, 2000)


def test_an_effect_that_varies_between_stores_keeps_its_mean():
    population = campaign(site_sd=0.6)
    varied = pl.treatment_effect(population, effect=0.08, effect_sd=1.0)
    fixed = pl.treatment_effect(population, effect=0.08)
    assert varied.effect == pytest.approx(0.08)
    assert varied.log_odds_ratio != pytest.approx(fixed.log_odds_ratio)
    trials = pl.simulate_trials(population, "worksite", 200, M, effect=0.08, sims=200,
                                seed=7, options=pl.Options(effect_sd=1.0))
    rate = lambda y, n: (y.sum(1) / np.maximum((n > 0).sum(1), 1))  # noqa: E731
    treated = rate(trials.treated_signers / np.maximum(trials.treated_n, 1), trials.treated_n)
    control = rate(trials.control_signers / np.maximum(trials.control_n, 1), trials.control_n)
    difference = (treated - control).mean()
    assert difference == pytest.approx(0.08, abs=0.01)  # the trial's estimand is Δ


def test_store_tests_equal_least_squares_with_pair_intercepts_and_a_covariate():
    import statsmodels.api as sm

    from organizing.planning.trial import store_regression

    rng = np.random.default_rng(9)
    rates, covariate = rng.uniform(0, 0.5, (5, 12)), rng.normal(size=(5, 12))
    treated = np.tile([True, False], (5, 6))
    for i in range(5):
        rng.shuffle(treated[i].reshape(6, 2), axis=1)
    paired = pl.store_tests(rates, treated, 2, covariate)
    for i in range(5):
        pairs = np.repeat(np.arange(6), 2)
        X = np.column_stack([treated[i], (pairs[:, None] == np.arange(6)).astype(float),
                             covariate[i]])
        fit = sm.OLS(rates[i], X).fit()
        assert paired.estimate[i] == pytest.approx(fit.params[0], rel=1e-9)
        assert paired.pvalue[i] == pytest.approx(fit.pvalues[0], rel=1e-7)
        estimate, low, high, p, df = store_regression(rates[i], treated[i], pairs, covariate[i])
        assert (estimate, p, df) == (pytest.approx(fit.params[0]), pytest.approx(fit.pvalues[0]),
                                     fit.df_resid)
        assert (low, high) == tuple(pytest.approx(v) for v in fit.conf_int()[0])
    plain = pl.store_tests(rates, treated)
    t, p = pl.cluster_t_test(np.where(treated, rates, np.nan).reshape(5, 12)[treated]
                             .reshape(5, 6), rates[~treated].reshape(5, 6))
    np.testing.assert_allclose(plain.t, t, rtol=1e-10)
    np.testing.assert_allclose(plain.pvalue, p, rtol=1e-9)
    # the paired t-test
    differences = rates[treated].reshape(5, 6) - rates[~treated].reshape(5, 6)
    unadjusted = pl.store_tests(rates, treated, 2)
    np.testing.assert_allclose(unadjusted.pvalue, stats.ttest_1samp(differences, 0, axis=1)
                               .pvalue, rtol=1e-9)


def test_stratified_difference_is_the_weighted_within_store_difference():
    a, n1, c, n0 = [3, 10, 5], [10, 40, 20], [1, 6, 5], [10, 40, 20]
    estimate, se, df = pl.stratified_difference(a, n1, c, n0)
    w = np.array([5.0, 20.0, 10.0])
    d = np.array([0.2, 0.1, 0.0])
    assert estimate == pytest.approx((w * d).sum() / w.sum()) and df == 2
    assert se == pytest.approx(math.sqrt(1.5 * (w**2 * (d - estimate) ** 2).sum()) / w.sum())


@pytest.mark.parametrize(("design", "options", "message"), [
    ("worker", pl.Options(match="size"), "apply to the worksite design"),
    ("worksite", pl.Options(contamination=0.25), "applies to the worker design"),
    ("worksite", pl.Options(match="pairs"), "match must be one of"),
    ("worksite", pl.Options(contamination=1.5), "contamination must be a number in"),
    ("worksite", pl.Options(effect_sd=-1.0), "effect_sd must be a number in"),
])
def test_bad_options_are_refused(design, options, message):
    with pytest.raises(ValueError, match=message) as error:
        pl.power(campaign(), design, 10, M, effect=0.05, sims=100, options=options)
    assert "\n" not in str(error.value)


def test_matching_on_the_forecast_needs_templates_and_pairs():
    with pytest.raises(ValueError, match="needs a population of worksite templates"):
        pl.power(campaign(), "worksite", 10, M, effect=0.05, sims=100,
                 options=pl.Options(match="rate"))
    with pytest.raises(ValueError, match="even number of worksites"):
        pl.power(templated(), "worksite", 11, effect=0.05, sims=100,
                 options=pl.Options(match="size"))
    with pytest.raises(ValueError, match="worksite sizes must be >= 1"):
        pl.power(campaign(), "worker", 10, [0, 5], effect=0.05, sims=100)
    ones = pl.simulate_trials(campaign(), "worker", 10, [1, 5], effect=0.05, sims=20, seed=1)
    assert np.all(ones.treated_n[ones.treated_n + ones.control_n == 1] == 0)  # adds nothing
