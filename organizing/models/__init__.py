"""The models: Pyro model functions, their NumPyro mirrors for NUTS, and their logits.

* :mod:`organizing.models.pyro_models`: the published, corrected, extended and
  headline models as Pyro functions (SVI, the replication, the reference for
  the mirrors);
* :mod:`organizing.models.numpyro_models`: the same models for NumPyro's NUTS;
* :mod:`organizing.models.logits`: one batched NumPy logits function per model,
  the single place each model's linear predictor is written down.

:class:`ModelId` names every fitted model and baseline the book evaluates.
It is the only identifier later stages use; display labels live in
:mod:`organizing.report.labels`.
"""

from enum import StrEnum


class ModelId(StrEnum):
    """A model as fitted and used for prediction (its value is the stable JSON key)."""

    #: The study's specification refit by mean-field SVI, predicting as the study's code did.
    PUBLISHED = "published"
    #: The same fit, predicting with the per-worksite intercepts it learned.
    PUBLISHED_AS_LEARNED = "published_as_learned"
    #: The study's priors with per-worker logits: NUTS.
    CORRECTED = "corrected"
    #: The corrected model under the study's mean-field approximation (SVI, AutoNormal).
    CORRECTED_MEAN_FIELD = "corrected_mean_field"
    #: The corrected model under a low-rank multivariate normal guide (SVI).
    CORRECTED_LOW_RANK = "corrected_low_rank"
    #: Population mean and per-feature scales for the worker coefficients: NUTS.
    EXTENDED = "extended"
    #: The book's main model: varying worksite intercepts on top of the extended model: NUTS.
    HEADLINE = "headline"
    #: Baselines.
    POOLED_LOGISTIC = "pooled_logistic"
    GRADIENT_BOOSTING = "gradient_boosting"
    INTERCEPT_ONLY = "intercept_only"


#: Models whose posterior the book reports from NUTS, in the order the book shows them.
NUTS_MODELS: tuple[ModelId, ...] = (ModelId.CORRECTED, ModelId.EXTENDED, ModelId.HEADLINE)
#: The model every verdict, takeaway and plan comes from.
HEADLINE_MODEL = ModelId.HEADLINE
#: Baselines without a posterior.
BASELINES: tuple[ModelId, ...] = (
    ModelId.POOLED_LOGISTIC, ModelId.GRADIENT_BOOSTING, ModelId.INTERCEPT_ONLY,
)

__all__ = ["BASELINES", "HEADLINE_MODEL", "NUTS_MODELS", "ModelId"]
