"""The protocol sheet: what a trial will do and how it will be judged, written before it runs.

``organizing randomize`` writes it beside the assignment as YAML (readable by
people, read back by ``organizing analyse-trial``). It fixes the analysis before
any outcome exists: the analysis run afterwards is the one named here, on the
assignment whose SHA-256 it records.

Keys: ``protocol`` (format version), ``created`` (date), ``design``, ``unit``,
``seed``, ``blocks`` (``by``, ``size``, ``count``), ``hypothesis``,
``primary_outcome``, ``window`` (``start``, ``end``), ``analysis`` (``test``,
``adjusted``, ``covariate``, ``alpha``, ``sides``, ``bayesian``, ``prior``),
``planned`` (``stores``, ``treated_stores``, ``control_stores``, ``workers``,
``effect``, ``power``, ``power_mc_se``, ``mde``, ``note``) and ``assignment``
(``file``, ``sha256``, ``rows``).
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from organizing.planning.randomize import Assignment

VERSION = 1
DEFAULT_OUTCOME = ("cards signed within the window per worker on the roster at randomization "
                   "(workers who left still count, in the arm they were assigned to)")


@dataclass(frozen=True)
class Prior:
    r"""Priors of the Bayesian trial model (:mod:`organizing.planning.trial`).

    ``intercept`` ~ Normal(intercept_mean, intercept_sd) on the log-odds of signing;
    the treatment's log odds ratio ~ Normal(0, effect_sd); the sd of the store
    intercepts ~ HalfNormal(store_sd) (``source="weakly informative"``) or
    LogNormal(store_sd_log_mean, store_sd_log_sd) (``source="campaign"``: fitted to
    the campaign posterior's between-store sd); the forecast's slope ~ Normal(1, 1).
    """

    source: str = "weakly informative"
    intercept_mean: float = -1.4  # logit 0.2
    intercept_sd: float = 1.5
    effect_sd: float = 1.0
    store_sd: float = 1.5
    store_sd_log_mean: float | None = None
    store_sd_log_sd: float | None = None


@dataclass(frozen=True)
class Protocol:
    """The sheet's content (module docstring); :func:`write` and :func:`read`."""

    design: str
    seed: int
    blocks: dict
    hypothesis: str
    primary_outcome: str
    window: dict
    analysis: dict
    planned: dict
    assignment: dict
    created: str = ""
    unit: str = ""
    prior: Prior = field(default_factory=Prior)


def sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def analysis_names(design: str, blocked: bool, covariate: bool) -> dict[str, str]:
    """The pre-specified test and adjusted estimate, in words, for a design."""
    if design == "worksite":
        test = ("t-test on the stores' signing rates, each store counting once"
                + (", with one intercept per block" if blocked else ""))
        adjusted = ("the same regression adjusted for the stores' forecast signing rates"
                    if covariate else "none (no forecast rate for every store)")
    else:
        test = "Cochran-Mantel-Haenszel test, each store a stratum"
        adjusted = "within-store difference in signing rates, pooled over stores"
    return {"test": test, "adjusted": adjusted}


def build(assignment: Assignment, assignment_file: str, digest: str, *, hypothesis: str,
          primary_outcome: str = DEFAULT_OUTCOME, window: tuple[str, str] | None = None,
          alpha: float = 0.05, planned: dict | None = None, prior: Prior | None = None,
          today: datetime.date | None = None) -> Protocol:
    """The protocol of a drawn assignment (dates as ISO text)."""
    if window is not None:
        start, end = (_date(w, name) for w, name in zip(window, ("start", "end"), strict=True))
        if end < start:
            raise ValueError(f"the window ends ({end}) before it starts ({start})")
        window_dict = {"start": start.isoformat(), "end": end.isoformat()}
    else:
        window_dict = {"start": None, "end": None}
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    stores = assignment.stores
    covariate = bool(assignment.design == "worksite" and stores["forecast"].notna().all())
    names = analysis_names(assignment.design, assignment.block_by in ("size", "rate"),
                           covariate)
    table = assignment.table
    treated_units = int((table["arm"] == "treated").sum())
    counts = {"stores": int(len(stores)), "workers": int(
        stores["workers"].sum() if assignment.design == "worksite" else len(table))}
    if assignment.design == "worksite":
        counts |= {"treated_stores": treated_units, "control_stores": len(table) - treated_units}
    else:
        counts |= {"treated_workers": treated_units, "control_workers": len(table) - treated_units}
    prior = prior or Prior()
    return Protocol(
        design=assignment.design,
        seed=assignment.seed,
        blocks={"by": assignment.block_by, "size": assignment.block_size,
                "count": assignment.blocks},
        hypothesis=hypothesis,
        primary_outcome=primary_outcome,
        window=window_dict,
        analysis={**names, "covariate": "forecast" if covariate else None,
                  "alpha": float(alpha), "sides": "two-sided",
                  "bayesian": "varying-intercept logistic regression (NumPyro NUTS); the "
                              "effect is the average change in signing probability over "
                              "the trial's workers, with a 90% interval"},
        planned={**counts, **(planned or {})},
        assignment={"file": assignment_file, "sha256": digest, "rows": int(len(table))},
        created=(today or datetime.date.today()).isoformat(),
        unit="stores" if assignment.design == "worksite" else "workers within stores",
        prior=prior,
    )


def _date(text, name: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(str(text))
    except ValueError:
        raise ValueError(f"the window's {name} must be a date like 2025-03-01, "
                         f"got {text!r}") from None


_ORDER = ("protocol", "created", "design", "unit", "seed", "blocks", "hypothesis",
          "primary_outcome", "window", "analysis", "prior", "planned", "assignment")


def write(protocol: Protocol, path) -> None:
    """Write the sheet as YAML with a short header, atomically."""
    data = asdict(protocol)
    data["protocol"] = VERSION
    ordered = {key: data[key] for key in _ORDER}
    header = ("# Trial protocol, written before the trial by `organizing randomize`.\n"
              "# Do not edit after the trial starts: `organizing analyse-trial` runs the\n"
              "# analysis named here on the assignment file whose sha256 is recorded.\n")
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(header + yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True,
                                                 width=88))
    temporary.replace(path)


class ProtocolError(ValueError):
    """A protocol sheet that cannot be read back; the message is one line."""


def read(path) -> Protocol:
    """Read a sheet written by :func:`write`, checking every key it needs."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise ProtocolError(f"{path}: cannot be read ({error.__class__.__name__})") from None
    except yaml.YAMLError:
        raise ProtocolError(f"{path}: is not a protocol sheet (not valid YAML)") from None
    if not isinstance(data, dict) or data.get("protocol") != VERSION:
        raise ProtocolError(f"{path}: is not a protocol sheet of version {VERSION}")
    missing = [k for k in _ORDER if k not in data]
    if missing:
        raise ProtocolError(f"{path}: the protocol lacks {', '.join(missing)}")
    if data["design"] not in ("worksite", "worker"):
        raise ProtocolError(f"{path}: unknown design {data['design']!r}")
    assignment = data["assignment"]
    if not isinstance(assignment, dict) or not {"file", "sha256", "rows"} <= set(assignment):
        raise ProtocolError(f"{path}: the assignment entry needs file, sha256 and rows")
    analysis = data["analysis"]
    if not isinstance(analysis, dict) or not isinstance(analysis.get("alpha"), float):
        raise ProtocolError(f"{path}: the analysis entry needs alpha")
    try:
        prior = Prior(**data["prior"])
    except TypeError:
        raise ProtocolError(f"{path}: the prior entry has unknown or missing keys") from None
    data.pop("protocol")
    data["prior"] = prior
    return Protocol(**data)


def assignment_path(protocol: Protocol, protocol_path) -> Path:
    """The assignment file, relative to the protocol sheet's folder."""
    return Path(protocol_path).parent / protocol.assignment["file"]
