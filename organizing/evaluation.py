"""Held-out evaluation: metrics, curves, a posterior predictive check, baselines.

Everything here takes arrays (outcomes, predicted probabilities, posterior
draws) and returns numbers or small frames with one row per worksite, per
curve point or per bin: never one row per worker.

Metrics for outcomes y_i ∈ {0, 1} and predicted probabilities p_i:

    accuracy  = mean(1[p_i ≥ 0.5] = y_i)
    AUC       = P(p_i > p_j | y_i = 1, y_j = 0)
    Brier     = mean((p_i − y_i)²)
    log loss  = −mean(y_i log p_i + (1 − y_i) log(1 − p_i))
    ECE       = Σ_b (n_b / n)·|mean_{i∈b} y_i − mean_{i∈b} p_i|   (10 equal-count bins)

with the all-zero baseline accuracy mean(1 − y_i), which is hard to beat when
few workers sign.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score, roc_curve

_EPS = 1e-7


def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    """Accuracy at 0.5, AUC, Brier score, log loss, ECE and the all-zero baseline.

    The AUC is undefined (``None``) when the outcomes hold one class only.
    """
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    if y.shape != p.shape:
        raise ValueError(f"outcomes {y.shape} and probabilities {p.shape} differ in shape")
    both_classes = 0 < y.sum() < len(y)
    return {
        "accuracy": float(np.mean((p >= 0.5) == (y == 1))),
        "auc": float(roc_auc_score(y, p)) if both_classes else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
        "baseline_accuracy": float(np.mean(y == 0)),
        "n": int(len(y)),
    }


def clustered_mean_se(values: np.ndarray, groups: np.ndarray) -> float:
    r"""Standard error of the mean of ``values`` when units are correlated within ``groups``.

    The cluster-robust (sandwich) variance of a mean,

    .. math:: \widehat{\operatorname{var}}(\bar v) = \frac{G}{G - 1}
       \sum_g \Bigl(\sum_{i \in g} (v_i - \bar v)\Bigr)^2 \Big/ n^2,

    over G groups and n units (the small-sample factor G/(G − 1) as Stata's and
    statsmodels' cluster-robust errors). NaN with fewer than two groups.
    """
    values = np.asarray(values, dtype=float)
    groups = np.asarray(groups)
    labels, index = np.unique(groups, return_inverse=True)
    if len(labels) < 2:
        return float("nan")
    sums = np.bincount(index, weights=values - values.mean())
    return float(np.sqrt(len(labels) / (len(labels) - 1) * (sums**2).sum()) / len(values))


def accuracy_gain(y: np.ndarray, p: np.ndarray, site_index: np.ndarray) -> dict[str, float]:
    r"""Held-out accuracy against the base rate's, paired worker by worker and clustered.

    With :math:`c_i = 1[\,1[p_i ≥ 0.5] = y_i\,]` the model's hits and
    :math:`c^0_i = 1[y_i = \text{the commoner outcome}]` the base rate's (everyone gets
    the commoner outcome), the gain is :math:`Δ = \overline{c - c^0}`, and its standard
    error is :func:`clustered_mean_se` of :math:`c_i - c^0_i` by worksite: the two
    accuracies are measured on the same workers, and workers of one store are not
    independent. Returns accuracy, base_accuracy, difference, se, auc.
    """
    y = np.asarray(y, dtype=float)
    hits = ((np.asarray(p, dtype=float) >= 0.5) == (y == 1)).astype(float)
    common = float(y.mean() >= 0.5)
    base = (y == common).astype(float)
    gain = hits - base
    both = 0 < y.sum() < len(y)
    return {"accuracy": float(hits.mean()), "base_accuracy": float(base.mean()),
            "difference": float(gain.mean()), "se": clustered_mean_se(gain, site_index),
            "auc": float(roc_auc_score(y, p)) if both else float("nan")}


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    r"""Expected calibration error over equal-count bins of the predictions.

    .. math:: \mathrm{ECE} = \sum_b \frac{n_b}{n} \left| \bar y_b - \bar p_b \right|

    The same bins as :func:`calibration_table` (the reliability diagram).
    """
    table = calibration_table(np.asarray(y, dtype=float), np.asarray(p, dtype=float), n_bins)
    weights = table["count"] / table["count"].sum()
    return float((weights * (table["observed"] - table["predicted"]).abs()).sum())


def roc_points(y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """False- and true-positive rates at every threshold (for the ROC plot)."""
    fpr, tpr, _ = roc_curve(y, p)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr})


def calibration_table(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Observed signing rate against mean predicted probability in quantile bins."""
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
    bins = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    frame = pd.DataFrame({"bin": bins, "y": y, "p": p})
    table = frame.groupby("bin").agg(predicted=("p", "mean"), observed=("y", "mean"),
                                     count=("y", "size"))
    return table.reset_index(drop=True)


def site_rate_check(
    y_draws: np.ndarray, y: np.ndarray, site_index: np.ndarray, n_sites: int
) -> pd.DataFrame:
    """Posterior predictive check of each worksite's signing rate.

    ``y_draws`` (D, N) are replicated outcomes for the same workers. For every
    worksite with held-out workers: the observed rate, the 5%, 50% and 95%
    quantiles of the replicated rates, and whether the observed rate falls
    inside that 90% interval.
    """
    counts = np.bincount(site_index, minlength=n_sites)
    present = np.flatnonzero(counts)
    observed = np.bincount(site_index, y, n_sites)[present] / counts[present]
    replicated = np.stack(
        [np.bincount(site_index, draw, n_sites)[present] for draw in y_draws]
    ) / counts[present]
    q5, q50, q95 = np.quantile(replicated, [0.05, 0.5, 0.95], axis=0)
    return pd.DataFrame({
        "site": present,
        "workers": counts[present],
        "observed": observed,
        "q5": q5,
        "q50": q50,
        "q95": q95,
        "inside": (observed >= q5) & (observed <= q95),
    })


def pooled_features(worker_x: np.ndarray, site_x: np.ndarray, site_index: np.ndarray):
    """One row per worker: its own features beside its worksite's features."""
    return np.hstack([worker_x, site_x[site_index]])


def pooled_logistic(train_x, train_y, test_x) -> np.ndarray:
    """Pooled logistic regression (no worksite structure), scikit-learn, L2 C=1."""
    model = LogisticRegression(max_iter=2000)
    model.fit(train_x, train_y)
    return model.predict_proba(test_x)[:, 1]


def gradient_boosting(train_x, train_y, test_x, seed: int = 0) -> np.ndarray:
    """scikit-learn's ``HistGradientBoostingClassifier`` with its defaults (a strong baseline)."""
    model = HistGradientBoostingClassifier(random_state=seed)
    model.fit(train_x, train_y)
    return model.predict_proba(test_x)[:, 1]


def intercept_only(train_y, n_test: int) -> np.ndarray:
    """Every held-out worker gets the training signing rate."""
    return np.full(n_test, float(np.mean(train_y)))


def new_site_draws(model_name: str, draws: dict, sites: np.ndarray,
                   rng: np.random.Generator) -> dict:
    r"""Posterior draws in which the worksites ``sites`` are new: drawn from the population.

    A worksite the model has not seen has no posterior of its own. For each joint
    posterior draw of the hyper-parameters, its worker coefficients and intercept
    are drawn from the population,

    .. math::

        b_s \sim \mathcal{N}(μ_b, τ_b) \quad (μ_b = 0 \text{ in the corrected model}),
        \qquad u_s \sim \mathcal{N}(0, σ_u) \quad \text{(headline model)},

    so that averaging the predicted probability over the draws integrates over the
    population of worksites, rather than plugging in :math:`b_s = μ_b, u_s = 0`.
    """
    from organizing.models.logits import complete_draws

    out = complete_draws(model_name, draws)
    b = np.array(out["beta_individual"], copy=True)
    n_draws, _, n_features = b.shape
    scale = np.broadcast_to(np.asarray(out["beta_individual_scale"]).reshape(n_draws, -1),
                            (n_draws, n_features))
    mean = np.asarray(out.get("beta_individual_mean", np.zeros((n_draws, n_features))))
    noise = rng.standard_normal((n_draws, len(sites), n_features))
    b[:, sites] = mean[:, None, :] + scale[:, None, :] * noise
    out["beta_individual"] = b
    if "site_effect" in out:
        u = np.array(out["site_effect"], copy=True)
        u[:, sites] = np.asarray(out["site_scale"])[:, None] * rng.standard_normal(
            (n_draws, len(sites)))
        out["site_effect"] = u
    return out


#: A paired difference at least this many standard errors from zero reads as a difference.
DIFFERENCE_SE = 2.0


def comparison_outcome(difference: float, se: float, *, higher_is_better: bool) -> str:
    """"better", "worse" or "no different" for a paired difference with its standard error
    (at least :data:`DIFFERENCE_SE` standard errors from zero to count)."""
    if not np.isfinite(difference):
        return "not compared"
    if not np.isfinite(se) or abs(difference) < DIFFERENCE_SE * se:
        return "no different"
    better = difference > 0 if higher_is_better else difference < 0
    return "better" if better else "worse"


def fold_means(folds: pd.DataFrame, features: str = "all") -> pd.DataFrame:
    """Mean of each metric over the held-out-worksite folds, per model, for one feature set
    (``features``: "all", or "without No. Notes")."""
    rows = folds[folds["features"] == features] if "features" in folds else folds
    return rows.groupby("model").mean(numeric_only=True)


def paired_fold_difference(folds: pd.DataFrame, model: str, baseline: str, metric: str,
                           features: str = "all") -> dict[str, float]:
    r"""Mean over folds of ``model``'s metric minus ``baseline``'s, paired by fold.

    With :math:`d_f` the difference on fold f (the same held-out worksites for both), the
    estimate is :math:`\bar d` and its standard error :math:`\operatorname{sd}(d)/\sqrt F`
    over the F folds (folds of different worksites are independent given the campaign).
    Returns difference, se, folds.
    """
    rows = folds[folds["features"] == features] if "features" in folds else folds
    a = rows[rows["model"] == model].set_index("fold")[metric]
    b = rows[rows["model"] == baseline].set_index("fold")[metric]
    d = (a - b.reindex(a.index)).dropna().to_numpy(dtype=float)
    if len(d) == 0:
        return {"difference": float("nan"), "se": float("nan"), "folds": 0}
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    return {"difference": float(d.mean()), "se": se, "folds": len(d)}


def new_store_comparison(folds: pd.DataFrame, model: str,
                         baselines: tuple[str, ...]) -> pd.DataFrame:
    """``model`` against each baseline at new worksites: the paired fold differences of the
    AUC (higher is better) and of the log loss (lower is better), for every feature set
    the folds hold. One row per features, baseline and metric: features, baseline, metric,
    model_mean, baseline_mean, difference, se, folds, and ``outcome``: whether the model is
    "better", "worse" or "no different" (:func:`comparison_outcome`)."""
    sets = folds["features"].unique() if "features" in folds else ["all"]
    rows = []
    for features in sets:
        means = fold_means(folds, features)
        for baseline in baselines:
            if model not in means.index or baseline not in means.index:
                continue
            for metric in ("auc", "log_loss"):
                paired = paired_fold_difference(folds, model, baseline, metric, features)
                rows.append({"features": features, "baseline": baseline, "metric": metric,
                             "model_mean": float(means.loc[model, metric]),
                             "baseline_mean": float(means.loc[baseline, metric]), **paired,
                             "outcome": comparison_outcome(
                                 paired["difference"], paired["se"],
                                 higher_is_better=metric == "auc")})
    return pd.DataFrame(rows, columns=["features", "baseline", "metric", "model_mean",
                                       "baseline_mean", "difference", "se", "folds", "outcome"])


def pointwise_log_predictive(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    r"""Each held-out worker's log predictive density,
    :math:`y_i \log p_i + (1 - y_i)\log(1 - p_i)`, with :math:`p_i` the posterior mean
    probability (clipped away from 0 and 1 as the log loss is)."""
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return y * np.log(p) + (1 - y) * np.log1p(-p)


def heldout_elpd(y: np.ndarray, probabilities: dict, reference) -> pd.DataFrame:
    r"""Expected log predictive density on held-out workers, and each model's paired
    difference from ``reference``.

    The models were fitted without these workers, so this is an exact out-of-sample
    comparison (no importance sampling, whatever the Pareto k of PSIS-LOO). For model m,
    :math:`\mathrm{elpd}_m = \sum_i \mathrm{lpd}_{m,i}`, and against the reference r,
    :math:`Δ = \sum_i (\mathrm{lpd}_{m,i} - \mathrm{lpd}_{r,i})` with
    :math:`\operatorname{se}(Δ) = \sqrt n\,\operatorname{sd}_i(\mathrm{lpd}_{m,i} -
    \mathrm{lpd}_{r,i})`, as R's ``loo_compare``. ``probabilities`` maps a model to its
    held-out probabilities. Returns model, elpd, elpd_diff, se_diff (0 for the reference).
    """
    pointwise = {m: pointwise_log_predictive(y, p) for m, p in probabilities.items()}
    base = pointwise[reference]
    rows = []
    for model, values in pointwise.items():
        diff = values - base
        rows.append({"model": getattr(model, "value", model), "elpd": float(values.sum()),
                     "elpd_diff": float(diff.sum()),
                     "se_diff": float(np.sqrt(len(diff)) * diff.std(ddof=1))
                     if len(diff) > 1 else float("nan")})
    return pd.DataFrame(rows)
