"""Average marginal effects in real units (organizing.effects) against brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from organizing import effects
from organizing.data.meaning import MEANINGS, meaning
from organizing.features import headline_design
from organizing.models.logits import logits, sigmoid


def _campaign(rng, folder, n_sites=6, per_site=30):
    """A small simulated campaign with the study's columns, written and read back."""
    from organizing.data import load_campaign
    from organizing.simulate import simulate_campaign

    simulate_campaign(n_sites=n_sites, n_workers=n_sites * per_site,
                      seed=int(rng.integers(1 << 30))).write(folder)
    return load_campaign(folder)


def _draws(rng, design, n=60):
    s, p, q = len(design.site_x), design.worker_x.shape[1], design.site_x.shape[1]
    return {"alpha": rng.normal(-1.5, 0.2, n), "beta_group": rng.normal(0, 0.5, (n, q)),
            "site_effect": rng.normal(0, 0.8, (n, s)),
            "beta_individual": rng.normal(0.3, 0.8, (n, s, p))}


def test_every_column_has_a_meaning():
    from organizing.data import SITE_FEATURES, WORKER_FEATURES

    for name in (*WORKER_FEATURES, *SITE_FEATURES):
        assert name in MEANINGS, name
    assert meaning("No. Notes (worksite mean)").unit == "notes per worker"
    assert meaning("Is Male (worksite mean)").kind == "share"
    with pytest.raises(KeyError, match="no meaning"):
        meaning("Shoe size")


def test_the_average_marginal_effect_equals_a_brute_force_average(tmp_path):
    rng = np.random.default_rng(0)
    campaign = _campaign(rng, tmp_path)
    design = headline_design(campaign)
    draws = _draws(rng, design)
    moves = effects.feature_moves(campaign, design)
    table = effects.average_marginal_effects(draws, design, campaign, moves).set_index("feature")
    base = logits("headline", draws, design.site_x, design.worker_x, design.site_index)
    s = design.site_index
    workers = list(design.worker_features)
    raw_workers = list(campaign.worker_features)

    # one more note: each worker's own logit plus 1/sd times their own store's notes slope
    notes = workers.index("No. Notes")
    sd = campaign.worker_x[:, raw_workers.index("No. Notes")].std()
    brute = np.mean([[sigmoid(base[d, i] + draws["beta_individual"][d, s[i], notes] / sd)
                      - sigmoid(base[d, i]) for i in range(len(s))]
                     for d in range(len(base))], axis=1) * 100
    row = table.loc["No. Notes"]
    assert row["mean"] == pytest.approx(brute.mean())
    assert row["q5"] == pytest.approx(np.quantile(brute, 0.05))
    assert row["end"] - row["start"] == pytest.approx(1.0)

    # a level set from the reference for every worker: the other levels set to 0 as well
    level = "Time To First Convo (Quart. 3)"
    raw = campaign.worker_x
    cols = {n: raw[:, raw_workers.index(n)] for n in raw_workers}
    others = [n for n in ("Time To First Convo (Quart. 2)", "Time To First Convo (Quart. 4)")]
    brute = []
    for d in range(len(base)):
        def slope(n, d=d):
            return draws["beta_individual"][d, s, workers.index(n)]

        reference = base[d] - cols[level] / cols[level].std() * slope(level) - sum(
            cols[o] / cols[o].std() * slope(o) for o in others)
        brute.append(100 * np.mean(sigmoid(reference + slope(level) / cols[level].std())
                                   - sigmoid(reference)))
    assert table.loc[level, "mean"] == pytest.approx(np.mean(brute))
    assert table.loc[level, "reference"] == "Time To First Convo (Quart. 1)"

    # a worksite feature: β times the step, for every worker of the campaign
    ndo = "NDO (Eigen., Pearson)"
    q = list(design.site_features).index(ndo)
    move = moves[ndo]
    step = (move.end - move.start) / move.column_sd
    brute = [100 * np.mean(sigmoid(base[d] + step * draws["beta_group"][d, q])
                           - sigmoid(base[d])) for d in range(len(base))]
    assert table.loc[ndo, "mean"] == pytest.approx(np.mean(brute))
    # the store range brackets the stores' own averages
    assert table.loc[ndo, "store_q5"] <= table.loc[ndo, "store_q95"]
    assert set(table["level"]) == {"worker", "worksite"}
    assert table["stores"].eq(len(design.site_x)).all()


def test_the_average_change_is_smaller_than_the_change_at_the_mean_rate(tmp_path):
    """Workers spread over the logistic curve: the average change of a large positive
    shift is below the change for a worker at the campaign's rate (the old rule)."""
    rng = np.random.default_rng(1)
    campaign = _campaign(rng, tmp_path, n_sites=8)
    design = headline_design(campaign)
    draws = _draws(rng, design)
    draws["site_effect"] *= 4  # a wide spread of logits, as in the campaign
    draws["beta_individual"][..., list(design.worker_features).index("No. Notes")] = 3.0
    moves = {"No. Notes": effects.feature_moves(campaign, design)["No. Notes"]}
    row = effects.average_marginal_effects(draws, design, campaign, moves).iloc[0]
    base = sigmoid(logits("headline", draws, design.site_x, design.worker_x,
                          design.site_index))
    p0 = float(base.mean())
    step = 1 / moves["No. Notes"].column_sd
    at_mean = 100 * (sigmoid(np.log(p0 / (1 - p0)) + 3.0 * step) - p0)
    assert 0 < row["mean"] < at_mean
    assert isinstance(row, pd.Series)
