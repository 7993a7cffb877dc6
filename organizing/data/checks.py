"""Can a validated campaign be analysed, with these settings?

The schemas check each value; these checks look at the campaign as a whole and
at the settings it will be analysed with, so that data that validates never
crashes a run, nor gives a NaN, nor is silently changed. Each problem names
what is wrong and what would fix it, in the same report as the schema's
failures (:func:`organizing.data.read_and_validate`, ``organizing validate``),
and :func:`organizing.data.assert_analysable` refuses the campaign before
anything is fitted.

:data:`MINIMUMS` is the one table of them (the appendix prints it). The minimums,
and why:

- ``MIN_PER_CLASS`` signers and as many non-signers: the models, the pooled
  logistic regression and every AUC need both outcomes, on each side of a split;
- ``MIN_SITES`` worksites: the clustering trains on the coefficient vectors of
  at least ``MIN_CLUSTER_TRAIN`` worksites and scores at least
  ``MIN_CLUSTER_HELDOUT`` held out (a smaller campaign holds out about a sixth);
- every worksite has workers (otherwise its coefficients are the prior's and
  its signing rate is 0/0), and the median worksite ``MIN_MEDIAN_WORKERS``
  (planning simulates trials of that size);
- every feature and worksite descriptor is finite, with ``|x| <= MAX_ABS_VALUE``:
  standardizing squares the values, and a larger one overflows float64 and
  turns the whole column into zeros.

Against the settings: at least as many worksites (with workers) as
``evaluation.worksite_folds``; both outcomes in the training and the held-out
part of the study's split (``split.test_size``, ``split.random_state``) and in
every held-out-worksite fold; ``clustering.K_grid`` no larger than the number
of worksites. The splits are drawn here with the same scikit-learn calls, and
arguments, as :func:`organizing.features.study_split` and
:func:`organizing.features.worksite_folds` (the data layer does not import the
later stages; a test checks that both agree).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from organizing.config import Config
from organizing.data.io import (
    SETTINGS,
    SOURCES,
    WORKER_FILE,
    WORKSITE_FILE,
    Campaign,
    DataError,
    FailureTally,
    Problem,
    ValidationReport,
    _read_and_validate,
    _validate,
    campaign_from_frames,
    locate_data,
    sha256,
)
from organizing.data.splits import study_split, worksite_folds

MIN_PER_CLASS = 2
MIN_CLUSTER_TRAIN = 2
MIN_CLUSTER_HELDOUT = 2
MIN_SITES = MIN_CLUSTER_TRAIN + MIN_CLUSTER_HELDOUT
MIN_MEDIAN_WORKERS = 2
MAX_ABS_VALUE = 1e150


@dataclass(frozen=True)
class Minimum:
    """One minimum a later stage needs, checked here before anything is fitted."""

    what: str
    least: str
    needed_by: str


#: Every minimum a later stage checks, in one table (the appendix prints it).
MINIMUMS: tuple[Minimum, ...] = (
    Minimum("signers, and non-signers, in the campaign", str(MIN_PER_CLASS),
            "every model, the pooled regression and every AUC"),
    Minimum("signers and non-signers in the training and the held-out part of the "
            "study's split", "1 each", "fitting, and the held-out AUC"),
    Minimum("worksites", str(MIN_SITES),
            f"the clustering: {MIN_CLUSTER_TRAIN} worksites' coefficients to train on and "
            f"{MIN_CLUSTER_HELDOUT} held out"),
    Minimum("workers at every worksite", "1", "a worksite's coefficients and signing rate"),
    Minimum("median number of workers per worksite", str(MIN_MEDIAN_WORKERS),
            "planning: simulated trials have the campaign's median worksite size, and a "
            "trial needs 2 workers per worksite"),
    Minimum("worksites with workers, per held-out worksite fold", "1 (folds ≤ worksites)",
            "the held-out worksite evaluation (evaluation.worksite_folds)"),
    Minimum("signers and non-signers in each fold's training and held-out workers",
            "1 each", "each fold's pooled regression and AUC"),
    Minimum("worksites, per cluster tried", "1 (largest K ≤ worksites)",
            "the clustering (clustering.K_grid)"),
)


def minimum_sites(config: Config) -> int:
    """The fewest worksites a campaign needs under ``config``: the clustering's
    :data:`MIN_SITES`, and at least one worksite per held-out fold and per cluster tried."""
    return max(MIN_SITES, config.evaluation.worksite_folds, max(config.clustering.K_grid))


def check_campaign(campaign_or_frames: Campaign | Mapping[str, pd.DataFrame],
                   config: Config) -> list[Problem]:
    """Every reason why ``campaign_or_frames`` (a Campaign, or validated frames keyed
    by file name) cannot be analysed with ``config``; empty when it can."""
    campaign = campaign_or_frames
    if not isinstance(campaign, Campaign):
        campaign = campaign_from_frames(dict(campaign_or_frames))
    problems = _values(campaign)
    outcome = _outcome(campaign)
    sites = _worksites(campaign)
    if not sites:
        problems += _mean_degree(campaign)
    problems += outcome + sites
    if not sites:
        problems += _planning_size(campaign)
    if not outcome:
        problems += _split(campaign, config)
    if not outcome and not sites:
        problems += _folds(campaign, config)
    if campaign.n_sites >= MIN_SITES:
        problems += _clustering(campaign, config)
    return problems


def _values(campaign: Campaign) -> list[Problem]:
    """Finite, and small enough to standardize."""
    workers, sites = FailureTally(WORKER_FILE), FailureTally(WORKSITE_FILE)
    descriptors = campaign.site_descriptors
    blocks = (
        (workers, campaign.worker_x, campaign.worker_features),
        (sites, campaign.site_x, campaign.site_features),
        (sites, descriptors.to_numpy(dtype=float), tuple(descriptors.columns)),
    )
    seen = set()
    for tally, x, names in blocks:
        for j, name in enumerate(names):
            if (tally.file, name) in seen:
                continue
            seen.add((tally.file, name))
            v = x[:, j]
            finite = np.isfinite(v)
            tally.rows(name, "is not a finite number", np.flatnonzero(~finite), v[~finite],
                       fix="replace it with a finite value, or remove the row")
            huge = finite & (np.abs(np.where(finite, v, 0.0)) > MAX_ABS_VALUE)
            tally.rows(name, f"is too large to standardize (|value| > {MAX_ABS_VALUE:.0e})",
                       np.flatnonzero(huge), v[huge],
                       fix="rescale or cap the column (its square overflows float64)")
    return workers.problems() + sites.problems()


#: How far Log(Mean degree) may be from ln(No. edges / workers) (float rounding of a CSV).
MEAN_DEGREE_ATOL = 1e-6


def _mean_degree(campaign: Campaign) -> list[Problem]:
    """``Mean degree`` is one definition everywhere (organizing.data.network.mean_degree):
    No. edges over the worksite's rows in the worker file."""
    from organizing.data.network import mean_degree

    features = list(campaign.site_features)
    if "Log(Mean degree)" not in features or "No. edges" not in campaign.site_descriptors:
        return []
    workers = np.bincount(campaign.site_index, minlength=campaign.n_sites)
    expected = mean_degree(campaign.site_descriptors["No. edges"].to_numpy(dtype=float), workers)
    stored = campaign.site_x[:, features.index("Log(Mean degree)")]
    with np.errstate(divide="ignore", invalid="ignore"):
        off = ~(np.abs(stored - np.log(expected)) <= MEAN_DEGREE_ATOL)
    tally = FailureTally(WORKSITE_FILE)
    tally.rows("Mean degree", "is not No. edges / the worksite's workers in the worker file",
               np.flatnonzero(off), np.exp(stored[off]),
               fix="Mean degree is edges per worker (organizing prepare computes it)")
    return tally.problems()


def _outcome(campaign: Campaign) -> list[Problem]:
    n = campaign.n_workers
    signers = int(np.sum(campaign.signed == 1))
    others = n - signers
    if signers >= MIN_PER_CLASS and others >= MIN_PER_CLASS:
        return []
    if n == 0:
        what = "no worker in the file"
    elif signers == 0:
        what = "no worker signed"
    elif others == 0:
        what = "every worker signed"
    else:
        what = f"{signers:,} of {n:,} workers signed"
    return [Problem(
        WORKER_FILE, "Signed", what, None,
        f"{_count(signers, 'signer')}, {_count(others, 'non-signer')}",
        f"the models and every held-out metric need at least {MIN_PER_CLASS} signers and "
        f"{MIN_PER_CLASS} non-signers; check the export of the outcome")]


def _worksites(campaign: Campaign) -> list[Problem]:
    problems = []
    if campaign.n_sites < MIN_SITES:
        problems.append(Problem(
            WORKSITE_FILE, "Worksite ID", f"only {campaign.n_sites} worksite(s)", None, "",
            f"the analysis needs at least {MIN_SITES} worksites: the clustering trains on "
            f"at least {MIN_CLUSTER_TRAIN} worksites' coefficients and scores at least "
            f"{MIN_CLUSTER_HELDOUT} held out"))
    workers = np.bincount(campaign.site_index, minlength=campaign.n_sites)
    tally = FailureTally(WORKSITE_FILE)
    tally.rows("Worksite ID", "has no worker in the worker file", np.flatnonzero(workers == 0),
               fix="remove these worksites, or add their workers")
    return problems + tally.problems()


def _planning_size(campaign: Campaign) -> list[Problem]:
    workers = np.bincount(campaign.site_index, minlength=campaign.n_sites)
    median = float(np.median(workers))
    if int(median) >= MIN_MEDIAN_WORKERS:
        return []
    return [Problem(
        WORKER_FILE, "Worksite ID", f"the median worksite has {median:g} worker(s)", None, "",
        f"planning simulates trials with the median number of workers per worksite and needs "
        f"at least {MIN_MEDIAN_WORKERS}; a campaign with one worker per worksite cannot "
        "separate worksites from workers")]


def _split(campaign: Campaign, config: Config) -> list[Problem]:
    size, state = config.split.test_size, config.split.random_state
    try:
        train, test = study_split(campaign.n_workers, test_size=size, seed=state)
    except ValueError:
        return [Problem(
            SETTINGS, "split.test_size",
            f"{size} of {campaign.n_workers:,} workers leaves one side of the split empty",
            None, "", "choose a test_size that holds out at least one worker and trains on "
            "at least one")]
    problems = []
    for part, rows, consequence in (
        ("training", train, "the models cannot learn who signs"),
        ("held-out", test, "the held-out AUC is undefined (NaN)"),
    ):
        signed = campaign.signed[rows]
        missing = [label for label, present in (("signer", np.any(signed == 1)),
                                                ("non-signer", np.any(signed == 0)))
                   if not present]
        if missing:
            problems.append(Problem(
                SETTINGS, "split",
                f"the {part} part ({_workers(len(rows))}; test_size {size}, random_state "
                f"{state}) has no {' and no '.join(missing)}, so {consequence}", None, "",
                "raise split.test_size (the study: 0.2) or change split.random_state"))
    return problems


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _workers(n: int) -> str:
    return _count(n, "worker")


def _folds(campaign: Campaign, config: Config) -> list[Problem]:
    k = config.evaluation.worksite_folds
    groups = len(np.unique(campaign.site_index))
    if k > groups:
        return [Problem(
            SETTINGS, "evaluation.worksite_folds",
            f"is {k}, but the campaign has {groups} worksite(s) with workers", None, "",
            f"set evaluation.worksite_folds to at most {groups}")]
    lacking: dict[str, list[int]] = {}
    folds = worksite_folds(campaign.site_index, n_folds=k, seed=config.seed)
    for fold, (train, test) in enumerate(folds):
        for part, rows in (("training", train), ("held-out", test)):
            signed = campaign.signed[rows]
            for label, present in (("signer", np.any(signed == 1)),
                                   ("non-signer", np.any(signed == 0))):
                if not present:
                    lacking.setdefault(f"{part} workers hold no {label}", []).append(fold + 1)
    return [
        Problem(SETTINGS, "evaluation.worksite_folds",
                f"in fold(s) {', '.join(map(str, folds))} of {k}, the {what}, so "
                + ("the pooled regression cannot be fitted" if what.startswith("training")
                   else "the fold's AUC is undefined (NaN)"),
                None, "", "use fewer folds, or another seed (the folds are drawn with seed)")
        for what, folds in lacking.items()
    ]


def _clustering(campaign: Campaign, config: Config) -> list[Problem]:
    largest = max(config.clustering.K_grid)
    if largest <= campaign.n_sites:
        return []
    return [Problem(
        SETTINGS, "clustering.K_grid",
        f"goes up to K = {largest}, but the campaign has {campaign.n_sites} worksite(s)",
        None, "", f"keep every K at most {campaign.n_sites}")]


# ------------------------------------------------- reading, validating, refusing


def _settings_label(config: Config) -> str:
    return f"the settings of profile {config.profile!r}"


def _analyse(report: ValidationReport, campaign: Campaign, config: Config) -> None:
    report.settings = _settings_label(config)
    report.problems.extend(check_campaign(campaign, config))
    report.analysed = True


def read_and_validate(
    data_dir: Path, config: Config | None = None
) -> tuple[ValidationReport, dict[str, pd.DataFrame]]:
    """Read both files from ``data_dir`` and validate them; never raises on bad data.

    With ``config``, a campaign whose files are valid is also checked for whether
    it can be analysed with those settings (:func:`organizing.data.checks.check_campaign`),
    in the same report. The frames hold the columns the analysis uses (no worker
    IDs), and only when the files are valid.
    """
    report, frames = _read_and_validate(Path(data_dir))
    if config is not None:
        report.settings = _settings_label(config)
        if report.ok:
            _analyse(report, campaign_from_frames(frames), config)
    return report, frames


def validate_frames(frames: Mapping[str, pd.DataFrame], config: Config | None = None
                    ) -> ValidationReport:
    """Validate two frames in memory (keyed by file name) as ``organizing validate``
    validates two files: the schemas, the link and, with ``config``, whether the
    campaign can be analysed with those settings."""
    report, valid = _validate({name: [frame] for name, frame in frames.items()})
    if config is not None:
        report.settings = _settings_label(config)
        if report.ok:
            _analyse(report, campaign_from_frames(valid), config)
    return report


def load_campaign(data_dir: str | os.PathLike | None = None,
                  config: Config | None = None) -> Campaign:
    """Locate, read and validate the campaign; raise DataError with the full report.

    With ``config``, also refuse a campaign that cannot be analysed with those
    settings, before anything is fitted.
    """
    path = locate_data(data_dir)
    report, frames = _read_and_validate(path)
    if not report.ok:
        raise DataError(f"The campaign data in {path} is not valid:\n{report.render()}")
    campaign = campaign_from_frames(frames, {name: sha256(path / name) for name in SOURCES})
    if config is not None:
        _analyse(report, campaign, config)
        if not report.ok:
            raise DataError(
                f"The campaign data in {path} cannot be analysed with these settings:\n"
                f"{report.render()}")
    return campaign


def assert_analysable(campaign: Campaign, config: Config) -> None:
    """Raise DataError, with the rendered report, unless ``campaign`` can be analysed
    with ``config`` (call it before fitting anything)."""
    problems = check_campaign(campaign, config)
    if problems:
        report = ValidationReport(
            files={WORKER_FILE: campaign.n_workers, WORKSITE_FILE: campaign.n_sites},
            problems=problems, settings=_settings_label(config), analysed=True)
        raise DataError(f"The campaign cannot be analysed with these settings:\n"
                        f"{report.render()}")
