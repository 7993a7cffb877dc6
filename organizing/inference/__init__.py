"""Posterior inference: Pyro's SVI (the study's method), NUTS, diagnostics, summaries."""

from organizing.inference.pyro_nuts import NUTSFit, run_nuts
from organizing.inference.summaries import summarize_draws
from organizing.inference.svi import SVIFit, elbo_converged, fit_svi, guide_draw, posterior_draws

__all__ = ["NUTSFit", "SVIFit", "elbo_converged", "fit_svi", "guide_draw", "posterior_draws",
           "run_nuts", "summarize_draws"]
