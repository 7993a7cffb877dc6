"""Sentences of the audit of the published specification (methods chapter)."""

from __future__ import annotations

import numpy as np

from organizing.report import formatting as fmt
from organizing.report.narrative.lookups import published, ratio, scalar_table


def sign_flip_sentence(audit) -> str:
    """What happens to the worksite intercepts of the published term at prediction time."""
    r = fmt.number(audit.sign_flip_correlation)
    if audit.mirrored:
        return (f"every worksite's learned intercept changes sign when it is applied to the "
                f"held-out workers (correlation {r} across worksites)")
    if audit.sign_flip_correlation < 0:
        return (f"the intercepts applied to held-out workers run against the learned ones "
                f"(correlation {r} across worksites)")
    return (f"the intercepts applied to held-out workers differ from the learned ones "
            f"(correlation {r} across worksites)")


def refit_sentence(audit) -> str:
    """How far the refit's worksite coefficients are from zero, against the one draw."""
    means, draw = audit.one_draw["posterior mean"], audit.one_draw["one draw"]
    return (f"its posterior means lie between {fmt.number(means.min())} and "
            f"{fmt.number(means.max())}, while a single draw from its guide ranges from "
            f"{fmt.number(draw.min())} to {fmt.number(draw.max())}")


def published_rms(data) -> str:
    """Root mean square of the published worksite coefficients."""
    values = np.asarray([published(f) for f in data.site_features], dtype=float)
    return fmt.number(float(np.sqrt(np.mean(values**2))))


def one_draw_rms(audit, column: str = "one draw") -> str:
    """Root mean square of the refit's worksite coefficients: one draw or posterior means."""
    return fmt.number(audit.coefficient_rms(column))


def matrix_entries(meta) -> str:
    """Entries of the study's N × N matrix for the training workers: ``170,772,624``."""
    return fmt.count(meta.n_train**2)


def scale_against_published(posterior, parameter: str = "beta_individual_scale") -> str:
    """A scale's posterior mean and how many times the published worker scale it is."""
    mean = scalar_table(posterior).loc[parameter, "mean"]
    return (f"{fmt.number(mean)} under {posterior.method}, "
            f"{ratio(mean, published('beta_worker_scale'), 0)} the published value")


def published_scale_sentence(audit) -> str:
    """What the published worker-coefficient scale means once multiplied by the summed features."""
    norm = audit.projection_norm
    scale = published("beta_worker_scale")
    return (
        f"a vector of length {fmt.number(norm, 0)} over the training workers, so a coefficient "
        f"of only {fmt.number(1 / norm, 4)} in that direction already shifts a worksite's "
        f"log-odds by one unit. Times that length, the published scale gives the worksite "
        f"intercepts a spread of {fmt.number(scale * norm)} log-odds; the refit's intercepts "
        f"(posterior means) have a standard deviation of "
        f"{fmt.number(audit.intercept_sd)} across worksites"
    )

