r"""The entry point :func:`report` (part of :mod:`gradflow.diagnose`)."""

from __future__ import annotations

import sys

import numpy as np

from .._rng import spawn_seeds
from .._validation import as_array, as_choice, as_int
from ..cells import GRU, LSTM, Cell, Elman, build
from ..io import RecurrentLayer
from ._growth import INPUTS, measure
from ._report import Report
from ._spectra import SPECTRA, block_nonlinearities, block_spectrum
from ._verdict import advice, clip_threshold, decide, notes

__all__ = ["report"]

_KINDS = {Elman: "elman", LSTM: "lstm", GRU: "gru"}


def _as_layer(layer):
    """``(name, kind, cell, source, direction, index)`` of a RecurrentLayer or a bare cell."""
    if isinstance(layer, RecurrentLayer):
        found = (layer.name, layer.kind, layer.cell, layer.source, layer.direction, layer.index)
    elif isinstance(layer, Cell):
        kind = next((k for c, k in _KINDS.items() if type(layer) is c), None)
        if kind is None:
            raise TypeError(
                f"layer: expected an Elman, LSTM or GRU cell (an LSTM's h-only view is not a "
                f"layer: pass the LSTM), got {type(layer).__name__}"
            )
        found = ("cell", kind, layer, (), None, None)
    else:
        raise TypeError(
            f"layer: expected a gradflow.io.RecurrentLayer or a cell, got {type(layer).__name__}"
        )
    cell = found[2]
    if cell.n_networks is not None:
        raise ValueError(
            f"layer: expected one network, got stacked weights of {cell.n_networks} networks"
        )
    if cell.dtype != np.float64:  # diagnose in float64, whatever the cell computes in
        activation = {"activation": cell.activation} if isinstance(cell, Elman) else {}
        found = (*found[:2], build(found[1], cell.params, **activation), *found[3:])
    return found


def _check_inputs(inputs, cell, samples, name):
    """(primary kind, the given array or None)."""
    if isinstance(inputs, str):
        kind = as_choice(inputs, "inputs", ("zero", "gaussian"))
        if kind == "gaussian" and cell.W_xh is None:
            raise ValueError(
                f"inputs: layer {name!r} has no input weights, so it takes no input; use 'zero'"
            )
        return kind, None
    if cell.W_xh is None:
        raise ValueError(f"inputs: layer {name!r} has no input weights; use inputs='zero'")
    given = as_array(inputs, "inputs", ndim=(2, 3))
    if given.shape[-1] != cell.input_size or (given.ndim == 3 and given.shape[1] != samples):
        raise ValueError(
            f"inputs: expected shape (L, {cell.input_size}) or (L, {samples}, "
            f"{cell.input_size}) (samples={samples}), got {given.shape}"
        )
    return "given", given


def report(
    layer,
    *,
    steps=100,
    inputs="zero",
    rng=None,
    samples=8,
    burn_in=None,
    windows=6,
    spectra="full",
    progress=None,
) -> Report:
    r"""Diagnose one recurrent layer: what its weights imply for gradients over time.

    Parameters
    ----------
    layer : gradflow.io.RecurrentLayer or Cell
        A layer read by :func:`gradflow.io.load` (or :func:`~gradflow.io.from_state_dict`,
        :func:`~gradflow.io.from_module`), or a bare Elman, LSTM or GRU cell (one network).
    steps : int, default 100
        The lag window T: gradients are followed back T steps.
    inputs : {"zero", "gaussian"} or array_like, default "zero"
        The drive the verdict rests on. Zero input (the bias still acts) is always measured,
        and unit Gaussian input :math:`x_t \sim N(0, I_D)` whenever the layer has input
        weights; an array ``(L, D)`` (shared by the samples) or ``(L, samples, D)`` is
        measured as well ("given"), repeated end to end to fill the run.
    rng : int, Generator, SeedSequence or None
        Initial states, inputs and cotangents. Each input kind has its own SeedSequence stream
        (``spawn_seeds(rng, 3)``, in the order zero, gaussian, given), so its numbers do not
        depend on what else is measured.
    samples : int, default 8
        Networks run at once (one batched run): random initial states and cotangents.
    burn_in : int, optional
        Forward steps before the lag window (default ``steps``).
    windows : int, default 6
        The long run is ``burn_in + windows * steps`` steps (``windows >= 2``).
    spectra : {"full", "fast"}, default "full"
        See :func:`gradflow.diagnose.block_spectrum`: ``"fast"`` skips the eigendecompositions.
    progress : bool, optional
        A tqdm bar (default: when standard error is a terminal; it appears after 1 s).

    Returns
    -------
    Report

    Notes
    -----
    *Spectra.* For each recurrent block W (``cell.recurrent_blocks``): ρ, σ_max, σ_min,
    κ = σ_max/σ_min, the orthogonality defect :math:`\lVert W^\top W - I\rVert_F/\sqrt N`,
    Henrici's non-normality, and the circular-law radius :math:`s\sqrt N` of a random
    matrix with the entries' standard deviation s. Pascanu et al. (2013): with
    :math:`|\varphi'| \le \gamma`, :math:`\sigma_{\max} < 1/\gamma` suffices for vanishing
    and :math:`\sigma_{\max} > 1/\gamma` is necessary for exploding. γ is the activation's for
    Elman (1 for tanh, ReLU, linear; 1/4 sigmoid); for gated cells each block gets the γ of the
    function its pre-activation goes through, 1/4 for the sigmoid gates (LSTM i, f, o; GRU r, z)
    and 1 for the tanh candidate (LSTM g; GRU n), the largest factor a step along that path
    can contribute. For gated cells these conditions bound one path each, not the full-state
    Jacobian: the memory path :math:`\partial c_t/\partial c_{t-1} = \operatorname{diag}(f)`
    does not involve W, and the forget gate's factor :math:`c_{t-1} f(1-f)` grows with
    :math:`|c|`; they are reported, and the verdict rests on the measured growth.

    *Measured growth* (:func:`gradflow.diagnose.measure`): a batched run of ``samples``
    networks from random states, for each input kind; the log norm
    :math:`\ell(k) = \ln\lVert\partial\langle v, h_T\rangle/\partial h_{T-k}\rVert` of the h
    part of the full-state adjoint for unit cotangents v on h, k = 0..T, averaged over
    samples (:math:`\bar\ell`); the rate r, the slope of :math:`\bar\ell` over the second
    half of the window (:func:`gradflow.diagnose.window_rate`: the first lags carry a
    transient, the turn of a random cotangent towards the amplified directions and, in an
    LSTM, the hand-over from h to c); the factor :math:`e^{\bar\ell(T)}` across the whole
    window; the finite-time (over the window) and asymptotic (long run) top Lyapunov
    exponents λ₁ of the full state; the gate means and, for the LSTM's forget gate and the
    GRU's update gate (which keeps the state in PyTorch's convention), the memory time scale
    :math:`-1/\ln\bar f`. Gaussian inputs are unit-variance, the scale of standardised
    features (and of PyTorch's ``nn.Embedding`` initialisation), the same for every weight
    file so that before/after reports see one drive; the report gives the resulting rms of
    :math:`W_{xh}x` beside that of :math:`W_{hh}h`.

    *Verdict* (:func:`gradflow.diagnose.decide`), from the primary drive: with
    :math:`m = \max(r, \lambda_1)` and :math:`\varepsilon = \min(0.01, \ln 10/T)` nats per
    step, exploding if :math:`m > \varepsilon`, vanishing if :math:`m < -\varepsilon`,
    near-critical otherwise. 0.01 nats/step is a factor e per 100 steps: over the window, the
    gradient of the most distant lag stays within a factor 2.7 (at most 10 for long windows)
    of the nearest one, so no range of lags dominates the update; a factor 10 over T is the
    most a user training on T-step sequences should accept as "keeps its scale". A linear
    cell with orthogonal W_hh sits at 0 and an LSTM whose forget gates sit at σ(8) at
    ln σ(8) = -3.4e-4; a scaled orthogonal W_hh of gain 0.9 or 1.1 (ln 0.9 = -0.105) lies
    ten times outside. Both numbers come from the full-state adjoint, so for gated cells
    the verdict does not rest on the spectrum of a gate block.

    *Advice.* Clipping: :data:`CLIP_FACTOR` (3) times the median over samples of the window
    gradient norm :math:`G = (\sum_k e^{2\ell(k)})^{1/2}`, in units of the loss gradient on
    one hidden state: a starting point, to be settled from observed norms. Re-initialisation:
    orthogonal W_hh (gain 1) for an exploding or vanishing Elman layer; orthogonal gate blocks
    for an exploding gated one; chrono initialisation with :math:`T_{max} \approx T` (Tallec &
    Ollivier 2018) or a forget bias of 1 (Jozefowicz et al. 2015) when an LSTM vanishes with a
    memory time shorter than T, and a raised update-gate bias for such a GRU.

    References
    ----------
    R. Pascanu, T. Mikolov and Y. Bengio, "On the difficulty of training recurrent neural
    networks", ICML 2013.

    C. Tallec and Y. Ollivier, "Can recurrent neural networks warp time?", ICLR 2018.

    R. Jozefowicz, W. Zaremba and I. Sutskever, "An empirical exploration of recurrent network
    architectures", ICML 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import init
    >>> from gradflow.cells import Elman
    >>> from gradflow.diagnose import report
    >>> r = report(Elman(0.5 * init.orthogonal(16, rng=0), activation="linear"), steps=20, rng=0)
    >>> r.verdict, round(r.decision.rate, 6), round(r.block("W_hh").sigma_max, 6)
    ('vanishing', -0.693147, 0.5)
    >>> r.to_frame().query("quantity == 'spectral_radius'")[["block", "quantity", "value"]]
      block         quantity  value
    2  W_hh  spectral_radius    0.5
    """
    name, kind, cell, source, direction, index = _as_layer(layer)
    steps = as_int(steps, "steps", minimum=1)
    samples = as_int(samples, "samples", minimum=2)
    burn_in = steps if burn_in is None else as_int(burn_in, "burn_in", minimum=0)
    windows = as_int(windows, "windows", minimum=2)
    spectra = as_choice(spectra, "spectra", SPECTRA)
    primary, given = _check_inputs(inputs, cell, samples, name)
    kinds = ["zero"] + (["gaussian"] if cell.W_xh is not None else [])
    kinds += ["given"] if given is not None else []
    seeds = dict(zip(INPUTS, spawn_seeds(rng, len(INPUTS))))
    blocks_in = cell.recurrent_blocks
    show = sys.stderr.isatty() if progress is None else bool(progress)
    from tqdm import tqdm

    total = len(blocks_in) + 3 * len(kinds)
    with tqdm(
        total=total, desc=f"diagnose {name}", disable=not show, delay=1.0, leave=False
    ) as bar:
        kinds_of = block_nonlinearities(cell)
        blocks = []
        for block, W in blocks_in.items():
            blocks.append(block_spectrum(W, block, kinds_of[block], spectra=spectra))
            bar.update()
        growth = [
            measure(cell, k, steps=steps, burn_in=burn_in, windows=windows, samples=samples,
                    rng=seeds[k], given=given, name=name, tick=bar.update)
            for k in kinds
        ]  # fmt: skip
    by_kind = {g.inputs: g for g in growth}
    decision = decide(by_kind[primary].rate, by_kind[primary].exponent, steps, primary)
    others = [decide(g.rate, g.exponent, steps, g.inputs) for g in growth if g.inputs != primary]
    threshold = clip_threshold(by_kind[primary].window_gradient_norm)
    parts = {
        "decision": decision, "blocks": blocks, "primary": by_kind[primary], "growth": growth,
        "others": others, "gated": kind != "elman", "kind": kind,
        "activation": getattr(cell, "activation", None), "has_inputs": cell.W_xh is not None,
        "spectra": spectra, "clip_threshold": threshold,
    }  # fmt: skip
    return Report(
        layer=name, kind=kind, hidden_size=cell.hidden_size, state_size=cell.state_size,
        input_size=cell.input_size, activation=parts["activation"], source=tuple(source),
        direction=direction, index=index, steps=steps, inputs=primary, samples=samples,
        burn_in=burn_in, windows=windows, spectra=spectra, blocks=tuple(blocks),
        growth=tuple(growth), decision=decision, clip_threshold=threshold,
        notes=tuple(notes(parts)), advice=tuple(advice(parts)),
    )  # fmt: skip
