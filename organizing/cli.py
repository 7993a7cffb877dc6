"""The ``organizing`` command line.

    organizing validate [DIR] [--config F] [--profile P]
                                     check both campaign files, and whether the campaign
                                     can be analysed with these settings; exit 1 if not
    organizing prepare IN_DIR OUT_DIR [--recompute] [--force]
                                     compute the derived columns (logs, quintiles,
                                     per-worksite counts) from the required ones, write
                                     both files to OUT_DIR and validate them there
    organizing run                   compute every result of the book (cached)
    organizing summary [--json]      the headline figures of the cached results
    organizing plan [--design D] [--sites N] [--effect E | --odds-ratio R] [--json]
                                     power of a randomized experiment, from the posterior
    organizing simulate OUTDIR       write a synthetic campaign with known truth

Every expected failure is one line on stderr, never a traceback: exit 1 for
invalid data or settings, 2 for a refused command (``simulate`` over existing
files, a bad ``plan`` argument), 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import signal
import sys
import time
from pathlib import Path

from organizing.config import PROFILES, ConfigError, load_config
from organizing.data import (
    WORKER_FILE,
    WORKSITE_FILE,
    DataError,
    locate_data,
    read_and_validate,
    unreadable,
)

INTERRUPTED = 130  # the shell's code for a process ended by SIGINT


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


def _results(args: argparse.Namespace):
    load_config(args.config, profile=args.profile)  # settings errors first, before any import
    from organizing.pipeline import load

    return load(args.config, profile=args.profile, data_dir=args.data,
                progress=not args.quiet)


def _run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    try:
        outcome = _results(args)
    except (ConfigError, DataError, OSError) as error:
        return _error(str(error))
    from organizing.results.cache import entry_path

    seconds = time.perf_counter() - start
    print(f"Results for profile {outcome.meta.profile!r} ready in {seconds:.1f} s "
          f"(computed in {outcome.meta.timings['total']:.0f} s; cache "
          f"{entry_path(outcome.meta.cache_key)})")
    return 0


def _summary(args: argparse.Namespace) -> int:
    try:
        results = _results(args)
    except (ConfigError, DataError, OSError) as error:
        return _error(str(error))
    from organizing.report.summary import summary, summary_text

    if args.json:
        print(json.dumps(summary(results), indent=2, allow_nan=False))
    else:
        print(summary_text(results))
    return 0


def _plan(args: argparse.Namespace) -> int:
    from organizing import planning

    effect = args.effect if args.effect is not None or args.odds_ratio is not None else 0.05
    try:  # bad arguments fail before any posterior is loaded or computed
        planning.check_plan_arguments(args.design, args.sites, args.workers_per_site or 2,
                                      args.alpha, args.sims, args.seed)
    except ValueError as error:
        return _error(str(error), 2)
    try:
        results = _results(args)
    except (ConfigError, DataError, OSError) as error:
        return _error(str(error))
    section = results.planning
    population = planning.Population(baseline_logit=section.baseline_logit,
                                     site_sd=section.site_sd, worker_sd=section.worker_sd,
                                     site_offsets=section.site_offsets,
                                     worker_offsets=section.worker_offsets)
    try:
        plan = planning.plan(population, args.design, args.sites,
                             args.workers_per_site or section.workers_per_site, effect=effect,
                             odds_ratio=args.odds_ratio, alpha=args.alpha, sims=args.sims,
                             seed=args.seed)
    except ValueError as error:  # e.g. an effect the baseline rate cannot take
        return _error(str(error), 2)
    if args.json:
        print(json.dumps(plan.to_dict(), indent=2, allow_nan=False))
        return 0
    print(planning.describe(plan))
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
        return _error(str(error), 2)
    try:
        campaign.write(outdir, overwrite=args.force)
    except OSError as error:
        return _error(f"{outdir}: cannot write the campaign there ({error.strerror or error})", 2)
    what = "the raw records of a simulated campaign" if args.records else "a simulated campaign"
    print(f"Wrote {what} ({args.workers:,} workers at {args.sites} worksites, "
          f"seed {args.seed}) to {outdir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="organizing",
        description="Reproduce, audit and extend the OUR Walmart card-signing study.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

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
        ("summary", _summary, "print the headline figures (computing them if needed)"),
    ):
        command = commands.add_parser(name, help=text)
        settings(command)
        command.add_argument("--data", type=Path, help="folder with the two CSVs")
        command.add_argument("--quiet", action="store_true", help="no progress output")
        if name == "summary":
            command.add_argument("--json", action="store_true", help="machine-readable output")
        command.set_defaults(handler=handler)

    plan = commands.add_parser(
        "plan", help="power of a randomized organizing experiment, simulated from the "
        "headline model's posterior (computed first if not cached)")
    settings(plan)
    plan.add_argument("--data", type=Path, help="folder with the two CSVs")
    plan.add_argument("--quiet", action="store_true", help="no progress output")
    plan.add_argument("--design", choices=("worksite", "worker"), default="worksite",
                      help="randomize whole worksites, or workers within worksites")
    plan.add_argument("--sites", type=int, default=40, help="number of worksites in the trial")
    plan.add_argument("--workers-per-site", type=int, default=None,
                      help="workers per worksite (default: the campaign's median)")
    size = plan.add_mutually_exclusive_group()
    size.add_argument("--effect", type=float, default=None,
                      help="effect in percentage points at the baseline rate, as a fraction "
                      "(0.05 = 5 points; the default)")
    size.add_argument("--odds-ratio", type=float, default=None, help="effect as an odds ratio")
    plan.add_argument("--alpha", type=float, default=0.05, help="significance level")
    plan.add_argument("--sims", type=int, default=2000, help="simulated trials")
    plan.add_argument("--seed", type=int, default=0)
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.set_defaults(handler=_plan)

    simulate = commands.add_parser("simulate", help="write a synthetic campaign with known truth")
    simulate.add_argument("outdir", type=Path)
    simulate.add_argument("--sites", type=int, default=40)
    simulate.add_argument("--workers", type=int, default=3000)
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--force", action="store_true",
                          help="overwrite campaign files already in OUTDIR")
    simulate.add_argument("--records", action="store_true",
                          help="write raw records (workers, contacts, ties, stores, zips, with "
                          "text IDs) for `organizing prepare --records`")
    simulate.set_defaults(handler=_simulate)
    return parser


def _end_children(timeout: float = 3.0) -> None:
    """End the processes this one started (pools of NUTS chains, managers)."""
    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    deadline = time.monotonic() + timeout
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            child.kill()
            child.join(1.0)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        try:  # a second Ctrl-C must not interrupt the clean-up
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not the main thread
            previous = None
        try:
            _end_children()
            print("interrupted; nothing was cached", file=sys.stderr)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        return INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
