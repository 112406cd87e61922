"""Gated cells against PyTorch (issue 8): LSTM gradient-norm curves and one LSTM training step.

(a) Gradient-norm curves. B = 32 LSTMs, each its own draw (orthogonal gate blocks at gain 1,
    ``cells.initial_params("lstm", N, batch=B)``, input weights U(-1/√N, 1/√N)), N = 128,
    T = 500, driven by Gaussian inputs (D = 16, each network its own sequence), float64. We
    want log ‖∂⟨v, s_T⟩/∂s_t‖ for the full state s_t = [h_t, c_t] at every t.

    - gradflow: ``LSTM.run`` + ``jacobians.log_gradient_norms``.
    - PyTorch: the same 32 networks stepped with one ``baddbmm`` on the stacked (B, 4N, N)
      weights per step (a ``torch.nn.LSTM`` holds one weight set, and it returns no c_t of
      intermediate steps, so ``retain_grad`` on every state needs a step-by-step loop anyway;
      a loop over 32 ``nn.LSTMCell`` modules is the other choice, and it took 2.1x the
      ``bmm`` time at T = 100), ``retain_grad`` on h_t and c_t of every step, one
      ``backward``, the norms of the ``.grad``. The c_t that ``retain_grad`` watches is the one
      the next step reads (a view of the new cell state), so its gradient holds h_t fixed, as
      ∂/∂s_t of the Markov state [h_t, c_t] does; the c_t that h_t = o tanh(c_t) reads gets
      the gradient through h_t as well.

    Timed in interleaved rounds in this process (median and best). Peak extra memory: one run
    of each in a fresh subprocess after a warm-up, the peak RSS over that run (the kernel's
    high-water mark, reset before it) less the RSS before it; tracemalloc's peak for gradflow
    as a cross-check. Both read the B·4N·N weights twice a step (W h forward, δᵀ W backward):
    the floor is T times the best forward plus backward batched GEMV, measured in the same
    run. Target: torch time / gradflow time >= 2. Agreement: the two curves over the horizon
    on which the two forward passes agree.

(b) One training step of an LSTM model: N = 128, T = 100, batch 32, input 2, one output (the
    adding task's shapes): forward, MSE at the last step, BPTT, global-norm clipping at 1,
    Adam.

    - gradflow: ``train.init_model("adding", N, cell="lstm")``, ``Model.value_and_grad``,
      ``clip.by_global_norm(1)``, ``optim.adam``, ``Model.with_params``. In float32: the same
      arrays in ``train.Model(cells.LSTM(..., dtype=float32), W_out, b_out)``
      (``init_model`` takes no dtype). The public API keeps the readout (``Model`` makes
      ``W_out``, ``b_out`` float64), the clipper's output and Adam's moments in float64; the
      cell's forward run, BPTT and weight gradients are float32, and ``with_params`` rounds
      the updated weights back to float32 every step (see RESULTS.md).
    - PyTorch: ``nn.LSTM`` + ``nn.Linear`` with the same weights (``bias_ih`` = gradflow's
      ``b``, ``bias_hh`` zero and frozen, so both train the same parameters), autograd,
      ``clip_grad_norm_``, ``torch.optim.Adam``; float64 and float32.

    15 rounds of 5 steps, interleaved; median and best per step. Target: torch float64 time /
    gradflow float64 time >= 1.0. Agreement: the first-step gradients against torch float64.

Everything runs on one thread (``threadpool_limits(1)``, ``torch.set_num_threads(1)``).

    python benchmarks/bench_gated.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np
from bench_train import (  # the gradflow step of the Elman benchmark and its timing
    LR,
    THRESHOLD,
    make_ours,
    max_relative,
    print_times,
    time_steps,
    torch_grads,
)
from threadpoolctl import threadpool_limits

D_IN = 16  # input size of the gradient-norm networks


# -- (a) gradient-norm curves -------------------------------------------------------------------
def curve_setup(batch, n, steps, seed=0):
    """The B networks' arrays, their Gaussian inputs (T, B, D) and the cotangent v (B, 2N)."""
    from gradflow.cells import initial_params

    rng = np.random.default_rng(seed)
    params = initial_params("lstm", n, batch=batch, rng=rng)  # orthogonal blocks, gain 1
    bound = 1.0 / np.sqrt(n)
    W_xh = rng.uniform(-bound, bound, size=(batch, 4 * n, D_IN))
    xs = rng.standard_normal((steps, batch, D_IN))
    v = rng.standard_normal((batch, 2 * n))
    return params["W_hh"], W_xh, params["b"], xs, v


def curve_ours(W_hh, W_xh, b, xs, v, *, states=False):
    from gradflow.cells import LSTM
    from gradflow.jacobians import log_gradient_norms

    cell = LSTM(W_hh, W_xh, b)
    traj = cell.run(xs)
    log_norms = log_gradient_norms(cell, traj, v)
    return (log_norms, traj.states) if states else log_norms


def curve_torch(W_hh, W_xh, b, xs, v, *, states=False):
    import torch

    n = W_hh.shape[-1]
    weights = torch.from_numpy(W_hh)
    drive = torch.einsum("bnd,tbd->tbn", torch.from_numpy(W_xh), torch.from_numpy(xs))
    drive = (drive + torch.from_numpy(b)).unsqueeze(-1)  # (T, B, 4N, 1)
    h = torch.zeros(W_hh.shape[0], n, dtype=torch.float64, requires_grad=True)
    c = torch.zeros(W_hh.shape[0], n, dtype=torch.float64, requires_grad=True)
    hs, cs = [h], [c]
    for t in range(xs.shape[0]):
        a = torch.baddbmm(drive[t], weights, h.unsqueeze(-1)).squeeze(-1)
        i, f, g, o = a.chunk(4, dim=-1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c_new)
        c = c_new.view_as(c_new)  # the state c_t as the next step reads it
        h.retain_grad()
        c.retain_grad()
        hs.append(h)
        cs.append(c)
    vt = torch.from_numpy(v)
    ((h * vt[:, :n]).sum() + (c * vt[:, n:]).sum()).backward()
    grads = torch.cat([torch.stack([s.grad for s in hs]), torch.stack([s.grad for s in cs])], -1)
    log_norms = grads.norm(dim=-1).log().numpy()
    if states:
        return log_norms, torch.cat([torch.stack(hs), torch.stack(cs)], -1).detach().numpy()
    return log_norms


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak_rss():
    """Reset the kernel's peak-RSS mark (Linux ``clear_refs`` 5); return the RSS in bytes, or
    None where that is not possible (then the peak is taken from ``ru_maxrss``)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return 1024 * _status_kib("VmRSS")
    except OSError:
        return None


def peak_rss(reset):
    """The peak RSS in bytes since :func:`reset_peak_rss` (since the start if it failed)."""
    if reset:
        return 1024 * _status_kib("VmHWM")
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, else KiB
    return scale * resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def curve_phase(name, batch, n, steps):
    """One run of one method in a fresh process; print its peak extra memory as JSON."""
    arrays = curve_setup(batch, n, steps)
    short = curve_setup(batch, n, 5)
    if name == "torch":
        import torch

        torch.set_num_threads(1)
    fn = {"ours": curve_ours, "torch": curve_torch}[name]
    report = {}
    with threadpool_limits(1):
        fn(*short)  # warm up (imports, first calls)
        baseline = reset_peak_rss()
        fn(*arrays)
        report["rss_mib"] = (peak_rss(baseline is not None) - (baseline or 0)) / 2**20
        if name == "ours":  # numpy reports its buffers to tracemalloc
            tracemalloc.start()
            fn(*arrays)
            report["traced_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
    print(json.dumps(report))


def curve_agreement(arrays, tol=1e-9):
    """(forward max |Δs|, horizon, max |Δ log-norm| over it): the horizon is the number of
    steps over which the two forward passes agree to ``tol``; if it is shorter than T, both
    rerun on it, since every point of the curve depends on the run up to T."""
    ours, ours_states = curve_ours(*arrays, states=True)
    theirs, their_states = curve_torch(*arrays, states=True)
    gap = np.max(np.abs(ours_states - their_states), axis=(1, 2))
    apart = np.flatnonzero(gap > tol)
    horizon = int(apart[0]) - 1 if apart.size else len(gap) - 1
    if horizon < len(gap) - 1:
        W_hh, W_xh, b, xs, v = arrays
        ours = curve_ours(W_hh, W_xh, b, xs[:horizon], v)
        theirs = curve_torch(W_hh, W_xh, b, xs[:horizon], v)
    return float(gap.max()), horizon, float(np.max(np.abs(ours - theirs)))


def gemv_floor(W_hh, repeats=50):
    """Seconds of one forward (W h) and one backward (δᵀ W) batched GEMV over the stacked
    weights, best of ``repeats``: both methods read the B·4N·N weights twice a step."""
    rng = np.random.default_rng(1)
    h = rng.standard_normal((*W_hh.shape[:1], W_hh.shape[2], 1))
    delta = rng.standard_normal((*W_hh.shape[:1], 1, W_hh.shape[1]))

    def best(fn):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    return best(lambda: np.matmul(W_hh, h)) + best(lambda: np.matmul(delta, W_hh))


def bench_curves(args, batch, n, steps, rounds):
    import torch

    memory = {}
    for name in ("ours", "torch"):
        cmd = [sys.executable, __file__, "--phase", name] + (["--quick"] if args.quick else [])
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        memory[name] = json.loads(out.strip().splitlines()[-1])

    arrays = curve_setup(batch, n, steps)
    runners = {"gradflow": curve_ours, "torch autograd (bmm)": curve_torch}
    times = {name: [] for name in runners}
    with threadpool_limits(1):
        for fn in runners.values():  # warm up
            fn(*curve_setup(batch, n, 5))
        for _ in range(rounds):
            for name, fn in runners.items():
                start = time.perf_counter()
                fn(*arrays)
                times[name].append(time.perf_counter() - start)
        forward_gap, horizon, agree = curve_agreement(arrays)
        floor = steps * gemv_floor(arrays[0])

    ours = np.median(times["gradflow"])
    print(f"(a) gradient-norm curves: B={batch} LSTMs, N={n}, T={steps}, D={D_IN}, float64")
    print(f"{rounds} rounds, interleaved; torch {torch.__version__}, one thread")
    print(f"{'method':<22}{'median s':>10}{'best s':>9}{'torch/ours':>12}{'peak MiB':>10}")
    mems = [memory["ours"]["rss_mib"], memory["torch"]["rss_mib"]]
    for (name, values), mem in zip(times.items(), mems, strict=True):
        median = np.median(values)
        print(f"{name:<22}{median:>10.3f}{min(values):>9.3f}{median / ours:>12.2f}{mem:>10.1f}")
    print(f"(gradflow peak traced by tracemalloc: {memory['ours']['traced_mib']:.1f} MiB)")
    print(
        f"forward passes: max |state difference| {forward_gap:.1e} (agree to 1e-9 over "
        f"{horizon} of {steps} steps)"
    )
    print(f"max |log-norm difference| gradflow vs torch over T={horizon}: {agree:.2e}")
    rate = 2 * steps * arrays[0].nbytes / floor
    print(
        f"bandwidth bound: the weights ({arrays[0].nbytes / 2**20:.1f} MiB) read twice a step, "
        f"{2 * steps * arrays[0].nbytes / 2**30:.1f} GiB, at the best batched-GEMV rate "
        f"({rate / 1e9:.1f} GB/s) = {floor:.3f} s; gradflow reaches {floor / ours:.0%} of it "
        f"(median), torch {floor / np.median(times['torch autograd (bmm)']):.0%}"
    )
    ratio = np.median(times["torch autograd (bmm)"]) / ours
    verdict = "met" if ratio >= 2.0 else "NOT met"
    print(f"target torch / gradflow >= 2.0: {ratio:.2f} ({verdict})")
    return ratio


# -- (b) one training step ----------------------------------------------------------------------
def model_float32(model):
    """The same model with its LSTM in float32, through the public API (readout: float64)."""
    from gradflow.cells import LSTM
    from gradflow.train import Model

    cell = model.cell
    f32 = LSTM(cell.W_hh, cell.W_xh, cell.b, dtype=np.float32)
    return Model(f32, model.W_out, model.b_out, model.objective)


def make_torch(model, xs, ys, dtype):
    import torch

    n = model.cell.hidden_size
    lstm = torch.nn.LSTM(xs.shape[-1], n, dtype=dtype)
    readout = torch.nn.Linear(n, model.W_out.shape[0], dtype=dtype)
    with torch.no_grad():
        lstm.weight_hh_l0.copy_(torch.tensor(model.cell.W_hh))
        lstm.weight_ih_l0.copy_(torch.tensor(model.cell.W_xh))
        lstm.bias_ih_l0.copy_(torch.tensor(model.cell.b))
        lstm.bias_hh_l0.zero_()
        readout.weight.copy_(torch.tensor(model.W_out))
        readout.bias.copy_(torch.tensor(model.b_out))
    lstm.bias_hh_l0.requires_grad_(False)  # gradflow's b is bias_ih + bias_hh: one parameter
    params = [lstm.weight_hh_l0, lstm.weight_ih_l0, lstm.bias_ih_l0, *readout.parameters()]
    opt = torch.optim.Adam(params, lr=LR)
    x, y = torch.tensor(xs, dtype=dtype), torch.tensor(ys, dtype=dtype)

    def step():
        opt.zero_grad(set_to_none=True)
        hidden, _ = lstm(x)
        loss = ((readout(hidden[-1]) - y) ** 2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, THRESHOLD)
        opt.step()
        return loss.item()

    return step, lstm, readout


def step_agreement(models, xs, ys):
    """Max relative difference of the first gradients of each model vs torch float64."""
    import torch

    _, lstm, readout = make_torch(models[0], xs, ys, torch.float64)
    theirs = torch_grads(lstm, readout, xs, ys, torch.float64)
    return [max_relative(model.value_and_grad(xs, ys)[1], theirs) for model in models]


def bench_step(n, steps, batch, rounds, per_round):
    import torch

    from gradflow import tasks, train

    with threadpool_limits(1):
        model = train.init_model("adding", n, cell="lstm", rng=0)
        model32 = model_float32(model)
        xs, ys = tasks.adding(steps, batch, rng=1)
        runners = {
            "gradflow float64": make_ours(model, xs, ys),
            "torch float64": make_torch(model, xs, ys, torch.float64)[0],
            "gradflow float32": make_ours(model32, xs, ys),
            "torch float32": make_torch(model, xs, ys, torch.float32)[0],
        }
        times = time_steps(runners, rounds, per_round)
        agree64, agree32 = step_agreement([model, model32], xs, ys)

    ours = np.median(times["gradflow float64"])
    print(f"(b) one training step, LSTM N={n}, T={steps}, batch={batch}, global-norm clip, Adam")
    print(f"{rounds} rounds x {per_round} steps, interleaved")
    print(f"first-step gradients, max relative difference vs torch float64: {agree64:.1e}")
    print(f"  (gradflow float32 vs torch float64: {agree32:.1e})")
    print_times(times, ours, "/ gradflow f64")
    ratio = np.median(times["torch float64"]) / ours
    ratio32 = np.median(times["torch float32"]) / np.median(times["gradflow float32"])
    verdict = "met" if ratio >= 1.0 else "NOT met"
    print(f"target torch float64 / gradflow float64 >= 1.0: {ratio:.2f} ({verdict})")
    print(f"torch float32 / gradflow float32 (for information): {ratio32:.2f}")
    return ratio


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--phase", choices=["ours", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        curves, rounds = (8, 32, 100), 2
        step_sizes, step_rounds = (32, 20, 8), (3, 3)
    else:
        curves, rounds = (32, 128, 500), 7
        step_sizes, step_rounds = (128, 100, 32), (15, 5)
    if args.phase:
        curve_phase(args.phase, *curves)
        return 0

    import torch

    torch.set_num_threads(1)
    machine = platform.processor() or platform.machine()
    print(f"{machine}, numpy {np.__version__}, torch {torch.__version__}, one thread")
    print("load average (1, 5, 15 min) at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    bench_curves(args, *curves, rounds)
    print()
    bench_step(*step_sizes, *step_rounds)
    print("load average (1, 5, 15 min) at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
