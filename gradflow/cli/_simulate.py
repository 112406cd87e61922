"""``gradflow simulate``: gradient growth across initialisers, gains and seeds, to a CSV."""

from __future__ import annotations

import argparse
import contextlib
import sys

from . import (
    ACTIVATIONS,
    add_cell_arguments,
    add_hidden_size_argument,
    add_rng_argument,
    positive_int,
    subcommand,
)

_DISTRIBUTED_HINT = (
    "--scheduler needs dask.distributed: install the distributed extra, "
    'pip install "gradflow-rnn[distributed]"'
)


def _simulate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--inits",
        default="orthogonal,gaussian,identity",
        metavar="NAME[,NAME]",
        help="initialisers (default: %(default)s; also glorot_uniform, uniform)",
    )
    parser.add_argument(
        "--gains", default="0.8,1,1.2", metavar="G[,G]", help="gains > 0 (default: %(default)s)"
    )
    add_hidden_size_argument(parser, "n", 128)
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=500,
        metavar="T",
        help="sequence length; lags run 0..T (default: 500)",
    )
    parser.add_argument(
        "--seeds",
        type=positive_int,
        default=16,
        metavar="S",
        help="random networks per (init, gain) (default: 16)",
    )
    parser.add_argument(
        "--activation", choices=ACTIVATIONS, default="tanh", help="nonlinearity (default: tanh)"
    )
    add_cell_arguments(parser)
    parser.add_argument(
        "--inputs",
        default=None,
        metavar="SPEC",
        help="input drive: none (default), gaussian[:scale=S,size=D], adding or copy",
    )
    add_rng_argument(parser, "the networks; same seed, same CSV, whatever the workers")
    parser.add_argument("--out", required=True, metavar="CSV", help="output CSV file (tidy)")
    parser.add_argument(
        "--plot", metavar="IMAGE", help="also draw the growth plot (.png, .svg or .pdf)"
    )
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help="run the tasks in N local worker processes",
    )
    scale.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the tasks on a dask.distributed scheduler (e.g. tcp://host:8786)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no summary")


def _check_arguments(args):
    """Parse and check the list arguments before any work starts: (inits, gains)."""
    from .. import init
    from .._validation import as_choices, as_floats
    from ..simulate import Drive, parse_list

    inits = as_choices(parse_list(args.inits, "inits"), "inits", init.available())
    gains = as_floats(parse_list(args.gains, "gains", kind=float), "gains", positive=True)
    if args.inputs is not None:
        Drive.parse(args.inputs)
    if args.plot is not None:
        from ..figures import FORMATS

        suffix = args.plot.rpartition(".")[2].lower()
        if "." not in args.plot or suffix not in FORMATS:
            raise ValueError(
                f"plot: expected a file name ending in .{', .'.join(FORMATS)}, got {args.plot!r}"
            )
    return inits, gains


@contextlib.contextmanager
def _executor(args):
    """The executor of ``--workers``/``--scheduler`` (None for a run in this process)."""
    if args.workers is not None:
        import concurrent.futures as cf

        with cf.ProcessPoolExecutor(args.workers) as pool:
            yield pool
    elif args.scheduler is not None:
        try:
            from dask.distributed import Client
        except ImportError:
            raise _MissingDistributed(_DISTRIBUTED_HINT) from None
        with Client(args.scheduler) as client:
            yield client.get_executor()
    else:
        yield None


class _MissingDistributed(Exception):
    """dask.distributed is not installed."""


@subcommand(
    "simulate",
    help="gradient growth across initialisers, gains and seeds (CSV)",
    arguments=_simulate_arguments,
)
def _simulate(args: argparse.Namespace) -> int:
    """Gradient norm against time lag for every initialiser, gain and seed: a tidy CSV with one
    row per (init, gain, seed, lag) and the spectral radius and σ_max of each W.

    The result does not depend on --workers or --scheduler: every network draws from its own
    seed, derived from --rng. Each process runs with one BLAS thread when threadpoolctl is
    installed.
    """
    inits, gains = _check_arguments(args)
    from .._blas import one_thread
    from ..simulate import gradient_growth

    try:
        with one_thread(), _executor(args) as executor:
            frame = gradient_growth(
                inits,
                gains,
                hidden_size=args.hidden_size,
                steps=args.steps,
                seeds=args.seeds,
                activation=args.activation,
                cell=args.cell,
                forget_bias=args.forget_bias,
                rng=args.rng,
                executor=executor,
                inputs=args.inputs,
                progress=not args.quiet,
            )
    except _MissingDistributed as exc:
        print(f"gradflow: error: {exc}", file=sys.stderr)
        return 2
    frame.to_csv(args.out, index=False, lineterminator="\n")
    written = [args.out]
    if args.plot is not None:
        written.append(_draw(frame, args.plot))
    if not args.quiet:
        print(
            f"{args.out}: {len(frame)} rows ({len(inits)} inits × {len(gains)} gains × "
            f"{args.seeds} seeds × {args.steps + 1} lags)"
        )
        if args.plot is not None:
            print(f"{args.plot}: growth plot")
    return 0


def _draw(frame, path) -> str:
    """The growth plot of ``frame`` (median and 10–90 % band over seeds, theory dashed)."""
    from ..figures import save_figure
    from ..figures.foundation import growth_data, growth_panels
    from ..plot import style_context

    attrs = frame.attrs
    drive = attrs.get("drive", {}).get("kind", "none")
    title = (
        f"Gradient norm against lag: median and 10–90 % band over {attrs['seeds']} draws "
        f"({attrs.get('cell', 'elman')}, N = {attrs['hidden_size']}, T = {attrs['steps']}, "
        f"inputs: {drive})"
    )
    with style_context():
        fig = growth_panels(growth_data(frame), inits=attrs.get("inits"), title=title)
    save_figure(fig, path)
    return path
