"""``gradflow diagnose``: what the recurrent weights of checkpoints imply for gradients."""

from __future__ import annotations

import argparse

from . import ACTIVATIONS, add_rng_argument, positive_int, subcommand

# The spectra modes of gradflow.diagnose and the image formats (checked against
# them in the tests; not imported here, so that ``gradflow --help`` does not load numpy).
_SPECTRA = ("full", "fast")
_PLOT_FORMATS = ("png", "svg", "pdf")
COLUMNS = ("path", "layer", "kind", "N", "ρ", "σ_max", "rate/step", "λ₁/step", "verdict")


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="+", metavar="PATH",
        help="weight files: .npy/.npz, .safetensors, PyTorch (read without torch), Keras; the "
        "format is read from the content",
    )  # fmt: skip
    parser.add_argument("--layer", metavar="NAME", help="only the layer of this name in each file")
    parser.add_argument(
        "--key", metavar="KEY", help="only the layers under this key of each file (or the key "
        "of the matrix to read as recurrent weights)",
    )  # fmt: skip
    parser.add_argument(
        "--steps", type=positive_int, default=100, metavar="T",
        help="lag window: gradients are followed T steps back (default: 100)",
    )  # fmt: skip
    parser.add_argument(
        "--inputs", choices=("zero", "gaussian"), default="zero",
        help="the drive the verdict rests on; both are measured where a layer has input weights "
        "(default: zero)",
    )  # fmt: skip
    parser.add_argument(
        "--activation", choices=ACTIVATIONS, default=None,
        help="nonlinearity of Elman layers (a state dict does not record it; default: tanh)",
    )  # fmt: skip
    parser.add_argument(
        "--spectra", choices=_SPECTRA, default="full",
        help="fast: no eigendecompositions (ARPACK ρ), for large layers (default: full)",
    )  # fmt: skip
    add_rng_argument(parser, "the initial states, inputs and cotangents; every layer uses it")
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--json", action="store_true",
        help="print one JSON document with every number of every report instead of the table",
    )  # fmt: skip
    output.add_argument(
        "--details", action="store_true", help="print each layer's full report after the table"
    )
    parser.add_argument(
        "--plot", metavar="IMAGE",
        help="write one figure (.png, .svg or .pdf) with one panel per layer, stacked in table "
        "order",
    )  # fmt: skip


def _check_plot(path):
    if path is not None:
        suffix = path.rpartition(".")[2].lower()
        if "." not in path or suffix not in _PLOT_FORMATS:
            raise ValueError(
                f"plot: expected a file name ending in .{', .'.join(_PLOT_FORMATS)}, got {path!r}"
            )


def _layers(args):
    """``[(path, layer), ...]`` of every file, in order; every file is read before any work."""
    import dataclasses

    from ..cells import Elman
    from ..io import load

    chosen = []
    for path in args.paths:
        layers = load(path, key=args.key)
        if args.layer is not None:
            names = [layer.name for layer in layers]
            layers = [layer for layer in layers if layer.name == args.layer]
            if not layers:
                raise ValueError(
                    f"layer: {path} has no layer named {args.layer!r}; its layers: "
                    f"{', '.join(names)}"
                )
        for layer in layers:
            if args.activation is not None and layer.kind == "elman":
                c = layer.cell
                cell = Elman(c.W_hh, c.W_xh, c.b, activation=args.activation)
                layer = dataclasses.replace(layer, cell=cell)
            chosen.append((path, layer))
    return chosen


def _row(path, r):
    from ..diagnose._format import fmt

    d = r.decision
    rho = max(b.spectral_radius for b in r.blocks)
    sigma = max(b.sigma_max for b in r.blocks)
    return [path, r.layer, r.kind, str(r.hidden_size), fmt(rho), fmt(sigma), fmt(d.rate),
            fmt(d.exponent), r.verdict]  # fmt: skip


@subcommand(
    "diagnose",
    help="what trained recurrent weights imply for gradients (a verdict per layer)",
    arguments=_arguments,
)
def _diagnose(args: argparse.Namespace) -> int:
    """Diagnose the recurrent layers of weight files: one row per layer with the spectral radius
    and σ_max of its recurrent weights (the largest over gate blocks), the measured growth rate
    of the gradient over the lag window, the long-run top Lyapunov exponent of the full state,
    and the verdict (exploding, vanishing or near-critical; see gradflow.diagnose.report).

    Several files give one table, in order (before and after training side by side). --json
    prints every number of every report instead; --plot writes one figure with a panel per
    layer. Every layer uses --rng, so its numbers do not depend on the other layers or files.
    """
    _check_plot(args.plot)
    import json

    from .. import __version__
    from ..diagnose import report, table

    chosen = _layers(args)
    reports = []
    for path, layer in chosen:
        try:
            reports.append(report(layer, steps=args.steps, inputs=args.inputs, rng=args.rng,
                                  spectra=args.spectra))  # fmt: skip
        except (ValueError, TypeError) as exc:  # name the file (the class is kept)
            raise type(exc)(f"{path}: {exc}") from None
    if args.plot is not None:
        from ..figures import diagnose_panel, save_figure

        labels = [f"{path}: {layer.name}" for path, layer in chosen]
        save_figure(diagnose_panel(reports, labels=labels), args.plot)
    if args.json:
        settings = {"steps": args.steps, "inputs": args.inputs, "rng": args.rng,
                    "spectra": args.spectra, "layer": args.layer, "key": args.key,
                    "activation": args.activation}  # fmt: skip
        document = {
            "gradflow": __version__,
            "settings": settings,
            "reports": [{"path": path, "report": r.to_dict()}
                        for (path, _), r in zip(chosen, reports)],
        }  # fmt: skip
        print(json.dumps(document, allow_nan=False))
        return 0
    rows = [_row(path, r) for (path, _), r in zip(chosen, reports)]
    print(table(COLUMNS, rows, right={3, 4, 5, 6, 7}))
    print(
        f"rate: growth of the gradient norm per step over the last half of T = {args.steps} "
        f"lags ({args.inputs} input); λ₁: long-run top Lyapunov exponent of the full state; "
        f"near-critical within ±{_band(args.steps)}/step"
    )
    if args.details:
        for (path, _), r in zip(chosen, reports):
            print(f"\n== {path} ==\n{r}")
    if args.plot is not None:
        print(f"{args.plot}: {len(reports)} panel{'s' if len(reports) != 1 else ''}")
    return 0


def _band(steps: int) -> str:
    from ..diagnose import threshold

    return f"{threshold(steps):.3g}"
