"""Initialisers of gated cells by gate block: the constructor arrays of an LSTM or a GRU.

Each function returns a dict that the cell takes as it is (``LSTM(**lstm(...))``,
``GRU(**gru(...))``), with PyTorch's layouts: LSTM gate rows i, f, g, o; GRU rows r, z, n.
Every N×N block of the recurrent weights is its own draw of a square initialiser (see
:func:`gradflow.init.get`); input weights follow PyTorch's default.
"""

from __future__ import annotations

import numpy as np

from gradflow._rng import as_generator
from gradflow._validation import as_choice, as_float, as_int

from ._matrices import available, get

__all__ = ["gru", "lstm"]


def _check(hidden_size, input_size, recurrent, gain, chrono, rng, batch):
    """Validate the shared arguments; return them cleaned, with a Generator for ``rng``."""
    n = as_int(hidden_size, "hidden_size", minimum=1)
    d = as_int(input_size, "input_size", minimum=0)
    recurrent = as_choice(recurrent, "recurrent", available())
    gain = as_float(gain, "gain", positive=True)
    if chrono is not None:
        chrono = as_float(chrono, "chrono")
        if chrono <= 2:
            raise ValueError(
                f"chrono: expected the longest time dependency T_max > 2 "
                f"(b_f = log U(1, T_max - 1)), got {chrono:g}"
            )
    if batch is not None:
        batch = as_int(batch, "batch", minimum=1)
    return n, d, recurrent, gain, chrono, as_generator(rng), batch


def _draw(gen, n_gates, n, d, recurrent, gain, chrono):
    """One network's arrays from ``gen``, in the documented order.

    Returns ``(W_hh, W_xh or None, b_ih, b_hh, log_u or None)``: the biases are PyTorch's
    draws for ``recurrent="uniform"``, zeros otherwise; ``log_u = log U(1, chrono - 1)``.
    """
    square = get(recurrent)
    W_hh = np.concatenate([square(n, gain=gain, rng=gen) for _ in range(n_gates)])
    bound = 1.0 / np.sqrt(n)
    W_xh = gen.uniform(-bound, bound, size=(n_gates * n, d)) if d else None
    if recurrent == "uniform":
        b_ih = gen.uniform(-bound, bound, size=n_gates * n)
        b_hh = gen.uniform(-bound, bound, size=n_gates * n)
    else:
        b_ih, b_hh = np.zeros(n_gates * n), np.zeros(n_gates * n)
    log_u = None if chrono is None else np.log(gen.uniform(1.0, chrono - 1.0, size=n))
    return W_hh, W_xh, b_ih, b_hh, log_u


def _stack(arrays, batch):
    """The one network's arrays, or ``batch`` networks' stacked on a leading axis."""
    if batch is None:
        return arrays[0]
    return {name: None if arrays[0][name] is None else np.stack([a[name] for a in arrays])
            for name in arrays[0]}  # fmt: skip


def lstm(
    hidden_size,
    input_size=0,
    *,
    recurrent="orthogonal",
    gain=1.0,
    forget_bias=0.0,
    chrono=None,
    rng=None,
    batch=None,
) -> dict:
    r"""The arrays of an LSTM, drawn gate block by gate block: ``LSTM(**lstm(...))``.

    Parameters
    ----------
    hidden_size : int
        N, ``>= 1``.
    input_size : int, default 0
        D; 0 for a cell without input weights (``W_xh`` is then None).
    recurrent : str, default "orthogonal"
        A square initialiser of :func:`gradflow.init.available`, applied to each N×N gate
        block of ``W_hh`` on its own (``"orthogonal"``: four independent Haar draws). With
        ``"uniform"`` the whole layer follows PyTorch's default, biases included (Notes).
    gain : float, default 1.0
        Scale of the recurrent blocks (passed to the square initialiser), ``> 0``. Input
        weights and biases are not scaled.
    forget_bias : float, default 0.0
        Added to the forget-gate rows of ``b`` (rows N..2N); Jozefowicz et al. (2015)
        recommend 1. Not together with ``chrono``.
    chrono : float, optional
        T_max, the longest time dependency expected, ``> 2``: chrono initialisation
        :math:`b_f = \log U(1, T_{max} - 1)`, :math:`b_i = -b_f` (Tallec & Ollivier 2018).
    rng : None, int, SeedSequence or numpy.random.Generator, optional
        Source of randomness (the order of draws is under Notes).
    batch : int, optional
        Stack this many independent networks on a leading axis.

    Returns
    -------
    dict
        ``"W_hh"`` ``([B,] 4N, N)``, ``"W_xh"`` ``([B,] 4N, D)`` or None, ``"b"``
        ``([B,] 4N,)``; float64, gate rows i, f, g, o as PyTorch's ``weight_hh_l0``.

    Notes
    -----
    Input weights are PyTorch's default, :math:`U(-1/\sqrt N, 1/\sqrt N)` entrywise. Biases
    are zero, except with ``recurrent="uniform"``: PyTorch's ``nn.LSTM`` draws every weight
    and both of its biases ``bias_ih`` and ``bias_hh`` from :math:`U(-1/\sqrt N, 1/\sqrt N)`,
    and gradflow's single ``b`` is their sum, so each entry of ``b`` is the sum of two such
    draws (triangular on :math:`(-2/\sqrt N, 2/\sqrt N)`); ``W_hh`` is then
    :math:`U(-g/\sqrt N, g/\sqrt N)` for gain g.

    ``chrono`` replaces the i and f rows of ``b``: a unit whose forget gate stays at
    :math:`\sigma(b_f)` forgets over about :math:`1/(1 - \sigma(b_f)) = 1 + e^{b_f}` steps,
    so :math:`e^{b_f} \sim U(1, T_{max} - 1)` spreads the memory times of the units over
    :math:`(2, T_{max})`; :math:`b_i = -b_f` keeps the input gate complementary.

    The draws come from one generator, network by network (so the first network of a batch
    is the unbatched draw from the same seed): the four blocks of ``W_hh`` in row order, then
    ``W_xh``, then (``"uniform"`` only) ``bias_ih`` and ``bias_hh``, then (``chrono`` only)
    the N values of :math:`U(1, T_{max} - 1)`. ``forget_bias`` draws nothing; ``chrono``
    leaves the first network's weights as they are but shifts those of later ones.

    References
    ----------
    R. Jozefowicz, W. Zaremba and I. Sutskever, "An empirical exploration of recurrent network
    architectures", ICML 2015.

    C. Tallec and Y. Ollivier, "Can recurrent neural networks warp time?", ICLR 2018.
    https://arxiv.org/abs/1804.11188

    PyTorch, ``torch.nn.LSTM``. https://pytorch.org/docs/stable/generated/torch.nn.LSTM.html

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import init
    >>> params = init.lstm(3, 2, forget_bias=1.0, rng=0)
    >>> params["W_hh"].shape, params["W_xh"].shape, params["b"].tolist()
    ((12, 3), (12, 2), [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    >>> W_f = params["W_hh"][3:6]  # each gate block is its own orthogonal draw
    >>> bool(np.allclose(W_f.T @ W_f, np.eye(3)))
    True
    >>> b = init.lstm(4, chrono=100, rng=0)["b"]
    >>> bool(np.all(b[:4] == -b[4:8]) and np.all((b[4:8] >= 0) & (b[4:8] <= np.log(99))))
    True
    """
    n, d, recurrent, gain, chrono, gen, batch = _check(
        hidden_size, input_size, recurrent, gain, chrono, rng, batch
    )
    forget_bias = as_float(forget_bias, "forget_bias")
    if chrono is not None and forget_bias != 0.0:
        raise ValueError(
            f"forget_bias: chrono sets the forget-gate bias itself; pass forget_bias=0 with "
            f"chrono, got {forget_bias:g}"
        )
    networks = []
    for _ in range(1 if batch is None else batch):
        W_hh, W_xh, b_ih, b_hh, log_u = _draw(gen, 4, n, d, recurrent, gain, chrono)
        b = b_ih + b_hh
        b[n : 2 * n] += forget_bias  # rows i, f, g, o
        if log_u is not None:
            b[n : 2 * n] = log_u
            b[:n] = -log_u
        networks.append({"W_hh": W_hh, "W_xh": W_xh, "b": b})
    return _stack(networks, batch)


def gru(
    hidden_size,
    input_size=0,
    *,
    recurrent="orthogonal",
    gain=1.0,
    chrono=None,
    rng=None,
    batch=None,
) -> dict:
    r"""The arrays of a GRU, drawn gate block by gate block: ``GRU(**gru(...))``.

    Parameters
    ----------
    hidden_size : int
        N, ``>= 1``.
    input_size : int, default 0
        D; 0 for a cell without input weights (``W_xh`` is then None).
    recurrent : str, default "orthogonal"
        A square initialiser of :func:`gradflow.init.available`, applied to each N×N gate
        block of ``W_hh`` on its own. With ``"uniform"`` the whole layer follows PyTorch's
        default, both biases included.
    gain : float, default 1.0
        Scale of the recurrent blocks, ``> 0``; input weights and biases are not scaled.
    chrono : float, optional
        T_max ``> 2``: chrono initialisation of the update gate,
        :math:`b_{hz} = \log U(1, T_{max} - 1)` and :math:`b_{iz} = 0` (Notes for the sign).
    rng : None, int, SeedSequence or numpy.random.Generator, optional
        Source of randomness (the order of draws is under Notes).
    batch : int, optional
        Stack this many independent networks on a leading axis.

    Returns
    -------
    dict
        ``"W_hh"`` ``([B,] 3N, N)``, ``"W_xh"`` ``([B,] 3N, D)`` or None, ``"b_ih"`` and
        ``"b_hh"`` ``([B,] 3N,)``; float64, gate rows r, z, n as PyTorch's ``weight_hh_l0``.

    Notes
    -----
    Input weights are :math:`U(-1/\sqrt N, 1/\sqrt N)` (PyTorch's default); biases are zero,
    or with ``recurrent="uniform"`` each of ``b_ih``, ``b_hh`` is its own
    :math:`U(-1/\sqrt N, 1/\sqrt N)` draw, as in ``nn.GRU`` (the GRU keeps them apart).

    Chrono's sign: in PyTorch's GRU, :math:`h' = (1 - z) \odot n + z \odot h` (as in Cho et
    al. 2014), so it is the update gate z that keeps the old state, the role of the LSTM's
    forget gate, and :math:`1 - z = \sigma(-b_z)` is the input gate, tied to it. With z held
    at :math:`\sigma(b_z)`, :math:`h_t - n = z^t (h_0 - n)`: a unit remembers over about
    :math:`1/(1 - \sigma(b_z)) = 1 + e^{b_z}` steps. Hence :math:`b_z = +\log U(1, T_{max} -
    1)`, positive, spreading the memory times over :math:`(2, T_{max})` as for the LSTM; the
    chrono rule's :math:`b_i = -b_f` holds by construction. The whole value goes into
    ``b_hh``'s z rows and ``b_iz`` is set to 0, so the gate's total bias is exactly it; the r
    and n rows are left as drawn.

    The draws come from one generator, network by network (the first network of a batch is
    the unbatched draw from the same seed): the three blocks of ``W_hh`` in row order, then
    ``W_xh``, then (``"uniform"`` only) ``b_ih`` and ``b_hh``, then (``chrono`` only) the N
    values of :math:`U(1, T_{max} - 1)`; ``chrono`` leaves the first network's weights as
    they are but shifts those of later ones.

    References
    ----------
    K. Cho et al., "Learning phrase representations using RNN encoder-decoder for
    statistical machine translation", EMNLP 2014.

    C. Tallec and Y. Ollivier, "Can recurrent neural networks warp time?", ICLR 2018.

    PyTorch, ``torch.nn.GRU``. https://pytorch.org/docs/stable/generated/torch.nn.GRU.html

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import init
    >>> from gradflow.cells import GRU
    >>> cell = GRU(**init.gru(4, 2, rng=0, batch=3))
    >>> cell.W_hh.shape, cell.W_xh.shape, cell.n_networks
    ((3, 12, 4), (3, 12, 2), 3)
    >>> b_z = init.gru(4, chrono=50, rng=0)["b_hh"][4:8]  # rows r, z, n
    >>> bool(np.all((b_z >= 0) & (b_z <= np.log(49))))
    True
    """
    n, d, recurrent, gain, chrono, gen, batch = _check(
        hidden_size, input_size, recurrent, gain, chrono, rng, batch
    )
    networks = []
    for _ in range(1 if batch is None else batch):
        W_hh, W_xh, b_ih, b_hh, log_u = _draw(gen, 3, n, d, recurrent, gain, chrono)
        if log_u is not None:  # rows r, z, n
            b_hh[n : 2 * n] = log_u
            b_ih[n : 2 * n] = 0.0
        networks.append({"W_hh": W_hh, "W_xh": W_xh, "b_ih": b_ih, "b_hh": b_hh})
    return _stack(networks, batch)
