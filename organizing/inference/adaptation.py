r"""Mass-matrix adaptation from draws and gradients (nutpie's estimator) for NumPyro's NUTS.

NUTS moves in the unconstrained space with momentum :math:`p \sim \mathcal{N}(0, M)`;
its step size is limited by the posterior's narrowest direction after preconditioning by
:math:`M^{-1}`, and its trajectory by the widest. NumPyro (like Stan) adapts
:math:`M^{-1}` to the sample covariance of the warm-up draws in a window,
:math:`M^{-1} = \widehat{\mathrm{Cov}}(θ)`. When parameters are correlated the
marginal variances overstate the conditional ones, and the step size must shrink to
the narrow conditional directions.

Seyboldt, Carlson and Carpenter (nutpie; "preconditioning by minimising the Fisher
divergence") choose instead the affine map under which the draws' scores look most like
those of a standard normal. For a diagonal :math:`M^{-1} = \mathrm{diag}(σ^2)` the
optimum uses the gradients :math:`g = ∇_θ \log p(θ \mid y)` at the same draws:

.. math::

    σ_j^2 = \sqrt{\operatorname{Var}(θ_j) / \operatorname{Var}(g_j)},

the geometric mean of the marginal variance and of the reciprocal "gradient
variance" (for a Gaussian posterior :math:`\operatorname{Var}(g_j) = (Σ^{-1})_{jj}`, the
conditional precision). For a dense block the optimum is the matrix geometric mean of
the draws' covariance :math:`C_θ` and the inverse of the gradients' covariance
:math:`C_g`,

.. math::

    M^{-1} = C_g^{-1/2}\,\bigl(C_g^{1/2} C_θ C_g^{1/2}\bigr)^{1/2} C_g^{-1/2},

which equals :math:`Σ` for a Gaussian posterior, where :math:`C_g = Σ^{-1}`.
:func:`gradient_warmup_adapter` is NumPyro's ``warmup_adapter`` (Stan's windows:
iterations of step size only, then windows of 25, 50, 100, ... draws at whose ends
the mass matrix is re-estimated, then 50 of step size only; dual averaging of the
step size to the target acceptance) with this estimator in place of the Welford
covariance, and a first window that starts after 25 iterations instead of 75
(:data:`START_BUFFER`). The estimate only shapes the sampler; the draws after warm-up are
exact NUTS draws whatever :math:`M` is, which the tests check against the Welford
adaptation on the same posterior.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager

import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jax.scipy.linalg import solve_triangular
from numpyro.infer import NUTS
from numpyro.infer import hmc as _hmc
from numpyro.infer.hmc_util import (
    AdaptWindow,
    HMCAdaptState,
    _initialize_mass_matrix,
    dual_averaging,
)
from numpyro.util import cond, identity

#: Warm-up iterations before the first mass-matrix window, and the first window's length
#: (Stan's and NumPyro's: 75 and 25). Until the first window ends NUTS runs with the unit
#: mass matrix, and on the headline model those first 100 iterations cost 250-400
#: leapfrog steps each, half of the whole warm-up; the draws-and-gradients estimator
#: needs fewer draws for a usable first estimate, so its windows start earlier.
START_BUFFER, FIRST_WINDOW = 25, 25
#: Bounds on a diagonal element of the inverse mass matrix (nutpie uses 1e-20..1e20).
VARIANCE_LIMITS = (1e-10, 1e10)
#: Pseudo-draws of shrinkage of a dense estimate toward its diagonal (Stan's 5).
SHRINKAGE_DRAWS = 5.0


def adaptation_schedule(num_steps: int, start_buffer: int = START_BUFFER,
                        first_window: int = FIRST_WINDOW, end_buffer: int = 50):
    """Stan's warm-up windows with another start: ``start_buffer`` iterations of step
    size only, mass-matrix windows of ``first_window``, twice that, ... (the last one
    stretched to the end buffer), then ``end_buffer`` iterations of step size only.

    NumPyro's ``build_adaptation_schedule`` with the three sizes as arguments (and the
    same fallback for a short warm-up: 15% / 75% / 10%).
    """
    if num_steps < 20:
        return [AdaptWindow(0, num_steps - 1)]
    if start_buffer + end_buffer + first_window > num_steps:
        start_buffer, end_buffer = int(0.15 * num_steps), int(0.1 * num_steps)
        first_window = num_steps - start_buffer - end_buffer
    schedule = [AdaptWindow(0, start_buffer - 1)]
    end_start = num_steps - end_buffer
    size, start = first_window, start_buffer
    while start < end_start:
        current = size
        if 3 * current <= end_start - start:
            size = 2 * current
        else:
            current = end_start - start
        schedule.append(AdaptWindow(start, start + current - 1))
        start += current
    schedule.append(AdaptWindow(end_start, num_steps - 1))
    return schedule


def _moments_init(size, dense: bool):
    shape = (size, size) if dense else (size,)
    zero = jnp.zeros(size)
    return (zero, jnp.zeros(shape), zero, jnp.zeros(shape), jnp.array(0, dtype=jnp.int32))


def _welford(mean, m2, x, n):
    delta = x - mean
    mean = mean + delta / n
    if m2.ndim == 1:
        return mean, m2 + delta * (x - mean)
    return mean, m2 + jnp.outer(x - mean, delta)


def moments_update(z, g, state):
    """Add one draw ``z`` and its gradient ``g`` (flat vectors) to a block's running moments."""
    mean_z, m2_z, mean_g, m2_g, n = state
    n = n + 1
    mean_z, m2_z = _welford(mean_z, m2_z, z, n)
    mean_g, m2_g = _welford(mean_g, m2_g, g, n)
    return mean_z, m2_z, mean_g, m2_g, n


def _shrink(cov, n):
    """Shrink a covariance toward its diagonal by :data:`SHRINKAGE_DRAWS` pseudo-draws."""
    weight = n / (n + SHRINKAGE_DRAWS)
    return weight * cov + (1.0 - weight) * jnp.diag(jnp.diag(cov))


def _sqrtm(a):
    values, vectors = jnp.linalg.eigh(a)
    values = jnp.clip(values, VARIANCE_LIMITS[0], VARIANCE_LIMITS[1])
    return (vectors * jnp.sqrt(values)) @ vectors.T, (vectors / jnp.sqrt(values)) @ vectors.T


def fisher_inverse_mass(state):
    r"""The inverse mass matrix from a block's moments (module docstring's formulas).

    Diagonal: :math:`\sqrt{\mathrm{Var}(θ)/\mathrm{Var}(g)}`, clipped to
    :data:`VARIANCE_LIMITS`. Dense: the geometric mean of :math:`C_θ` and
    :math:`C_g^{-1}`, each covariance shrunk toward its diagonal first.
    """
    _, m2_z, _, m2_g, n = state
    n = jnp.maximum(n, 2).astype(m2_z.dtype)
    cov_z, cov_g = m2_z / (n - 1), m2_g / (n - 1)
    if cov_z.ndim == 1:
        ratio = cov_z / jnp.maximum(cov_g, VARIANCE_LIMITS[0])
        return jnp.clip(jnp.sqrt(ratio), *VARIANCE_LIMITS)
    g_half, g_half_inv = _sqrtm(_shrink(cov_g, n))
    middle, _ = _sqrtm(g_half @ _shrink(cov_z, n) @ g_half)
    inverse_mass = g_half_inv @ middle @ g_half_inv
    return 0.5 * (inverse_mass + inverse_mass.T)


def welford_inverse_mass(state):
    """The draws' covariance with Stan's regularization (NumPyro's and Stan's estimate):
    :math:`\frac{n}{n+5} C_θ + 10^{-3} \frac{5}{n+5} I`."""
    _, m2_z, _, _, n = state
    n = jnp.maximum(n, 2).astype(m2_z.dtype)
    cov = (n / (n + 5.0)) * m2_z / (n - 1)
    shrinkage = 1e-3 * 5.0 / (n + 5.0)
    return cov + shrinkage * (1.0 if cov.ndim == 1 else jnp.identity(cov.shape[-1]))


def _factors(inverse_mass):
    """``(inverse_mass, mass_matrix_sqrt, mass_matrix_sqrt_inv)`` as NumPyro keeps them."""
    if inverse_mass.ndim == 1:
        root = jnp.sqrt(inverse_mass)
        return inverse_mass, jnp.reciprocal(root), root
    tril_inv = jnp.swapaxes(jnp.linalg.cholesky(inverse_mass[..., ::-1, ::-1])[..., ::-1, ::-1],
                            -2, -1)
    sqrt = solve_triangular(tril_inv, jnp.identity(inverse_mass.shape[-1]), lower=True)
    return inverse_mass, sqrt, tril_inv


def _blocks(value, inverse_mass):
    """A pytree of sites as flat vectors per mass-matrix block (one block if not a dict)."""
    if isinstance(inverse_mass, dict):
        return {names: ravel_pytree(tuple(value[k] for k in names))[0] for names in inverse_mass}
    return ravel_pytree(value)[0]


#: Each adaptation's estimator of the mass matrix at the end of its first window, of the
#: windows between, and of its last window (the one the draws are made with):
#: "gradient" is :func:`fisher_inverse_mass`, "welford" :func:`welford_inverse_mass`.
ESTIMATORS = {
    "gradient": ("gradient", "gradient", "gradient"),
    "gradient-then-welford": ("gradient", "gradient", "welford"),
    "gradient-first": ("gradient", "welford", "welford"),
}


def gradient_warmup_adapter(num_adapt_steps, find_reasonable_step_size=None,
                            adapt_step_size=True, adapt_mass_matrix=True, dense_mass=False,
                            target_accept_prob=0.8, regularize_mass_matrix=True, *,
                            kind: str = "gradient"):
    """NumPyro's ``warmup_adapter`` with the windows starting earlier and the estimators of
    :data:`ESTIMATORS` ``[kind]``.

    Same signature, step-size adaptation and state (``HMCAdaptState``) as
    ``numpyro.infer.hmc_util.warmup_adapter``; the schedule is :func:`adaptation_schedule`'s
    and the mass matrix estimated at the end of the first, a middle and the last window is
    :func:`fisher_inverse_mass` ("gradient") or :func:`welford_inverse_mass` ("welford")
    as ``kind`` says. ``regularize_mass_matrix`` is accepted for the signature; the
    estimators are bounded by their own rules.
    """
    first, middle, last = ESTIMATORS[kind]
    del regularize_mass_matrix
    if find_reasonable_step_size is None:
        find_reasonable_step_size = identity
    ss_init, ss_update = dual_averaging()
    schedule = jnp.asarray(adaptation_schedule(num_adapt_steps))
    num_windows = len(schedule)

    def moments_init(inverse_mass):
        if isinstance(inverse_mass, dict):
            return {names: _moments_init(m.shape[-1], m.ndim == 2)
                    for names, m in inverse_mass.items()}
        return _moments_init(inverse_mass.shape[-1], inverse_mass.ndim == 2)

    def estimate(state, window):
        # ``window`` is already the next one: 2 after the first mass-matrix window, the
        # end buffer's index after the last
        by_name = {"gradient": fisher_inverse_mass, "welford": welford_inverse_mass}
        if first == middle == last:
            return by_name[first](state)
        return jnp.where(window == num_windows - 1, by_name[last](state),
                         jnp.where(window == 2, by_name[first](state), by_name[middle](state)))

    def final(mm_state, window):
        if isinstance(mm_state, dict):
            parts = {names: _factors(estimate(s, window)) for names, s in mm_state.items()}
            return tuple({names: part[i] for names, part in parts.items()} for i in range(3))
        return _factors(estimate(mm_state, window))

    def update_moments(z, g, mm_state, inverse_mass):
        z_blocks, g_blocks = _blocks(z, inverse_mass), _blocks(g, inverse_mass)
        if isinstance(mm_state, dict):
            return {names: moments_update(z_blocks[names], g_blocks[names], s)
                    for names, s in mm_state.items()}
        return moments_update(z_blocks, g_blocks, mm_state)

    def init_fn(z_info, rng_key, step_size=1.0, inverse_mass_matrix=None, mass_matrix_size=None):
        rng_key, rng_key_ss = _split(rng_key)
        inverse_mass, sqrt, sqrt_inv = _initialize_mass_matrix(
            z_info[0], inverse_mass_matrix, dense_mass)
        if adapt_step_size:
            step_size = find_reasonable_step_size(step_size, inverse_mass, z_info, rng_key_ss)
        return HMCAdaptState(step_size, inverse_mass, sqrt, sqrt_inv,
                             ss_init(jnp.log(10 * step_size)), moments_init(inverse_mass),
                             jnp.array(0, dtype=jnp.int32), rng_key)

    def window_end(z_info, rng_key_ss, state):
        step_size, inverse_mass, sqrt, sqrt_inv, ss_state, mm_state, window, rng_key = state
        if adapt_mass_matrix:  # ``window`` is already the next one: the last is the end buffer
            inverse_mass, sqrt, sqrt_inv = final(mm_state, window)
            mm_state = moments_init(inverse_mass)
        if adapt_step_size:
            step_size = find_reasonable_step_size(step_size, inverse_mass, z_info, rng_key_ss)
            ss_state = ss_init(jnp.log(10) + jnp.log(step_size))
        return HMCAdaptState(step_size, inverse_mass, sqrt, sqrt_inv, ss_state, mm_state,
                             window, rng_key)

    def update_fn(t, accept_prob, z_info, state):
        step_size, inverse_mass, sqrt, sqrt_inv, ss_state, mm_state, window, rng_key = state
        rng_key, rng_key_ss = _split(rng_key)
        if adapt_step_size:
            ss_state = ss_update(target_accept_prob - accept_prob, ss_state)
            log_step_size, log_step_size_avg, *_ = ss_state
            step_size = jnp.where(t == (num_adapt_steps - 1), jnp.exp(log_step_size_avg),
                                  jnp.exp(log_step_size))
            finfo = jnp.finfo(jnp.result_type(step_size))
            step_size = jnp.clip(step_size, finfo.tiny, finfo.max)
        is_middle = (window > 0) & (window < (num_windows - 1))
        if adapt_mass_matrix:
            mm_state = cond(is_middle, (z_info[0], z_info[3], mm_state, inverse_mass),
                            lambda args: update_moments(*args), mm_state,
                            lambda args: args)
        at_end = t == schedule[window, 1]
        window = jnp.where(at_end, window + 1, window)
        state = HMCAdaptState(step_size, inverse_mass, sqrt, sqrt_inv, ss_state, mm_state,
                              window, rng_key)
        return cond(at_end & is_middle, (z_info, rng_key_ss, state),
                    lambda args: window_end(*args), state, identity)

    return init_fn, update_fn


def _split(rng_key):
    from jax import random

    if rng_key is None:
        return None, None
    return tuple(random.split(rng_key))


@contextmanager
def _adapter(adapter):
    saved = _hmc.warmup_adapter
    _hmc.warmup_adapter = adapter
    try:
        yield
    finally:
        _hmc.warmup_adapter = saved


@contextmanager
def adapting(kind: str):
    """Within this block, NumPyro's HMC/NUTS kernels initialised (``hmc``'s
    ``init_kernel``) adapt their mass matrix as ``kind`` says: ``"welford"`` (NumPyro's
    own), ``"gradient"`` or ``"gradient-then-welford"`` (:func:`gradient_warmup_adapter`)."""
    if kind == "welford":
        yield
        return
    if kind not in ESTIMATORS:
        raise ValueError(f"unknown adaptation {kind!r}")
    with _adapter(functools.partial(gradient_warmup_adapter, kind=kind)):
        yield


class GradientAdaptedNUTS(NUTS):
    """NumPyro's NUTS whose warm-up adapts the mass matrix by :func:`gradient_warmup_adapter`
    with the estimators of ``adaptation`` (a key of :data:`ESTIMATORS`).

    NumPyro builds its warm-up adapter when the kernel is initialised (``init``); this
    kernel swaps in its own for that call only, so other kernels are unaffected.
    """

    def __init__(self, *args, adaptation: str = "gradient", **kwargs):
        if adaptation not in ESTIMATORS:
            raise ValueError(f"unknown adaptation {adaptation!r}")
        super().__init__(*args, **kwargs)
        self._adaptation = adaptation

    def init(self, rng_key, num_warmup, init_params, model_args, model_kwargs):
        with adapting(self._adaptation):
            return super().init(rng_key, num_warmup, init_params, model_args, model_kwargs)
