"""Constants, argument checks and small helpers shared by the planning modules.

Every check raises a :class:`ValueError` whose message is one readable line naming
the argument, so the command line can print it as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

DESIGNS = ("worksite", "worker")
MAX_SITES = 2000
MAX_CELLS = 20_000_000  # memory guard: sims × worksites (about 100 bytes each are stored)
MIN_SIMS = 100
#: Pair-matching of worksites before a worksite-randomized trial (``"none"``: none).
MATCHES = ("none", "size", "rate")


@dataclass(frozen=True)
class Interval:
    """Posterior mean and equal-tailed interval of a per-draw quantity."""

    mean: float
    lower: float
    upper: float
    level: float = 0.9

    def to_dict(self) -> dict:
        return json_safe(self)


def interval(values: np.ndarray, level: float = 0.9) -> Interval:
    tail = (1 - level) / 2
    lower, upper = np.quantile(values, [tail, 1 - tail])
    return Interval(float(np.mean(values)), float(lower), float(upper), level)


def json_safe(obj):
    """Dataclasses, tuples and numpy scalars as JSON-safe Python objects (NaN/inf → None)."""
    if hasattr(obj, "__dataclass_fields__"):
        return {f.name: json_safe(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [json_safe(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if is_int(obj):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    return obj


# ----------------------------------------------------------------------------- validation


def is_int(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def is_number(value) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_)


def check_design(design) -> str:
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")
    return design


def min_sites(design: str) -> int:
    return 4 if design == "worksite" else 2


def check_sites(design: str, n_sites, name: str = "n_sites") -> int:
    low = min_sites(design)
    if not is_int(n_sites) or n_sites < low:
        why = " (2 per arm for the t-test)" if design == "worksite" else ""
        raise ValueError(
            f"{name} must be an integer >= {low} for the {design} design{why}, got {n_sites!r}"
        )
    if n_sites > MAX_SITES:
        raise ValueError(f"{name} must be <= {MAX_SITES}, got {n_sites}")
    return int(n_sites)


def check_workers(workers_per_site) -> int:
    if not is_int(workers_per_site) or workers_per_site < 2:
        raise ValueError(f"workers_per_site must be an integer >= 2, got {workers_per_site!r}")
    return int(workers_per_site)


def check_sizes(sizes, design: str):
    """``None`` (the population's own worksite sizes), an integer >= 2 (every worksite
    that size), or a 1-D list of worksite sizes to draw from (>= 1; in the worker design
    a worksite of one worker adds nothing). Returns None, an int or an int array."""
    if sizes is None:
        return None
    if is_int(sizes):
        return check_workers(sizes)
    try:
        values = np.asarray(sizes)
    except (TypeError, ValueError):
        values = np.asarray([])
    if values.ndim != 1 or values.size == 0 or not (
            np.issubdtype(values.dtype, np.integer) or (
                np.issubdtype(values.dtype, np.floating) and np.all(np.isfinite(values))
                and np.all(values == np.round(values)))):
        raise ValueError("workers_per_site must be an integer or a non-empty list of integer "
                         "worksite sizes")
    if values.min() < 1:
        raise ValueError(f"worksite sizes must be >= 1, got {int(values.min())}")
    return values.astype(np.int64)


def check_alpha(alpha) -> float:
    if not is_number(alpha) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    return float(alpha)


def check_sims(sims, low: int = MIN_SIMS) -> int:
    if not is_int(sims) or sims < low:
        raise ValueError(f"sims must be an integer >= {low}, got {sims!r}")
    return int(sims)


def check_seed(seed) -> int:
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_target(target_power, alpha: float) -> float:
    if not is_number(target_power) or not alpha < target_power < 1:
        raise ValueError(f"target_power must be in (alpha, 1) = ({alpha}, 1), got {target_power!r}")
    return float(target_power)


def check_share(value, name: str, upper: float = 1.0) -> float:
    if not is_number(value) or not (math.isfinite(value) and 0 <= value < upper):
        raise ValueError(f"{name} must be a number in [0, {upper:g}), got {value!r}")
    return float(value)
