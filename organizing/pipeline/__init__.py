"""Orchestration: every stage once, in the declared order, into typed sections.

:func:`load` is what the chapters and the command line call: it returns the cached
:class:`~organizing.results.sections.Results` for the current data, configuration and
code; it computes them (:func:`run`) only when asked (``compute=True``, as
``organizing run`` does), and otherwise says which profiles are cached and what to run.

:func:`run` walks :data:`STAGES` (``stages.py``, the one statement of the order): each
stage is a function from the :class:`~organizing.pipeline.context.Context` (the data, the
settings and the products of earlier stages) to its product, in a module by topic:

- ``data_summary``: the data section, disclosure control applied;
- ``fits``: SVI (the replication) and NUTS (every reported posterior);
- ``heldout``: held-out workers and held-out worksites;
- ``checks``: prior predictive simulation, simulation-based calibration, the audit;
- ``clusters``: the study's mixture and the calibrated test of clusters;
- ``verdicts``: sensitivity refits, the claims' verdicts and their error rates;
- ``trials``: planning randomized experiments.

It is the only place that fits models; the modelling libraries (torch, Pyro, JAX) are
imported inside the stages, so a chapter that only loads results starts quickly.
"""

from organizing.pipeline.loading import NotComputed, load, load_for
from organizing.pipeline.stages import STAGES, Stages, enable_compilation_cache, run

__all__ = ["STAGES", "NotComputed", "Stages", "enable_compilation_cache", "load", "load_for",
           "run"]
