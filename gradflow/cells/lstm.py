"""The LSTM cell of ``torch.nn.LSTM`` (one layer, no projection) and its h-only view."""

from __future__ import annotations

import numpy as np

from .._validation import NonFiniteError, as_array, as_dtype
from ._base import Cell, Trajectory
from ._gated import GateLayout, check_gated, split_gates

__all__ = ["LSTM", "LSTMHiddenView"]

_LAYOUT = GateLayout("an LSTM", ("i", "f", "g", "o"))
_CHUNK = 1 << 17  # elements of (steps, B, 4N) per chunk of a run or of param_grads: ~1 MB


def _sigmoid(x, out):
    """σ(x) = 1/(1 + e^{-x}) into ``out``: four fast ufuncs, about 3x quicker than expit."""
    np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


def _gate_means(cache):
    i, f, g, o = split_gates(cache["gates"], 4, axis=-1)
    return {"mean_i": i.mean(-1), "mean_f": f.mean(-1), "mean_g": g.mean(-1), "mean_o": o.mean(-1)}


def _check_cache(traj, n):
    """Refuse a trajectory whose cache is not an LSTM's of hidden size ``n``."""
    wanted = (traj.n_steps, *traj.states.shape[1:-1])
    for key, size in (("gates", 4 * n), ("dgates", 4 * n), ("kappa", n)):
        value = traj.cache.get(key)
        if value is None or value.shape != (*wanted, size):
            raise ValueError(
                f"traj: expected a run of an LSTM with hidden size {n} (cache[{key!r}] of shape "
                f"{(*wanted, size)}), got {None if value is None else value.shape}"
            )


def _block(a, steps: slice, nets: slice):
    """The block ``(networks, steps, M, ·)`` of a population array ``(T, P, M, ·)`` (a view)."""
    return np.moveaxis(a[steps, nets], 1, 0)


def _gate_adjoint(dgates, kappa, u_h, u_c=None):
    """δ = [D^i ū, D^f ū, D^g ū, D^o u_h] ``(…, 4N, k)`` and ū = u_c + K u_h for blocks
    ``(…, N, k)`` and the factors of one step or all (``u_c`` None: zero, the h-only view)."""
    n, k = u_h.shape[-2:]
    d4 = dgates.reshape(*dgates.shape[:-1], 4, n, 1)
    u_bar = np.multiply(kappa[..., None], u_h)
    if u_c is not None:
        u_bar += u_c
    delta = np.empty((*u_bar.shape[:-2], 4, n, k), u_bar.dtype)
    np.multiply(d4[..., :3, :, :], u_bar[..., None, :, :], out=delta[..., :3, :, :])
    np.multiply(d4[..., 3, :, :], u_h, out=delta[..., 3, :, :])
    return delta.reshape(*u_bar.shape[:-2], 4 * n, k), u_bar


def _pull(W, delta, out):
    """W_hhᵀ δ into ``out`` for vectors δ ``(…, 4N)``: a GEMM (shared W, or a population's
    ``(P, M, 4N) @ (P, 4N, N)``, one per network) or a batched GEMV (one vector per network)."""
    if W.ndim == 2 or delta.ndim == 3:
        return np.matmul(delta, W, out=out)
    np.matmul(delta[..., None, :], W, out=out[..., None, :])
    return out


def _push(W, cache, t, V_h, V_c=None):
    """J_t V for blocks ``(…, N, k)``: the full ``(…, 2N, k)`` product, or the h-only one."""
    n, k = V_h.shape[-2:]
    d, kappa = cache["dgates"][t - 1, ..., None], cache["kappa"][t - 1, ..., None]
    shared = W.ndim == 2 and V_h.ndim == 2  # then Fortran order, which LAPACK takes as it is
    Z = (V_h.T @ W.T).T if shared else np.matmul(W, V_h)
    rows = n if V_c is None else 2 * n
    out = np.empty((*Z.shape[:-2], rows, k), Z.dtype, order="F" if shared else "C")
    acc = Z[..., :n, :]  # accumulates C_t V_h = Σ_{i,f,g} D^k W_hk V_h
    acc *= d[..., :n, :]
    for j in (1, 2):
        block = Z[..., j * n : (j + 1) * n, :]
        block *= d[..., j * n : (j + 1) * n, :]
        acc += block
    if V_c is not None:
        dc = out[..., n:, :]
        np.multiply(cache["gates"][t - 1, ..., n : 2 * n, None], V_c, out=dc)
        acc = np.add(dc, acc, out=dc)
    dh = np.multiply(kappa, acc, out=out[..., :n, :])
    Z_o = Z[..., 3 * n :, :]
    Z_o *= d[..., 3 * n :, :]
    dh += Z_o
    return out


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
        return _gate_means(self.check_trajectory(traj).cache)

    def h_only(self) -> LSTMHiddenView:
        """The view of this LSTM whose state is h alone (see :class:`LSTMHiddenView`)."""
        return LSTMHiddenView(self)

    def check_trajectory(self, traj) -> Trajectory:
        """Return ``traj`` if it is a run of an LSTM of this shape, else raise."""
        traj = super().check_trajectory(traj)
        _check_cache(traj, self.hidden_size)
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
        return _push(self.W_hh, traj.cache, t, vectors[..., :n, :], vectors[..., n:, :])

    def vjp_block(self, traj, t, vectors):
        n, cache = self.hidden_size, traj.cache
        delta, u_bar = _gate_adjoint(
            cache["dgates"][t - 1], cache["kappa"][t - 1], vectors[..., :n, :], vectors[..., n:, :]
        )
        out = np.empty((*u_bar.shape[:-2], 2 * n, u_bar.shape[-1]), u_bar.dtype)
        np.matmul(np.swapaxes(self.W_hh, -1, -2), delta, out=out[..., :n, :])
        np.multiply(cache["gates"][t - 1, ..., n : 2 * n, None], u_bar, out=out[..., n:, :])
        return out

    def vjp_vector(self, traj, t, v):  # the hot path of backpropagation: a few flat ops
        n, cache = self.hidden_size, traj.cache
        lead = v.shape[:-1]
        d4 = cache["dgates"][t - 1].reshape(*lead, 4, n)
        out = np.empty(v.shape, np.result_type(v, self.dtype))
        u_bar = np.multiply(cache["kappa"][t - 1], v[..., :n], out=out[..., n:])
        u_bar += v[..., n:]
        delta = np.empty((*lead, 4, n), out.dtype)
        np.multiply(d4[..., :3, :], u_bar[..., None, :], out=delta[..., :3, :])
        np.multiply(d4[..., 3, :], v[..., :n], out=delta[..., 3, :])
        _pull(self.W_hh, delta.reshape(*lead, 4 * n), out[..., :n])
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
            return self._grads_from(self._population_G(traj, adjoints, with_x, D), with_x, D)
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
            lam = adjoints[s + 1 : e + 1]
            u_bar = np.multiply(cache["kappa"][s:e], lam[..., :n], out=u_buf[: e - s])
            u_bar += lam[..., n:]
            d4 = cache["dgates"][s:e].reshape(*u_bar.shape[:-1], 4, n)
            delta = delta_buf[: e - s]
            np.multiply(d4[..., :3, :], u_bar[..., None, :], out=delta[..., :3, :])
            np.multiply(d4[..., 3, :], lam[..., :n], out=delta[..., 3, :])
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

    def _population_G(self, traj, adjoints, with_x, D):
        """``G = Σ δ [h, x, 1]ᵀ`` ``(P, 4N, N + D [+ 1])`` of a population run, per network
        over its steps and M sequences.

        The work goes in blocks of a few networks and steps (about ``_CHUNK`` entries of δ),
        laid out network-major, ``(networks, steps, M, ·)``: each network's GEMM then sums
        over steps·M rows, as in a one-network batch of M sequences (a block of all P·M
        sequences would hold only a few steps, and its GEMMs would be thin).
        """
        n, cache, n_steps = self.hidden_size, traj.cache, traj.n_steps
        P, M = traj.states.shape[1:3]
        width = n + D + (self.b is not None)
        per_network = M * 4 * n  # entries of δ per network and step
        if n_steps * per_network <= _CHUNK:  # every step at once, for a group of networks
            chunk, group = n_steps, min(P, max(1, _CHUNK // (n_steps * per_network)))
        else:  # one network at a time, in chunks of steps
            chunk, group = max(1, _CHUNK // per_network), 1
        X = np.ones((group, chunk, M, width), self.dtype)
        u_buf = np.empty((group, chunk, M, n), self.dtype)
        delta_buf = np.empty((group, chunk, M, 4, n), self.dtype)
        G = np.empty((P, 4 * n, width), self.dtype)
        for p in range(0, P, group):
            nets, k = slice(p, min(p + group, P)), min(group, P - p)
            for s in range(0, n_steps, chunk):
                steps = slice(s, min(s + chunk, n_steps))
                lam = _block(adjoints[1:], steps, nets)
                u_bar = np.multiply(
                    _block(cache["kappa"], steps, nets), lam[..., :n], out=u_buf[:k, : lam.shape[1]]
                )
                u_bar += lam[..., n:]
                d4 = _block(cache["dgates"], steps, nets).reshape(*u_bar.shape[:-1], 4, n)
                delta = delta_buf[:k, : lam.shape[1]]
                np.multiply(d4[..., :3, :], u_bar[..., None, :], out=delta[..., :3, :])
                np.multiply(d4[..., 3, :], lam[..., :n], out=delta[..., 3, :])
                x = X[:k, : lam.shape[1]]
                x[..., :n] = _block(traj.states, steps, nets)[..., :n]
                if with_x:  # (T, P, M, D), or (T, D) shared by the population
                    inputs = traj.inputs
                    shared = inputs.ndim == 2
                    x[..., n : n + D] = (
                        inputs[steps, None] if shared else _block(inputs, steps, nets)
                    )
                rows = np.swapaxes(delta.reshape(k, -1, 4 * n), -1, -2)  # (networks, 4N, ·)
                cols = x.reshape(k, -1, width)
                if s == 0:
                    np.matmul(rows, cols, out=G[nets])
                else:
                    G[nets] += rows @ cols
        return G


class LSTMHiddenView(Cell):
    r"""An LSTM seen through h alone: :math:`J^h_t = \partial h_t/\partial h_{t-1}` at fixed c.

    Made by :meth:`LSTM.h_only`. Its state is :math:`h_t` (size N) and its Jacobian the
    top-left block of the LSTM's,

    .. math:: J^h_t = D^o W_{ho} + K (D^i W_{hi} + D^f W_{hf} + D^g W_{hg}),

    the Jacobian that published LSTM Lyapunov codes use. It takes the LSTM's own trajectories
    (:meth:`check_trajectory` returns a derived one whose ``states`` are the h part, a view,
    and whose cache is the LSTM's), so :func:`gradflow.lyapunov.along`,
    :func:`gradflow.jacobians.log_gradient_norms` and
    :func:`gradflow.jacobians.product_singular_values` work on it unchanged.

    It is not the Jacobian of the dynamics: with :math:`c_{t-1}` held fixed, every path through
    the cell state of earlier steps is dropped (the memory :math:`\partial c_t/\partial c_{t-1}
    = \operatorname{diag}(f)`, and :math:`h_{t-2} \to c_{t-1} \to h_t`), so products of
    :math:`J^h_t` are not chain-rule gradients and their spectrum is not the LSTM's Lyapunov
    spectrum (an LSTM with zero weights keeps N full-state exponents at :math:`\ln\sigma(b_f)`,
    while its h-only exponents are all :math:`-\infty`). No parameter gradients are defined.
    """

    def __init__(self, lstm: LSTM):
        self.lstm = lstm
        self.W_hh, self.W_xh, self.b = lstm.W_hh, lstm.W_xh, lstm.b
        self.hidden_size = self.state_size = lstm.hidden_size
        self.input_size, self.n_networks, self.dtype = lstm.input_size, lstm.n_networks, lstm.dtype

    @property
    def params(self) -> dict[str, np.ndarray]:
        """The LSTM's trainable arrays."""
        return self.lstm.params

    def with_params(self, params) -> LSTMHiddenView:
        """The h-only view of the LSTM with the arrays of ``params``."""
        return self.lstm.with_params(params).h_only()

    @property
    def recurrent_blocks(self) -> dict[str, np.ndarray]:
        """The LSTM's gate blocks ``W_hi``, ``W_hf``, ``W_hg``, ``W_ho``."""
        return self.lstm.recurrent_blocks

    def step_summary(self, traj) -> dict[str, np.ndarray]:
        """The LSTM's gate means, ``(T, [B])``."""
        return _gate_means(self.check_trajectory(traj).cache)

    def param_grads(self, traj, adjoints):
        """Not defined: h-only adjoints hold c fixed, so they are not gradients of a loss."""
        raise TypeError(
            "cell: the h-only view of an LSTM has no parameter gradients; call param_grads on "
            "the LSTM with full-state adjoints"
        )

    def run(self, xs, h0=None) -> Trajectory:
        """Run the LSTM and return the h view; ``h0`` is ``[h_0, c_0]`` (2N) or h_0 (N, c_0 = 0)."""
        n = self.hidden_size
        if h0 is not None:
            h0 = as_array(h0, "h0", ndim=(1, 2), dtype=self.dtype)
            if h0.shape[-1] == n:
                h0 = np.concatenate([h0, np.zeros_like(h0)], axis=-1)
        return self.check_trajectory(self.lstm.run(xs, h0))

    def check_trajectory(self, traj) -> Trajectory:
        """The h view (``states[..., :N]``, the LSTM's cache) of a run of the LSTM, or ``traj``
        itself if it is one already; else raise."""
        n = self.hidden_size
        if isinstance(traj, Trajectory) and traj.state_size == 2 * n:
            traj = Trajectory(traj.states[..., :n], traj.inputs, traj.cache)
        traj = super().check_trajectory(traj)
        if traj.n_sequences is not None:
            raise ValueError(
                f"traj: the h-only view of an LSTM takes one sequence per network, got a "
                f"population run of {traj.n_sequences} sequences each (states "
                f"{traj.states.shape}); backpropagate through the LSTM itself"
            )
        _check_cache(traj, n)
        return traj

    def _dense_jacobian(self, traj, t):
        n = self.hidden_size
        return self.lstm._dense_jacobian(traj, t)[..., :n, :n].copy()

    def jvp_block(self, traj, t, vectors):
        return _push(self.W_hh, traj.cache, t, vectors)

    def vjp_block(self, traj, t, vectors):
        cache = traj.cache
        delta, _ = _gate_adjoint(cache["dgates"][t - 1], cache["kappa"][t - 1], vectors)
        return np.matmul(np.swapaxes(self.W_hh, -1, -2), delta)

    def vjp_vector(self, traj, t, v):
        cache = traj.cache
        delta = cache["dgates"][t - 1].reshape(*v.shape[:-1], 4, self.hidden_size) * v[..., None, :]
        delta[..., :3, :] *= cache["kappa"][t - 1][..., None, :]
        flat = delta.reshape(*v.shape[:-1], 4 * self.hidden_size)
        return _pull(self.W_hh, flat, np.empty(v.shape, delta.dtype))
