"""One float32 training step of an Elman network: gradflow vs PyTorch (issue 10).

The settings of ``bench_train.py`` (N = 128 tanh units, T = 100, batch 32, the adding task's
input 2 and output 1; MSE at the last step, BPTT, global-norm clipping at 1, Adam at lr 1e-3),
with the model in float32: ``train.init_model(..., dtype=np.float32)``, so the forward run,
BPTT, the clipped gradient, Adam's moments and the updates are all float32.

- gradflow float32: ``Model.value_and_grad``, ``clip.by_global_norm(1)``, ``optim.adam``,
  ``Model.with_params`` (the step of ``bench_train.py``).
- torch float32: ``nn.RNN`` + ``nn.Linear``, autograd, ``clip_grad_norm_``,
  ``torch.optim.Adam``, on the CPU: the setting a torch user would pick.
- gradflow float64, for reference.

All on one thread (``threadpool_limits(1)``, ``torch.set_num_threads(1)``); rounds interleave
the three so drifts in machine load hit all alike; the table gives the median and the best
time per step. Target: torch float32 time / gradflow float32 time >= 1.0.

    python benchmarks/bench_float32.py [--quick]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import BATCH, N, T, make_ours, make_torch  # the step of issue 5


def check_agreement(model32, model64, xs, ys):
    """Max relative differences of the first gradients: gradflow float32 against torch float32
    and against gradflow float64."""
    import torch

    _, ours = model32.value_and_grad(xs, ys)
    _, exact = model64.value_and_grad(xs, ys)
    _, rnn, readout = make_torch(model32, xs, ys, torch.float32)
    hidden, _ = rnn(torch.tensor(xs, dtype=torch.float32))
    y = torch.tensor(ys, dtype=torch.float32)
    ((readout(hidden[-1]) - y) ** 2).mean().backward()
    theirs = {
        "W_hh": rnn.weight_hh_l0.grad, "W_xh": rnn.weight_ih_l0.grad, "b": rnn.bias_ih_l0.grad,
        "W_out": readout.weight.grad, "b_out": readout.bias.grad,
    }  # fmt: skip

    def worst(reference):
        return max(
            float(np.max(np.abs(ours[k] - reference[k])) / np.max(np.abs(reference[k])))
            for k in reference
        )

    return worst({k: t.numpy() for k, t in theirs.items()}), worst(exact)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    args = parser.parse_args(argv)
    rounds, per_round = (3, 3) if args.quick else (15, 5)

    import torch

    from gradflow import tasks, train

    torch.set_num_threads(1)
    with threadpool_limits(1):
        model64 = train.init_model("adding", N, rng=0)
        model32 = train.init_model("adding", N, rng=0, dtype=np.float32)
        xs, ys = tasks.adding(T, BATCH, rng=1)
        runners = {
            "gradflow float32": make_ours(model32, xs, ys),
            "torch float32": make_torch(model32, xs, ys, torch.float32)[0],
            "gradflow float64": make_ours(model64, xs, ys),
        }
        times = {name: [] for name in runners}
        for fn in runners.values():  # warm up
            fn()
            fn()
        for _ in range(rounds):
            for name, fn in runners.items():
                start = time.perf_counter()
                for _ in range(per_round):
                    fn()
                times[name].append((time.perf_counter() - start) / per_round)
        vs_torch, vs_float64 = check_agreement(model32, model64, xs, ys)

    ours = np.median(times["gradflow float32"])
    print(f"One float32 training step, N={N}, T={T}, batch={BATCH}, tanh, global-norm clip, Adam")
    machine = platform.processor() or platform.machine()
    print(f"{machine}, numpy {np.__version__}, torch {torch.__version__}, one thread")
    print(f"{rounds} rounds x {per_round} steps, interleaved")
    print("first-step gradients of gradflow float32, max relative difference:")
    print(f"  vs torch float32 {vs_torch:.1e}, vs gradflow float64 {vs_float64:.1e}")
    print()
    print(f"{'implementation':<18} {'median ms':>10} {'best ms':>9} {'time/ours':>10}")
    for name, values in times.items():
        median = np.median(values)
        print(f"{name:<18} {median * 1e3:>10.2f} {min(values) * 1e3:>9.2f} {median / ours:>10.2f}")
    ratio = np.median(times["torch float32"]) / ours
    verdict = "met" if ratio >= 1.0 else "NOT met"
    print(f"\ntarget torch float32 / gradflow float32 >= 1.0: {ratio:.2f} ({verdict})")
    return ratio


if __name__ == "__main__":
    main()
