"""The ``organizing`` command line.

    organizing validate [DIR] [--config F] [--profile P]
                                     check both campaign files, and whether the campaign
                                     can be analysed with these settings; exit 1 if not
    organizing prepare IN_DIR OUT_DIR [--records] [--recompute] [--force]
                                     check the input, compute the derived columns (with
                                     --records: every measure, from raw records), check
                                     the result, and only then write both files to OUT_DIR
    organizing fetch-data [--data DIR]
                                     the study's files: found, or downloaded into the
                                     project's data/ and checked (the only download)
    organizing run [--data DIR]      compute every result of the book (cached)
    organizing summary [--json] [--compute]
                                     the headline figures of the cached results
    organizing plan [--design D] [--sites N] [--effect E | --odds-ratio R] [--match M]
                    [--adjust] [--contamination C] [--effect-sd H] [--stores F] [--json]
                    [--compute]      power of a randomized experiment, from the posterior
    organizing randomize --stores F|campaign --seed S --hypothesis TEXT --out DIR [...]
                                     draw a trial's assignment and write its protocol sheet
    organizing simulate-outcomes PROTOCOL OUT --effect E
                                     simulated outcomes of a drawn trial (a rehearsal)
    organizing analyse-trial PROTOCOL OUTCOMES [--json] [--output F] [--allow-missing]
                                     the analysis the protocol names, in plain words
    organizing simulate OUTDIR [--records]
                                     write a synthetic campaign (or its raw records)

Data and cache resolve against the project root (the folder with
``pyproject.toml`` and ``_quarto.yml``) or ``--data``/``$ORGANIZING_DATA_DIR``
and ``$ORGANIZING_CACHE_DIR``; elsewhere every command says where it looked and
stops. ``summary`` and ``plan`` read the cache and never compute unasked.

Every expected failure is one line on stderr, never a traceback: exit 1 for
invalid data or settings and for output that cannot be written (a full disk, a
closed pipe), 2 for a refused command or a bad option (the message names the
option and its allowed range) or an outcome file that does not match its
trial's assignment, 3 when the results asked for are not cached,
130 after Ctrl-C and 143 after SIGTERM. Results are computed in a child
process while this one waits (:func:`run_in_child`), so a signal is acted on at
once even while JAX compiles or samples: the child is ended, its half-written
cache entry removed, within a second or two.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

from organizing.config import PROFILES, SEED_LIMIT, ConfigError, load_config
from organizing.data import (
    WORKER_FILE,
    WORKSITE_FILE,
    DataError,
    locate_data,
    read_and_validate,
    unreadable,
)

INTERRUPTED = 130  # the shell's code for a process ended by SIGINT
TERMINATED = 143  # ... and by SIGTERM
NOT_COMPUTED = 3  # the results asked for are not cached (``run`` computes them)
#: planning's parameter names, as the options that set them
_OPTIONS = {"n_sites": "--sites", "n_workers": "--workers",
            "workers_per_site": "--workers-per-site", "alpha": "--alpha",
            "sims": "--sims", "seed": "--seed", "design": "--design", "effect": "--effect",
            "odds_ratio": "--odds-ratio"}


def _option_words(message: str) -> str:
    """A parameter's name in a message, as the option that sets it."""
    for name, option in _OPTIONS.items():
        message = re.sub(rf"\b{name}\b", option, message)
    return message


def _error(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _validate(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, profile=args.profile)
    except ConfigError as error:
        return _error(str(error))
    if args.directory is not None:
        directory = Path(args.directory)
        why = unreadable(directory, directory=True)
        if why:
            return _error(f"{directory}: {why}")
    else:
        try:
            directory = locate_data()
        except DataError as error:
            return _error(str(error))
    report, _ = read_and_validate(directory, config)
    print(f"Campaign data in {directory}")
    print(f"Settings: profile {config.profile!r}"
          + (f" with {args.config}" if args.config else ""))
    print(report.render())
    return 0 if report.ok else 1


def _fetch_data(args: argparse.Namespace) -> int:
    """The study's two files: found (and checked) where the package looks, else downloaded
    into the project's data/ and checked against their sha256."""
    from organizing.data import SOURCES, sha256

    try:
        directory = locate_data(args.data, download=True)
    except DataError as error:
        return _error(str(error))
    for name, source in SOURCES.items():
        if sha256(directory / name) != source["sha256"]:
            print(f"note: {directory / name} is not the study's file (another campaign's, or "
                  "changed); it is used as it is", file=sys.stderr)
    print(f"Campaign data in {directory}")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from organizing.data.prepare import prepare
    from organizing.data.records import prepare_records

    try:
        config = load_config(args.config, profile=args.profile)
    except ConfigError as error:
        return _error(str(error))
    source = "records" if args.records else "files"
    print(f"Preparing the campaign {source} in {args.in_dir}")
    try:
        if args.records:
            report, built = prepare_records(args.in_dir, args.out_dir, overwrite=args.force,
                                            config=config)
            notices = built.warnings if built is not None else ()
        else:
            result = prepare(args.in_dir, args.out_dir, recompute=args.recompute,
                             overwrite=args.force, config=config)
            report = result.report
            notices = ()
            if result.dropped:
                notices = (f"left out {len(result.dropped)} column(s) the analysis does not "
                           f"read (so that names or notes do not travel): "
                           f"{', '.join(result.dropped)}",)
    except FileExistsError as error:
        return _error(str(error), 2)
    except DataError as error:
        return _error(str(error))
    for notice in notices:
        print(f"note: {notice}")
    print(report.render())
    if not report.ok:
        print(f"Nothing was written to {args.out_dir}.")
        return 1
    if args.records:
        print(f"Wrote {WORKER_FILE} and {WORKSITE_FILE} to {args.out_dir}: every measure "
              "computed from the records")
    else:
        print(f"Wrote {WORKER_FILE} and {WORKSITE_FILE} to {args.out_dir}: "
              f"{len(result.computed)} derived column(s) computed, {len(result.kept)} kept "
              f"from the input" + (" (pass --recompute to compute them all)" if result.kept
                                   else ""))
    return 0


def _results(args: argparse.Namespace, compute: bool):
    """The cached results; computed first only when ``compute`` (``run``, ``--compute``),
    in a child process (:func:`run_in_child`). Raises NotComputed (exit
    :data:`NOT_COMPUTED`) when they are not cached and computing was not asked for."""
    load_config(args.config, profile=args.profile)  # settings errors first, before any import
    from organizing.pipeline import load

    options = dict(profile=args.profile, data_dir=args.data)
    if compute:  # data, settings and cache folder are checked here, before the child
        cached = load(args.config, **options, compute=False, missing_ok=True)
        if cached is not None:
            return cached
        run_in_child(_compute, args.config, options, not args.quiet)
    return load(args.config, **options, compute=False)


class ChildFailed(Exception):
    """The computation in the child process failed; the message is its one line."""


def _compute(config, options: dict, progress: bool) -> None:
    """In the child process: compute the results into the cache."""
    from organizing.pipeline import load

    load(config, **options, progress=progress, compute=True)


def _child(connection, target, args) -> None:
    """The child's entry: Ctrl-C is the parent's to handle; an error goes back as text."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        target(*args)
        connection.send(None)
    except (ConfigError, DataError, OSError) as error:
        connection.send(str(error))
    except BaseException as error:  # unexpected: the parent reports it in one line
        connection.send(f"{type(error).__name__}: {error}")
        raise


def run_in_child(target, *args) -> None:
    """Run ``target(*args)`` in a spawned child process, and wait for it.

    The computing commands (``run``, ``--compute``) fit in a child so that the
    parent can always act on Ctrl-C or SIGTERM: a thread that calls into XLA or
    torch may hold Python's lock for minutes, and a signal's Python handler must
    wait for it, but a parent that only waits can end its child at once
    (:func:`_stop`). Raises :class:`ChildFailed` with the child's one-line error.
    """
    # A child ended by _stop leaves tqdm's lock registered with multiprocessing's resource
    # tracker, which would print a warning at exit; it still cleans up, silently.
    quiet = "ignore:resource_tracker:UserWarning"
    if quiet not in os.environ.get("PYTHONWARNINGS", ""):
        os.environ["PYTHONWARNINGS"] = ",".join(
            filter(None, (os.environ.get("PYTHONWARNINGS"), quiet)))
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, target, args), name="organizing-compute")
    child.start()
    send.close()
    _CHILDREN.append(child)
    try:
        while child.is_alive():
            child.join(0.1)
    finally:
        if not child.is_alive():
            _CHILDREN.remove(child)
    message = receive.recv() if receive.poll() else (
        f"the computation ended with status {child.exitcode}")
    if message is not None or child.exitcode != 0:
        raise ChildFailed(message or f"the computation ended with status {child.exitcode}")


#: Children computing now (ended by _stop after Ctrl-C or SIGTERM).
_CHILDREN: list = []


def _reading_failed(error: Exception) -> int:
    from organizing.pipeline import NotComputed

    if isinstance(error, NotComputed):
        return _error(f"{error} (or add --compute)", NOT_COMPUTED)
    return _error(str(error))


def _run(args: argparse.Namespace) -> int:
    from organizing.pipeline import NotComputed

    start = time.perf_counter()
    try:
        outcome = _results(args, compute=True)
    except (ConfigError, DataError, OSError, NotComputed, ChildFailed) as error:
        return _reading_failed(error)
    from organizing.results.cache import entry_path

    seconds = time.perf_counter() - start
    print(f"Results for profile {outcome.meta.profile!r} ready in {seconds:.1f} s "
          f"(computed in {outcome.meta.timings['total']:.0f} s; cache "
          f"{entry_path(outcome.meta.cache_key)})")
    return 0


def _summary(args: argparse.Namespace) -> int:
    from organizing.pipeline import NotComputed

    try:
        results = _results(args, compute=args.compute)
    except (ConfigError, DataError, OSError, NotComputed, ChildFailed) as error:
        return _reading_failed(error)
    from organizing.report.summary import summary, summary_text

    if args.json:
        print(json.dumps(summary(results), indent=2, allow_nan=False))
    else:
        print(summary_text(results))
    return 0


def _population(section):
    """The planner's population of new stores, from the cached planning results."""
    from organizing import planning

    return planning.Population(baseline_logit=section.baseline_logit, site_sd=section.site_sd,
                               worker_sd=section.worker_sd, site_offsets=section.site_offsets,
                               worker_offsets=section.worker_offsets,
                               site_sizes=section.site_sizes)


def _plan(args: argparse.Namespace) -> int:
    from organizing import planning
    from organizing.planning.files import TrialFileError, read_stores
    from organizing.report.planning import baseline_note, plan_text

    effect = args.effect if args.effect is not None or args.odds_ratio is not None else 0.05
    options = planning.Options(match=args.match, adjust=args.adjust,
                               contamination=args.contamination, effect_sd=args.effect_sd)
    sizes = args.workers_per_site
    try:  # bad arguments fail before any posterior is loaded or computed
        if args.stores is not None:
            sizes = read_stores(args.stores)["workers"].to_numpy()
        planning.check_plan_arguments(args.design, args.sites, sizes, args.alpha, args.sims,
                                      args.seed, options)
    except (ValueError, TrialFileError) as error:
        return _error(_option_words(str(error)), 2)
    from organizing.pipeline import NotComputed

    try:
        results = _results(args, compute=args.compute)
    except (ConfigError, DataError, OSError, NotComputed, ChildFailed) as error:
        return _reading_failed(error)
    section = results.planning
    try:
        plan = planning.plan(_population(section), args.design, args.sites, sizes,
                             effect=effect, odds_ratio=args.odds_ratio, alpha=args.alpha,
                             sims=args.sims, seed=args.seed, options=options)
    except ValueError as error:  # e.g. an effect the baseline rate cannot take
        return _error(_option_words(str(error)), 2)
    if args.json:
        print(json.dumps(plan.to_dict(), indent=2, allow_nan=False))
        return 0
    print(plan_text(plan, baseline_note(plan.baseline_rate, plan.baseline_rate_workers,
                                        section.campaign_rate, section.campaign_store_rate)))
    return 0


def _campaign_stores(section):
    import pandas as pd

    return pd.DataFrame({"store_id": section.store_ids, "workers": section.site_sizes,
                         "forecast": section.store_forecasts})


def _randomize(args: argparse.Namespace) -> int:
    from organizing import planning
    from organizing.planning import workflow
    from organizing.planning.files import TrialFileError
    from organizing.planning.randomize import balance, within_block_gaps
    from organizing.report.planning import randomize_text

    from_campaign = str(args.stores) == "campaign"
    try:  # a bad store list fails before any posterior is loaded
        missing = (not from_campaign and args.block_by == "rate"
                   and workflow.stores_table(args.stores)["forecast"].isna().any())
    except (ValueError, TrialFileError) as error:
        return _error(str(error), 2)
    needs_results = (from_campaign or missing or args.effect is not None
                     or args.prior == "campaign")
    section = None
    if needs_results:
        from organizing.pipeline import NotComputed

        try:
            section = _results(args, compute=getattr(args, "compute", False)).planning
        except (ConfigError, DataError, OSError, NotComputed, ChildFailed) as error:
            return _reading_failed(error)
    try:
        stores = workflow.stores_table(
            args.stores, None if section is None else _campaign_stores(section))
        planned, prior = {}, None
        if args.prior == "campaign":
            prior = workflow.campaign_prior(section.baseline_logit, section.site_sd,
                                            section.site_offsets)
        if args.effect is not None:
            pairs = args.design == "worksite" and args.block_by != "none" and args.block_size == 2
            options = planning.Options(match=args.block_by if pairs else "none")
            n = len(stores)
            if options.match != "none" and n % 2:
                n -= 1  # the planner pairs every store; one store is left to a coin
            result = planning.power(_population(section), args.design, n,
                                    stores["workers"].to_numpy(), effect=args.effect,
                                    alpha=args.alpha, options=options, seed=args.seed)
            planned = {"effect": args.effect, "power": result.power,
                       "power_mc_se": result.mc_se,
                       "note": "power simulated by the planner from the campaign's posterior "
                               f"with these store sizes ({options.describe()})"}
        assignment, _ = workflow.draw(
            stores, args.out, design=args.design, seed=args.seed, block_by=args.block_by,
            block_size=args.block_size, workers_path=args.workers, hypothesis=args.hypothesis,
            primary_outcome=args.outcome, window=args.window, alpha=args.alpha,
            planned=planned, prior=prior, force=args.force)
    except (ValueError, TrialFileError) as error:
        return _error(str(error), 2)
    except OSError as error:
        return _error(f"{args.out}: cannot write there ({error.strerror or error})", 2)
    print(randomize_text(assignment, balance(assignment), within_block_gaps(assignment),
                         args.out))
    return 0


def _simulate_outcomes(args: argparse.Namespace) -> int:
    from organizing.planning import workflow

    try:
        rows = workflow.rehearse_outcomes(args.protocol, args.out, effect=args.effect,
                                          seed=args.seed, store_sd=args.store_sd,
                                          rate=args.rate, force=args.force)
    except ValueError as error:
        return _error(str(error), 2)
    except OSError as error:
        return _error(f"{args.out}: cannot write there ({error.strerror or error})", 2)
    print(f"Wrote {rows:,} rows of simulated outcomes (a planted effect of "
          f"{100 * args.effect:+.1f} points) to {args.out}: a rehearsal, not data")
    return 0


def _analyse_trial(args: argparse.Namespace) -> int:
    from organizing.pipeline import enable_compilation_cache
    from organizing.planning import workflow
    from organizing.report.planning import analysis_text

    enable_compilation_cache()
    try:
        analysis = workflow.analyse(args.protocol, args.outcomes,
                                    allow_missing=args.allow_missing, seed=args.seed,
                                    output=args.output)
    except ValueError as error:  # mismatched or unreadable files: nothing was written
        return _error(str(error), 2)
    except OSError as error:
        return _error(f"{args.output}: cannot write there ({error.strerror or error})", 2)
    if args.json:
        print(json.dumps(analysis.to_dict(), indent=2, allow_nan=False))
    else:
        print(analysis_text(analysis))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from organizing.data.records import FILES
    from organizing.simulate import simulate_campaign, simulate_records

    outdir = Path(args.outdir)
    if outdir.exists() or outdir.is_symlink():
        why = unreadable(outdir, directory=True)
        if why:
            return _error(f"{outdir}: {why}", 2)
    names = FILES if args.records else (WORKER_FILE, WORKSITE_FILE)
    existing = [name for name in names
                if (outdir / name).exists() or (outdir / name).is_symlink()]
    if existing and not args.force:
        return _error(f"{outdir} already holds {' and '.join(existing)}; pass --force to "
                      "overwrite, or choose another folder", 2)
    simulate = simulate_records if args.records else simulate_campaign
    try:
        campaign = simulate(n_sites=args.sites, n_workers=args.workers, seed=args.seed)
    except ValueError as error:
        return _error(_option_words(str(error)), 2)
    try:
        campaign.write(outdir, overwrite=args.force)
    except OSError as error:
        return _error(f"{outdir}: cannot write the campaign there ({error.strerror or error})", 2)
    what = "the raw records of a simulated campaign" if args.records else "a simulated campaign"
    print(f"Wrote {what} ({args.workers:,} workers at {args.sites} worksites, "
          f"seed {args.seed}) to {outdir}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error that names the command, the option and its range."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _whole(least: int, below: int | None = None):
    """An argparse type: an integer >= ``least`` (and < ``below``), named in the error."""
    allowed = f"an integer >= {least}" + (f" and < {below:,}" if below else "")

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {allowed} (got {text!r})") from None
        if value < least or (below is not None and value >= below):
            raise argparse.ArgumentTypeError(f"must be {allowed} (got {value})")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="organizing",
        description="Reproduce, audit and extend the OUR Walmart card-signing study.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def settings(command: argparse.ArgumentParser) -> None:
        command.add_argument("--config", type=Path, help="YAML file overriding the defaults")
        command.add_argument("--profile", choices=PROFILES, default=None,
                             help="full (default, or $ORGANIZING_PROFILE) or quick")

    validate = commands.add_parser(
        "validate", help="validate the two campaign CSV files against the schemas and the "
        "settings they will be analysed with")
    validate.add_argument(
        "directory",
        nargs="?",
        help="folder with the two CSVs (default: $ORGANIZING_DATA_DIR, then ./data)",
    )
    settings(validate)
    validate.set_defaults(handler=_validate)

    prepare = commands.add_parser(
        "prepare", help="compute the derived columns of a campaign's two files from the "
        "required ones, write them to OUT_DIR, and validate the result")
    prepare.add_argument("in_dir", type=Path, help="folder with the two CSVs (required columns), "
                         "or with --records the five record files")
    prepare.add_argument("out_dir", type=Path, help="folder to write the completed CSVs to")
    prepare.add_argument("--recompute", action="store_true",
                         help="recompute derived columns the input already has")
    prepare.add_argument("--records", action="store_true",
                         help="IN_DIR holds raw records (workers, contacts, ties, stores, "
                         "zips): compute every measure from them")
    prepare.add_argument("--force", action="store_true",
                         help="overwrite campaign files already in OUT_DIR")
    settings(prepare)
    prepare.set_defaults(handler=_prepare)

    for name, handler, text in (
        ("run", _run, "compute every result of the book into the cache"),
        ("summary", _summary, "print the headline figures of the cached results"),
    ):
        command = commands.add_parser(name, help=text)
        settings(command)
        command.add_argument("--data", type=Path, help="folder with the two CSVs")
        command.add_argument("--quiet", action="store_true", help="no progress output")
        if name == "summary":
            command.add_argument("--json", action="store_true", help="machine-readable output")
            command.add_argument("--compute", action="store_true",
                                 help="compute the results when they are not cached")
        command.set_defaults(handler=handler)

    plan = commands.add_parser(
        "plan", help="power of a randomized organizing experiment, simulated from the "
        "headline model's cached posterior")
    settings(plan)
    plan.add_argument("--data", type=Path, help="folder with the two CSVs")
    plan.add_argument("--quiet", action="store_true", help="no progress output")
    plan.add_argument("--design", choices=("worksite", "worker"), default="worksite",
                      help="randomize whole worksites, or workers within worksites")
    plan.add_argument("--sites", type=int, default=40, help="number of worksites in the trial")
    sizes = plan.add_mutually_exclusive_group()
    sizes.add_argument("--workers-per-site", type=int, default=None,
                       help="every store this size (default: sizes drawn from the campaign's "
                       "stores)")
    sizes.add_argument("--stores", type=Path, default=None,
                       help="CSV with store_id and workers: sizes drawn from your stores")
    plan.add_argument("--match", choices=("none", "size", "rate"), default="none",
                      help="pair stores on size or on the model's forecast rate before "
                      "randomizing (worksite design)")
    plan.add_argument("--adjust", action="store_true",
                      help="adjust the analysis for the forecast rate (worksite design)")
    plan.add_argument("--contamination", type=float, default=0.0,
                      help="share of the effect reaching control workers (worker design)")
    plan.add_argument("--effect-sd", type=float, default=0.0,
                      help="spread of the effect between stores, as a multiple of its mean")
    size = plan.add_mutually_exclusive_group()
    size.add_argument("--effect", type=float, default=None,
                      help="effect in percentage points at the baseline rate, as a fraction "
                      "(0.05 = 5 points; the default)")
    size.add_argument("--odds-ratio", type=float, default=None, help="effect as an odds ratio")
    plan.add_argument("--alpha", type=float, default=0.05, help="significance level")
    plan.add_argument("--sims", type=int, default=2000, help="simulated trials")
    plan.add_argument("--seed", type=_whole(0, SEED_LIMIT), default=0,
                      help="random seed (0 to 2**32 - 1)")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.add_argument("--compute", action="store_true",
                      help="compute the results when they are not cached")
    plan.set_defaults(handler=_plan)

    randomize = commands.add_parser(
        "randomize", help="draw a trial's assignment (stores, or workers within stores) and "
        "write it with a protocol sheet fixing the analysis before the trial")
    settings(randomize)
    randomize.add_argument("--data", type=Path, help="folder with the two CSVs")
    randomize.add_argument("--quiet", action="store_true", help="no progress output")
    randomize.add_argument("--stores", required=True,
                           help="CSV with store_id, workers and optionally forecast; or "
                           "'campaign' for the campaign's own stores")
    randomize.add_argument("--workers", type=Path, default=None,
                           help="CSV with worker_id and store_id (worker design)")
    randomize.add_argument("--design", choices=("worksite", "worker"), default="worksite",
                           help="randomize whole stores, or workers within stores")
    randomize.add_argument("--seed", type=int, required=True,
                           help="the seed of the draw (write it down: it reproduces the draw)")
    randomize.add_argument("--block-by", choices=("none", "size", "rate"), default="none",
                           help="block stores by size or forecast rate (worksite design)")
    randomize.add_argument("--block-size", type=int, default=2,
                           help="stores per block (2: pairs)")
    randomize.add_argument("--hypothesis", required=True,
                           help="what the tactic is expected to change, in words")
    randomize.add_argument("--outcome", default=None,
                           help="the primary outcome, in words (default: cards signed within "
                           "the window per worker on the roster)")
    randomize.add_argument("--window", nargs=2, metavar=("START", "END"), default=None,
                           help="the outcome window, as dates (2025-03-01 2025-04-30)")
    randomize.add_argument("--alpha", type=float, default=0.05, help="significance level")
    randomize.add_argument("--effect", type=float, default=None,
                           help="the effect the trial is planned for (fraction): records the "
                           "planner's power for it")
    randomize.add_argument("--prior", choices=("weak", "campaign"), default="weak",
                           help="priors of the Bayesian analysis: weakly informative, or the "
                           "campaign posterior's for the intercept and the store sd")
    randomize.add_argument("--out", type=Path, required=True,
                           help="folder for assignment.csv and protocol.yml")
    randomize.add_argument("--force", action="store_true", help="overwrite an earlier draw")
    randomize.add_argument("--compute", action="store_true",
                           help="compute the results first if they are not cached (needed "
                                "for --stores campaign, --effect, --prior campaign and "
                                "forecast blocks)")
    randomize.set_defaults(handler=_randomize)

    rehearsal = commands.add_parser(
        "simulate-outcomes", help="write simulated outcomes for a drawn trial, to rehearse "
        "the analysis before real outcomes exist")
    rehearsal.add_argument("protocol", type=Path, help="the protocol.yml of the trial")
    rehearsal.add_argument("out", type=Path, help="CSV file to write")
    rehearsal.add_argument("--effect", type=float, required=True,
                           help="planted average change over the trial's workers (fraction)")
    rehearsal.add_argument("--seed", type=int, default=0)
    rehearsal.add_argument("--rate", type=float, default=0.2,
                           help="signing rate of stores without a forecast")
    rehearsal.add_argument("--store-sd", type=float, default=0.5,
                           help="how far stores stray from their rate (logit sd)")
    rehearsal.add_argument("--force", action="store_true", help="overwrite OUT")
    rehearsal.set_defaults(handler=_simulate_outcomes)

    analyse = commands.add_parser(
        "analyse-trial", help="analyse a trial's outcomes as its protocol sheet says")
    analyse.add_argument("protocol", type=Path, help="the protocol.yml written by randomize")
    analyse.add_argument("outcomes", type=Path,
                         help="CSV: worker_id and signed (and store_id, worksite design), or "
                         "counts per store (store_id, workers, signed) or per store and arm")
    analyse.add_argument("--allow-missing", action="store_true",
                         help="analyse even if some assigned units have no outcome (said so)")
    analyse.add_argument("--seed", type=int, default=0, help="seed of the Bayesian sampler")
    analyse.add_argument("--json", action="store_true", help="machine-readable output")
    analyse.add_argument("--output", type=Path, default=None, help="also write the JSON here")
    analyse.set_defaults(handler=_analyse_trial)

    simulate = commands.add_parser("simulate", help="write a synthetic campaign with known truth")
    simulate.add_argument("outdir", type=Path)
    simulate.add_argument("--sites", type=_whole(2), default=40,
                          help="worksites (an integer >= 2)")
    simulate.add_argument("--workers", type=_whole(10), default=3000,
                          help="workers (an integer, at least 5 per worksite)")
    simulate.add_argument("--seed", type=_whole(0, SEED_LIMIT), default=0,
                          help="random seed (0 to 2**32 - 1)")
    simulate.add_argument("--force", action="store_true",
                          help="overwrite campaign files already in OUTDIR")
    simulate.add_argument("--records", action="store_true",
                          help="write raw records (workers, contacts, ties, stores, zips, with "
                          "text IDs) for `organizing prepare --records`")
    simulate.set_defaults(handler=_simulate)

    fetch = commands.add_parser(
        "fetch-data", help="download the study's two files into the project's data/ (checked "
        "against their sha256) unless they are there already")
    fetch.add_argument("--data", type=Path, help="folder to check instead of the project's")
    fetch.set_defaults(handler=_fetch_data)
    return parser


def _end_children(timeout: float = 2.0, skip=()) -> None:
    """End the processes this one started (pools, managers), but those in ``skip``
    (already killed: the exit reaps them)."""
    children = [c for c in multiprocessing.active_children() if c.pid not in skip]
    for child in children:
        child.terminate()
    deadline = time.monotonic() + timeout
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            child.kill()
            child.join(1.0)


class Terminated(BaseException):
    """SIGTERM, raised in the main thread (as SIGINT raises KeyboardInterrupt)."""


def _on_sigterm(signum, frame):
    raise Terminated


def _output_failed(error: OSError) -> int:
    """One line for an output that cannot be written (a closed pipe, a full disk); the
    standard output is then pointed at /dev/null so that exiting does not fail again."""
    if error.errno == errno.EPIPE:
        why = "the output was closed before everything was written (broken pipe)"
    else:
        why = f"cannot write the output ({error.strerror or type(error).__name__})"
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return _error(why)


def _stop(code: int) -> int:
    """After Ctrl-C or SIGTERM: end the children (a computing child at once), drop their
    half-written cache entries, and say so in one line."""
    for number in (signal.SIGINT, signal.SIGTERM):  # a second signal must not interrupt this
        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(number, signal.SIG_IGN)
    pids = [child.pid for child in _CHILDREN]
    for child in _CHILDREN:
        child.kill()  # the computation: once SIGKILL is sent it writes nothing more
    _end_children(timeout=1.0, skip=pids)
    from organizing.results.cache import discard_staging

    discard_staging(pids)
    what = "interrupted" if code == INTERRUPTED else "terminated"
    print(f"{what}; nothing was cached", file=sys.stderr, flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    in_main = threading.current_thread() is threading.main_thread()
    previous = {}
    if in_main:
        previous = {signal.SIGINT: signal.getsignal(signal.SIGINT),
                    signal.SIGTERM: signal.signal(signal.SIGTERM, _on_sigterm)}
    try:
        args = build_parser().parse_args(argv)
        code = args.handler(args)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        return _stop(INTERRUPTED)
    except Terminated:
        return _stop(TERMINATED)
    except OSError as error:  # the output could not be written (or flushed)
        return _output_failed(error)
    finally:
        for number, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(number, handler)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
