"""Gradient-norm curves: gradflow vs PyTorch autograd, and the memory-bandwidth bound.

B tanh networks (each its own W, N units) run T steps; we want log ‖∂⟨v, h_T⟩/∂h_t‖ for every
t. gradflow: ``Elman.run`` + ``jacobians.log_gradient_norms``. Reference: the same forward
pass in PyTorch (float64, ``bmm``), ``retain_grad`` on every state, one ``backward``, then the
norms of the ``.grad`` of every state. Both on one BLAS thread.

The work reads the B·N² weights twice per step (forward and backward), so the floor is
2·T·B·N²·8 bytes at the rate this machine reads that working set: measured in the same run
as one big GEMV over the same bytes (the fastest way to stream them through the core).

    python benchmarks/bench_gradients.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def setup(batch, n, seed=0):
    rng = np.random.default_rng(seed)
    W = 1.5 * rng.standard_normal((batch, n, n)) / np.sqrt(n)
    h0 = rng.standard_normal((batch, n))
    v = rng.standard_normal((batch, n))
    return W, h0, v


def ours(W, h0, v, steps):
    from gradflow.cells import Elman
    from gradflow.jacobians import log_gradient_norms

    cell = Elman(W)
    traj = cell.run(steps, h0)
    return log_gradient_norms(cell, traj, v)


def reference(W, h0, v, steps):
    import torch

    weights = torch.from_numpy(W)
    h = torch.from_numpy(h0).clone().requires_grad_(True)
    states = [h]
    for _ in range(steps):
        h = torch.tanh(torch.bmm(weights, h.unsqueeze(-1)).squeeze(-1))
        h.retain_grad()
        states.append(h)
    (h * torch.from_numpy(v)).sum().backward()
    return torch.stack([s.grad for s in states]).norm(dim=-1).log().numpy()


def phase(name, batch, n, steps, repeats):
    """Run one method in this process; print time and extra peak memory as JSON."""
    W, h0, v = setup(batch, n)
    if name == "torch":
        import torch

        torch.set_num_threads(1)
    fn = {"ours": ours, "torch": reference}[name]
    with threadpool_limits(1):
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        fn(W, h0, v, 5)  # warm up
        result = fn(W, h0, v, steps)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline
        seconds = best_time(lambda: fn(W, h0, v, steps), repeats)
    np.save(f"/tmp/bench_gradients_{name}.npy", result)
    print(json.dumps({"seconds": seconds, "peak_mib": peak / 1024}))


def bandwidth(batch, n, repeats):
    """Bytes per second at which one core streams the B·N² weights (one GEMV over them)."""
    W, h0, _ = setup(batch, n)
    flat = W.reshape(batch * n, n)
    x = h0[0].copy()
    with threadpool_limits(1):
        per_read = min(best_time(lambda: flat @ x, 20 * repeats), best_time(flat.sum, 20 * repeats))
        big = np.ones(2**27)  # 1 GiB: a read from main memory
        dram = big.nbytes / best_time(big.sum, 3)
    return W.nbytes / per_read, dram


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--phase", choices=["ours", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    batch, n, steps, repeats = (16, 64, 200, 2) if args.quick else (64, 128, 1000, 3)
    if args.phase:
        phase(args.phase, batch, n, steps, repeats)
        return 0

    results = {}
    for name in ("ours", "torch"):
        cmd = [sys.executable, __file__, "--phase", name] + (["--quick"] if args.quick else [])
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        results[name] = json.loads(out.strip().splitlines()[-1])
    # Chaotic networks amplify the last-bit differences between the two forward passes by
    # e^(λ t), so the curves are compared on a horizon short enough for the runs to agree.
    W, h0, v = setup(batch, n)
    agree = np.max(np.abs(ours(W, h0, v, 100) - reference(W, h0, v, 100)))
    rate, dram = bandwidth(batch, n, repeats)
    bytes_moved = 2 * steps * batch * n * n * 8
    floor = bytes_moved / rate
    ours_s, torch_s = results["ours"]["seconds"], results["torch"]["seconds"]
    print(f"gradient-norm curves: B={batch} tanh networks, N={n}, T={steps}, float64, 1 thread")
    print(f"{'method':<28}{'seconds':>10}{'peak MiB':>10}")
    print(f"{'gradflow':<28}{ours_s:>10.3f}{results['ours']['peak_mib']:>10.1f}")
    torch_peak = results["torch"]["peak_mib"]
    print(f"{'torch autograd (retain_grad)':<28}{torch_s:>10.3f}{torch_peak:>10.1f}")
    print(f"speed-up vs torch: {torch_s / ours_s:.2f}x (target >= 5x)")
    print(f"max |log-norm difference| gradflow vs torch over T=100: {agree:.2e}")
    print(
        f"bandwidth bound: {bytes_moved / 2**30:.1f} GiB of weight reads at {rate / 1e9:.1f} GB/s "
        f"(best one-core read of the same {batch * n * n * 8 / 2**20:.0f} MiB) = {floor:.3f} s; "
        f"gradflow reaches {floor / ours_s:.0%} of it"
    )
    print(f"(main-memory read rate for reference: {dram / 1e9:.1f} GB/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
