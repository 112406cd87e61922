"""``gradflow figures``: draw the figure catalogue."""

from __future__ import annotations

import argparse

from . import comma_list, subcommand

# -- figures --------------------------------------------------------------------------------
_FORMATS = ("png", "svg", "pdf")  # checked against gradflow.figures.FORMATS in the tests


def _format_list(text: str) -> list[str]:
    items = [item.lower() for item in comma_list(text)]
    for item in items:
        if item not in _FORMATS:
            raise argparse.ArgumentTypeError(
                f"expected one or more of {', '.join(_FORMATS)} (comma-separated), got {item!r}"
            )
    return items


def _figures_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        default="figures",
        metavar="DIR",
        help="output folder, or with --check the folder to check (default: %(default)s)",
    )
    parser.add_argument(
        "--only",
        type=comma_list,
        action="extend",
        metavar="NAME[,NAME]",
        help="draw only these figures (default: all; see --list)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes for a fast smoke run (CI)"
    )
    parser.add_argument(
        "--format",
        dest="formats",
        type=_format_list,
        default=["png"],
        metavar="FMT[,FMT]",
        help=f"image formats among {', '.join(_FORMATS)} (default: png)",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--list", action="store_true", help="list the figures with their captions and exit"
    )
    action.add_argument(
        "--check",
        action="store_true",
        help="recompute the figures' data (no files written) and compare it with the CSVs in "
        "--out, one line per figure; exit status 0 when all are the same, 1 when any is "
        "different or missing (combine with --only; with --quick for a quick catalogue)",
    )


@subcommand("figures", help="draw the figure catalogue", arguments=_figures_arguments)
def _figures(args: argparse.Namespace) -> int:
    """Draw the figure catalogue: each figure as an image beside a CSV of the data it plots,
    and the folder's README.md listing them with their captions."""
    from .. import figures

    if args.list:
        for name in figures.available():
            print(f"{name}: {figures.get(name).describe(quick=args.quick)}")
        return 0

    if args.check:
        from ..figures._catalogue import check_catalogue

        results = check_catalogue(
            args.out,
            only=args.only,
            quick=args.quick,
            progress=lambda result: print(result, flush=True),
        )
        return 0 if all(result.status == "same" for result in results) else 1

    def report(name, paths):
        print(f"{name}: " + ", ".join(str(path) for path in paths), flush=True)

    written = figures.write_catalogue(
        args.out, only=args.only, quick=args.quick, formats=args.formats, progress=report
    )
    print(f"catalogue: {written[-1]}")
    return 0
