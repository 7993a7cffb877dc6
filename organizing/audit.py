"""The replication audit of the published specification, and the spread of the logit.

Pure functions of design matrices and posterior draws. Each fact the book
states about the published specification is computed here, on the data:

* the published worksite term Σ_s x_s·β is a single scalar for every worker,
  and zero (up to float rounding) because the worksite columns are
  standardized over the same 120 rows;
* the published worker term gives worker i the value b_{s(i)}·Σ_j z_j: one
  projection per worksite, whatever the worker's own features;
* the study standardized workers over all rows before splitting, so the
  held-out column sums are exactly minus the training ones: at prediction time
  every worksite's learned projection changes sign.

It also measures the spread of each part of the logit
(:func:`variance_decomposition`), which tests the study's claim that worksite
features matter more than individual ones. The study's claims and their
verdicts are in :mod:`organizing.claims`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from organizing.models import ModelId
from organizing.models.logits import complete_draws, sigmoid


def published_site_term(beta_draws: np.ndarray, site_x: np.ndarray) -> np.ndarray:
    """The study's worksite term Σ_s x_s·β for each draw of β, shape (D,)."""
    return np.asarray(beta_draws) @ np.asarray(site_x).sum(axis=0)


def worker_projection(worker_x: np.ndarray) -> np.ndarray:
    """Σ_j z_j over a batch of workers: what the published worker term projects onto."""
    return np.asarray(worker_x).sum(axis=0)


@dataclass(frozen=True)
class PublishedAudit:
    """Numbers the methods chapter reports about the published specification."""

    site_column_sum_max: float  # max |Σ_s x_sq| over worksite columns
    site_term_max: float  # max |Σ_s x_s·β| over posterior draws of the refit
    train_projection: np.ndarray  # Σ_j z_j over training workers, (P,)
    test_projection: np.ndarray  # Σ_j z_j over held-out workers, (P,)
    intercept_train: np.ndarray  # per-worksite b_s·Σ_train z, posterior mean, (S,)
    intercept_test: np.ndarray  # per-worksite b_s·Σ_test z, posterior mean, (S,)
    one_draw: pd.DataFrame  # feature, one draw, posterior mean: the worksite coefficients

    @property
    def sign_flip_correlation(self) -> float:
        """Correlation across worksites of the learned and the applied intercepts."""
        return float(np.corrcoef(self.intercept_train, self.intercept_test)[0, 1])

    @property
    def mirrored(self) -> bool:
        """Whether Σ_j z_j over the held-out workers is exactly minus the training one (up
        to rounding): then every learned intercept changes sign when applied."""
        return mirrored(self.train_projection, self.test_projection)

    @property
    def projection_norm(self) -> float:
        """The length of Σ_j z_j over the training workers."""
        return float(np.linalg.norm(self.train_projection))

    @property
    def intercept_sd(self) -> float:
        """The spread across worksites of the refit's learned intercepts (posterior means)."""
        return float(np.std(self.intercept_train))

    def coefficient_rms(self, column: str = "one draw") -> float:
        """Root mean square of the refit's worksite coefficients: its single guide draw
        (``"one draw"``) or its posterior means (``"posterior mean"``)."""
        return root_mean_square(self.one_draw[column])


#: The audit's findings about a fit of the published specification: each fact of
#: ``SVIRecord.audit_facts`` and the rule by which the finding holds (the worksite term is
#: zero; every learned intercept changes sign at prediction; held-out workers are ranked
#: worse than chance; with the training sums they are ranked better than chance).
FINDING_RULES = {
    "site_term_max": lambda v: v < 1e-6,
    "sign_flip_correlation": lambda v: v < -0.99,
    "heldout_auc": lambda v: v < 0.5,
    "heldout_auc_as_learned": lambda v: v > 0.5,
}


def findings(facts: dict[str, float]) -> dict[str, bool]:
    """Whether each of the audit's findings holds on a fit's facts (:data:`FINDING_RULES`)."""
    return {key: bool(rule(facts[key])) for key, rule in FINDING_RULES.items()}


def mirrored(train, test, tol: float = 1e-6) -> bool:
    """Whether two vectors of column sums are exactly opposite (up to rounding)."""
    train, test = np.asarray(train, dtype=float), np.asarray(test, dtype=float)
    return bool(np.allclose(test, -train, rtol=0, atol=tol * max(np.abs(train).max(), 1.0)))


def root_mean_square(values) -> float:
    """The root mean square of some values: the size of draws centred at zero."""
    values = np.asarray(values, dtype=float)
    return float(np.sqrt(np.mean(values**2)))


def audit_published(
    site_x: np.ndarray,
    worker_x_train: np.ndarray,
    worker_x_test: np.ndarray,
    draws: dict[str, np.ndarray],
    one_draw: dict[str, np.ndarray],
    site_features: tuple[str, ...],
) -> PublishedAudit:
    """Compute the audit's facts from the refit of the published specification.

    ``one_draw`` is a single draw from the fitted guide, the way the study made its table.
    """
    train_projection = worker_projection(worker_x_train)
    test_projection = worker_projection(worker_x_test)
    b = np.asarray(draws["beta_individual"])  # (D, S, P)
    return PublishedAudit(
        site_column_sum_max=float(np.abs(np.asarray(site_x).sum(axis=0)).max()),
        site_term_max=float(np.abs(published_site_term(draws["beta_group"], site_x)).max()),
        train_projection=train_projection,
        test_projection=test_projection,
        intercept_train=(b @ train_projection).mean(axis=0),
        intercept_test=(b @ test_projection).mean(axis=0),
        one_draw=pd.DataFrame({
            "feature": list(site_features),
            "one draw": np.asarray(one_draw["beta_group"]),
            "posterior mean": np.asarray(draws["beta_group"]).mean(axis=0),
        }),
    )


def published_as_learned(draws: dict, design, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    r"""Published-specification probabilities with the training batch's projection.

    :math:`\ell_i = α + β·\sum_s x_s + b_{s(i)}·\sum_{j∈\mathrm{train}} z_j`: the
    per-worksite intercept the fit learned, applied to held-out workers without the
    study's sign flip. Posterior mean probability per held-out worker.
    """
    projection = worker_projection(design.worker_x[train])
    alpha = np.asarray(draws["alpha_mean"]).reshape(-1, 1)
    site_term = published_site_term(draws["beta_group"], design.site_x)[:, None]
    intercepts = np.asarray(draws["beta_individual"]) @ projection  # (D, S)
    return sigmoid(alpha + site_term + intercepts[:, design.site_index[test]]).mean(axis=0)


def variance_parts(
    model: ModelId, draws: dict[str, np.ndarray], site_x: np.ndarray, worker_x: np.ndarray,
    site_index: np.ndarray, *, composition: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    r"""Per draw, the spread (sd over workers) of each part of the logit.

    ``composition`` marks the worksite columns that are worksite means of worker
    features (the headline design, :func:`organizing.features.within_between`); the
    others are the worksite's own features, :math:`x_s`. Terms:

    * ``worksite features``: :math:`\mathrm{sd}_i(x_{s(i)}·β)` over the worksite's own
      features;
    * ``worksite intercepts``: :math:`\mathrm{sd}_i(u_{s(i)})` (headline model only);
    * ``worker composition``: :math:`\mathrm{sd}_i(\tilde z_{s(i)}·γ)`, the worksite means
      of worker features, standardized over worksites (only when ``composition`` marks
      some columns);
    * ``worker features``: everything the worker features contribute,
      :math:`\mathrm{sd}_i(z_i·b_{s(i)})`, or
      :math:`\mathrm{sd}_i(\tilde z_{s(i)}·γ + (z_i - \bar z_{s(i)})·b_{s(i)})` in the
      headline design, so that every model's row measures the same thing;
    * ``features: worksite minus worker``, the difference the study's claim "worksite
      features matter more than individual ones" says is positive.

    Returns term → (D,) draws.
    """
    draws = complete_draws(model.value, draws)
    beta = np.asarray(draws["beta_group"])
    b = np.asarray(draws["beta_individual"])
    own = np.ones(site_x.shape[1], dtype=bool)
    if composition is not None:
        own = ~np.asarray(composition, dtype=bool)
    site_own = (beta[:, own] @ site_x[:, own].T)[:, site_index]
    site_mix = (beta[:, ~own] @ site_x[:, ~own].T)[:, site_index]
    worker = np.stack([np.einsum("np,np->n", b[d, site_index], worker_x)
                       for d in range(len(b))])
    parts = {"worksite features": site_own.std(axis=1)}
    if "site_effect" in draws:
        parts["worksite intercepts"] = np.asarray(draws["site_effect"])[:, site_index].std(axis=1)
    if (~own).any():
        parts["worker composition"] = site_mix.std(axis=1)
    parts["worker features"] = (worker + site_mix).std(axis=1)
    parts["features: worksite minus worker"] = parts["worksite features"] - parts[
        "worker features"]
    return parts


def variance_decomposition(
    model: ModelId, draws: dict[str, np.ndarray], site_x: np.ndarray, worker_x: np.ndarray,
    site_index: np.ndarray, *, composition: np.ndarray | None = None,
) -> pd.DataFrame:
    """Posterior summary of :func:`variance_parts`: one row per term with model, term,
    mean, q5, q95, prob_positive."""
    parts = variance_parts(model, draws, site_x, worker_x, site_index,
                           composition=composition)
    return pd.DataFrame([{"model": model.value, "term": term, **_summary(values)}
                         for term, values in parts.items()])


def _composition(design) -> np.ndarray:
    from organizing.features import is_composition

    return np.array([is_composition(n) for n in design.site_features], dtype=bool)


def design_variance_parts(model: ModelId, draws: dict[str, np.ndarray],
                          design) -> dict[str, np.ndarray]:
    """:func:`variance_parts` on a :class:`~organizing.features.Design`."""
    return variance_parts(model, draws, design.site_x, design.worker_x, design.site_index,
                          composition=_composition(design))


def design_variance_decomposition(model: ModelId, draws: dict[str, np.ndarray],
                                  design) -> pd.DataFrame:
    """:func:`variance_decomposition` on a :class:`~organizing.features.Design`, its
    composition columns found by name."""
    return variance_decomposition(model, draws, design.site_x, design.worker_x,
                                  design.site_index, composition=_composition(design))


def _summary(values: np.ndarray) -> dict[str, float]:
    q5, q95 = np.quantile(values, [0.05, 0.95])
    return {"mean": float(np.mean(values)), "q5": float(q5), "q95": float(q95),
            "prob_positive": float(np.mean(values > 0))}
