"""The ``organizing`` command line.

    organizing validate [DIR]        check both campaign files; exit 1 if invalid
    organizing run                   compute every result of the book (cached)
    organizing summary [--json]      the headline figures of the cached results
    organizing simulate OUTDIR       write a synthetic campaign with known truth
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from organizing.config import PROFILES, ConfigError
from organizing.data import DataError, locate_data, read_and_validate


def _validate(args: argparse.Namespace) -> int:
    if args.directory is not None:
        directory = Path(args.directory)
        if not directory.is_dir():
            print(f"error: {directory} is not a directory", file=sys.stderr)
            return 1
    else:
        try:
            directory = locate_data()
        except DataError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    report, _ = read_and_validate(directory)
    print(f"Campaign data in {directory}")
    print(report.render())
    return 0 if report.ok else 1


def _results(args: argparse.Namespace):
    from organizing import results

    return results.load(args.config, profile=args.profile, data_dir=args.data,
                        progress=not args.quiet)


def _run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    try:
        outcome = _results(args)
    except (ConfigError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    from organizing.results import cache_dir

    seconds = time.perf_counter() - start
    print(f"Results for profile {outcome.meta['profile']!r} ready in {seconds:.1f} s "
          f"(computed in {outcome.timings['total']:.0f} s; cache "
          f"{cache_dir() / outcome.meta['cache_key']})")
    return 0


def _summary(args: argparse.Namespace) -> int:
    try:
        summary = _results(args).summary()
    except (ConfigError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    held = summary["heldout"]
    print(f"Held-out workers (study's split): baseline accuracy {held['baseline_accuracy']:.3f}")
    for name in ("corrected", "published_refit", "pooled_logistic"):
        m = held[name]
        print(f"  {name:<16} accuracy {m['accuracy']:.3f}  AUC {m['auc']:.3f}  "
              f"Brier {m['brier']:.3f}  log loss {m['log_loss']:.3f}")
    print("Held-out worksites, mean AUC: " + ", ".join(
        f"{k} {v:.3f}" for k, v in summary["heldout_worksites_auc"].items()))
    s, n = summary["scales"], summary["nuts"]
    print(f"Scales (NUTS): worker {s['beta_worker_scale']:.3f}, "
          f"worksite {s['beta_worksite_scale']:.3f}")
    print(f"NUTS: max R-hat {n['max_r_hat']:.3f}, min ESS {n['min_ess']:.0f}, "
          f"{n['divergences']} divergences, {n['draws']:,} draws")
    for run, c in summary["clustering"].items():
        print(f"Clustering on {run} coefficients: sigma {c['sigma']:.3g}, K {c['K']}, "
              f"held-out log density {c['heldout_lpd']:.2f}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from organizing.simulate import simulate_campaign

    try:
        campaign = simulate_campaign(n_sites=args.sites, n_workers=args.workers, seed=args.seed)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    campaign.write(args.outdir)
    print(
        f"Wrote a simulated campaign ({args.workers:,} workers at {args.sites} worksites, "
        f"seed {args.seed}) to {args.outdir}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="organizing",
        description="Reproduce, audit and extend the OUR Walmart card-signing study.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="validate the two campaign CSV files")
    validate.add_argument(
        "directory",
        nargs="?",
        help="folder with the two CSVs (default: $ORGANIZING_DATA_DIR, then ./data)",
    )
    validate.set_defaults(handler=_validate)

    for name, handler, text in (
        ("run", _run, "compute every result of the book into the cache"),
        ("summary", _summary, "print the headline figures (computing them if needed)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--config", type=Path, help="YAML file overriding the defaults")
        command.add_argument("--profile", choices=PROFILES, default=None,
                             help="full (default, or $ORGANIZING_PROFILE) or quick")
        command.add_argument("--data", type=Path, help="folder with the two CSVs")
        command.add_argument("--quiet", action="store_true", help="no progress output")
        if name == "summary":
            command.add_argument("--json", action="store_true", help="machine-readable output")
        command.set_defaults(handler=handler)

    simulate = commands.add_parser("simulate", help="write a synthetic campaign with known truth")
    simulate.add_argument("outdir", type=Path)
    simulate.add_argument("--sites", type=int, default=40)
    simulate.add_argument("--workers", type=int, default=3000)
    simulate.add_argument("--seed", type=int, default=0)
    simulate.set_defaults(handler=_simulate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
