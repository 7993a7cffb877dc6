"""Reproduce, audit and extend a Bayesian study of union card signing.

The package computes every number of the book, in one direction of flow::

    data → features → model → inference → evaluation → clustering
         → results (pipeline + cache) → tables, figures → chapters
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("organizing")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
