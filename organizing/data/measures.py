"""The rules behind every derived measure that is not a network measure.

``organizing prepare --records`` builds the study's two files from a
campaign's raw records (:mod:`organizing.data.records`); the network measures
are in :mod:`organizing.data.network`, the rest here. Each rule is stated once,
in :data:`DEFINITIONS`, which the book's appendix prints.

For worker i at store s, with t_i the days from the store's campaign start to
the worker's first recorded conversation:

* **No. Notes** n_i: the worker's records of kind ``note``.
* **Conversations** k_i: the worker's records of kind ``conversation``.
* **Never Contacted**: 1 when the worker has no conversation (k_i = 0).
* **Time to first conversation quartiles.** Cut points q₁ < q₂ < q₃ are the
  25%, 50% and 75% quantiles (NumPy's linear interpolation) of t_i over every
  contacted worker of the campaign; worker i is in quartile
  1 + #{j : q_j < t_i}, so a value equal to a cut point goes to the lower
  quartile and equal values always share a quartile. A worker **never
  contacted** had no conversation before the campaign ended, later than every
  recorded one: quartile 4 (and Never Contacted = 1).
* **Campaign length** L_s: (end − start) in days / 7, in weeks. Its quintiles
  follow the same rule over the campaign's stores, with the 20/40/60/80%
  quantiles as cut points (equal lengths share a quintile).
* **No. workers contacted**: workers of the store with k_i ≥ 1;
  **No. organizer convers.**: Σ k_i over the store; **No. workers discovered**:
  the store's workers in the records.
* **Network-driven organizing**, ``NDO (Eigen., Pearson)``: the Pearson
  correlation of n_i with the eigenvector centrality c_i over the store's
  workers. The study's report calls it a rank correlation; the column the
  model uses is the Pearson one (its name says so), and so is this.
* **Mobilizing**, ``Mobilizing (Pearson)``: the Pearson correlation of k_i
  with earliness −t_i (how early the worker was first contacted) over the
  store's contacted workers.
* **Undefined correlations.** With fewer than 3 workers, or a variable that
  is constant over them, a correlation is undefined; it is then recorded as
  0 (no association) and the store is counted in a warning.
* **Logs.** Log(X) = ln X. Where X = 0 the log is −∞, written ``-inf`` in the
  CSV: only ``Log(No. Notes)`` can be 0 for a valid campaign, and the model
  does not use it (its worker feature is ``No. Notes``). Every other logged
  measure must be positive, and validation says which store fails.
"""

from __future__ import annotations

import numpy as np

#: Fewest workers a correlation is computed over; with fewer it is undefined.
MIN_CORRELATION_WORKERS = 3
#: The value recorded for an undefined correlation.
UNDEFINED_CORRELATION = 0.0

#: Every measure built from the records that is not a network measure, as the appendix
#: prints it (network measures: organizing.data.network.DEFINITIONS).
DEFINITIONS: dict[str, str] = {
    "No. Notes": "the worker's contact records of kind note",
    "Conversations": "the worker's contact records of kind conversation",
    "Never Contacted": "1 when the worker has no conversation, else 0",
    "Time To First Convo (Quart. k)": "days from the store's campaign start to the worker's "
        "first conversation, cut at the 25/50/75% quantiles over all contacted workers of the "
        "campaign; quartile = 1 + number of cut points strictly below the value (a value on "
        "a cut goes to the lower quartile; equal values share one); a worker never contacted "
        "is in quartile 4",
    "Is Male": "1 for gender male, 0 for female, 0.5 where the gender is not known",
    "Signed": "1 if the worker signed a card, else 0",
    "No. workers discovered": "the store's workers in the records",
    "No. workers contacted": "the store's workers with at least one conversation",
    "No. organizer convers.": "the conversations with the store's workers",
    "Campaign length": "(campaign end − campaign start) in days / 7: weeks",
    "Campaign length (Quint. k)": "cut at the 20/40/60/80% quantiles of Campaign length over "
        "the stores; quintile = 1 + number of cut points strictly below the value (equal "
        "lengths share a quintile)",
    "NDO (Eigen., Pearson)": "Pearson correlation of No. Notes with Eigen. Centrality over the "
        "store's workers (the study's report says rank correlation; its model used this "
        "Pearson column)",
    "Mobilizing (Pearson)": "Pearson correlation of a worker's conversations with how early "
        "they were first contacted (minus the days to the first conversation), over the "
        "store's contacted workers",
    "Undefined correlation": f"with fewer than {MIN_CORRELATION_WORKERS} workers, or a "
        f"variable constant over them: recorded as {UNDEFINED_CORRELATION:g} (no association), "
        "with a warning that counts the stores",
    "Percent black in ZIP, Percent Latino in ZIP, Mean AGI in ZIP": "the values of the "
        "store's ZIP code in the ZIP table",
    "Log(X)": "ln X; −∞ (written -inf) where X = 0, which only Log(No. Notes), unused by "
        "the model, may be",
}


def quantile_levels(values: np.ndarray, n_levels: int, population: np.ndarray | None = None
                    ) -> np.ndarray:
    """Level (0 .. n_levels − 1) of each value among equal-count bins.

    Cut points are the j/n_levels quantiles (j = 1 .. n_levels − 1; NumPy's
    linear interpolation) of ``population`` (default: ``values``); the level of
    v is the number of cut points strictly below v. A value on a cut point goes
    to the lower level, so equal values always share a level, however many
    there are.
    """
    values = np.asarray(values, dtype=float)
    population = values if population is None else np.asarray(population, dtype=float)
    if not len(population):
        return np.zeros(len(values), dtype=int)
    cuts = np.quantile(population, np.arange(1, n_levels) / n_levels)
    return np.searchsorted(cuts, values, side="left")


def correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson correlation of ``x`` and ``y``; None when undefined (fewer than
    :data:`MIN_CORRELATION_WORKERS` pairs, or either variable constant)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < MIN_CORRELATION_WORKERS:
        return None
    dx, dy = x - x.mean(), y - y.mean()
    sx, sy = np.sqrt(np.sum(dx * dx)), np.sqrt(np.sum(dy * dy))
    if sx == 0 or sy == 0 or not np.isfinite(sx * sy):
        return None
    return float(np.clip(np.sum(dx * dy) / (sx * sy), -1.0, 1.0))


def log_measure(values) -> np.ndarray:
    """ln of a measure, −∞ where it is 0 (the rule of :data:`DEFINITIONS`)."""
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(values, dtype=float))
