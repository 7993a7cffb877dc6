"""One configuration for the whole pipeline, validated by pydantic.

Defaults live in ``organizing/config.yml`` (the study's settings where it
stated them). A profile (``quick``) applies its overrides first; a user file
then overrides any subset of keys, so an explicit setting always wins. Each
section is a frozen pydantic model that forbids unknown keys, and every value
has a type and a range. Every error is re-raised as :class:`ConfigError`, one
line per problem naming the key, e.g. ``svi.lr must be > 0 (got -1)`` or
``unknown configuration key 'svi.foo'``.

Rules beyond types and ranges:

- numbers must be finite (``svi.lr: .inf`` is refused);
- seeds (``seed``, ``split.random_state``) lie in NumPy's range, 0 <= seed < 2**32;
- draws and samples are large enough for the diagnostics they feed: at least
  100 NUTS samples per chain (bulk and tail ESS and R-hat are unreliable on
  fewer) and 100 posterior draws; one chain is allowed, and the diagnostics
  then flag R-hat as unavailable;
- a user's file may not contain ``profiles:`` (choose a profile with
  ``--profile``), and a key written twice in one YAML mapping is refused.

Settings that can only be judged against a campaign (folds against worksites,
the split against the outcome) are checked by :mod:`organizing.data.checks`.
"""

from __future__ import annotations

import math
import os
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import yaml
from annotated_types import Ge, Gt, Le, Lt
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

PROFILE_ENV = "ORGANIZING_PROFILE"
PROFILES = ("full", "quick")
SEED_LIMIT = 2**32  # NumPy's seeds: 0 <= seed < 2**32

# Minimums for draws and samples, with the reason given in the error message.
MIN_NUTS_SAMPLES = 100
MIN_POSTERIOR_DRAWS = 100


class ConfigError(ValueError):
    """A configuration value is unknown, duplicated, of the wrong type or out of range."""


# --------------------------------------------------------------------------- value types


def _integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("integer", "must be of type int")
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("number", "must be a number")
    if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as text
        try:
            return float(value)
        except ValueError:
            raise PydanticCustomError("number", "must be a number") from None
    if not isinstance(value, int | float):
        raise PydanticCustomError("number", "must be a number")
    if not math.isfinite(value):
        raise PydanticCustomError("finite_number", "must be a finite number")
    return value


Count = Annotated[int, BeforeValidator(_integer)]
Number = Annotated[float, BeforeValidator(_number), Field(allow_inf_nan=False)]
Seed = Annotated[Count, Field(ge=0, lt=SEED_LIMIT, json_schema_extra={"why": "NumPy's seed range"})]


def _why(text: str) -> dict:
    """A reason, added to the error message of a range rule."""
    return {"why": text}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _rule(message: str) -> PydanticCustomError:
    return PydanticCustomError("config_rule", message)


# --------------------------------------------------------------------------- sections


class SplitConfig(_Section):
    test_size: Number = Field(gt=0, lt=1)
    random_state: Seed


Beta = Annotated[Number, Field(ge=0, lt=1)]


class CodeOptimizerConfig(_Section):
    """The optimizer as the study's code runs it: a fixed number of steps, no stopping rule."""

    lr: Number = Field(gt=0)
    lr_decay: Number = Field(gt=0, le=1)
    betas: tuple[Beta, Beta]
    steps: Count = Field(gt=0)


class SviConfig(_Section):
    lr: Number = Field(gt=0)
    lr_decay: Number = Field(gt=0, le=1)
    betas: tuple[Beta, Beta]
    max_steps: Count = Field(gt=0)
    min_steps: Count = Field(ge=0)
    window: Count = Field(gt=0)
    rtol: Number = Field(gt=0)
    code_optimizer: CodeOptimizerConfig

    @property
    def fit_settings(self) -> dict:
        """The keyword arguments of ``fit_svi`` for the replication (the report's optimizer)."""
        return {"lr": self.lr, "lr_decay": self.lr_decay, "betas": self.betas,
                "max_steps": self.max_steps, "min_steps": self.min_steps,
                "window": self.window, "rtol": self.rtol}

    @property
    def code_fit_settings(self) -> dict:
        """The keyword arguments of ``fit_svi`` for the code's optimizer: fixed steps."""
        code = self.code_optimizer
        return {"lr": code.lr, "lr_decay": code.lr_decay, "betas": code.betas,
                "max_steps": code.steps, "stop_early": False}

    @model_validator(mode="after")
    def _steps(self):
        if self.min_steps > self.max_steps:
            raise _rule(f"svi.min_steps must not exceed svi.max_steps "
                        f"(got {self.min_steps} > {self.max_steps})")
        return self


class PosteriorConfig(_Section):
    draws: Count = Field(ge=MIN_POSTERIOR_DRAWS, json_schema_extra=_why(
        "posterior means, intervals and the predictive check need enough draws"))


class NutsConfig(_Section):
    chains: Count = Field(ge=1, json_schema_extra=_why(
        "NUTS needs a chain; with only one, the diagnostics flag R-hat as unavailable"))
    warmup: Count = Field(gt=0)
    samples: Count = Field(ge=MIN_NUTS_SAMPLES, json_schema_extra=_why(
        "bulk and tail ESS and R-hat need enough draws per chain"))
    target_accept: Number = Field(gt=0, lt=1)


class EvaluationConfig(_Section):
    worksite_folds: Count = Field(ge=2)
    ppc_draws: Count = Field(gt=0)


class ClusteringConfig(_Section):
    K: Count = Field(gt=0)
    sigma: Number = Field(gt=0)
    eta: Number = Field(gt=0)
    eta_corrected: Number = Field(gt=0)
    alpha0: Number = Field(gt=0)
    iterations: Count = Field(gt=0)
    burn_in: Count = Field(ge=0)
    chains: Count = Field(gt=0)
    train_sites: Count = Field(ge=2)
    K_grid: tuple[Annotated[Count, Field(ge=1)], ...] = Field(min_length=1)
    sigma_grid_points: Count = Field(ge=5, json_schema_extra=_why(
        "the grid holds the study's four sigmas and more"))
    cv_folds: Count = Field(ge=2)
    test_restarts: Count = Field(gt=0)
    test_iterations: Count = Field(gt=0)

    @model_validator(mode="after")
    def _burn_in(self):
        if self.burn_in >= self.iterations:
            raise _rule(f"clustering.burn_in must be smaller than clustering.iterations "
                        f"(got {self.burn_in} >= {self.iterations})")
        return self


class SbcConfig(_Section):
    replications: Count = Field(ge=2, json_schema_extra=_why(
        "a rank histogram needs more than one replication"))
    sites: Count = Field(ge=2)
    workers_per_site: Count = Field(ge=5, json_schema_extra=_why(
        "the simulator draws at least 5 workers per worksite"))
    warmup: Count = Field(gt=0)
    samples: Count = Field(ge=MIN_NUTS_SAMPLES, json_schema_extra=_why(
        "each replication's ranks and diagnostics need enough draws"))


class ErrorRatesConfig(_Section):
    null_campaigns: Count = Field(ge=1)
    planted_campaigns: Count = Field(ge=1)
    chains: Count = Field(ge=1)
    warmup: Count = Field(gt=0)
    samples: Count = Field(ge=MIN_NUTS_SAMPLES, json_schema_extra=_why(
        "a verdict's tail probability needs enough draws"))


SiteCount = Annotated[Count, Field(ge=4, json_schema_extra=_why(
    "the worksite design needs 2 worksites per arm"))]


class RehearsalConfig(_Section):
    sites: SiteCount
    effect: Number = Field(gt=0, lt=1)
    seed: Seed
    warmup: Count = Field(gt=0)
    samples: Count = Field(ge=MIN_NUTS_SAMPLES, json_schema_extra=_why(
        "R-hat and ESS need enough draws"))


class PlanningConfig(_Section):
    sims: Count = Field(ge=100, json_schema_extra=_why(
        "from fewer simulated trials a power estimate's standard error can exceed 0.05"))
    effects: tuple[Annotated[Number, Field(gt=0, lt=1)], ...] = Field(min_length=1)
    sites_grid: tuple[SiteCount, ...] = Field(min_length=1)
    option_sites: tuple[SiteCount, ...] = Field(min_length=1)
    contamination: tuple[Annotated[Number, Field(gt=0, lt=1)], ...]
    effect_sd: Number = Field(ge=0, lt=5)
    rehearsal: RehearsalConfig

    @model_validator(mode="after")
    def _even(self):
        for name, values in (("option_sites", self.option_sites),
                             ("rehearsal.sites", (self.rehearsal.sites,))):
            odd = [n for n in values if n % 2]
            if odd:
                raise _rule(f"planning.{name} must be even: stores are compared in pairs "
                            f"(got {odd[0]})")
        return self


class DisclosureConfig(_Section):
    min_count: Count = Field(ge=1)


class Config(_Section):
    """Validated settings, read by attribute (``config.svi.lr``); ``values`` is the plain
    dict (hashed for the cache key and kept with the results)."""

    profile: str = Field(default="full", exclude=True)
    seed: Seed
    split: SplitConfig
    svi: SviConfig
    posterior: PosteriorConfig
    nuts: NutsConfig
    evaluation: EvaluationConfig
    clustering: ClusteringConfig
    sbc: SbcConfig
    error_rates: ErrorRatesConfig
    planning: PlanningConfig
    disclosure: DisclosureConfig

    @property
    def values(self) -> dict:
        """Every setting as plain JSON values (lists, not tuples); no profile name."""
        return self.model_dump(mode="json")


# --------------------------------------------------------------------------- YAML


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key written twice in one mapping."""

    def construct_document(self, node):
        _refuse_duplicates(node, "")
        return super().construct_document(node)


class _DuplicateKey(Exception):
    def __init__(self, key: str, lines: tuple[int, int]):
        super().__init__(key)
        self.key, self.lines = key, lines


def _refuse_duplicates(node: yaml.Node, prefix: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _DuplicateKey(prefix + key, (seen[key], line))
            seen[key] = line
            _refuse_duplicates(value_node, f"{prefix}{key}.")
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicates(item, prefix)


def _read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as error:
        first, second = error.lines
        raise ConfigError(f"duplicate key {error.key!r} in {source} (lines {first} and {second}); "
                          "write each key once") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{source} is not valid YAML{where}: {problem}") from None


def _read_user_file(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"configuration file {path} is a directory, not a file") from None
    except PermissionError:
        raise ConfigError(f"configuration file {path}: permission denied") from None
    except UnicodeDecodeError:
        raise ConfigError(f"configuration file {path} is not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(f"configuration file {path} cannot be read: "
                          f"{error.strerror or error}") from None
    user = _read_yaml(text, str(path))
    if user is None:
        return {}
    if not isinstance(user, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping of keys to values")
    for key in ("profiles", "profile"):
        if key in user:
            raise ConfigError(
                f"the key {key!r} is not allowed in a configuration file ({path}): choose a "
                f"profile with --profile or ${PROFILE_ENV}, and write the settings you want "
                "to change at the top level")
    return user


def _defaults() -> dict:
    text = files("organizing").joinpath("config.yml").read_text(encoding="utf-8")
    return _read_yaml(text, "organizing/config.yml")


def _merge(base: dict, override: dict) -> dict:
    """``base`` overridden by ``override``; unknown keys are kept for the model to refuse."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# --------------------------------------------------------------------------- errors


def _key(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _field(loc: tuple):
    """The pydantic field (FieldInfo) at ``loc``, or None (list items, unknown keys)."""
    model: Any = Config
    info = None
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        info = model.model_fields.get(part)
        if info is None:
            return None
        model = info.annotation
    return info


def _known_keys(loc: tuple) -> str:
    model: Any = Config
    for part in loc:
        info = model.model_fields.get(part) if isinstance(model, type) else None
        if info is None:
            return ""
        model = info.annotation
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return ""
    return ", ".join(name for name in model.model_fields if name != "profile")


def _bounds(info) -> str | None:
    """The range rule of a field in words: '> 0', 'between 0 and 1', '> 0 and <= 1'."""
    low = high = None
    for item in info.metadata:
        if isinstance(item, Gt):
            low = ("> ", item.gt)
        elif isinstance(item, Ge):
            low = (">= ", item.ge)
        elif isinstance(item, Lt):
            high = ("< ", item.lt)
        elif isinstance(item, Le):
            high = ("<= ", item.le)
    if low and high:
        if low[0] == "> " and high[0] == "< ":
            return f"strictly between {_show(low[1])} and {_show(high[1])}"
        return f"{low[0]}{_show(low[1])} and {high[0]}{_show(high[1])}"
    bound = low or high
    return f"{bound[0]}{_show(bound[1])}" if bound else None


def _show(bound) -> str:
    return "2**32" if bound == SEED_LIMIT else str(bound)


def _message(error: dict) -> str:
    loc, kind, value = error["loc"], error["type"], error.get("input")
    key = _key(loc)
    got = f"(got {value!r})"
    if kind == "config_rule":
        return error["msg"]
    if kind == "extra_forbidden":
        known = _known_keys(loc[:-1])
        places = [f"{name}.{loc[-1]}" for name, info in Config.model_fields.items()
                  if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
                  and loc[-1] in info.annotation.model_fields and (name,) != tuple(loc[:-1])]
        hint = f"; did you mean {' or '.join(places)}?" if places else ""
        return (f"unknown configuration key {key!r}"
                + (f" (known here: {known})" if known else "") + hint)
    if kind == "missing":
        return f"{key} is missing from the configuration"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{key} must be a mapping {got}"
    if kind == "integer":
        return f"{key} must be of type int {got}"
    if kind in ("number", "float_type", "float_parsing"):
        return f"{key} must be a number {got}"
    if kind == "finite_number":
        return f"{key} must be a finite number {got}"
    if kind in ("tuple_type", "list_type"):
        return f"{key} must be a list {got}"
    if kind == "too_short":
        return f"{key} must be a non-empty list {got}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        info = _field(loc)
        rule = _bounds(info) if info is not None else None
        if rule is None:  # a list item: pydantic's own bound
            ctx = error.get("ctx", {})
            symbol = {"gt": "> ", "ge": ">= ", "lt": "< ", "le": "<= "}
            rule = next(f"{symbol[k]}{v}" for k, v in ctx.items() if k in symbol)
        extra = (info.json_schema_extra or {}) if info is not None else {}
        why = f": {extra['why']}" if isinstance(extra, dict) and "why" in extra else ""
        return f"{key} must be {rule} {got}{why}"
    return f"{key}: {error['msg']} {got}"


# --------------------------------------------------------------------------- loading


def load_config(path: str | os.PathLike | None = None, profile: str | None = None) -> Config:
    """Defaults, then the profile's overrides, then the file at ``path``.

    A setting written in the user's file always wins over the profile.
    ``profile`` defaults to ``$ORGANIZING_PROFILE``, else ``full``. Raises
    :class:`ConfigError` with one line per problem, each naming the key.
    """
    profile = profile or os.environ.get(PROFILE_ENV) or "full"
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})")
    values = _defaults()
    overrides = values.pop("profiles")
    values = _merge(values, overrides.get(profile, {}))
    if path is not None:
        values = _merge(values, _read_user_file(Path(path)))
    try:
        return Config.model_validate({**values, "profile": profile})
    except ValidationError as error:
        lines = [_message(e) for e in error.errors(include_url=False)]
        raise ConfigError("\n".join(dict.fromkeys(lines))) from None


# --------------------------------------------------------------------------- paths

#: Files that mark the project's root folder (both must be there).
ROOT_MARKERS = ("pyproject.toml", "_quarto.yml")


class PathError(OSError):
    """No project folder and no explicit path: the package does not guess where the
    campaign or its results are."""


def project_root(start: str | os.PathLike | None = None) -> Path | None:
    """The nearest folder, from ``start`` (default: the working directory) upwards, that
    holds both :data:`ROOT_MARKERS`; None when there is none.

    The campaign data (``data/``) and the results cache (``.cache/organizing/``)
    resolve against it, so that a command run from a subfolder of the project
    finds them, and one run from an unrelated folder finds nothing rather than
    another campaign.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / marker).is_file() for marker in ROOT_MARKERS):
            return folder
    return None


def require_root(what: str, variable: str) -> Path:
    """The project root, or a one-line :class:`PathError` saying where the package looked
    and what to set instead (``what``: the thing looked for; ``variable``: its setting)."""
    root = project_root()
    if root is None:
        raise PathError(
            f"no {what}: {Path.cwd()} is not inside the project (no folder from there up "
            f"holds {' and '.join(ROOT_MARKERS)}); run from the project folder, or set "
            f"{variable}")
    return root
