"""Reproduce, audit and extend a Bayesian study of union card signing.

The package computes every number of the book, in one direction of flow: its modules
are the :data:`LAYERS` below, and a module imports only its own layer or an earlier one
(``tests/test_architecture.py`` checks it). The pipeline's stages, in the order they
run, are ``organizing.pipeline.STAGES``.
"""

from importlib.metadata import PackageNotFoundError, version

#: The package's layers in the order data flows: settings, the campaign's records, the
#: models' inputs, the models, their fitting, what is computed from the fits (evaluation
#: to sensitivity), the typed results and their cache, the pipeline that runs the stages,
#: the report layer that presents results, and the command line.
LAYERS = ("config", "data", "features", "models", "inference", "evaluation", "clustering",
          "planning", "audit", "effects", "claims", "error_rates", "results", "sensitivity",
          "pipeline", "report", "simulate", "cli", "_entry")

try:
    __version__ = version("organizing")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
