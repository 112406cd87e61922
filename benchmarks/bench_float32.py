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

import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import (  # the step of issue 5 and its timing
    BATCH,
    N,
    T,
    make_ours,
    make_torch,
    max_relative,
    parse_rounds,
    print_header,
    print_target,
    print_times,
    time_steps,
    torch_grads,
)


def check_agreement(model32, model64, xs, ys):
    """Max relative differences of the first gradients: gradflow float32 against torch float32
    and against gradflow float64."""
    import torch

    _, ours = model32.value_and_grad(xs, ys)
    _, exact = model64.value_and_grad(xs, ys)
    _, rnn, readout = make_torch(model32, xs, ys, torch.float32)
    theirs = torch_grads(rnn, readout, xs, ys, torch.float32)
    return max_relative(ours, theirs), max_relative(ours, exact)


def main(argv=None):
    rounds, per_round = parse_rounds(argv, __doc__)

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
        times = time_steps(runners, rounds, per_round)
        vs_torch, vs_float64 = check_agreement(model32, model64, xs, ys)

    ours = np.median(times["gradflow float32"])
    title = f"One float32 training step, N={N}, T={T}, batch={BATCH}, tanh, global-norm clip, Adam"
    print_header(title, rounds, per_round)
    print("first-step gradients of gradflow float32, max relative difference:")
    print(f"  vs torch float32 {vs_torch:.1e}, vs gradflow float64 {vs_float64:.1e}")
    print()
    print_times(times, ours, "time/ours")
    ratio = np.median(times["torch float32"]) / ours
    print_target(ratio, "torch float32 / gradflow float32")
    return ratio


if __name__ == "__main__":
    main()
