"""Population training against sequential runs (issue 10).

P = 32 Elman networks (N = 64, tanh, orthogonal starts, each its own seed), trained on the
adding task (T = 50, batches of 32, each network its own stream of batches) by Adam (lr 2e-3)
with global-norm clipping at 1 (each network's own norm):

- population: one ``train.fit_population`` over the stack of the 32 networks;
- sequential: 32 ``train.fit`` runs, one network after another (``spectral=False``, as the
  population run).

Both give the same histories (to rounding: checked here on the losses). Timed in interleaved
rounds in this process, on one thread (``threadpool_limits(1)``); median and best of the time
per update. Target: sequential time / population time >= 5.

    python benchmarks/bench_population.py [--quick]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
from threadpoolctl import threadpool_limits


def setup(n_networks, hidden, T):
    from gradflow import train

    task = train.make_task("adding", T=T)
    models = [train.init_model(task, hidden, rng=seed) for seed in range(n_networks)]
    return task, models, train.Population.stack(models)


def run_population(task, population, updates, batch):
    from gradflow import train

    return train.fit_population(
        task, population, clip="global:1", lr=2e-3, updates=updates, batch=batch,
        rng=[100 + p for p in range(population.n_networks)], progress=False,
    )  # fmt: skip


def run_sequential(task, models, updates, batch):
    from gradflow import train

    return [
        train.fit(task, model, clip="global:1", lr=2e-3, steps=updates, batch=batch,
                  rng=100 + p, spectral=False, progress=False)
        for p, model in enumerate(models)
    ]  # fmt: skip


def compute_floor(n_networks, hidden, T, batch):
    """The arithmetic one update cannot avoid, in bare NumPy on the population's arrays.

    Forward: per step one batched GEMM (P, M, N) @ (P, N, N) and tanh; backward: per step
    1 − h², a product and one batched GEMM; weight gradient: per step one batched GEMM
    (P, N, M) @ (P, M, N). The sequential runs do the same arithmetic, 32 times smaller.
    """
    rng = np.random.default_rng(0)
    W = rng.standard_normal((n_networks, hidden, hidden)) / np.sqrt(hidden)
    h = np.tanh(rng.standard_normal((T + 1, n_networks, batch, hidden)))
    lam = rng.standard_normal((n_networks, batch, hidden))
    grad, out = np.zeros_like(W), np.empty_like(W)
    start = time.perf_counter()
    for t in range(T):
        np.tanh(np.matmul(h[t], W, out=h[t + 1]), out=h[t + 1])
    for t in range(T, 0, -1):
        delta = (1.0 - h[t] * h[t]) * lam
        lam = np.matmul(delta, W)
        grad += np.matmul(np.swapaxes(delta, -1, -2), h[t - 1], out=out)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    P, N, T, B = (4, 16, 10, 8) if args.quick else (32, 64, 50, 32)
    updates, rounds = (2, 1) if args.quick else (10, 5)
    with threadpool_limits(1):
        task, models, population = setup(P, N, T)
        pop = run_population(task, population, updates, B)  # warm-up, and the agreement check
        seq = run_sequential(task, models, updates, B)
        worst = max(
            float(np.max(np.abs(pop.frame[pop.frame.network == p]["loss"].to_numpy()
                                - h.frame["loss"].to_numpy()) / h.frame["loss"].to_numpy()))
            for p, h in enumerate(seq)
        )  # fmt: skip
        times = {"population": [], "sequential": [], "floor": []}
        for _ in range(rounds):
            times["floor"].append(compute_floor(P, N, T, B))
            for name, call in (("population", lambda: run_population(task, population, updates,
                                                                     B)),
                               ("sequential", lambda: run_sequential(task, models, updates,
                                                                     B))):  # fmt: skip
                start = time.perf_counter()
                call()
                times[name].append((time.perf_counter() - start) / updates)
    med = {k: float(np.median(v)) for k, v in times.items()}
    best = {k: float(np.min(v)) for k, v in times.items()}
    print(f"population training: P = {P} Elman networks, N = {N}, T = {T}, batch {B}, Adam, "
          f"global-norm clipping; {platform.machine()}, one thread")  # fmt: skip
    for name in times:
        print(f"  {name:>10}: {1e3 * med[name]:8.2f} ms per update (median), "
              f"{1e3 * best[name]:8.2f} ms (best)")  # fmt: skip
    print(
        f"  ratio sequential / population: {med['sequential'] / med['population']:.2f}x "
        f"(median), {best['sequential'] / best['population']:.2f}x (best); target >= 5x"
    )
    print(f"  population / bare-NumPy floor of the same arithmetic: "
          f"{med['population'] / med['floor']:.2f}x; sequential / floor: "
          f"{med['sequential'] / med['floor']:.2f}x (the largest ratio population training "
          "could reach)")  # fmt: skip
    print(f"  largest relative loss difference, population vs sequential: {worst:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
