"""What readers see for each identifier: the book's one map of labels, colours and line styles.

Results name models by :class:`~organizing.models.ModelId` and parameters by
their sample-site names; tables and figures look their display text up here,
and nowhere else. A display label is never used as a key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from organizing.models import BASELINES, HEADLINE_MODEL, NUTS_MODELS, ModelId


@dataclass(frozen=True)
class Style:
    """How one model appears in the book."""

    label: str  # in tables, legends and prose
    colour: str
    linestyle: str
    description: str  # one phrase: how it was fitted or what it is


#: Colours shared by the figures (not models): accents, reference lines, bands.
COLOURS = {
    "accent": "#e09f3e",
    "reference": "#7f7f7f",
    "outside": "#c2452d",
    "band": "#1b6ca8",
}

#: Every model and baseline, in the order the book shows them.
MODELS: dict[ModelId, Style] = {
    ModelId.HEADLINE: Style("headline", "#1b6ca8", "-",
                            "varying worksite intercepts and worker slopes, NUTS"),
    ModelId.EXTENDED: Style("extended", "#4a9c5d", "-",
                            "population mean for the worker slopes, no worksite intercept, NUTS"),
    ModelId.CORRECTED: Style("corrected", "#7b3294", "-",
                             "the study's specification with per-worker logits, NUTS"),
    ModelId.CORRECTED_MEAN_FIELD: Style("corrected, mean-field", "#7b3294", "--",
                                        "the corrected model by mean-field SVI"),
    ModelId.CORRECTED_LOW_RANK: Style("corrected, low-rank", "#c27ba0", ":",
                                      "the corrected model by low-rank SVI"),
    ModelId.PUBLISHED: Style("published spec., study's prediction", "#c2452d", "-",
                             "refit of the published formula, predicting as the study's code"),
    ModelId.PUBLISHED_AS_LEARNED: Style("published spec., as learned", "#c2452d", "--",
                                        "the same refit with the intercepts it learned"),
    ModelId.POOLED_LOGISTIC: Style("pooled logistic", "#e09f3e", "-",
                                   "logistic regression on worker and worksite features"),
    ModelId.GRADIENT_BOOSTING: Style("gradient boosting", "#8c564b", "-.",
                                     "histogram gradient boosting on the same features"),
    ModelId.INTERCEPT_ONLY: Style("intercept only", "#7f7f7f", ":",
                                  "the training signing rate for everyone"),
}

#: Models whose curves the held-out figures draw (the others are in the tables).
CURVE_MODELS: tuple[ModelId, ...] = (
    ModelId.HEADLINE, ModelId.EXTENDED, ModelId.CORRECTED, ModelId.PUBLISHED,
    ModelId.PUBLISHED_AS_LEARNED, ModelId.POOLED_LOGISTIC, ModelId.GRADIENT_BOOSTING,
    ModelId.INTERCEPT_ONLY,
)

__all__ = [
    "BASELINES", "COLOURS", "CURVE_MODELS", "HEADLINE_MODEL", "MODELS", "NUTS_MODELS",
    "PARAMETERS", "Style", "model_label", "model_style", "parameter_label",
]


def model_style(model: ModelId | str) -> Style:
    """The style of a model, given its :class:`ModelId` or its value (a ``model`` column)."""
    return MODELS[ModelId(model)]


def model_label(model: ModelId | str) -> str:
    """The display label of a model."""
    return model_style(model).label


def model_order(models) -> list[ModelId]:
    """The given models (ids or values) in the book's order."""
    present = {ModelId(m) for m in models}
    return [m for m in MODELS if m in present]


#: Scalar parameters by sample-site name.
PARAMETERS = {
    "alpha": "α, intercept",
    "alpha_mean": "α, intercept",
    "beta_group_scale": "τ_β, scale of the worksite coefficients",
    "beta_individual_scale": "τ_b, scale of the worker coefficients",
    "site_scale": "σ_u, sd of the worksite intercepts",
    "beta_individual_mean": "μ_b, mean worker coefficient",
    "beta_group": "β, worksite coefficient",
    "beta_individual": "b, worker coefficient",
    "site_effect": "u, worksite intercept",
}
#: Short symbols in matplotlib's mathtext, for figure panels.
SYMBOLS = {
    "alpha": r"$\alpha$", "alpha_mean": r"$\alpha$", "beta_group_scale": r"$\tau_\beta$",
    "beta_individual_scale": r"$\tau_b$", "site_scale": r"$\sigma_u$",
    "beta_individual_mean": r"$\mu_b$", "beta_group": r"$\beta$", "beta_individual": r"$b$",
    "site_effect": r"$u$",
}
#: The same symbols in plain text, for tables.
TEXT_SYMBOLS = {
    "alpha": "α", "alpha_mean": "α", "beta_group_scale": "τ_β", "beta_individual_scale": "τ_b",
    "site_scale": "σ_u", "beta_individual_mean": "μ_b", "beta_group": "β",
    "beta_individual": "b", "site_effect": "u",
}
_INDEXED = re.compile(r"^(?P<site>\w+?)(?:\[(?P<index>[\d, ]+)\]|: (?P<feature>.+))$")


def parameter_label(name: str, *, short: bool = False) -> str:
    """``alpha`` → ``α, intercept``; ``beta_individual_scale: No. Notes`` → ``τ_b: No. Notes``.

    Indexed names (``beta_group[3]``) keep their index; unknown names are returned as given.
    ``short=True`` gives the symbol alone, in mathtext (for figures).
    """
    table = SYMBOLS if short else PARAMETERS
    if name in table:
        return table[name]
    match = _INDEXED.match(name)
    if not match or match["site"] not in SYMBOLS:
        return name
    symbol = (SYMBOLS if short else TEXT_SYMBOLS)[match["site"]]
    if match["feature"]:
        return f"{symbol}: {match['feature']}"
    return f"{symbol}[{match['index']}]"


#: The verdicts on the study's claims, with the fill colour tables give them.
VERDICTS = {
    "supported": ("supported", "#d9ead3"),
    "inconclusive": ("inconclusive", "#eeeeee"),
    "contradicted": ("contradicted", "#f4cccc"),
    "not identified": ("not identified", "#fce5cd"),
}

#: Terms of the variance decomposition (the spread over workers of each part of the logit).
VARIANCE_TERMS = {
    "worksite features": "worksite features, x_s·β",
    "worksite intercepts": "worksite intercepts, u_s",
    "worker composition": "worksite means of worker features, z̃_s·γ",
    "worker features": "worker features, all their terms",
    "features: worksite minus worker": "worksite features minus worker features",
}

#: The two sets of coefficient vectors the clustering chapter clusters.
CLUSTERING_RUNS = {
    "published": "Published refit's coefficients",
    "headline": "Headline model's coefficients",
}

#: The designs of a randomized organizing experiment (the planning chapter).
DESIGNS = {
    "worksite": "Stores randomized",
    "worker": "Workers randomized within stores",
}

#: The guides of the SVI fits.
GUIDES = {
    "normal": "mean-field (AutoNormal)",
    "lowrank": "low-rank (AutoLowRankMultivariateNormal)",
}


#: Display labels of the sensitivity analyses (keys as in organizing.sensitivity.VARIANTS).
SENSITIVITY_LABELS = {
    "centrality": "with centrality as an outside-network indicator and an inside log",
    "no_notes": "without No. Notes",
    "all_workers": "fitted on all workers",
    "size_interaction": "with slopes that change with store size",
    "priors_wide": "with the priors of τ_β and τ_b twice as wide",
    "priors_narrow": "with the priors of τ_β and τ_b half as wide",
}


def sensitivity_label(variant: str) -> str:
    """The display label of a sensitivity analysis (its key when it has none)."""
    return SENSITIVITY_LABELS.get(variant, variant)


#: The two sets of priors of the prior predictive check, by their key in the results.
PRIOR_SETS = {"corrected": "study's priors (HalfCauchy(5) scales)",
              "headline": "headline model's priors"}
