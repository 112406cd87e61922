"""Benchmark of gradflow.simulate.gradient_growth (issue 4).

A sweep of 3 initialisers x 8 gains x 32 seeds, N = 128, T = 500, tanh:

(a) one pair's seeds as one batched cell ``(B, N, N)`` (what ``gradient_growth`` does), serial,
    against a loop over single networks making the same library calls on ``(N, N)`` cells
    with the same draws; one BLAS thread. Target: >= 3x.
(b) ``gradient_growth`` on a ``ProcessPoolExecutor`` with 1 and 2 worker processes (each
    with one BLAS thread): speed-up and efficiency (speed-up / 2).

Usage: ``python benchmarks/bench_simulate.py [--quick]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # inherited by the worker processes of (b)

import argparse  # noqa: E402
import concurrent.futures as cf  # noqa: E402
import multiprocessing  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from gradflow import simulate, spectral  # noqa: E402
from gradflow._rng import spawn_seeds  # noqa: E402
from gradflow.cells import Elman  # noqa: E402
from gradflow.jacobians import log_gradient_norms  # noqa: E402

INITS = ("orthogonal", "gaussian", "identity")
GAINS = (0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0)


def _tasks(n, steps, seeds, rng):
    """The sweep's tasks, built exactly as gradient_growth builds them (one per pair)."""
    pairs = [(name, g) for name in INITS for g in GAINS]
    seqs = spawn_seeds(rng, len(pairs))
    drive = simulate.Drive()
    return [
        simulate._Task(name, g, n, steps, "tanh", drive, seq, 0, seeds)
        for (name, g), seq in zip(pairs, seqs)
    ]


clock_now = time.process_time  # (a) is in-process: CPU time is robust to other load


def reference_loop(tasks, clock):
    """One (N, N) network at a time: draw, run, log_gradient_norms, spectra."""
    out = []
    for task in tasks:
        for seed in range(task.n_seeds):
            t0 = clock_now()
            W, v, h0, _, _ = simulate._draw_network(task, seed)
            t1 = clock_now()
            cell = Elman(W, activation=task.activation)
            traj = cell.run(task.steps, h0=h0)
            log_norm = log_gradient_norms(cell, traj, v)[::-1]
            t2 = clock_now()
            rho = spectral.spectral_radius(W)
            sigma = spectral.spectral_norm(W)
            t3 = clock_now()
            clock["draw"] += t1 - t0
            clock["dynamics"] += t2 - t1
            clock["spectra"] += t3 - t2
            out.append((log_norm, rho, sigma))
    return out


def batched_phases(tasks, clock):
    """The batched path of simulate._run_task, phase by phase (same blocks)."""
    for task in tasks:
        block = max(1, simulate._BLOCK_BYTES // (8 * task.n * task.n))
        for start in range(0, task.n_seeds, block):
            t0 = clock_now()
            draws = [
                simulate._draw_network(task, s)
                for s in range(start, min(start + block, task.n_seeds))
            ]
            W, v, h0 = (np.stack(d) for d in list(zip(*draws))[:3])
            t1 = clock_now()
            cell = Elman(W, activation=task.activation)
            log_gradient_norms(cell, cell.run(task.steps, h0=h0), v)
            t2 = clock_now()
            spectral.spectral_radius(W)
            spectral.spectral_norm(W)
            t3 = clock_now()
            clock["draw"] += t1 - t0
            clock["dynamics"] += t2 - t1
            clock["spectra"] += t3 - t2


def _warm(_):
    import gradflow.simulate  # noqa: F401  (import cost out of the timed region)

    time.sleep(0.3)
    return os.getpid()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small sweep (smoke test)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of (b) per worker count (best is kept)"
    )
    args = parser.parse_args(argv)
    n, steps, seeds = (64, 100, 8) if args.quick else (128, 500, 32)
    sweep = dict(n=n, steps=steps, seeds=seeds, activation="tanh", rng=2024, progress=False)
    networks = len(INITS) * len(GAINS) * seeds
    print(
        f"sweep: {len(INITS)} inits x {len(GAINS)} gains x {seeds} seeds = {networks} networks, "
        f"N = {n}, T = {steps}, tanh"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at start; numpy {np.__version__}"
    )

    # (a) batched serial vs a loop over single networks, one BLAS thread (CPU seconds)
    with threadpool_limits(1):
        t0 = clock_now()
        serial = simulate.gradient_growth(INITS, GAINS, **sweep)
        t_batched = clock_now() - t0
        t0 = clock_now()
        simulate.gradient_growth(INITS, GAINS, spectra=False, **sweep)
        t_batched_nospec = clock_now() - t0
        loop_clock = dict(draw=0.0, dynamics=0.0, spectra=0.0)
        t0 = clock_now()
        reference = reference_loop(_tasks(n, steps, seeds, 2024), loop_clock)
        t_loop = clock_now() - t0
        batch_clock = dict(draw=0.0, dynamics=0.0, spectra=0.0)
        batched_phases(_tasks(n, steps, seeds, 2024), batch_clock)
    ref_log_norm = np.concatenate([r[0] for r in reference])
    max_diff = np.abs(ref_log_norm - serial["log_norm"].to_numpy()).max()
    same_rho = np.allclose(
        [r[1] for r in reference], serial.loc[serial.lag == 0, "spectral_radius"], rtol=1e-12
    )

    print("\n(a) one BLAS thread, serial; CPU seconds of this process")
    print(f"{'path':<30}{'total s':>9}{'ms/net':>8}{'draw s':>8}{'run+bp s':>10}{'spectra s':>11}")
    for name, clock, total in [
        ("loop over single networks", loop_clock, t_loop),
        ("batched (gradient_growth)", batch_clock, t_batched),
    ]:
        print(
            f"{name:<30}{total:>9.2f}{1e3 * total / networks:>8.2f}{clock['draw']:>8.2f}"
            f"{clock['dynamics']:>10.2f}{clock['spectra']:>11.2f}"
        )
    t_loop_nospec = t_loop - loop_clock["spectra"]
    print(f"{'batched, spectra=False':<30}{t_batched_nospec:>9.2f}"
          f"{1e3 * t_batched_nospec / networks:>8.2f}")  # fmt: skip
    print(f"speed-up, whole sweep:              {t_loop / t_batched:5.2f}x (target >= 3x)")
    print(f"speed-up, without spectra:          {t_loop_nospec / t_batched_nospec:5.2f}x")
    print(
        f"speed-up, run + backprop only:      "
        f"{loop_clock['dynamics'] / batch_clock['dynamics']:5.2f}x"
    )
    print(
        f"batched vs loop: max |log_norm difference| {max_diff:.1e}, same spectral radii {same_rho}"
    )

    # (b) 1 vs 2 worker processes
    times = {1: np.inf, 2: np.inf}
    context = multiprocessing.get_context("spawn")
    for _ in range(args.repeats):  # alternate 1 and 2 workers; keep the best of each
        for workers in (1, 2):
            with cf.ProcessPoolExecutor(workers, mp_context=context) as pool:
                list(pool.map(_warm, range(2 * workers)))
                t0 = time.perf_counter()
                pooled = simulate.gradient_growth(INITS, GAINS, executor=pool, **sweep)
                times[workers] = min(times[workers], time.perf_counter() - t0)
            pd.testing.assert_frame_equal(serial, pooled, check_exact=True)
    speedup = times[1] / times[2]
    print(
        "\n(b) ProcessPoolExecutor, one BLAS thread per worker; wall seconds, best of "
        f"{args.repeats} (frames identical to serial)"
    )
    print(f"{'workers':<10}{'total s':>9}{'speed-up':>10}{'efficiency':>12}")
    print(f"{1:<10}{times[1]:>9.2f}{1.0:>10.2f}{1.0:>12.2f}")
    print(f"{2:<10}{times[2]:>9.2f}{speedup:>10.2f}{speedup / 2:>12.2f}")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
