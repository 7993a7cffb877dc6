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
