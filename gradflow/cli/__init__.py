"""The ``gradflow`` command (layer 6).

``gradflow figures`` draws the figure catalogue. Each subcommand is a pair of small functions
registered with :func:`subcommand`: one adds its arguments to an ``argparse`` parser, the other
runs it and returns an exit status. Heavy modules (numpy, matplotlib, the figures) are imported
inside the subcommand that needs them, so ``gradflow --help`` answers at once.

Errors never end in a traceback: bad arguments, the package's own errors
(:class:`gradflow.errors.GradflowError`), its ``ValueError``/``TypeError`` and operating-system
errors (a file that cannot be read, a folder that cannot be written) print one line,
``gradflow: error: ...``, on stderr and exit with status 2. ``--traceback`` shows the full
traceback instead, for debugging.

Each subcommand lives in a module ``gradflow/cli/_<name>.py`` of this package; every such module
is imported when the parser is built, so adding a subcommand touches no other file (a helper
module of a subcommand, such as ``_clip_plot``, is imported too and registers nothing).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass

from .. import __version__
from ..errors import GradflowError

__all__ = [
    "ACTIVATIONS",
    "CELLS",
    "add_cell_arguments",
    "build_parser",
    "comma_list",
    "main",
    "positive_int",
    "subcommand",
]

PROG = "gradflow"


class UsageError(Exception):
    """A bad command line (raised by the parser instead of exiting)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse calls this for every bad argument
        raise UsageError(message)


@dataclass(frozen=True)
class _Command:
    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


_COMMANDS: dict[str, _Command] = {}


def subcommand(name: str, *, help: str, arguments: Callable[[argparse.ArgumentParser], None]):
    """Register ``run(args) -> int`` as ``gradflow NAME``; ``arguments(parser)`` adds its options.

    The first paragraph of ``run``'s docstring becomes the subcommand's description.
    """

    def decorator(run):
        doc = (run.__doc__ or help).strip().split("\n\n")[0]
        _COMMANDS[name] = _Command(name, help, " ".join(doc.split()), arguments, run)
        return run

    return decorator


def comma_list(text: str) -> list[str]:
    """``"a,b, c"`` -> ``["a", "b", "c"]`` (an argparse ``type``)."""
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
    return items


#: The recurrent cells and the Elman nonlinearities (gradflow.cells.KINDS and ACTIVATIONS; a
#: test checks they agree: not imported here, so that ``gradflow --help`` does not load numpy).
CELLS = ("elman", "lstm", "gru")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


def positive_int(text: str) -> int:
    """An integer >= 1 (an argparse ``type``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def renamed_option(group, name: str, *old: str, **kwargs) -> None:
    """Add the option ``--name``, which still answers to its older spellings ``--old``."""
    dest = name.replace("-", "_")
    group.add_argument(f"--{name}", *(f"--{o}" for o in old), dest=dest, **kwargs)


def add_hidden_size_argument(group, old: str, default: int) -> None:
    """``--hidden-size N`` (older spelling ``--old``), shared by the commands that build one."""
    renamed_option(group, "hidden-size", old, type=positive_int, default=default, metavar="N",
                   help="hidden units N (default: %(default)s)")  # fmt: skip


def add_rng_argument(group, what: str) -> None:
    """``--rng SEED`` (older spelling ``--seed``): the root seed, as ``rng=`` in the API."""
    renamed_option(group, "rng", "seed", type=int, default=0, metavar="SEED",
                   help=f"root seed of {what} (default: %(default)s)")  # fmt: skip


def add_cell_arguments(group) -> None:
    """``--cell`` and ``--forget-bias``, shared by the subcommands that build a network."""
    group.add_argument(
        "--cell", choices=CELLS, default="elman", help="recurrent cell (default: %(default)s)"
    )
    group.add_argument(
        "--forget-bias",
        type=float,
        default=0.0,
        metavar="B",
        help="LSTM forget-gate (GRU update-gate) bias added at initialisation (default: 0)",
    )


# -- the command ------------------------------------------------------------------------------
def _load_subcommands() -> None:
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


#: The order of subcommands in ``gradflow --help`` (others follow alphabetically).
_ORDER = ("figures", "simulate", "clip", "diagnose")


def build_parser() -> argparse.ArgumentParser:
    """The ``gradflow`` argument parser with every registered subcommand."""
    _load_subcommands()
    parser = _Parser(
        prog=PROG,
        description="Eigenvalue and gradient dynamics of recurrent neural networks.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "--traceback", action="store_true", help="show the full traceback on errors"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    rank = {name: i for i, name in enumerate(_ORDER)}
    for command in sorted(_COMMANDS.values(), key=lambda c: (rank.get(c.name, len(rank)), c.name)):
        sub = commands.add_parser(command.name, help=command.help, description=command.description)
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _pin_blas_threads() -> None:
    """One BLAS thread unless the user chose otherwise (effective before numpy is imported).

    Every command runs loops over small matrices, where threaded BLAS only adds contention;
    without threadpoolctl (an optional dependency) the environment is the only lever.
    """
    if "numpy" not in sys.modules:
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(variable, "1")


def main(argv=None) -> int:
    """Run ``gradflow`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    ``--help`` and ``--version`` raise ``SystemExit(0)`` as argparse does.

    Examples
    --------
    >>> main(["figures", "--only", "nonesuch", "--out", "unused"])
    2
    """
    _pin_blas_threads()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    try:
        return int(args.run(args))
    except (GradflowError, ValueError, TypeError, OSError) as exc:
        # Bad input, an unreadable file or an unwritable folder: one line, status 2.
        if args.traceback:
            raise
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


_load_subcommands()
