"""The headline model's prior constants, in a module without a modelling library.

The Pyro and NumPyro models read them from here (each prior exists once), and so do the
stages that need a prior without fitting anything: the identification check of the
verdicts (:mod:`organizing.claims`) and the priors table of the book. The justification
of each value is in :func:`organizing.models.pyro_models.headline_model`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class HeadlinePriors:
    """Constants of the headline model's priors (see
    :func:`organizing.models.pyro_models.headline_model`)."""

    alpha_loc: float  # α ~ Normal(alpha_loc, alpha_scale)
    alpha_scale: float
    group_scale: float  # τ_β ~ HalfNormal(group_scale)
    site_scale: float  # σ_u ~ HalfNormal(site_scale)
    mean_scale: float  # μ_b,p ~ Normal(0, mean_scale)
    individual_scale: float  # τ_b,p ~ HalfNormal(individual_scale)
    interaction_scale: float = 1.0  # λ_p ~ Normal(0, interaction_scale), size interaction

    def scaled(self, factor: float) -> HeadlinePriors:
        """The same priors with the scales of τ_β and τ_b multiplied by ``factor``
        (the prior sensitivity analysis: 2 and 1/2)."""
        if not factor > 0:
            raise ValueError(f"a prior scale factor must be positive, got {factor!r}")
        return replace(self, group_scale=self.group_scale * factor,
                       individual_scale=self.individual_scale * factor)


#: The headline model's priors; justified in ``headline_model``'s docstring.
HEADLINE_PRIORS = HeadlinePriors(
    alpha_loc=math.log(0.2 / 0.8),  # logit of a 20% signing rate
    alpha_scale=1.5,
    group_scale=0.5,
    site_scale=1.0,
    mean_scale=1.5,
    individual_scale=1.0,
    interaction_scale=1.0,
)

#: Scale of the HalfCauchy priors on every scale parameter (the study's value).
HALF_CAUCHY_SCALE = 5.0
#: Standard deviation of the extended model's prior on the population mean μ_b.
MEAN_PRIOR_SCALE = 2.5
