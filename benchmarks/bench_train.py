"""One training step of an Elman network: gradflow vs PyTorch (issue 5).

N = 128 tanh units, T = 100, batch 32, input dim 2 and one output (the adding task's shapes).
A step is: forward run, MSE at the last step, BPTT, global-norm clipping at 1, an Adam update.

- gradflow: ``Model.value_and_grad`` (``Elman.run``, ``jacobians.backprop``,
  ``Elman.param_grads``), ``clip.by_global_norm(1)``, ``optim.adam``, ``Model.with_params``.
- PyTorch: ``nn.RNN`` + ``nn.Linear``, autograd ``backward``, ``clip_grad_norm_``,
  ``torch.optim.Adam``, on the CPU in float64 (the same arithmetic), and in float32 for
  information. Both on one thread (``threadpool_limits(1)``, ``torch.set_num_threads(1)``).

Rounds interleave the three so drifts in machine load hit all alike; the table gives the
median and the best time per step. Target: torch float64 time / gradflow time >= 1.0.

    python benchmarks/bench_train.py [--quick]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
from threadpoolctl import threadpool_limits

N, T, BATCH, THRESHOLD, LR = 128, 100, 32, 1.0, 1e-3


def make_ours(model, xs, ys):
    from gradflow import clip, optim

    clipper = clip.by_global_norm(THRESHOLD)
    opt = optim.adam(LR)
    state = {"model": model, "opt": opt.init(model.params)}

    def step():
        m = state["model"]
        loss, grads = m.value_and_grad(xs, ys)
        clipped, _ = clipper(grads)
        updates, state["opt"] = opt.update(clipped, state["opt"])
        state["model"] = m.with_params(optim.apply_updates(m.params, updates))
        return loss

    return step


def make_torch(model, xs, ys, dtype):
    import torch

    rnn = torch.nn.RNN(2, N, nonlinearity="tanh", dtype=dtype)
    readout = torch.nn.Linear(N, 1, dtype=dtype)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(torch.tensor(model.cell.W_hh))
        rnn.weight_ih_l0.copy_(torch.tensor(model.cell.W_xh))
        rnn.bias_ih_l0.copy_(torch.tensor(model.cell.b))
        rnn.bias_hh_l0.zero_()
        readout.weight.copy_(torch.tensor(model.W_out))
        readout.bias.copy_(torch.tensor(model.b_out))
    params = [*rnn.parameters(), *readout.parameters()]
    opt = torch.optim.Adam(params, lr=LR)
    x, y = torch.tensor(xs, dtype=dtype), torch.tensor(ys, dtype=dtype)

    def step():
        opt.zero_grad(set_to_none=True)
        hidden, _ = rnn(x)
        loss = ((readout(hidden[-1]) - y) ** 2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, THRESHOLD)
        opt.step()
        return loss.item()

    return step, rnn, readout


def time_steps(runners, rounds, per_round):
    """Seconds per call of each runner, one value a round: two warm-up calls each, then
    ``rounds`` rounds that interleave the runners (so drifts in machine load hit all alike),
    ``per_round`` calls each."""
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
    return times


def torch_grads(rnn, readout, xs, ys, dtype):
    """First-step gradients of a torch recurrent layer (``nn.RNN`` or ``nn.LSTM``) and its
    readout, MSE at the last step, as numpy arrays under gradflow's names."""
    import torch

    hidden, _ = rnn(torch.tensor(xs, dtype=dtype))
    ((readout(hidden[-1]) - torch.tensor(ys, dtype=dtype)) ** 2).mean().backward()
    theirs = {
        "W_hh": rnn.weight_hh_l0.grad, "W_xh": rnn.weight_ih_l0.grad, "b": rnn.bias_ih_l0.grad,
        "W_out": readout.weight.grad, "b_out": readout.bias.grad,
    }  # fmt: skip
    return {k: t.numpy() for k, t in theirs.items()}


def max_relative(ours, reference):
    """Max over the arrays of ``reference`` of max |ours - reference| / max |reference|."""
    return max(
        float(np.max(np.abs(ours[k] - reference[k])) / np.max(np.abs(reference[k])))
        for k in reference
    )


def print_times(times, ours, label):
    """Median and best ms per step of each runner, and its median over ``ours`` (``label``)."""
    width = len(label) + 1
    print(f"{'implementation':<18} {'median ms':>10} {'best ms':>9} {label:>{width}}")
    for name, values in times.items():
        median = np.median(values)
        row = f"{name:<18} {median * 1e3:>10.2f} {min(values) * 1e3:>9.2f}"
        print(f"{row} {median / ours:>{width}.2f}")


def parse_rounds(argv, doc):
    """``(rounds, per_round)`` from a step benchmark's command line (``--quick``: a smoke run)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    args = parser.parse_args(argv)
    return (3, 3) if args.quick else (15, 5)


def print_header(title, rounds, per_round):
    """The report's title, the machine and library versions, and the rounds timed."""
    import torch

    print(title)
    machine = platform.processor() or platform.machine()
    print(f"{machine}, numpy {np.__version__}, torch {torch.__version__}, one thread")
    print(f"{rounds} rounds x {per_round} steps, interleaved")


def print_target(ratio, what):
    """The target line: ``what`` (a ratio of times) against 1.0, met or not."""
    verdict = "met" if ratio >= 1.0 else "NOT met"
    print(f"\ntarget {what} >= 1.0: {ratio:.2f} ({verdict})")


def check_agreement(model, xs, ys):
    """Max relative difference of the first gradients, gradflow vs torch float64."""
    import torch

    _, grads = model.value_and_grad(xs, ys)
    _, rnn, readout = make_torch(model, xs, ys, torch.float64)
    return max_relative(grads, torch_grads(rnn, readout, xs, ys, torch.float64))


def main(argv=None):
    rounds, per_round = parse_rounds(argv, __doc__)

    import torch

    from gradflow import tasks, train

    torch.set_num_threads(1)
    with threadpool_limits(1):
        model = train.init_model("adding", N, rng=0)
        xs, ys = tasks.adding(T, BATCH, rng=1)
        runners = {
            "gradflow float64": make_ours(model, xs, ys),
            "torch float64": make_torch(model, xs, ys, torch.float64)[0],
            "torch float32": make_torch(model, xs, ys, torch.float32)[0],
        }
        times = time_steps(runners, rounds, per_round)
        agreement = check_agreement(model, xs, ys)

    ours = np.median(times["gradflow float64"])
    title = f"One training step, N={N}, T={T}, batch={BATCH}, tanh, global-norm clip, Adam"
    print_header(title, rounds, per_round)
    print(f"first-step gradients, max relative difference vs torch float64: {agreement:.1e}")
    print()
    print_times(times, ours, "torch/ours")
    ratio = np.median(times["torch float64"]) / ours
    print_target(ratio, "torch float64 / gradflow")
    return ratio


if __name__ == "__main__":
    main()
