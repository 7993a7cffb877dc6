"""The ``organizing`` command line.

    organizing validate [DIR]        check both campaign files; exit 1 if invalid
    organizing simulate OUTDIR       write a synthetic campaign with known truth
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
