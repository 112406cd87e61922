"""Population runs of a stacked gated cell checked network by network (LSTM and GRU tests).

A population run (weights of P stacked networks, inputs ``(T, P, M, D)`` or shared ``(T, D)``,
states ``(T+1, P, M, S)``) must be, network by network, what network p gives alone, run on its
M sequences as a batch: the reference is the same cell class built from network p's arrays.
"""

import numpy as np

from gradflow.jacobians import backprop

#: (P, M) of the population tests: P == M catches a (P, ·) array broadcast against the M axis.
POPULATIONS = [(3, 4), (3, 3)]
#: How a population run is called; "bare" is a cell with neither W_xh nor biases.
POPULATION_LAYOUTS = ["inputs and h0", "inputs, no h0", "steps and h0", "shared inputs", "bare"]


def network_alone(cell, xs, h0, p):
    """Network p of the stacked ``cell`` with its own (unstacked) weights, and its run on its M
    sequences as a batch: ``(cell_p, trajectory)``."""
    one = type(cell)(**{name: a[p] for name, a in cell.params.items()}, dtype=cell.dtype)
    xs_p = xs[:, p] if np.ndim(xs) == 4 else xs
    return one, one.run(xs_p, None if h0 is None else h0[p])


def check_population(cell, xs, h0, n_steps, *, rng):
    """States, cache, step summaries, backprop adjoints (a standard normal cotangent from
    ``rng`` at every step) and parameter gradients of the population run of ``cell`` are those
    of each network alone (gradients summed over its M sequences); in float64 the states, cache
    and summaries agree to 1e-13, adjoints and gradients to 1e-12. In float32 every array stays
    float32 and the states agree to 1e-6, the adjoints to 1e-5 and the gradients to 1e-4."""
    exact = cell.dtype == np.float64
    traj = cell.run(xs, h0)
    P, M = cell.n_networks, traj.n_sequences
    assert traj.states.shape == (n_steps + 1, P, M, cell.state_size)
    v = np.random.default_rng(rng).standard_normal(traj.states.shape).astype(cell.dtype)
    adjoints = backprop(cell, traj, v)
    grads = cell.param_grads(traj, adjoints)
    assert {k: g.shape for k, g in grads.items()} == {k: a.shape for k, a in cell.params.items()}
    if not exact:
        assert all(a.dtype == np.float32 for a in (traj.states, adjoints, *grads.values()))
    summary = cell.step_summary(traj)
    tol, grad_atol = (1e-12, 1e-12) if exact else (1e-5, 1e-4)
    for p in range(P):
        one, single = network_alone(cell, xs, h0, p)
        np.testing.assert_allclose(
            traj.states[:, p], single.states, rtol=0, atol=1e-13 if exact else 1e-6
        )
        if exact:
            for key, value in single.cache.items():
                np.testing.assert_allclose(traj.cache[key][:, p], value, rtol=0, atol=1e-13)
            for key, value in one.step_summary(single).items():
                np.testing.assert_allclose(summary[key][:, p], value, rtol=0, atol=1e-13)
        single_adjoints = backprop(one, single, v[:, p])
        np.testing.assert_allclose(adjoints[:, p], single_adjoints, rtol=tol, atol=tol)
        for name, value in one.param_grads(single, single_adjoints).items():
            np.testing.assert_allclose(
                grads[name][p], value, rtol=tol, atol=grad_atol, err_msg=name
            )


def check_blocks(cell, xs, h0, monkeypatch, budget: str, sizes, *, rng):
    """The population run and its parameter gradients (from a standard normal cotangent from
    ``rng`` at every step) with the blocking budget ``budget`` (the dotted name of the cell
    module's constant) set to each of ``sizes`` equal those of the default blocks: the states
    to 1e-14, the gradients to 1e-12."""
    traj = cell.run(xs, h0)
    v = np.random.default_rng(rng).standard_normal(traj.states.shape)
    grads = cell.param_grads(traj, backprop(cell, traj, v))
    for size in sizes:
        monkeypatch.setattr(budget, size)
        blocked = cell.run(xs, h0)
        np.testing.assert_allclose(blocked.states, traj.states, rtol=0, atol=1e-14)
        for name, value in cell.param_grads(blocked, backprop(cell, blocked, v)).items():
            np.testing.assert_allclose(value, grads[name], rtol=0, atol=1e-12, err_msg=name)
