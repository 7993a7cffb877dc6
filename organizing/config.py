"""One configuration for the whole pipeline.

Defaults live in ``organizing/config.yml`` (the study's settings where it
stated them). A profile (``quick``) applies its overrides first; a user file
then overrides any subset of keys, so an explicit setting always wins. Every
value is checked against the type of its default and a range rule, and an
error names the key, e.g.
``svi.lr must be > 0 (got -1)``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

PROFILE_ENV = "ORGANIZING_PROFILE"
PROFILES = ("full", "quick")


class ConfigError(ValueError):
    """A configuration value is unknown, of the wrong type or out of range."""


def _positive(v):
    return v > 0


def _unit(v):
    return 0 < v < 1


def _non_negative(v):
    return v >= 0


_RULES: dict[str, tuple[Any, str]] = {
    "split.test_size": (_unit, "be between 0 and 1"),
    "svi.lr": (_positive, "be > 0"),
    "svi.lr_decay": (lambda v: 0 < v <= 1, "be in (0, 1]"),
    "svi.max_steps": (_positive, "be > 0"),
    "svi.min_steps": (_non_negative, "be >= 0"),
    "svi.window": (_positive, "be > 0"),
    "svi.rtol": (_positive, "be > 0"),
    "posterior.draws": (lambda v: v >= 100, "be >= 100"),
    "nuts.chains": (_positive, "be > 0"),
    "nuts.warmup": (_positive, "be > 0"),
    "nuts.samples": (_positive, "be > 0"),
    "evaluation.worksite_folds": (lambda v: v >= 2, "be >= 2"),
    "evaluation.ppc_draws": (_positive, "be > 0"),
    "clustering.K": (_positive, "be > 0"),
    "clustering.sigma": (_positive, "be > 0"),
    "clustering.eta": (_positive, "be > 0"),
    "clustering.eta_corrected": (_positive, "be > 0"),
    "clustering.alpha0": (_positive, "be > 0"),
    "clustering.iterations": (_positive, "be > 0"),
    "clustering.burn_in": (_non_negative, "be >= 0"),
    "clustering.chains": (_positive, "be > 0"),
    "clustering.train_sites": (lambda v: v >= 2, "be >= 2"),
    "clustering.K_grid": (lambda v: len(v) > 0 and all(k >= 1 for k in v),
                          "be a non-empty list of integers >= 1"),
    "clustering.sigma_grid_points": (lambda v: v >= 5, "be >= 5 (the study's four and more)"),
    "clustering.coefficient_draws": (_positive, "be > 0"),
}


def _defaults() -> dict:
    return yaml.safe_load(files("organizing").joinpath("config.yml").read_text())


def _type_ok(default, value) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, list):
        return isinstance(value, list) and (
            not default or all(_type_ok(default[0], v) for v in value)
        )
    return isinstance(value, type(default))


def _merge(base: dict, override: dict, prefix: str = "") -> dict:
    """Override ``base`` with ``override``, rejecting unknown keys and wrong types."""
    if not isinstance(override, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'the configuration'} must be a mapping")
    merged = copy.deepcopy(base)
    for key, value in override.items():
        name = f"{prefix}{key}"
        if key not in base:
            known = ", ".join(sorted(base))
            raise ConfigError(f"unknown configuration key {name!r} (known here: {known})")
        if isinstance(base[key], dict):
            merged[key] = _merge(base[key], value, f"{name}.")
        elif isinstance(base[key], float) and isinstance(value, str):  # YAML reads 1e-4 as text
            try:
                merged[key] = float(value)
            except ValueError:
                raise ConfigError(f"{name} must be a number (got {value!r})") from None
        elif not _type_ok(base[key], value):
            kind = type(base[key]).__name__
            raise ConfigError(f"{name} must be of type {kind} (got {value!r})")
        else:
            merged[key] = float(value) if isinstance(base[key], float) else value
    return merged


def _check_ranges(values: dict) -> None:
    for name, (rule, words) in _RULES.items():
        section, key = name.split(".")
        value = values[section][key]
        if not rule(value):
            raise ConfigError(f"{name} must {words} (got {value!r})")
    if values["svi"]["min_steps"] > values["svi"]["max_steps"]:
        raise ConfigError("svi.min_steps must not exceed svi.max_steps")
    clustering = values["clustering"]
    if clustering["burn_in"] >= clustering["iterations"]:
        raise ConfigError("clustering.burn_in must be smaller than clustering.iterations")


@dataclass(frozen=True)
class Config:
    """Validated settings; ``section(name)`` returns one block as a dict."""

    values: dict
    profile: str = "full"

    def section(self, name: str) -> dict:
        return dict(self.values[name])

    @property
    def seed(self) -> int:
        return self.values["seed"]

    def fingerprint(self) -> str:
        """A stable hash of every value (part of the cache key)."""
        text = json.dumps(self.values, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_config(path: str | os.PathLike | None = None, profile: str | None = None) -> Config:
    """Defaults, then the profile's overrides, then the file at ``path``.

    A setting written in the user's file always wins over the profile.

    ``profile`` defaults to ``$ORGANIZING_PROFILE``, else ``full``.
    """
    profile = profile or os.environ.get(PROFILE_ENV) or "full"
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})")
    defaults = _defaults()
    overrides = defaults.pop("profiles")
    values = defaults if profile == "full" else _merge(defaults, overrides[profile])
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"configuration file {path} not found")
        try:
            user = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path} is not valid YAML: {error}") from error
        if isinstance(user, dict):
            user.pop("profiles", None)
        values = _merge(values, user)
    _check_ranges(values)
    return Config(values=values, profile=profile)
