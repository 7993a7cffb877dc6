"""Sensitivity analyses: how the headline model's verdicts and coefficients move when
the model is refitted on a variant of its design, its data or its priors
(:data:`VARIANTS`).

* ``centrality``, ``no_notes``, ``all_workers``: the design variants of
  :mod:`organizing.features` (``SENSITIVITY_VARIANTS``);
* ``size_interaction``: the headline model with the cross-level interaction
  :math:`b_s = μ_b + λ m_s + τ_b ⊙ ε_s` on log worksite size (the size claims rest on its
  λ, :mod:`organizing.claims`);
* ``priors_wide`` and ``priors_narrow``: the priors of τ_β and τ_b twice and half as wide
  (:meth:`organizing.models.priors.HeadlinePriors.scaled`), since along a direction the
  data barely inform these priors settle the posterior.

Pure functions of claims tables and coefficient tables; the refits themselves are
run by :mod:`organizing.pipeline`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from organizing.claims import NOT_EVALUATED, NOT_IDENTIFIED, VERDICTS
from organizing.features import SENSITIVITY_VARIANTS
from organizing.results.sections import Coefficients


@dataclasses.dataclass(frozen=True)
class Variant:
    """How a sensitivity analysis refits the headline model.

    ``design``: the design variant of :func:`organizing.features.sensitivity_design`, or
    "headline" for the headline design; ``all_workers``: fitted on every worker rather
    than the study's training split; ``size_interaction``: with the size moderator;
    ``prior_factor``: the factor on the scales of τ_β's and τ_b's priors.
    """

    key: str
    design: str
    all_workers: bool = False
    size_interaction: bool = False
    prior_factor: float = 1.0


#: Every sensitivity analysis, in the order the book shows them.
VARIANTS: dict[str, Variant] = {
    v.key: v for v in (
        *(Variant(key, key, all_workers=key == "all_workers") for key in SENSITIVITY_VARIANTS),
        Variant("size_interaction", "headline", size_interaction=True),
        Variant("priors_wide", "headline", prior_factor=2.0),
        Variant("priors_narrow", "headline", prior_factor=0.5),
    )
}


def pad_missing(draws: dict, design, features: tuple[str, ...]):
    """The variant's draws and design with each headline worker feature it lacks appended
    as a zero column whose slopes are zero in every draw.

    The variant's own columns (including any it adds, such as the centrality variant's
    indicator and inside log) are kept as they are, so every worker's logit is the
    variant's own. A model without feature p is the model with p's slopes fixed at 0,
    so the claims computed on the padded draws are the variant's; the claims that rest
    on p then come out undefined or degenerate and are marked :data:`NOT_EVALUATED`.
    Claims look measures up by name, so the order of the columns does not matter.
    """
    names = list(design.worker_features)
    missing = [f for f in features if f not in names]
    if not missing:
        return draws, design
    n = design.worker_x.shape[0]
    extended = np.column_stack([design.worker_x, np.zeros((n, len(missing)))])
    padded: dict[str, np.ndarray] = {}
    for key, value in draws.items():
        value = np.asarray(value)
        if key.startswith("beta_individual") and value.shape[-1] == len(names):
            zeros = np.zeros((*value.shape[:-1], len(missing)))
            value = np.concatenate([value, zeros], axis=-1)
        padded[key] = value
    return padded, dataclasses.replace(design, worker_x=extended,
                                       worker_features=tuple(names + missing))


def mark_not_evaluated(claims: pd.DataFrame, missing: list[str]) -> pd.DataFrame:
    """Testable claims whose quantity is not finite, or whose measures name a missing
    feature, become :data:`NOT_EVALUATED` with no probability."""
    claims = claims.copy()
    undefined = np.zeros(len(claims), dtype=bool)
    if "mean" in claims:
        undefined |= ~np.isfinite(claims["mean"].to_numpy(dtype=float))
    for column in ("measures", "quantity"):
        if column in claims and missing:
            text = claims[column].astype(str)
            undefined |= np.asarray([any(f in t for f in missing) for t in text])
    # Only claims that had a verdict can become "not evaluated"; a claim that cannot be
    # tested from these data keeps saying so.
    undefined &= claims["verdict"].isin((*VERDICTS, NOT_IDENTIFIED)).to_numpy()
    claims.loc[undefined, "verdict"] = NOT_EVALUATED
    claims.loc[undefined, "prob_claimed"] = np.nan
    return claims


def compare_verdicts(headline: pd.DataFrame, variants: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Each variant's verdict on each claim beside the headline model's.

    ``headline`` and each frame of ``variants`` have one row per claim (claim, verdict,
    prob_claimed). Returns one row per variant and headline claim: variant, claim,
    verdict, prob_claimed, headline_verdict, headline_prob, changed. ``changed`` is
    True when both verdicts were evaluated and differ; a claim the variant lacks is
    :data:`NOT_EVALUATED`.
    """
    for name, frame in {"headline": headline, **variants}.items():
        absent = {"claim", "verdict", "prob_claimed"} - set(frame.columns)
        if absent:
            raise ValueError(f"the {name} claims lack the column(s) {', '.join(sorted(absent))}")
    base = headline.set_index("claim")
    rows = []
    for variant, frame in variants.items():
        own = frame.drop_duplicates("claim").set_index("claim")
        for claim in base.index:
            verdict = own.loc[claim, "verdict"] if claim in own.index else NOT_EVALUATED
            prob = float(own.loc[claim, "prob_claimed"]) if claim in own.index else np.nan
            before = base.loc[claim, "verdict"]
            rows.append({"variant": variant, "claim": claim, "verdict": verdict,
                         "prob_claimed": prob, "headline_verdict": before,
                         "headline_prob": float(base.loc[claim, "prob_claimed"]),
                         "changed": bool(verdict != before
                                         and NOT_EVALUATED not in (verdict, before))})
    return pd.DataFrame(rows, columns=["variant", "claim", "verdict", "prob_claimed",
                                       "headline_verdict", "headline_prob", "changed"])


def moved_coefficients(headline: Coefficients, variants: dict[str, Coefficients]) -> pd.DataFrame:
    """The coefficients each variant shares with the headline model, and whether they moved.

    Worksite coefficients β_q and the average worker slopes across worksites, each
    with posterior mean and 90% interval [q5, q95]. A coefficient *moves* when the
    variant's mean falls outside the headline's 90% interval, or when
    1[q5 > 0 or q95 < 0] (the interval excludes zero) differs between the two fits.
    One row per variant and shared coefficient: variant, level, feature, mean, q5,
    q95, headline_mean, headline_q5, headline_q95, moved.
    """
    rows = []
    for variant, coefficients in variants.items():
        for level in ("worksite", "worker"):
            base = getattr(headline, level).set_index("feature")
            for _, row in getattr(coefficients, level).iterrows():
                if row["feature"] not in base.index:
                    continue
                b = base.loc[row["feature"]]
                excludes = (row["q5"] > 0) or (row["q95"] < 0)
                excluded = (b["q5"] > 0) or (b["q95"] < 0)
                rows.append({"variant": variant, "level": level, "feature": row["feature"],
                             "mean": float(row["mean"]), "q5": float(row["q5"]),
                             "q95": float(row["q95"]), "headline_mean": float(b["mean"]),
                             "headline_q5": float(b["q5"]), "headline_q95": float(b["q95"]),
                             "moved": bool(not b["q5"] <= row["mean"] <= b["q95"]
                                           or excludes != excluded)})
    return pd.DataFrame(rows, columns=["variant", "level", "feature", "mean", "q5", "q95",
                                       "headline_mean", "headline_q5", "headline_q95",
                                       "moved"])


#: A feature a variant replaces, and the variant's column that carries its direction: in
#: the centrality analysis, the log centrality of the workers inside the network.
COUNTERPARTS = {"Log(Eigen. Centrality)": "Log(Eigen. Centrality), inside"}


def direction_holds(effects: pd.DataFrame, variants: dict[str, Coefficients]) -> pd.DataFrame:
    """Whether each effect's direction survives every sensitivity analysis.

    ``effects``: the headline model's effects (level, feature, mean, …;
    :func:`organizing.effects.average_marginal_effects`); ``variants``: each variant's
    coefficient tables. An effect's direction *holds* under a variant that has the feature
    when the variant's 90% interval of its coefficient (the worksite coefficient, or the
    average worker slope) lies on the effect's side of zero, that is when the variant's
    posterior probability of that direction is at least 95%; a variant that replaces the
    feature is judged on its counterpart (:data:`COUNTERPARTS`), and a variant without the
    feature (notes, without notes) does not count. Adds ``robust`` (holds under every
    variant) and ``fragile_under`` (the variants where it does not, "; "-joined, each with
    "reverses", when the variant's interval lies on the other side of zero, or "uncertain":
    ``no_notes: reverses``).
    """
    robust, fragile = [], []
    for _, row in effects.iterrows():
        sign = np.sign(row["mean"])
        failed = []
        for variant, coefficients in variants.items():
            table = getattr(coefficients, row["level"]).set_index("feature")
            name = next((n for n in (row["feature"], COUNTERPARTS.get(row["feature"]))
                         if n in table.index), None)
            if name is None:
                continue
            c = table.loc[name]
            holds = c["q5"] > 0 if sign > 0 else c["q95"] < 0
            if not holds:
                reverses = c["q95"] < 0 if sign > 0 else c["q5"] > 0
                failed.append(f"{variant}: {'reverses' if reverses else 'uncertain'}")
        robust.append(not failed and sign != 0)
        fragile.append("; ".join(failed))
    return effects.assign(robust=robust, fragile_under=fragile)


def outside_network_rates(outside: np.ndarray, signed: np.ndarray, *,
                          min_count: int) -> tuple[float, float]:
    """The signing rates of the workers outside the network (``outside``, a mask) and of
    those inside, each NaN when the group is empty or when disclosure control withholds
    it (fewer than k signers or non-signers, :func:`organizing.data.disclosure.rate_shown`)."""
    from organizing.data.disclosure import rate_shown

    rates = []
    for group in (np.asarray(outside, dtype=bool), ~np.asarray(outside, dtype=bool)):
        n, s = int(group.sum()), float(np.asarray(signed)[group].sum())
        rates.append(s / n if n and rate_shown(s, n, min_count=min_count) else np.nan)
    return rates[0], rates[1]
