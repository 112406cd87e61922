"""The gated recurrent unit (GRU), with PyTorch's layout and semantics (``torch.nn.GRU``).

Its parameter-gradient kernels (the gate deltas of a block of steps, and the blocked work of a
population run) are in ``gradflow.cells._gated_grads``, with the LSTM's.
"""

from __future__ import annotations

import numpy as np

from .._validation import NonFiniteError
from ._base import Cell, Trajectory
from ._gated import GateLayout, check_gated, split_gates
from ._gated_grads import gru_deltas, gru_population_grads
from ._linalg import rmatvec

__all__ = ["GRU"]

_LAYOUT = GateLayout("a GRU", ("r", "z", "n"))
_BLOCK_SIZE = 16384  # entries per array in a block of param_grads' elementwise work


class GRU(Cell):
    r"""Gated recurrent unit, exactly as ``torch.nn.GRU`` computes it.

    Parameters
    ----------
    W_hh : array_like, shape (3N, N) or (B, 3N, N)
        Recurrent weights, gate rows r, z, n (PyTorch's ``weight_hh_l0``); a stack of B
        matrices runs B independent networks at once (each on one sequence, or as a
        population, on M sequences each: see :meth:`run`).
    W_xh : array_like, shape (3N, D) or (B, 3N, D), optional
        Input weights in the same row order (``weight_ih_l0``; None: the cell takes no input).
    b_ih, b_hh : array_like, shape (3N,) or (B, 3N), optional
        Input and recurrent biases (``bias_ih_l0``, ``bias_hh_l0``; None: zero). They are kept
        apart because ``b_hn`` sits inside the reset gate's product.
    dtype : {float64, float32}
        Working precision.

    Attributes
    ----------
    W_hh, W_xh, b_ih, b_hh : ndarray or None
        The constructor's arrays (validated, in ``dtype``).
    hidden_size, state_size : int
        N (the state of a GRU is ``h``).
    input_size : int
        D (0 without ``W_xh``).
    n_networks : int or None
        B for stacked weights.

    Notes
    -----
    One step, with :math:`\sigma` the logistic function and :math:`\odot` the elementwise
    product (Cho et al. 2014, in PyTorch's convention where z keeps the old state):

    .. math::

        r &= \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}), \qquad
        z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}), \\
        \hat n &= W_{hn} h + b_{hn}, \qquad n = \tanh(W_{in} x + b_{in} + r \odot \hat n), \\
        h' &= (1 - z) \odot n + z \odot h.

    ``traj.cache`` keeps r, z, n and :math:`\hat n` for every step, ``(T, [B,] N)`` each.
    The Jacobian :math:`J = \partial h'/\partial h` collects the direct path and the paths
    through z, n and, inside n, through r:

    .. math::

        J = \operatorname{diag}(z)
            + \operatorname{diag}\big((h - n) \odot z \odot (1 - z)\big) W_{hz}
            + \operatorname{diag}(d_n \odot r) W_{hn}
            + \operatorname{diag}\big(d_n \odot \hat n \odot r \odot (1 - r)\big) W_{hr},

    with :math:`d_n = (1 - z) \odot (1 - n^2)`. Writing it as
    :math:`J = \operatorname{diag}(z) + C\,W_{hh}` with
    :math:`C = [\operatorname{diag}(c_r), \operatorname{diag}(c_z), \operatorname{diag}(c_n)]`,
    a vector–Jacobian product is one matrix product with the stacked weights,
    :math:`J^\top u = z \odot u + W_{hh}^\top [c_r \odot u; c_z \odot u; c_n \odot u]`.

    Parameter gradients follow from the adjoints :math:`\lambda_t = \partial L/\partial h_t`:
    the gradients of the pre-activations of step t are
    :math:`\delta_z = \lambda_t \odot c_z`, :math:`\delta_n = \lambda_t \odot d_n`,
    :math:`\delta_r = \lambda_t \odot c_r`, and of :math:`\hat n`,
    :math:`\delta_{\hat n} = \delta_n \odot r`. With :math:`g^h_t = [\delta_r; \delta_z;
    \delta_{\hat n}]` and :math:`g^x_t = [\delta_r; \delta_z; \delta_n]`:
    :math:`\partial L/\partial W_{hh} = \sum_t g^h_t h_{t-1}^\top`,
    :math:`\partial L/\partial b_{hh} = \sum_t g^h_t`,
    :math:`\partial L/\partial W_{xh} = \sum_t g^x_t x_t^\top`,
    :math:`\partial L/\partial b_{ih} = \sum_t g^x_t`.

    References
    ----------
    Cho, K., van Merriënboer, B., Gulcehre, C., Bahdanau, D., Bougares, F., Schwenk, H. &
    Bengio, Y. (2014). Learning phrase representations using RNN encoder–decoder for
    statistical machine translation. EMNLP. https://arxiv.org/abs/1406.1078

    PyTorch, ``torch.nn.GRU``. https://pytorch.org/docs/stable/generated/torch.nn.GRU.html

    Examples
    --------
    With every weight zero, z = σ(b_z) is constant and J = diag(z); here b_hz = ln 3, so
    z = 3/4 and n = tanh(0) = 0, and the state decays by 3/4 a step:

    >>> import numpy as np
    >>> from gradflow.cells import GRU
    >>> b_hh = np.array([0.0, 0.0, np.log(3.0), np.log(3.0), 0.0, 0.0])
    >>> cell = GRU(np.zeros((6, 2)), b_hh=b_hh)
    >>> traj = cell.run(2, h0=np.ones(2))
    >>> traj.states[-1]
    array([0.5625, 0.5625])
    >>> cell.jacobian(traj, 1)
    array([[0.75, 0.  ],
           [0.  , 0.75]])
    """

    def __init__(self, W_hh, W_xh=None, b_ih=None, b_hh=None, *, dtype=np.float64):
        W_hh, W_xh, biases, hidden, n_networks, input_size = check_gated(
            _LAYOUT, W_hh, W_xh, {"b_ih": b_ih, "b_hh": b_hh}, dtype
        )
        self.W_hh, self.W_xh = W_hh, W_xh
        self.b_ih, self.b_hh = biases["b_ih"], biases["b_hh"]
        self.hidden_size = self.state_size = hidden
        self.input_size = input_size
        self.n_networks = n_networks
        self.dtype = W_hh.dtype

    def __repr__(self) -> str:
        batch = "" if self.n_networks is None else f", n_networks={self.n_networks}"
        return f"GRU(hidden_size={self.hidden_size}, input_size={self.input_size}{batch})"

    @property
    def params(self) -> dict[str, np.ndarray]:
        """The trainable arrays by name (W_hh, W_xh, b_ih, b_hh: those that are not None)."""
        named = {"W_hh": self.W_hh, "W_xh": self.W_xh, "b_ih": self.b_ih, "b_hh": self.b_hh}
        return {name: value for name, value in named.items() if value is not None}

    def with_params(self, params) -> GRU:
        """A GRU with this one's dtype and the arrays of ``params``."""
        return GRU(
            params["W_hh"],
            params.get("W_xh"),
            params.get("b_ih"),
            params.get("b_hh"),
            dtype=self.dtype,
        )

    @property
    def recurrent_blocks(self) -> dict[str, np.ndarray]:
        """``{"W_hr", "W_hz", "W_hn"}``: views of the gate blocks of W_hh, ``([B,] N, N)``."""
        return dict(zip(("W_hr", "W_hz", "W_hn"), split_gates(self.W_hh, 3)))

    def step_summary(self, traj: Trajectory) -> dict[str, np.ndarray]:
        """``{"mean_r", "mean_z", "mean_n"}``: gate means over units, each ``(T, [B])``."""
        traj = self.check_trajectory(traj)
        return {f"mean_{g}": traj.cache[g].mean(axis=-1) for g in ("r", "z", "n")}

    def _step_biases(self):
        """``([b_ir + b_hr, b_iz + b_hz, b_hn], b_in)``, either None where there is no bias.

        b_hr and b_hz add to the same pre-activations as b_ir and b_iz, so one bias goes onto
        the recurrent GEMM's output each step; b_hn stays inside r ⊙ (W_hn h + b_hn) and b_in
        is added to n's pre-activation. (Adding them to the input drive instead would cost a
        pass over a (T, [B,] 3N) array.) Formed at each run, so it never goes stale.
        """
        N, step_bias = self.hidden_size, None
        if self.b_hh is not None:
            step_bias = self.b_hh.copy()
        if self.b_ih is not None:
            rz = self.b_ih.copy()
            rz[..., 2 * N :] = 0.0
            step_bias = rz if step_bias is None else step_bias + rz
        return step_bias, None if self.b_ih is None else self.b_ih[..., 2 * N :]

    # -- forward ------------------------------------------------------------------------------
    def run(self, xs, h0=None) -> Trajectory:
        """Run the cell for T steps.

        Parameters
        ----------
        xs : int or array_like, shape (T, D), (T, B, D) or (T, P, M, D)
            Inputs, or the number of steps T for an input-free run. ``(T, P, M, D)`` is a
            population run of stacked weights: network p runs its own M sequences.
        h0 : array_like, shape (N,), (B, N) or (P, M, N), optional
            Initial state (default zeros).

        Returns
        -------
        Trajectory
            ``states`` ``(T+1, [B,] N)`` (``(T+1, P, M, N)`` for a population: read ``[B,]``
            as ``P, M`` below); ``cache`` holds ``"r"``, ``"z"``, ``"n"`` and ``"hn"``
            (:math:`W_{hn} h_{t-1} + b_{hn}`), each ``(T, [B,] N)``.

        Raises
        ------
        NonFiniteError
            If a state or a gate pre-activation is not finite (weights or inputs too large).
        """
        n_steps, inputs, h0, lead = self._resolve_batch(xs, h0)
        N = self.hidden_size
        shared = inputs
        if inputs is not None and inputs.ndim == 2 and lead and self.W_hh.ndim == 2:
            shared = inputs[:, None, :]  # (T, D) inputs for a batch from h0: (T, 1, 3N) drive
        with np.errstate(over="ignore", invalid="ignore"):  # reported below, in one line
            drive = self._drive(shared, n_steps, lead)
        states = np.empty((n_steps + 1, *h0.shape), self.dtype)
        states[0] = h0
        # One buffer per step, laid out [r, z, hn, n]: the recurrent GEMM writes its three
        # blocks in place, the gates are formed in place over them; nothing is copied.
        gates = np.empty((n_steps, *h0.shape[:-1], 4 * N), self.dtype)
        W, (bias, b_in) = self.W_hh, self._step_biases()
        stacked, WT = W.ndim == 3, W.T
        if len(lead) == 2:  # a population: (P, M, N) @ (P, N, 3N), one GEMM per network
            stacked, WT = False, np.ascontiguousarray(np.swapaxes(W, -1, -2))
            bias = None if bias is None else bias[:, None, :]  # per network, over its M
            b_in = None if b_in is None else b_in[:, None, :]
        tanh, mul, sub, neg, exp, recip = (
            np.tanh,
            np.multiply,
            np.subtract,
            np.negative,
            np.exp,
            np.reciprocal,
        )
        with np.errstate(over="ignore", invalid="ignore"):
            for t in range(n_steps):
                g, h = gates[t], states[t]
                if stacked:
                    np.matmul(W, h[..., None], out=g[..., : 3 * N, None])
                else:
                    np.matmul(h, WT, out=g[..., : 3 * N])
                rz, hn, n = g[..., : 2 * N], g[..., 2 * N : 3 * N], g[..., 3 * N :]
                if bias is not None:
                    g[..., : 3 * N] += bias
                if drive is not None:
                    rz += drive[t, ..., : 2 * N]
                # σ in place as 1 / (1 + exp(-a)): numpy's exp is vectorised, scipy's expit
                # is not; below a ≈ -709 exp(-a) overflows and σ is 0, harmless for a gate
                neg(rz, out=rz)
                exp(rz, out=rz)
                rz += 1.0
                recip(rz, out=rz)
                mul(g[..., :N], hn, out=n)
                if drive is not None:
                    n += drive[t, ..., 2 * N :]
                if b_in is not None:
                    n += b_in
                tanh(n, out=n)
                out = states[t + 1]
                sub(h, n, out=out)  # h' = n + z ⊙ (h - n) = (1 - z) ⊙ n + z ⊙ h
                out *= g[..., N : 2 * N]
                out += n
        if not (np.all(np.isfinite(states)) and np.all(np.isfinite(gates[..., 2 * N : 3 * N]))):
            raise NonFiniteError(
                f"W_hh: the GRU forward run produced non-finite values in {self.dtype}; "
                "the weights, biases or inputs are too large"
            )
        cache = {
            "r": gates[..., :N],
            "z": gates[..., N : 2 * N],
            "n": gates[..., 3 * N :],
            "hn": gates[..., 2 * N : 3 * N],
        }
        return Trajectory(states, inputs, cache)

    # -- derivatives --------------------------------------------------------------------------
    def _coefficients(self, traj: Trajectory, t: int):
        """``(c, z)`` of step t with :math:`J_t = diag(z) + [diag(c_r), diag(c_z), diag(c_n)]
        W_{hh}`; ``c`` is a fresh ``([B,] 3N)`` array, ``z`` a read-only view."""
        cache, N = traj.cache, self.hidden_size
        r, z, n, hn = cache["r"][t - 1], cache["z"][t - 1], cache["n"][t - 1], cache["hn"][t - 1]
        c = np.empty((*z.shape[:-1], 3 * N), z.dtype)
        c_r, c_z, c_n = c[..., :N], c[..., N : 2 * N], c[..., 2 * N :]
        np.subtract(1.0, z, out=c_n)  # 1 - z, kept in c_n for now
        np.subtract(traj.states[t - 1], n, out=c_z)
        c_z *= z
        c_z *= c_n  # c_z = (h - n) z (1 - z)
        np.multiply(n, n, out=c_r)
        np.subtract(1.0, c_r, out=c_r)
        c_n *= c_r  # d_n = (1 - z)(1 - n²)
        np.subtract(1.0, r, out=c_r)
        c_r *= r
        c_r *= hn
        c_r *= c_n  # c_r = d_n hn r (1 - r)
        c_n *= r  # c_n = d_n r
        return c, z

    def _dense_jacobian(self, traj, t):
        c, z = self._coefficients(traj, t)
        N = self.hidden_size
        W_r, W_z, W_n = split_gates(self.W_hh, 3)
        J = c[..., :N, None] * W_r
        J += c[..., N : 2 * N, None] * W_z
        J += c[..., 2 * N :, None] * W_n
        diag = np.arange(N)
        J[..., diag, diag] += z
        return J

    def vjp_vector(self, traj, t, v):
        c, z = self._coefficients(traj, t)
        N = self.hidden_size
        c.reshape(*c.shape[:-1], 3, N)[...] *= v[..., None, :]
        out = rmatvec(self.W_hh, c)
        np.multiply(z, v, out=c[..., :N])
        out += c[..., :N]
        return out

    def jvp_block(self, traj, t, vectors):
        c, z = self._coefficients(traj, t)
        N = self.hidden_size
        if self.W_hh.ndim == 2 and vectors.ndim == 2:
            P = (vectors.T @ self.W_hh.T).T  # Fortran order, as LAPACK takes it (see Elman)
        else:
            P = np.matmul(self.W_hh, vectors)
        P *= c[..., :, None]
        out = P[..., :N, :] + P[..., N : 2 * N, :]
        out += P[..., 2 * N :, :]
        out += z[..., :, None] * vectors
        return out

    def vjp_block(self, traj, t, vectors):
        c, z = self._coefficients(traj, t)
        N, k = self.hidden_size, vectors.shape[-1]
        lead = c.shape[:-1]
        tiled = c.reshape(*lead, 3, N, 1) * vectors[..., None, :, :]
        out = np.matmul(np.swapaxes(self.W_hh, -1, -2), tiled.reshape(*tiled.shape[:-3], 3 * N, k))
        out += z[..., :, None] * vectors
        return out

    def param_grads(self, traj: Trajectory, adjoints) -> dict[str, np.ndarray]:
        r"""Gradients of the parameters from the state adjoints, all steps at once.

        Parameters
        ----------
        traj : Trajectory
            The forward run.
        adjoints : array_like, shape (T+1, [B,] N) or (T+1, P, M, N)
            :math:`\lambda_t = \partial L/\partial h_t` (as returned by
            :func:`gradflow.jacobians.backprop`).

        Returns
        -------
        dict
            ``"W_hh"``, and ``"W_xh"``, ``"b_ih"``, ``"b_hh"`` where the cell has them, each
            shaped like the parameter; for shared weights and a batch of sequences, summed over
            the batch (for a population, over each network's M sequences). The formulas are
            under Notes of :class:`GRU`.
        """
        traj, adjoints = self._check_adjoints(traj, adjoints)
        if traj.n_sequences is not None:  # a population (T+1, P, M, N)
            return gru_population_grads(self, traj, adjoints, _BLOCK_SIZE)
        cache, N = traj.cache, self.hidden_size
        r, z, n, hn = cache["r"], cache["z"], cache["n"], cache["hn"]
        lam, prev = adjoints[1:], traj.states[:-1]
        # One buffer (T, [B,] 4N) laid out [δr, δz, δhn, δn]: the hidden side g_h is its first
        # three blocks (a strided view BLAS takes as it is), the input side g_x = [δr, δz, δn].
        G = np.empty((*z.shape[:-1], 4 * N), self.dtype)
        # elementwise work in blocks of steps that stay in cache, not 14 passes over memory
        block = max(1, _BLOCK_SIZE // z[0].size)
        for s in range(0, len(z), block):
            t = slice(s, s + block)
            gru_deltas(G[t], lam[t], prev[t], r[t], z[t], n[t], hn[t])
        d_n = G[..., 3 * N :]
        grads = {"W_hh": self._outer_sum(G[..., : 3 * N], prev)}
        if self.W_xh is not None:
            if traj.inputs is None:
                grads["W_xh"] = np.zeros_like(self.W_xh)
            else:  # the r and z blocks of g_x are g_h's; its n block is δn
                W_xh = np.empty_like(self.W_xh)
                W_xh[..., : 2 * N, :] = self._outer_sum(G[..., : 2 * N], traj.inputs)
                W_xh[..., 2 * N :, :] = self._outer_sum(d_n, traj.inputs)
                grads["W_xh"] = W_xh
        if self.b_ih is not None or self.b_hh is not None:
            sums = G.sum(axis=0) if self.W_hh.ndim == 3 else G.reshape(-1, 4 * N).sum(axis=0)
            if self.b_ih is not None:
                grads["b_ih"] = np.concatenate([sums[..., : 2 * N], sums[..., 3 * N :]], axis=-1)
            if self.b_hh is not None:
                grads["b_hh"] = sums[..., : 3 * N].copy()
        return grads

    def _outer_sum(self, g, a):
        """:math:`\\sum_t g_t a_t^\\top` over steps (and sequences, for shared weights)."""
        if self.W_hh.ndim == 3:  # B networks: one (3N, M) gradient each
            return np.matmul(g.transpose(1, 2, 0), a.transpose(1, 0, 2) if a.ndim == 3 else a)
        if g.ndim == 3 and a.ndim == 2:  # a batch of sequences sharing inputs (T, D)
            g = g.sum(axis=1)
        return g.reshape(-1, g.shape[-1]).T @ a.reshape(-1, a.shape[-1])
