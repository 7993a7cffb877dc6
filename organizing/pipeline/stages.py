"""The pipeline as a declared list of stages, and the walk through it.

Each :class:`~organizing.pipeline.context.Stage` names the context fields it reads;
:func:`run` checks that an earlier stage filled them, times the stage, and stores its
product in the context. :data:`STAGES` is the only statement of the order (the
architecture test reads it from here).
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager

from organizing import __version__
from organizing.config import Config
from organizing.data import Campaign
from organizing.pipeline.checks import audit_models, calibrate_sampler, check_priors
from organizing.pipeline.clusters import cluster_worksites
from organizing.pipeline.context import Context, Stage
from organizing.pipeline.data_summary import summarize_data
from organizing.pipeline.fits import fit_nuts_models, fit_svi_models
from organizing.pipeline.heldout import evaluate_heldout_workers, evaluate_heldout_worksites
from organizing.pipeline.trials import plan_trials
from organizing.pipeline.verdicts import (
    estimate_error_rates,
    fit_sensitivity_variants,
    judge_claims,
)
from organizing.results.sections import Meta, Results

STAGES: tuple[Stage, ...] = (
    Stage("data summary", "data", (), summarize_data),
    Stage("SVI fits", "svi", (), fit_svi_models),
    Stage("NUTS posteriors", "nuts", ("svi",), fit_nuts_models),
    Stage("held-out evaluation", "heldout_workers", ("svi", "nuts"), evaluate_heldout_workers),
    Stage("held-out worksites", "evaluation", ("heldout_workers",), evaluate_heldout_worksites),
    Stage("prior predictive check", "prior_predictive", (), check_priors),
    Stage("simulation-based calibration", "calibration", (), calibrate_sampler),
    Stage("audit", "audit", ("svi", "nuts"), audit_models),
    Stage("clustering", "clustering", ("svi", "nuts"), cluster_worksites),
    Stage("sensitivity fits", "sensitivity_fits", (), fit_sensitivity_variants),
    Stage("claims", "claims", ("nuts", "evaluation", "clustering", "sensitivity_fits"),
          judge_claims),
    Stage("planning", "planning", ("nuts",), plan_trials),
    # the verdicts' calibration: its own cache entry, since it costs more than the rest
    # and depends on less
    Stage("error rates of the verdicts", "error_rates", ("nuts", "claims"),
          estimate_error_rates),
)


class Stages:
    """One line per stage with its time (progress bars only on a terminal)."""

    def __init__(self, progress: bool):
        self.progress = progress
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - start
        if self.progress:
            print(f"· {name}: {self.timings[name]:.1f} s", file=sys.stderr, flush=True)


def enable_compilation_cache() -> None:
    """Keep JAX's compiled samplers between runs, in the user's own cache folder.

    Compiling a NUTS sampler takes longer than running it on this data; with the
    cache a second run (a re-render, a test, another fold of the same size) starts
    at once. The folder is per user (``$XDG_CACHE_HOME/organizing/jax``, else
    ``~/.cache/organizing/jax``), never the project's shared results cache: compiled
    code is code, and a shared folder must not be able to supply it. Set
    ``ORGANIZING_JAX_CACHE=0`` to turn it off.
    """
    if os.environ.get("ORGANIZING_JAX_CACHE", "1") == "0":
        return
    import jax

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    jax.config.update("jax_compilation_cache_dir", os.path.join(base, "organizing", "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def release_compiled() -> None:
    """After a stage, drop its compiled samplers and JAX's caches
    (:func:`organizing.inference.nuts.release_compiled`): the next stages rarely fit the
    same shapes, and each kept sampler holds about 100 MB. Nothing to do before JAX loads."""
    if "organizing.inference.nuts" in sys.modules:
        sys.modules["organizing.inference.nuts"].release_compiled()


def run(campaign: Campaign, config: Config, *, cache_key: str = "",
        progress: bool = False) -> Results:
    """Compute every result of the book from validated data and one configuration: walk
    :data:`STAGES`, then gather their products into the typed sections."""
    enable_compilation_cache()
    timer = Stages(progress)
    ctx = Context.build(campaign, config, progress)
    for stage in STAGES:
        missing = [field for field in stage.reads if getattr(ctx, field) is None]
        if missing:  # STAGES out of order: a programming error, caught by the tests
            raise RuntimeError(f"stage {stage.name!r} reads {missing} before they exist")
        with timer.stage(stage.name):
            ctx = ctx.with_product(stage.field, stage.compute(ctx))
            release_compiled()
    timer.timings["total"] = sum(timer.timings.values())
    return Results(
        meta=Meta(profile=config.profile, package_version=__version__, cache_key=cache_key,
                  config=config.values, n_train=len(ctx.train), n_test=len(ctx.test),
                  timings=timer.timings),
        data=ctx.data,
        svi=ctx.svi.fits,
        posteriors=ctx.nuts.posteriors,
        evaluation=ctx.evaluation,
        audit=ctx.audit.published,
        claims=ctx.claims.claims,
        variance=ctx.audit.variance,
        prior_predictive=ctx.prior_predictive,
        calibration=ctx.calibration,
        clustering=ctx.clustering,
        planning=ctx.planning,
        sensitivity=ctx.claims.sensitivity,
        error_rates=ctx.error_rates,
    )
