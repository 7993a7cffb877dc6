r"""Stochastic variational inference, the study's method.

Everything returned is a plain, picklable dataclass of numpy arrays and floats
(no live Pyro parameter store, no torch modules), so the pipeline can cache it.

* :func:`fit_svi` runs Pyro's SVI (JitTrace_ELBO, Adam with exponential learning-rate
  decay) with a mean-field ``AutoNormal`` guide (the study's) or a richer
  ``AutoLowRankMultivariateNormal`` guide. ``JitTrace_ELBO`` computes the same
  single-sample ELBO as ``Trace_ELBO`` from a TorchScript trace of the model and
  guide, about twice as fast per step. It stops when :func:`elbo_converged`
  says the smoothed ELBO has flattened, or after a fixed number of steps when the
  rule is switched off (``stop_early=False``, as the study's code ran).
* :mod:`organizing.inference.optimizers` holds the optimizer as the study's report
  states it and as its code (``hblr.py``) runs it.
* :func:`posterior_draws` rebuilds the guide and draws many joint samples;
  :func:`guide_draw` draws exactly one, which is how the study made its table.

NUTS lives in :mod:`organizing.inference.nuts`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyro
import torch
from pyro.infer import SVI, JitTrace_ELBO, Predictive
from pyro.infer.autoguide import AutoLowRankMultivariateNormal, AutoNormal
from tqdm import tqdm

from organizing.inference.optimizers import ADAM_BETAS, REPORT_OPTIMIZER
from organizing.models.pyro_models import (
    LATENT_SITES,
    MODELS,
    add_deterministic_sites,
    model_name_of,
)

ModelArgs = Sequence[torch.Tensor | None]

GUIDES: dict[str, type] = {"normal": AutoNormal, "lowrank": AutoLowRankMultivariateNormal}


def make_elbo() -> JitTrace_ELBO:
    """The ELBO :func:`fit_svi` optimizes: Pyro's single-sample ELBO, compiled.

    ``JitTrace_ELBO`` traces one evaluation of model and guide with TorchScript on
    its first step and replays the trace after. Every model in ``MODELS`` has a static
    structure for given data shapes, and only the guide's parameters change between
    steps, so the trace holds; it works for every model with either guide. The
    tracer's warnings (tensors created from Python numbers become constants, shape
    checks are fixed) are expected for such models and are silenced.
    """
    return JitTrace_ELBO(ignore_jit_warnings=True)


@contextmanager
def _quiet_jit() -> Iterator[None]:
    """Hide what tracing warns about, and only that, while the block runs."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        # recent torch marks torch.jit.trace deprecated; JitTrace_ELBO still relies on it
        warnings.filterwarnings(
            "ignore", message=r"`torch\.jit\.trace` is deprecated", category=DeprecationWarning
        )
        yield


# --------------------------------------------------------------------------- SVI


#: Steps between two questions to the stopping rule (and between bar updates).
CHECK_EVERY = 50


def _last_two_windows(losses, window: int) -> tuple[float, float] | None:
    """The mean loss of the ``window`` steps before the last ``window``, and of the last:
    None with fewer than ``2 * window`` losses or a non-finite one among them."""
    if window < 1:
        raise ValueError("window must be positive")
    values = np.asarray(losses, dtype=float)
    if values.size < 2 * window or not np.all(np.isfinite(values[-2 * window :])):
        return None
    return values[-2 * window : -window].mean(), values[-window:].mean()


def elbo_converged(losses: Sequence[float] | np.ndarray, window: int, rtol: float) -> bool:
    r"""Whether the smoothed ELBO loss has stopped changing.

    With :math:`\bar L_1` the mean loss of the last ``window`` steps and
    :math:`\bar L_0` the mean of the ``window`` steps before them, the trace has
    converged when

    .. math:: |\bar L_0 - \bar L_1| \le \mathrm{rtol} \cdot \max(|\bar L_1|, 1).

    Averaging over a window smooths the Monte Carlo noise of single-sample ELBO
    estimates; scaling by the loss makes one ``rtol`` serve data sets of any size.
    Fewer than ``2 * window`` losses never count as converged.
    """
    means = _last_two_windows(losses, window)
    if means is None:
        return False
    previous, recent = means
    return bool(abs(previous - recent) <= rtol * max(abs(recent), 1.0))


def elbo_change(losses: Sequence[float] | np.ndarray, window: int) -> float:
    r"""The statistic :func:`elbo_converged` compares with ``rtol``:
    :math:`|\bar L_0 - \bar L_1| / \max(|\bar L_1|, 1)` (NaN where it never converges)."""
    means = _last_two_windows(losses, window)
    if means is None:
        return float("nan")
    previous, recent = means
    return float(abs(previous - recent) / max(abs(recent), 1.0))


def rule_checks(losses: Sequence[float] | np.ndarray, window: int, min_steps: int,
                check_every: int = CHECK_EVERY) -> pd.DataFrame:
    """Where :func:`fit_svi` asked the stopping rule, and its statistic each time: every
    ``check_every`` steps from ``min_steps`` on, and the last step (where the fit
    stopped). Columns ``step`` and ``change`` (:func:`elbo_change`)."""
    n = len(losses)
    steps = [t for t in range(check_every, n + 1, check_every) if t >= min_steps]
    if n and (not steps or steps[-1] != n):
        steps.append(n)
    return pd.DataFrame({"step": np.asarray(steps, dtype=np.int64),
                         "change": [elbo_change(losses[:t], window) for t in steps]})


@dataclass(frozen=True)
class SVIFit:
    """A finished SVI fit: its ELBO trace and the guide's parameters as numpy arrays.

    ``guide_params`` is the guide module's ``state_dict`` (unconstrained values); with
    ``model_name`` and ``guide_kind`` it rebuilds the guide (:func:`rebuild_guide`).
    """

    model_name: str
    guide_kind: str
    losses: np.ndarray
    steps: int
    converged: bool
    seconds: float
    seed: int
    guide_params: dict[str, np.ndarray]
    lr: float
    lr_decay: float
    betas: tuple[float, float] = ADAM_BETAS
    stop_early: bool = True


def _resolve_model(model: str | Callable) -> tuple[str, Callable]:
    if isinstance(model, str):
        return model, MODELS[model]
    name = model_name_of(model)
    if name is None:
        raise ValueError("model must be a name or a function registered in organizing.model.MODELS")
    return name, model


def _make_guide(model: Callable, guide_kind: str):
    if guide_kind not in GUIDES:
        raise ValueError(f"guide must be one of {sorted(GUIDES)}, not {guide_kind!r}")
    return GUIDES[guide_kind](model)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread, then restore the previous setting.

    An SVI step works on small tensors (13,000 × 7): a second thread gains little,
    and when the cores are shared, OpenMP's waiting threads made each step about
    ten times slower (159 against 15 ms per step, measured on 2 busy cores).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def fit_svi(
    model: str | Callable,
    args: ModelArgs,
    *,
    guide: str = "normal",
    lr: float = REPORT_OPTIMIZER.lr,
    lr_decay: float = REPORT_OPTIMIZER.lr_decay,
    betas: Sequence[float] = ADAM_BETAS,
    max_steps: int = 10_000,
    stop_early: bool = True,
    min_steps: int = 500,
    window: int = 200,
    rtol: float = 1e-3,
    check_every: int = CHECK_EVERY,
    seed: int = 0,
    progress: bool = True,
    label: str | None = None,
) -> SVIFit:
    r"""Fit ``model`` to ``args = (site_x, worker_x, site_index, y)`` by SVI.

    Adam with moment decay rates ``betas`` and learning rate
    :math:`\mathrm{lr}_t = \mathrm{lr} \cdot \gamma^{t}` after :math:`t` steps
    (``pyro.optim.ExponentialLR`` with :math:`\gamma` = ``lr_decay``, stepped after every
    SVI step, as the study's code does), the single-sample ELBO, and an
    ``AutoNormal`` (``guide="normal"``, the study's) or
    ``AutoLowRankMultivariateNormal`` (``guide="lowrank"``) guide.

    The ELBO is Pyro's ``JitTrace_ELBO`` (:func:`make_elbo`): the same single-sample
    estimate and gradient as ``Trace_ELBO``, evaluated from a TorchScript trace,
    about twice as fast per step on the campaign data with one thread (published
    model with ``AutoNormal`` 14.9 → 7.2 ms per step, corrected model with the
    low-rank guide 20.2 → 8.0 ms; 1,000-step fits on the 13,068 training workers on
    a busier machine: 11.2 → 5.3 and 10.9 → 5.8 ms). Tracing adds about 0.1 s to
    the first step. At equal parameters and seed it gives ``Trace_ELBO``'s loss and
    gradient up to float32 rounding (the data tensors are float32). With the
    low-rank guide the compiled graph draws the guide's two standard-normal vectors
    in the other order, so a seed gives another, equally distributed draw. The first
    step runs model and guide three times (to find the parameters, to trace, to
    run), so a seed's fit differs from the one ``Trace_ELBO`` gave; equal seeds still
    give identical fits. Losses are recorded as Python floats (float64 holding
    float32 values).

    With ``stop_early`` it asks :func:`elbo_converged` every ``check_every`` steps past
    ``min_steps`` and stops there or at ``max_steps``; without, it runs exactly
    ``max_steps`` steps, as the study's code ran its 8,000. The parameter store is
    cleared first and the seed set with ``pyro.set_rng_seed``, so equal seeds give
    identical fits.
    """
    betas = tuple(float(b) for b in betas)
    if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
        raise ValueError(f"betas must be two numbers in [0, 1), got {betas}")
    if not (lr > 0 and 0 < lr_decay <= 1):
        raise ValueError(f"lr must be > 0 and lr_decay in (0, 1], got {lr} and {lr_decay}")
    if max_steps < 1:
        raise ValueError(f"max_steps must be positive, got {max_steps}")
    model_name, model_fn = _resolve_model(model)
    pyro.clear_param_store()
    pyro.set_rng_seed(seed)
    auto_guide = _make_guide(model_fn, guide)
    scheduler = pyro.optim.ExponentialLR(
        {"optimizer": torch.optim.Adam, "optim_args": {"lr": lr, "betas": betas},
         "gamma": lr_decay}
    )
    svi = SVI(model_fn, auto_guide, scheduler, loss=make_elbo())
    losses: list[float] = []
    converged = False
    start = time.perf_counter()
    # A bar only on a terminal (tqdm's disable=None), named after the fit it tracks.
    default_label = f"SVI {model_name} ({'low-rank' if guide == 'lowrank' else 'mean-field'})"
    with one_thread(), _quiet_jit(), tqdm(total=max_steps, disable=None if progress else True,
                                          desc=label or default_label) as bar:
        for step in range(1, max_steps + 1):
            losses.append(float(svi.step(*args)))
            scheduler.step()
            bar.update()
            if step % check_every == 0:
                bar.set_postfix(elbo_loss=f"{np.mean(losses[-check_every:]):.1f}")
                if stop_early and step >= min_steps and elbo_converged(losses, window, rtol):
                    converged = True
                    break
    seconds = time.perf_counter() - start
    # the module's unconstrained parameters; the optimizer updated them in place
    params = {
        name: value.detach().cpu().numpy().copy() for name, value in auto_guide.state_dict().items()
    }
    return SVIFit(
        model_name=model_name,
        guide_kind=guide,
        losses=np.asarray(losses, dtype=np.float64),
        steps=len(losses),
        converged=converged,
        seconds=seconds,
        seed=seed,
        guide_params=params,
        lr=lr,
        lr_decay=lr_decay,
        betas=betas,
        stop_early=stop_early,
    )


def rebuild_guide(fit: SVIFit, args: ModelArgs):
    """A live guide with the fitted parameters (clears and refills the param store)."""
    model_fn = MODELS[fit.model_name]
    pyro.clear_param_store()
    guide = _make_guide(model_fn, fit.guide_kind)
    with pyro.poutine.block(), torch.no_grad():
        guide(*args)  # create the parameters, then overwrite them
    # copy_ in place into the parameters the guide and the param store share
    state = {name: torch.as_tensor(value) for name, value in fit.guide_params.items()}
    guide.load_state_dict(state, strict=True)
    return guide


def _guide_sample(guide, args: ModelArgs) -> dict[str, torch.Tensor]:
    trace = pyro.poutine.trace(guide).get_trace(*args)
    return {
        name: node["value"].detach()
        for name, node in trace.nodes.items()
        if node["type"] == "sample" and not node["is_observed"] and not name.startswith("_")
    }


def posterior_draws(
    fit: SVIFit, args: ModelArgs, num_draws: int = 1000, seed: int = 0
) -> dict[str, np.ndarray]:
    """``num_draws`` joint draws from the fitted guide: site → array (num_draws, *site shape).

    Deterministic sites (the extended model's ``beta_individual``) are added.
    """
    if num_draws < 2:
        raise ValueError("posterior_draws summarizes a posterior; use guide_draw for one draw")
    guide = rebuild_guide(fit, args)
    with torch.no_grad():
        shapes = {name: value.shape for name, value in _guide_sample(guide, args).items()}
        pyro.set_rng_seed(seed)
        # one vectorized call: the guide runs inside a plate of num_draws
        samples = Predictive(guide, num_samples=num_draws, parallel=True)(*args)
    draws = {
        name: samples[name].reshape(num_draws, *shapes[name]).cpu().numpy()
        for name in LATENT_SITES[fit.model_name]
    }
    return add_deterministic_sites(fit.model_name, draws)


def guide_draw(fit: SVIFit, args: ModelArgs, seed: int = 0) -> dict[str, np.ndarray]:
    """Exactly one draw from the guide, as the study's ``guide(*inputs)`` made its table.

    Values have the site's own shape (no draw dimension); add one with
    ``{k: v[None] for k, v in draw.items()}`` to pass it where draws are expected.
    """
    guide = rebuild_guide(fit, args)
    pyro.set_rng_seed(seed)
    with torch.no_grad():
        draw = {name: value.cpu().numpy() for name, value in _guide_sample(guide, args).items()}
    return {
        k: v[0]
        for k, v in add_deterministic_sites(
            fit.model_name, {k: v[None] for k, v in draw.items()}
        ).items()
    }


