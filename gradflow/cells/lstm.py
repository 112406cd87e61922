"""The LSTM cell of ``torch.nn.LSTM`` (one layer, no projection) and its h-only view.

:class:`LSTMHiddenView` lives in ``gradflow.cells._lstm_hidden`` and is importable from here;
the step products both share are in ``gradflow.cells._lstm_steps``, the parameter-gradient
kernels in ``gradflow.cells._gated_grads``.
"""

from __future__ import annotations

import numpy as np

from .._validation import NonFiniteError, as_dtype
from ._base import Cell, Trajectory
from ._gated import GateLayout, check_gated, split_gates
from ._gated_grads import lstm_deltas, lstm_population_G
from ._lstm_hidden import LSTMHiddenView
from ._lstm_steps import check_cache, gate_adjoint, gate_means, pull, push

__all__ = ["LSTM", "LSTMHiddenView"]

_LAYOUT = GateLayout("an LSTM", ("i", "f", "g", "o"))
_CHUNK = 1 << 17  # elements of (steps, B, 4N) per chunk of a run or of param_grads: ~1 MB


def _sigmoid(x, out):
    """σ(x) = 1/(1 + e^{-x}) into ``out``: four fast ufuncs, about 3x quicker than expit."""
    np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


class LSTM(Cell):
    r"""The LSTM cell of ``torch.nn.LSTM``, with the full state :math:`s_t = [h_t, c_t]`.

    Parameters
    ----------
    W_hh : array_like, shape (4N, N) or (B, 4N, N)
        Recurrent weights, gate rows in the order i, f, g, o (PyTorch's ``weight_hh_l0``); a
        stack of B matrices runs B independent networks at once (each on one sequence, or as
        a population, on M sequences each: see :meth:`run`).
    W_xh : array_like, shape (4N, D) or (B, 4N, D), optional
        Input weights (``weight_ih_l0``); None: the cell takes no input.
    b : array_like, shape (4N,) or (B, 4N), optional
        Bias, ``bias_ih_l0 + bias_hh_l0`` (None: zero).
    dtype : {float64, float32}
        Working precision of every array the cell computes.

    Notes
    -----
    With :math:`a_t = W_{hh} h_{t-1} + W_{xh} x_t + b` split into gate blocks,
    :math:`i = \sigma(a^i)`, :math:`f = \sigma(a^f)`, :math:`g = \tanh(a^g)`,
    :math:`o = \sigma(a^o)`, :math:`c_t = f \odot c_{t-1} + i \odot g`,
    :math:`h_t = o \odot \tanh(c_t)`. The state is :math:`s = [h, c]` (2N, h first).
    With :math:`D^i = \operatorname{diag}(g\, i(1-i))`,
    :math:`D^f = \operatorname{diag}(c_{t-1} f(1-f))`, :math:`D^g = \operatorname{diag}(i(1-g^2))`,
    :math:`D^o = \operatorname{diag}(\tanh(c_t)\, o(1-o))` and
    :math:`K = \operatorname{diag}(o(1-\tanh^2 c_t))` the four blocks of
    :math:`J_t = \partial s_t/\partial s_{t-1}` are

    .. math::
        \partial c_t/\partial h_{t-1} = D^i W_{hi} + D^f W_{hf} + D^g W_{hg} =: C_t, \qquad
        \partial c_t/\partial c_{t-1} = \operatorname{diag}(f),

        \partial h_t/\partial h_{t-1} = D^o W_{ho} + K C_t, \qquad
        \partial h_t/\partial c_{t-1} = K \operatorname{diag}(f).

    A vector–Jacobian product is one product with :math:`W_{hh}^\top`: for :math:`u = [u_h, u_c]`,
    :math:`\bar u = u_c + K u_h` and :math:`\delta = [D^i\bar u, D^f\bar u, D^g\bar u, D^o u_h]`
    (the adjoint of :math:`a_t`), :math:`J_t^\top u = [W_{hh}^\top\delta, f\odot\bar u]`; the
    same :math:`\delta_t` for all t give :math:`\partial L/\partial W_{hh} = \sum_t \delta_t
    h_{t-1}^\top`, :math:`\partial L/\partial W_{xh} = \sum_t\delta_t x_t^\top`,
    :math:`\partial L/\partial b = \sum_t\delta_t`. A run caches the gates, :math:`\tanh c_t`
    and the factors above, so no derivative recomputes it. :meth:`h_only` gives the
    :math:`\partial h_t/\partial h_{t-1}` view that published LSTM Lyapunov codes use.
    Projections (``proj_size``, ``weight_hr_l0``) are refused with a one-line error.

    References
    ----------
    Hochreiter, S. & Schmidhuber, J. (1997). Long short-term memory. Neural Computation 9(8),
    1735–1780.
    Gers, F. A., Schmidhuber, J. & Cummins, F. (2000). Learning to forget: continual prediction
    with LSTM. Neural Computation 12(10), 2451–2471.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.cells import LSTM
    >>> b = np.zeros(8); b[2:4] = 2.0   # N = 2, forget-gate bias 2
    >>> cell = LSTM(np.zeros((8, 2)), b=b)
    >>> traj = cell.run(5, h0=np.array([0.0, 0.0, 1.0, -1.0]))
    >>> traj.states.shape
    (6, 4)
    >>> np.diag(cell.jacobian(traj, 1))[2:]   # ∂c/∂c = diag(σ(2))
    array([0.880797, 0.880797])
    """

    def __init__(self, W_hh, W_xh=None, b=None, *, dtype=np.float64):
        dtype = as_dtype(dtype)
        W_hh, W_xh, biases, hidden, n_networks, input_size = check_gated(
            _LAYOUT, W_hh, W_xh, {"b": b}, dtype
        )
        self.W_hh, self.W_xh, self.b = W_hh, W_xh, biases["b"]
        self.hidden_size, self.state_size, self.input_size = hidden, 2 * hidden, input_size
        self.n_networks, self.dtype = n_networks, dtype

    def __repr__(self) -> str:
        batch = "" if self.n_networks is None else f", n_networks={self.n_networks}"
        return f"LSTM(hidden_size={self.hidden_size}, input_size={self.input_size}{batch})"

    @property
    def params(self) -> dict[str, np.ndarray]:
        """The trainable arrays by name (those that are not None)."""
        named = {"W_hh": self.W_hh, "W_xh": self.W_xh, "b": self.b}
        return {name: value for name, value in named.items() if value is not None}

    def with_params(self, params) -> LSTM:
        """An LSTM in this one's dtype with the arrays of ``params``."""
        return LSTM(params["W_hh"], params.get("W_xh"), params.get("b"), dtype=self.dtype)

    @property
    def recurrent_blocks(self) -> dict[str, np.ndarray]:
        """``W_hi``, ``W_hf``, ``W_hg``, ``W_ho``: the ``([B,] N, N)`` gate blocks (views)."""
        return dict(zip(("W_hi", "W_hf", "W_hg", "W_ho"), split_gates(self.W_hh, 4), strict=True))

    def step_summary(self, traj: Trajectory) -> dict[str, np.ndarray]:
        """``mean_i``, ``mean_f``, ``mean_g``, ``mean_o``: gate means over units, ``(T, [B])``."""
        return gate_means(self.check_trajectory(traj).cache)

    def h_only(self) -> LSTMHiddenView:
        """The view of this LSTM whose state is h alone (see :class:`.lstm.LSTMHiddenView`)."""
        return LSTMHiddenView(self)

    def check_trajectory(self, traj) -> Trajectory:
        """Return ``traj`` if it is a run of an LSTM of this shape, else raise."""
        traj = super().check_trajectory(traj)
        check_cache(traj, self.hidden_size)
        return traj

    # -- forward ------------------------------------------------------------------------------
    def run(self, xs, h0=None) -> Trajectory:
        """Run the cell for T steps.

        Parameters
        ----------
        xs : int or array_like, shape (T, D), (T, B, D) or (T, P, M, D)
            Inputs, or the number of steps T for an input-free run. ``(T, P, M, D)`` is a
            population run of stacked weights: network p runs its own M sequences.
        h0 : array_like, shape (2N,), (B, 2N) or (P, M, 2N), optional
            Initial state ``[h_0, c_0]`` (default zeros).

        Returns
        -------
        Trajectory
            ``states`` ``(T+1, [B,] 2N)`` (``(T+1, P, M, 2N)`` for a population: read
            ``[B,]`` as ``P, M`` below); ``cache`` holds ``gates`` (i, f, g, o after their
            nonlinearities, ``(T, [B,] 4N)``), ``tanh_c`` (``(T, [B,] N)``), ``dgates`` (the
            diagonals of :math:`D^i, D^f, D^g, D^o`) and ``kappa`` (of K), row t-1 for step t.
        """
        n_steps, inputs, s0, lead_shape = self._resolve_batch(xs, h0)
        n, W, bias, lead = self.hidden_size, self.W_hh, self.b, s0.shape[:-1]
        states = np.empty((n_steps + 1, *lead, 2 * n), self.dtype)
        states[0] = s0
        gates, dgates = (np.empty((n_steps, *lead, 4 * n), self.dtype) for _ in range(2))
        tanh_c, kappa = (np.empty((n_steps, *lead, n), self.dtype) for _ in range(2))
        # chunks of a few steps (about 1 MB of gates): the input drive of a chunk is one GEMM,
        # and the chunk's derivative factors are formed while it is still in cache
        chunk = max(1, _CHUNK // gates[0].size)
        tmp = np.empty((min(chunk, n_steps), *lead, 4 * n), self.dtype)
        W_T = None if W.ndim != 2 else W.T
        if W_T is not None and lead:  # a batch: the GEMM is faster on a C-ordered copy of W_hhᵀ
            W_T = np.ascontiguousarray(W_T)  # (the same result; a GEMV keeps the view)
        elif len(lead) == 2:  # a population: (P, M, N) @ (P, N, 4N), one GEMM per network
            W_T = np.ascontiguousarray(np.swapaxes(W, -1, -2))
        with np.errstate(over="ignore", invalid="ignore"):  # NaN is reported after the run
            for s in range(0, n_steps, chunk):
                e = min(s + chunk, n_steps)
                x = None if inputs is None else inputs[s:e]
                drive = self._drive(x, e - s, lead_shape, bias)
                for t in range(s, e):
                    a, d, c = gates[t], dgates[t], states[t, ..., n:]
                    if W_T is not None:
                        np.matmul(states[t, ..., :n], W_T, out=a)
                    else:
                        np.matmul(W, states[t, ..., :n, None], out=a[..., None])
                    if drive is not None:
                        a += drive[t - s]
                    i, f, g, o = (a[..., k * n : (k + 1) * n] for k in range(4))
                    g = np.tanh(g, out=d[..., 2 * n : 3 * n])  # parked until the chunk ends
                    _sigmoid(a, a)  # over the whole row: one contiguous call
                    np.multiply(i, g, out=d[..., :n])
                    np.multiply(f, c, out=d[..., n : 2 * n])
                    np.add(d[..., n : 2 * n], d[..., :n], out=states[t + 1, ..., n:])  # c_t
                    np.tanh(states[t + 1, ..., n:], out=tanh_c[t])
                    np.multiply(o, tanh_c[t], out=states[t + 1, ..., :n])  # h_t = o tanh(c_t)
                # the factors: x (1 - y) = x - x y for the gates y and x = [i g, f c_{t-1},
                # i (1 + g), h_t] (the first two formed above, where g was parked)
                a, d, h = gates[s:e], dgates[s:e], states[s + 1 : e + 1, ..., :n]
                np.copyto(a[..., 2 * n : 3 * n], d[..., 2 * n : 3 * n])
                np.add(a[..., :n], d[..., :n], out=d[..., 2 * n : 3 * n])
                np.copyto(d[..., 3 * n :], h)
                d -= np.multiply(d, a, out=tmp[: e - s])
                k = np.multiply(h, tanh_c[s:e], out=kappa[s:e])
                np.subtract(a[..., 3 * n :], k, out=k)  # o (1 - tanh² c_t)
        if not np.all(np.isfinite(states[-1])):
            name = "W_hh" if inputs is None else "xs"
            raise NonFiniteError(
                f"{name}: the forward run became non-finite (a gate pre-activation overflowed "
                "to NaN); scale down the inputs or the weights"
            )
        cache = {"gates": gates, "tanh_c": tanh_c, "dgates": dgates, "kappa": kappa}
        return Trajectory(states, inputs, cache)

    # -- derivatives --------------------------------------------------------------------------
    def _dense_jacobian(self, traj, t):
        n, cache = self.hidden_size, traj.cache
        d, kappa, W = cache["dgates"][t - 1], cache["kappa"][t - 1], self.W_hh
        f = cache["gates"][t - 1, ..., n : 2 * n]
        J = np.zeros((*kappa.shape[:-1], 2 * n, 2 * n), self.dtype)
        C = J[..., n:, :n]  # ∂c_t/∂h_{t-1} = Σ_{i,f,g} D^k W_hk
        for k in range(3):
            C += d[..., k * n : (k + 1) * n, None] * W[..., k * n : (k + 1) * n, :]
        np.multiply(kappa[..., None], C, out=J[..., :n, :n])
        J[..., :n, :n] += d[..., 3 * n :, None] * W[..., 3 * n :, :]
        diag = np.arange(n)
        J[..., diag, n + diag] = kappa * f
        J[..., n + diag, n + diag] = f
        return J

    def jvp_block(self, traj, t, vectors):
        n = self.hidden_size
        return push(self.W_hh, traj.cache, t, vectors[..., :n, :], vectors[..., n:, :])

    def vjp_block(self, traj, t, vectors):
        n, cache = self.hidden_size, traj.cache
        delta, u_bar = gate_adjoint(
            cache["dgates"][t - 1], cache["kappa"][t - 1], vectors[..., :n, :], vectors[..., n:, :]
        )
        out = np.empty((*u_bar.shape[:-2], 2 * n, u_bar.shape[-1]), u_bar.dtype)
        np.matmul(np.swapaxes(self.W_hh, -1, -2), delta, out=out[..., :n, :])
        np.multiply(cache["gates"][t - 1, ..., n : 2 * n, None], u_bar, out=out[..., n:, :])
        return out

    def vjp_vector(self, traj, t, v):  # the hot path of backpropagation: a few flat ops
        n, cache = self.hidden_size, traj.cache
        lead = v.shape[:-1]
        out = np.empty(v.shape, np.result_type(v, self.dtype))
        u_bar, delta = out[..., n:], np.empty((*lead, 4, n), out.dtype)
        lstm_deltas(v, cache["kappa"][t - 1], cache["dgates"][t - 1], u_bar, delta)
        pull(self.W_hh, delta.reshape(*lead, 4 * n), out[..., :n])
        u_bar *= cache["gates"][t - 1, ..., n : 2 * n]  # ∂c_t/∂c_{t-1} = diag(f)
        return out

    def param_grads(self, traj: Trajectory, adjoints) -> dict[str, np.ndarray]:
        r"""Gradients of the parameters from the full-state adjoints, vectorised over steps.

        Parameters
        ----------
        traj : Trajectory
            The forward run.
        adjoints : array_like, shape (T+1, [B,] 2N) or (T+1, P, M, 2N)
            :math:`\lambda_t = \partial L/\partial s_t` for the full state (as
            :func:`gradflow.jacobians.backprop` returns them).

        Returns
        -------
        dict
            ``"W_hh"``, and ``"W_xh"`` and ``"b"`` where the cell has them, each shaped like the
            parameter; for shared weights and a batch of sequences, summed over the batch (for
            a population, over each network's M sequences).

        Notes
        -----
        With the gate adjoints :math:`\delta_t` of the class Notes, one GEMM gives all three,
        :math:`\partial L/\partial[W_{hh}, W_{xh}, b] = \sum_t \delta_t [h_{t-1}, x_t, 1]^\top`,
        accumulated over chunks of a few steps (all sequences at once), so that no
        ``(T, B, 4N)`` temporary is made.
        """
        traj, adjoints = self._check_adjoints(traj, adjoints)
        n, cache, n_steps = self.hidden_size, traj.cache, traj.n_steps
        lead = traj.states.shape[1:-1]
        with_x = self.W_xh is not None and traj.inputs is not None
        D = self.input_size if with_x else 0
        if len(lead) == 2:  # a population (T+1, P, M, 2N)
            G = lstm_population_G(self, traj, adjoints, with_x, D, _CHUNK)
            return self._grads_from(G, with_x, D)
        shared = self.W_hh.ndim == 2
        chunk = max(1, _CHUNK // cache["dgates"][0].size)
        size = min(chunk, n_steps)
        X = np.ones((size, *lead, n + D + (self.b is not None)), self.dtype)
        # flat buffers, reused by every chunk: ū (steps, [B,] N) and δ (steps, [B,] 4, N)
        u_buf = np.empty((size, *lead, n), self.dtype)
        delta_buf = np.empty((size, *lead, 4, n), self.dtype)
        G = None
        for s in range(0, n_steps, chunk):
            e = min(s + chunk, n_steps)
            lam, delta = adjoints[s + 1 : e + 1], delta_buf[: e - s]
            lstm_deltas(lam, cache["kappa"][s:e], cache["dgates"][s:e], u_buf[: e - s], delta)
            x = X[: e - s]
            x[..., :n] = traj.states[s:e, ..., :n]
            if with_x:
                inputs = traj.inputs[s:e]  # (steps, [B,] D), or (steps, D) for a batch
                x[..., n : n + D] = inputs if inputs.ndim == x.ndim else inputs[:, None]
            if shared:  # [h, x, 1]ᵀ δ, (·, 4N): the faster orientation of the GEMM
                part = x.reshape(-1, x.shape[-1]).T @ delta.reshape(-1, 4 * n)
            else:  # per network: (B, 4N, steps) @ (B, steps, ·)
                part = np.moveaxis(delta.reshape(e - s, *lead, 4 * n), 0, -1) @ x.swapaxes(0, 1)
            if G is None:
                G = part
            else:
                G += part
        if shared:
            G = G.T
        return self._grads_from(G, with_x, D)

    def _grads_from(self, G, with_x, D):
        """The gradients by name from ``G = Σ δ [h, x, 1]ᵀ``, ``([B,] 4N, N + D [+ 1])``."""
        n = self.hidden_size
        grads = {"W_hh": np.ascontiguousarray(G[..., :n])}
        if self.W_xh is not None:
            W_xh = G[..., n : n + D] if with_x else np.zeros_like(self.W_xh)
            grads["W_xh"] = np.ascontiguousarray(W_xh)
        if self.b is not None:
            grads["b"] = np.ascontiguousarray(G[..., -1])
        return grads
