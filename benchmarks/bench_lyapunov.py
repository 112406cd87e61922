"""Lyapunov spectra: gradflow.lyapunov against QR-every-step, and the top exponent against GEMV.

(a) Full spectrum (k = N) of a tanh network, N = 128, g = 1.5, T = 1500 steps (after a
    discarded transient of the trajectory), burn_in = 100 for every method:
    - reference: the method of published RNN Lyapunov code — the dense Jacobian of every step,
      ``Q ← J Q`` and ``numpy.linalg.qr`` every step, accumulate log|diag R|;
    - ``lyapunov.spectrum`` on the same stack of dense Jacobians (adaptive re-conditioning);
    - ``lyapunov.along`` on the cell and trajectory (no dense Jacobians).
    Equal accuracy: max |difference| to the reference < 1e-2. Targets: >= 3x (spectrum),
    >= 5x (along). The ceiling of either is (naive step) / (J·Q product alone), about 6x here:
    for Elman, forming J = diag(φ')W costs only N² a step, so ``along`` saves little over
    dense Jacobians; what both save is Householder QR every step (~530 us at N = 128, six
    times the J·Q product), replaced by an LU every few steps.
(b) Top exponent (k = 1) of a tanh network with N = 2048, T = 5000 through ``along``: time per
    step against GEMV ``W @ x`` with the same W (the floor: a step must read all N² weights
    once), as the best single call and as a loop of T calls (the sustained rate, which other
    processes sharing the memory bus also lower), reported as fractions of those rates.

One BLAS thread throughout; times are the best of a few repeats.

    python benchmarks/bench_lyapunov.py [--quick]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
from threadpoolctl import threadpool_limits

from gradflow import lyapunov
from gradflow.cells import Elman
from gradflow.lyapunov._engine import _initial_frame


def best_time(fn, repeats):
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def network(n, gain, steps, seed=0, transient=200):
    rng = np.random.default_rng(seed)
    cell = Elman(gain * rng.standard_normal((n, n)) / np.sqrt(n))
    h0 = cell.run(transient, rng.standard_normal(n)).states[-1]  # start on the attractor
    return cell, cell.run(steps, h0)


def naive_qr_every_step(jacobians, burn_in):
    """Reference: Q ← J Q, numpy QR every step (as published RNN Lyapunov code does).

    It starts from the same Haar-random frame as gradflow (seed 0), so that the two differ
    only by the method, not by the finite-T transient of the initial frame.
    """
    n = jacobians.shape[-1]
    q = _initial_frame(0, n, n, ())
    log_sum = np.zeros(n)
    for t, J in enumerate(jacobians, 1):
        q, r = np.linalg.qr(J @ q)
        if t > burn_in:
            log_sum += np.log(np.abs(np.diag(r)))
    return np.sort(log_sum / (len(jacobians) - burn_in))[::-1]


def full_spectrum(n, gain, steps, burn_in, repeats):
    cell, traj = network(n, gain, steps)
    jacobians = np.stack([cell.jacobian(traj, t) for t in range(1, steps + 1)])
    t_ref, ref = best_time(lambda: naive_qr_every_step(jacobians, burn_in), repeats)
    t_dense, dense = best_time(
        lambda: lyapunov.spectrum(jacobians, burn_in=burn_in, rng=0), repeats
    )
    t_along, via = best_time(lambda: lyapunov.along(cell, traj, burn_in=burn_in, rng=0), repeats)
    print(f"(a) full spectrum, tanh N={n}, g={gain}, T={steps}, burn_in={burn_in}")
    print(f"    {'method':<34}{'time [s]':>10}{'x naive':>9}{'max|diff|':>11}{'QR/LU':>7}")
    print("    (QR/LU: factorisations; max|diff|: largest exponent difference to the naive)")
    print(
        f"    {'naive: dense J, numpy QR each step':<34}{t_ref:>10.3f}{1:>9.2f}{0:>11.1e}{steps:>7}"
    )
    for name, t, res in (
        ("spectrum(dense J), adaptive", t_dense, dense),
        ("along(cell, traj), adaptive", t_along, via),
    ):
        diff = np.abs(res.exponents - ref).max()
        print(f"    {name:<34}{t:>10.3f}{t_ref / t:>9.2f}{diff:>11.1e}{res.n_factorizations:>7}")
    print(
        f"    lambda_1 = {via.exponents[0]:.4f} ± {via.stderr[0]:.4f}, "
        f"lambda_N = {via.exponents[-1]:.3f}, Kaplan–Yorke D = {via.kaplan_yorke_dimension:.2f}"
    )
    return t_ref / t_dense, t_ref / t_along


def top_exponent(n, gain, steps, repeats):
    cell, traj = network(n, gain, steps, transient=100)
    x = np.random.default_rng(1).standard_normal(n)
    W = cell.W_hh

    def gemv_loop():
        for _ in range(steps):
            W @ x

    gemv = min(best_time(lambda: W @ x, 50)[0] for _ in range(3))
    t_loop, _ = best_time(gemv_loop, repeats)
    t_top, res = best_time(lambda: lyapunov.along(cell, traj, k=1, rng=0), repeats)
    per_step, per_gemv = t_top / steps, t_loop / steps
    print(f"(b) top exponent, tanh N={n}, g={gain}, T={steps}")
    print(
        f"    along(k=1): {t_top:.3f} s = {per_step * 1e6:.0f} us/step, lambda_1 = "
        f"{res.exponents[0]:.4f} ± {res.stderr[0]:.4f}"
    )
    print(
        f"    GEMV W@x (one thread): best single {gemv * 1e6:.0f} us "
        f"({W.nbytes / gemv / 1e9:.1f} GB/s); {steps} in a loop {per_gemv * 1e6:.0f} us each"
    )
    print(
        f"    fraction of GEMV rate: {gemv / per_step:.0%} of the best single GEMV, "
        f"{per_gemv / per_step:.0%} of a loop of GEMVs"
    )
    return gemv / per_step, per_gemv / per_step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one repeat")
    args = parser.parse_args(argv)
    print(f"python {platform.python_version()}, numpy {np.__version__}, one BLAS thread")
    with threadpool_limits(1):
        if args.quick:
            dense_x, along_x = full_spectrum(64, 1.5, 300, 50, repeats=1)
            peak, loop = top_exponent(512, 1.5, 500, repeats=1)
        else:
            dense_x, along_x = full_spectrum(128, 1.5, 1500, 100, repeats=3)
            peak, loop = top_exponent(2048, 1.5, 5000, repeats=2)
    print(
        f"summary: spectrum {dense_x:.1f}x (target 3x), along {along_x:.1f}x (target 5x), "
        f"k=1 at {peak:.0%} of the best GEMV ({loop:.0%} of a GEMV loop)"
    )


if __name__ == "__main__":
    main()
