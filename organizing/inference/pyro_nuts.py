"""Pyro NUTS on a hand-written log density (being replaced by NumPyro's NUTS)."""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import time
import warnings
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from queue import Empty

import numpy as np
import pandas as pd
import pyro
import torch
from pyro.infer.mcmc import MCMC, NUTS
from pyro.ops.stats import effective_sample_size, split_gelman_rubin
from tqdm import tqdm

from organizing.inference.summaries import _element_indices
from organizing.inference.svi import ModelArgs
from organizing.models.pyro_models import MEAN_PRIOR_SCALE

# -------------------------------------------------------------------------- NUTS

_LOG_HALF_CAUCHY_NORM = math.log(2.0 / (math.pi * 5.0))
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True)
class _Block:
    """One sample site inside the flat unconstrained vector θ."""

    name: str
    shape: tuple[int, ...]
    positive: bool  # stored as log(value); the HalfCauchy scales
    start: int

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def stop(self) -> int:
        return self.start + self.size


def _layout(model_name: str, num_sites: int, num_site_features: int, num_worker_features: int):
    if model_name == "corrected":
        specs = [
            ("beta_individual_scale", (), True),
            ("beta_group_scale", (), True),
            ("beta_group", (num_site_features,), False),
            ("alpha_mean", (), False),
            ("beta_individual", (num_sites, num_worker_features), False),
        ]
    elif model_name == "extended":
        specs = [
            ("beta_individual_scale", (num_worker_features,), True),
            ("beta_group_scale", (), True),
            ("beta_group", (num_site_features,), False),
            ("alpha_mean", (), False),
            ("beta_individual_mean", (num_worker_features,), False),
            ("beta_individual_raw", (num_sites, num_worker_features), False),
        ]
    else:
        raise ValueError(f"NUTS is implemented for 'corrected' and 'extended', not {model_name!r}")
    blocks, start = [], 0
    for name, shape, positive in specs:
        blocks.append(_Block(name, shape, positive, start))
        start += blocks[-1].size
    return blocks


def _half_cauchy_on_log_scale(log_scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log HalfCauchy(5)(e^u) + u (the Jacobian) and its derivative in u, elementwise."""
    ratio = torch.exp(2.0 * log_scale) / 25.0
    value = _LOG_HALF_CAUCHY_NORM - torch.log1p(ratio) + log_scale
    return value, 1.0 - 2.0 * ratio / (1.0 + ratio)


class LogDensity:
    r"""Negative log joint density of a model in unconstrained coordinates θ.

    θ stacks the latent sites in the order of :attr:`blocks`; every scale τ is
    stored as u = log τ and its density carries the Jacobian |dτ/du| = τ, so

    .. math:: U(θ) = -\log p(y, \mathrm{params}(θ)) - \sum_{\text{scales}} u.

    This is what Pyro's NUTS calls the potential energy, with constants included,
    so it equals the Pyro model's ``-trace.log_prob_sum()`` minus the transforms'
    log-det-Jacobians. Value and gradient are computed analytically in float64;
    with the Bernoulli residual r_i = y_i - σ(l_i):
    ∂/∂α = Σ r_i, ∂/∂β = Σ_s x_s Σ_{i∈s} r_i, ∂/∂b_s = Σ_{i∈s} r_i z_i (plus prior terms).
    The object is picklable, so each chain can run in its own process.
    """

    def __init__(
        self,
        model_name: str,
        site_x: torch.Tensor | np.ndarray,
        worker_x: torch.Tensor | np.ndarray,
        site_index: torch.Tensor | np.ndarray,
        y: torch.Tensor | np.ndarray,
    ):
        self.model_name = model_name
        self.site_x = torch.as_tensor(_numpy(site_x), dtype=torch.float64)
        # Workers of one worksite with identical features share their logit: keep one row
        # per (worksite, features) with n_g workers and k_g signers. Exact, since
        # Σ_{i∈g} [y_i l - softplus(l)] = k_g l - n_g softplus(l).
        rows = np.column_stack([_numpy(site_index).astype(float), _numpy(worker_x)])
        unique_rows, group = np.unique(rows, axis=0, return_inverse=True)
        group = group.reshape(-1)
        self.site_index = torch.as_tensor(unique_rows[:, 0].astype(np.int64))
        self.worker_x = torch.as_tensor(unique_rows[:, 1:], dtype=torch.float64)
        self.counts = torch.as_tensor(np.bincount(group), dtype=torch.float64)
        self.signed = torch.as_tensor(
            np.bincount(group, weights=_numpy(y).astype(float)), dtype=torch.float64
        )
        num_sites, num_site_features = self.site_x.shape
        self.num_worker_features = self.worker_x.shape[1]
        self.blocks = _layout(model_name, num_sites, num_site_features, self.num_worker_features)
        self.dim = self.blocks[-1].stop
        self.evaluations = 0
        self._design: tuple[torch.Tensor, torch.Tensor] | None = None

    def split(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Unconstrained pieces of θ (..., dim), each shaped (..., *site shape)."""
        lead = theta.shape[:-1]
        return {b.name: theta[..., b.start : b.stop].reshape(lead + b.shape) for b in self.blocks}

    def constrain(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Site values for θ (..., dim), with deterministic sites added."""
        values = {
            b.name: (torch.exp(v) if b.positive else v)
            for b, v in zip(self.blocks, self.split(theta).values(), strict=True)
        }
        if self.model_name == "extended":
            values["beta_individual"] = (
                values["beta_individual_mean"].unsqueeze(-2)
                + values["beta_individual_scale"].unsqueeze(-2) * values["beta_individual_raw"]
            )
        return values

    def _worker_design(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Sparse (N, S·P) matrix A with A[i, s(i)·P + p] = z_ip, and its transpose (CSR)."""
        if self._design is None:
            num_workers, num_features = self.worker_x.shape
            rows = torch.arange(num_workers).repeat_interleave(num_features)
            first_column = self.site_index[:, None] * num_features
            cols = (first_column + torch.arange(num_features)).reshape(-1)
            shape = (num_workers, self.site_x.shape[0] * num_features)
            with warnings.catch_warnings():  # sparse CSR is "beta" in torch; it is what we need
                warnings.simplefilter("ignore", UserWarning)
                coo = torch.sparse_coo_tensor(
                    torch.stack([rows, cols]), self.worker_x.reshape(-1), shape
                ).coalesce()
                self._design = (coo.to_sparse_csr(), coo.t().coalesce().to_sparse_csr())
        return self._design

    def __getstate__(self):
        return {**self.__dict__, "_design": None}  # rebuilt lazily after unpickling

    def _likelihood(self, alpha, beta_group, beta_individual):
        """Bernoulli log likelihood and its gradients in α, β and b (b flattened as A's columns)."""
        design, design_t = self._worker_design()
        logits = (
            alpha
            + (self.site_x @ beta_group)[self.site_index]
            + design @ beta_individual.reshape(-1)
        )
        log_lik = (self.signed * logits - self.counts * torch.nn.functional.softplus(logits)).sum()
        residual = self.signed - self.counts * torch.sigmoid(logits)
        per_site = torch.bincount(self.site_index, weights=residual, minlength=self.site_x.shape[0])
        grad_b = (design_t @ residual).reshape(beta_individual.shape)
        return log_lik, residual.sum(), self.site_x.T @ per_site, grad_b

    def value_and_grad(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """U(θ) and ∇U(θ) for one flat float64 vector θ."""
        self.evaluations += 1
        theta = theta.detach().to(torch.float64)
        parts = self.split(theta)
        grads: dict[str, torch.Tensor] = {}

        # HalfCauchy(5) scales on the log scale (with Jacobian)
        log_scale_b, log_scale_group = parts["beta_individual_scale"], parts["beta_group_scale"]
        lp_b, grads["beta_individual_scale"] = _half_cauchy_on_log_scale(log_scale_b)
        lp_group, grads["beta_group_scale"] = _half_cauchy_on_log_scale(log_scale_group)
        log_prob = lp_b.sum() + lp_group

        # β, α ~ Normal(0, τ_β)
        beta_group, alpha = parts["beta_group"], parts["alpha_mean"]
        precision_group = torch.exp(-2.0 * log_scale_group)
        square_sum = beta_group.square().sum() + alpha.square()
        count = beta_group.numel() + 1
        log_prob = (
            log_prob
            - 0.5 * precision_group * square_sum
            - count * (log_scale_group + _LOG_SQRT_2PI)
        )
        grads["beta_group_scale"] = grads["beta_group_scale"] + precision_group * square_sum - count

        if self.model_name == "corrected":
            beta_individual = parts["beta_individual"]
            precision_b = torch.exp(-2.0 * log_scale_b)
            square_sum_b = beta_individual.square().sum()
            count_b = beta_individual.numel()
            log_prob = (
                log_prob
                - 0.5 * precision_b * square_sum_b
                - count_b * (log_scale_b + _LOG_SQRT_2PI)
            )
            grads["beta_individual_scale"] = (
                grads["beta_individual_scale"] + precision_b * square_sum_b - count_b
            )
        else:  # extended, non-centered: b_s = μ + τ ⊙ ε_s
            mean, raw = parts["beta_individual_mean"], parts["beta_individual_raw"]
            scale_b = torch.exp(log_scale_b)
            beta_individual = mean + scale_b * raw
            log_prob = log_prob - 0.5 * raw.square().sum() - raw.numel() * _LOG_SQRT_2PI
            mean_var = MEAN_PRIOR_SCALE**2
            log_prob = (
                log_prob
                - 0.5 * mean.square().sum() / mean_var
                - mean.numel() * (math.log(MEAN_PRIOR_SCALE) + _LOG_SQRT_2PI)
            )

        log_lik, grad_alpha, grad_beta, grad_b = self._likelihood(
            alpha, beta_group, beta_individual
        )
        log_prob = log_prob + log_lik
        grads["alpha_mean"] = grad_alpha - precision_group * alpha
        grads["beta_group"] = grad_beta - precision_group * beta_group
        if self.model_name == "corrected":
            grads["beta_individual"] = grad_b - precision_b * beta_individual
        else:
            grads["beta_individual_raw"] = grad_b * scale_b - raw
            grads["beta_individual_mean"] = grad_b.sum(0) - mean / mean_var
            grads["beta_individual_scale"] = grads["beta_individual_scale"] + (
                (grad_b * raw).sum(0) * scale_b
            )
        gradient = torch.cat([grads[b.name].reshape(-1) for b in self.blocks])
        return -log_prob, -gradient

    def __call__(self, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Potential energy for Pyro: ``params = {"theta": θ}``; differentiable in θ."""
        return _Potential.apply(params["theta"], self)


def _numpy(value) -> np.ndarray:
    return value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)


class _Potential(torch.autograd.Function):
    """Wraps :meth:`LogDensity.value_and_grad` so autograd uses the analytic gradient."""

    @staticmethod
    def forward(ctx, theta, density):
        value, gradient = density.value_and_grad(theta)
        ctx.save_for_backward(gradient.to(theta.dtype))
        return value.to(theta.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (gradient,) = ctx.saved_tensors
        return grad_output * gradient, None


@dataclass(frozen=True)
class NUTSFit:
    """A NUTS reference posterior: draws per chain and per-element diagnostics.

    ``draws``, ``r_hat`` and ``ess`` map site names to arrays; draws are shaped
    (chains, draws, *site shape), the diagnostics (*site shape). Split R-hat and
    effective sample size come from ``pyro.ops.stats``. Divergences, mean
    acceptance probability, adapted step size and gradient evaluations are per
    chain; divergences count sampling iterations only.
    """

    model_name: str
    draws: dict[str, np.ndarray]
    r_hat: dict[str, np.ndarray]
    ess: dict[str, np.ndarray]
    divergences: np.ndarray
    accept_prob: np.ndarray
    step_size: np.ndarray
    gradient_evaluations: np.ndarray
    num_warmup: int
    num_samples: int
    seconds: float
    seed: int
    workers: int
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def num_chains(self) -> int:
        return int(self.divergences.shape[0])

    @property
    def max_r_hat(self) -> float:
        return float(max(np.max(v) for v in self.r_hat.values()))

    @property
    def min_ess(self) -> float:
        return float(min(np.min(v) for v in self.ess.values()))

    @property
    def seconds_per_iteration(self) -> float:
        """Wall time per iteration of one chain, counting warm-up (chains run side by side)."""
        iterations = self.num_chains * (self.num_warmup + self.num_samples)
        return self.seconds * self.workers / iterations

    def pooled_draws(self) -> dict[str, np.ndarray]:
        """Draws with chains concatenated: site → (chains·draws, *site shape)."""
        return {k: v.reshape(-1, *v.shape[2:]) for k, v in self.draws.items()}

    def diagnostics(self) -> pd.DataFrame:
        """One row per element of every site: site, index, r_hat, ess."""
        rows = [
            {
                "site": site,
                "index": index,
                "r_hat": float(r_hat[index]),
                "ess": float(self.ess[site][index]),
            }
            for site, r_hat in self.r_hat.items()
            for index in _element_indices(r_hat.shape)
        ]
        return pd.DataFrame(rows, columns=["site", "index", "r_hat", "ess"])


def _initial_theta(dim: int, num_chains: int, seed: int) -> np.ndarray:
    """Stan's default: every unconstrained coordinate uniform on (-2, 2), per chain."""
    return np.random.default_rng(seed).uniform(-2.0, 2.0, size=(num_chains, dim))


def _run_chain(
    density: LogDensity,
    initial_theta: np.ndarray,
    num_warmup: int,
    num_samples: int,
    seed: int,
    target_accept: float,
    max_tree_depth: int,
    progress_queue=None,
    progress: bool = False,
) -> dict:
    """One NUTS chain on ``density`` (run in a worker process or in-process)."""
    torch.set_num_threads(1)
    pyro.set_rng_seed(seed)
    density.evaluations = 0
    kernel = NUTS(
        potential_fn=density,
        target_accept_prob=target_accept,
        max_tree_depth=max_tree_depth,
        adapt_step_size=True,
        adapt_mass_matrix=True,
    )

    def report(kernel, samples, stage, i):  # Pyro calls this after every iteration
        if progress_queue is not None and (i + 1) % 10 == 0:
            progress_queue.put(10)

    mcmc = MCMC(
        kernel,
        num_samples=num_samples,
        warmup_steps=num_warmup,
        initial_params={"theta": torch.as_tensor(initial_theta, dtype=torch.float64)},
        disable_progbar=not progress,
        hook_fn=report,
    )
    start = time.perf_counter()
    mcmc.run()
    seconds = time.perf_counter() - start
    diagnostics = mcmc.diagnostics()
    return {
        "theta": mcmc.get_samples()["theta"].numpy(),
        "divergences": len(diagnostics["divergences"]["chain 0"]),
        "accept_prob": float(diagnostics["acceptance rate"]["chain 0"]),
        "step_size": float(kernel.step_size),
        "gradient_evaluations": density.evaluations,
        "seconds": seconds,
    }


def run_nuts(
    model_name: str,
    args: ModelArgs,
    *,
    num_chains: int = 4,
    num_warmup: int = 500,
    num_samples: int = 1000,
    seed: int = 0,
    progress: bool = True,
    workers: int | None = None,
    target_accept: float = 0.8,
    max_tree_depth: int = 10,
) -> NUTSFit:
    """A reference posterior for ``"corrected"`` or ``"extended"`` by NUTS.

    Pyro's NUTS (diagonal mass matrix and step size adapted during warm-up) runs
    on :class:`LogDensity`, the model's log joint in unconstrained coordinates
    with an analytic gradient, which is much faster than tracing the Pyro model.
    Chains run in ``workers`` processes (default: one per CPU core, at most one
    per chain), each on one thread; ``workers=1`` runs them one after another in
    this process. Chain k is seeded with ``seed + k`` and starts uniformly in
    (-2, 2) on the unconstrained scale. Draws keep the Pyro model's site names.

    Worker processes are started with "spawn": a script that calls this with
    ``workers > 1`` needs the usual ``if __name__ == "__main__":`` guard.
    """
    site_x, worker_x, site_index, y = args
    if y is None:
        raise ValueError("NUTS needs observed outcomes y")
    density = LogDensity(model_name, site_x, worker_x, site_index, y)
    initial = _initial_theta(density.dim, num_chains, seed)
    if workers is None:
        workers = min(num_chains, os.cpu_count() or 1)
    workers = max(1, min(workers, num_chains))
    chain_args = [
        (density, initial[k], num_warmup, num_samples, seed + k, target_accept, max_tree_depth)
        for k in range(num_chains)
    ]
    total = num_chains * (num_warmup + num_samples)
    start = time.perf_counter()
    if workers == 1:
        results = []
        for k, chain in enumerate(chain_args):
            with tqdm(
                total=num_warmup + num_samples,
                disable=not progress,
                desc=f"NUTS {model_name} chain {k}",
            ) as bar:
                queue = _BarQueue(bar)
                results.append(_run_chain(*chain, progress_queue=queue))
    else:
        context = multiprocessing.get_context("spawn")
        with context.Manager() as manager, ProcessPoolExecutor(workers, mp_context=context) as pool:
            queue = manager.Queue()
            futures = [pool.submit(_run_chain, *c, progress_queue=queue) for c in chain_args]
            with tqdm(total=total, disable=not progress, desc=f"NUTS {model_name}") as bar:
                while not all(f.done() for f in futures):
                    with contextlib.suppress(Empty):
                        bar.update(queue.get(timeout=0.5))
            results = [f.result() for f in futures]
    seconds = time.perf_counter() - start

    theta = torch.as_tensor(np.stack([r["theta"] for r in results]))  # (chains, draws, dim)
    draws = {k: v.numpy() for k, v in density.constrain(theta).items()}
    r_hat, ess = {}, {}
    for name, values in draws.items():
        tensor = torch.as_tensor(values)
        r_hat[name] = split_gelman_rubin(tensor, chain_dim=0, sample_dim=1).numpy()
        ess[name] = effective_sample_size(tensor, chain_dim=0, sample_dim=1).numpy()
    return NUTSFit(
        model_name=model_name,
        draws=draws,
        r_hat=r_hat,
        ess=ess,
        divergences=np.array([r["divergences"] for r in results]),
        accept_prob=np.array([r["accept_prob"] for r in results]),
        step_size=np.array([r["step_size"] for r in results]),
        gradient_evaluations=np.array([r["gradient_evaluations"] for r in results]),
        num_warmup=num_warmup,
        num_samples=num_samples,
        seconds=seconds,
        seed=seed,
        workers=workers,
        extra={"chain_seconds": float(sum(r["seconds"] for r in results))},
    )


class _BarQueue:
    """Stands in for a multiprocessing queue when the chain runs in this process."""

    def __init__(self, bar):
        self.bar = bar

    def put(self, count: int) -> None:
        self.bar.update(count)


