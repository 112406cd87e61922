"""Reading and diagnosing checkpoints: gradflow.io.load against torch and safetensors (issue 9).

A 2-layer ``torch.nn.LSTM(1024, 1024, num_layers=2)`` (PyTorch's initialisation, seed 0):
16.8 M parameters, 67 MB in float32. It is written to a temporary folder with
``torch.save(model.state_dict(), path)`` and ``safetensors.torch.save_file``, and again after
``model.double()`` (gradflow's cells are float64), fsynced so that their pages can be dropped.

(a) Load time. ``gradflow.io.load(path)`` (format detection, read, layer discovery, the two
    float64 LSTM cells); the raw reads ``gradflow.io._torch.read_torch`` (every tensor a NumPy
    copy, CRC-32 checked) and ``gradflow.io._arrays.read_safetensors`` (a lazy map; also with
    every array copied out); against ``torch.load(path, weights_only=True)``,
    ``safetensors.torch.load_file`` (a lazy map), ``safetensors.numpy.load_file`` (copies),
    and the torch readers followed by private float64 NumPy arrays of every weight (what the
    cells hold), and float64 copies of the arrays already in memory (the floor of any reader
    that builds float64 cells). Interleaved rounds, median and best wall time and the median
    CPU time (steadier on a shared machine), with the page cache warm for every file (checked
    with mincore). Then cold-ish rounds: before each read the file's pages are dropped
    (``posix_fadvise(DONTNEED)``, checked with mincore); the host may still cache the virtual
    disk. A cProfile of each warm load splits its time into stages. Target: gradflow.io.load
    <= 1.5x torch.load of the same weights.
(b) Peak memory of each load, each in a fresh subprocess: the growth of the peak RSS (VmHWM,
    reset through /proc/self/clear_refs after the imports and a warm-up load of a tiny file of
    the same format) over the RSS before the load, and for gradflow's readers the tracemalloc
    peak (NumPy's arrays, not the file mapping) in another subprocess, with what only the
    cyclic garbage collector frees afterwards. Against the file size. Target: peak <= 1.5x
    the file size.
(c) The diagnosis: ``gradflow diagnose`` of the float32 file (the CLI's main in this process,
    under cProfile): each layer's ``report`` time and where the time goes (spectra of the gate
    blocks, trajectories, gradient-norm curves, Lyapunov exponents), the cost of one step's
    product against a GEMV over the same weights, ``spectra="fast"``; the same for a 2-layer
    LSTM of N = 256.

Everything runs on one thread (``threadpool_limits(1)``, ``torch.set_num_threads(1)``).

    python benchmarks/bench_io.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import ctypes
import gc
import importlib.util
import io
import json
import mmap
import os
import platform
import pstats
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

DTYPES = ("float32", "float64")
FORMATS = ("pt", "safetensors")
MB, MiB = 1e6, 2**20


def require():
    """Exit with one line if torch or safetensors is missing."""
    missing = [name for name in ("torch", "safetensors") if importlib.util.find_spec(name) is None]
    if missing:
        sys.exit(f"bench_io.py: needs {' and '.join(missing)} (pip install torch safetensors)")


# -- the readers ---------------------------------------------------------------------------------
def gradflow_load(path):
    from gradflow.io import load

    return load(path)


def read_torch(path):
    from gradflow.io._torch import read_torch

    return read_torch(path)


def read_safetensors_lazy(path):
    from gradflow.io._arrays import read_safetensors

    arrays = read_safetensors(path)
    return {name: arrays[name] for name in arrays}


def read_safetensors_copies(path):
    from gradflow.io._arrays import read_safetensors

    arrays = read_safetensors(path)
    return {name: np.array(arrays[name]) for name in arrays}


def torch_load(path):
    import torch

    return torch.load(path, weights_only=True)


def torch_load_float64(path):
    import torch

    return {k: t.to(torch.float64).numpy() for k, t in torch.load(path, weights_only=True).items()}


def st_torch(path):
    import safetensors.torch

    return safetensors.torch.load_file(path)


def st_torch_float64(path):
    import safetensors.torch
    import torch

    lazy = safetensors.torch.load_file(path)
    return {k: t.to(torch.float64, copy=True).numpy() for k, t in lazy.items()}


def st_numpy(path):
    import safetensors.numpy

    return safetensors.numpy.load_file(path)


IN_MEMORY: dict = {}  # path -> the file's arrays as numpy, for the no-file floor


def float64_in_memory(path):
    return {k: np.array(a, dtype=np.float64) for k, a in IN_MEMORY[path].items()}


@dataclass(frozen=True)
class Reader:
    label: str
    fmt: str
    fn: object
    torch: bool  # imports torch
    cold: bool  # timed cold as well (reads every byte)
    memory: bool  # peak memory measured
    traced: bool  # tracemalloc sees its arrays


READERS = {
    (r.label, r.fmt): r
    for r in (
        Reader("gradflow.io.load", "pt", gradflow_load, False, True, True, True),
        Reader("gradflow.io.load", "safetensors", gradflow_load, False, True, True, True),
        Reader("read_torch", "pt", read_torch, False, True, True, True),
        Reader("read_safetensors (lazy map)", "safetensors", read_safetensors_lazy, False, False,
               False, False),
        Reader("read_safetensors + copies", "safetensors", read_safetensors_copies, False, True,
               True, True),
        Reader("torch.load", "pt", torch_load, True, True, True, False),
        Reader("torch.load + float64", "pt", torch_load_float64, True, False, True, False),
        Reader("st.torch.load_file (lazy map)", "safetensors", st_torch, True, False, False, False),
        Reader("st.torch + float64 copies", "safetensors", st_torch_float64, True, True, True,
               False),
        Reader("st.numpy.load_file", "safetensors", st_numpy, False, True, True, False),
        Reader("float64 copies, no file (floor)", "pt", float64_in_memory, False, False, False,
               False),
    )
}  # fmt: skip
SUFFIX = {"pt": ".pt", "safetensors": ".safetensors"}


# -- files and the page cache --------------------------------------------------------------------
def write_checkpoints(folder: Path, n: int, tag: str = "") -> dict:
    """``{(dtype, fmt): path}`` of a 2-layer LSTM(n, n), fsynced so its pages can be dropped."""
    import safetensors.torch
    import torch

    torch.manual_seed(0)
    model = torch.nn.LSTM(n, n, num_layers=2)
    paths = {}
    for dtype in DTYPES:
        if dtype == "float64":
            model = model.double()
        state = model.state_dict()
        for fmt in FORMATS:
            path = folder / f"lstm{n}{tag}_{dtype}{SUFFIX[fmt]}"
            if fmt == "pt":
                torch.save(state, path)
            else:
                safetensors.torch.save_file(state, path)
            fd = os.open(path, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
            paths[dtype, fmt] = path
    return paths


def resident(path) -> float | None:
    """Fraction of the file's pages in the page cache (mincore), None if it cannot be asked."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]  # fmt: skip
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    size, page = os.path.getsize(path), mmap.PAGESIZE
    pages = (size + page - 1) // page
    with open(path, "rb") as f:
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, f.fileno(), 0)
        if addr is None or addr == ctypes.c_void_p(-1).value:
            return None
        try:
            vec = (ctypes.c_ubyte * pages)()
            if libc.mincore(addr, size, vec) != 0:
                return None
            return float(np.mean(np.frombuffer(vec, np.uint8) & 1))
        finally:
            libc.munmap(addr, size)


def drop(path) -> float | None:
    """Drop the file's pages from the page cache; the fraction still resident afterwards."""
    gc.collect()  # nothing of ours may still map it
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return resident(path)


def warm(path) -> float | None:
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass
    return resident(path)


# -- (a) load times ------------------------------------------------------------------------------
def time_loads(paths, rounds, *, cold=False):
    """``{(dtype, label, fmt): [(wall s, CPU s)...]}`` over interleaved rounds; residencies."""
    runs = [(dtype, r) for dtype in DTYPES for r in READERS.values() if r.cold or not cold]
    times = {(dtype, r.label, r.fmt): [] for dtype, r in runs}
    seen = []
    for _ in range(rounds):
        for dtype, r in runs:
            path = paths[dtype, r.fmt]
            seen.append(drop(path) if cold else resident(path))
            start, cpu = time.perf_counter(), time.process_time()
            result = r.fn(path)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            times[dtype, r.label, r.fmt].append((wall, cpu))
            del result
    return times, seen


def medians(values):
    """Median wall and CPU seconds, best wall seconds."""
    wall, cpu = np.array(values).T
    return np.median(wall), np.median(cpu), wall.min()


def print_times(times, sizes, title):
    print(f"\n{title}")
    print(f"{'reader':<32}{'file':<13}{'median ms':>10}{'best ms':>9}{'CPU ms':>8}"
          f"{'x torch.load':>14}{'(CPU)':>7}")  # fmt: skip
    for dtype in DTYPES:
        ref_wall, ref_cpu, _ = medians(times[dtype, "torch.load", "pt"])
        print(f"-- {dtype} weights (.pt {sizes[dtype, 'pt'] / MB:.1f} MB, .safetensors "
              f"{sizes[dtype, 'safetensors'] / MB:.1f} MB)")  # fmt: skip
        for (d, label, fmt), values in times.items():
            if d == dtype:
                wall, cpu, best = medians(values)
                where = "(in memory)" if label.endswith("(floor)") else SUFFIX[fmt]
                print(
                    f"{label:<32}{where:<13}{wall * 1e3:>10.1f}{best * 1e3:>9.1f}"
                    f"{cpu * 1e3:>8.1f}{wall / ref_wall:>14.2f}{cpu / ref_cpu:>7.2f}"
                )


def load_verdicts(times, what):
    parts = []
    for dtype in DTYPES:
        ref_wall, ref_cpu, _ = medians(times[dtype, "torch.load", "pt"])
        for fmt in FORMATS:
            wall, cpu, _ = medians(times[dtype, "gradflow.io.load", fmt])
            ratio = wall / ref_wall
            verdict = "met" if ratio <= 1.5 else "NOT met"
            cpu_ratio = cpu / ref_cpu
            parts.append(f"{dtype} {SUFFIX[fmt]} {ratio:.2f}x ({verdict}; CPU {cpu_ratio:.2f}x)")
    print(f"target gradflow.io.load <= 1.5x torch.load (medians), {what}: " + "; ".join(parts))


def load_profile(paths):
    """Where one warm ``gradflow.io.load`` spends its time, per file (cProfile)."""
    from gradflow.io import load

    stages = {}
    for key, path in paths.items():
        load(path)
        total = np.inf
        for _ in range(3):  # the quickest of three profiled loads
            profiler = cProfile.Profile()
            start = time.perf_counter()
            profiler.enable()
            load(path)
            profiler.disable()
            seconds = time.perf_counter() - start
            if seconds < total:
                total, stats = seconds, pstats.Stats(profiler).stats
        crc = builtin(stats, "zlib.crc32")
        copy = cum(stats, "gradflow/io/_torch_tensors.py", "tensor")
        if key[1] == "safetensors":
            copy = 0.0  # a map: the bytes are read by the conversion below
        convert = cum(stats, "gradflow/io/_discover.py", "_float")
        cells = cum(stats, "gradflow/cells/", "__init__")
        stages[key] = {
            "CRC-32 of the storages": crc,
            "copy out of the file (tensor rebuild)": copy,
            "float64 copies + finiteness (discovery)": convert,
            "cell construction (checks again)": cells,
            "pickle, zip directory, detection, rest": total - crc - copy - convert - cells,
            "total": total,
        }
    keys = list(paths)
    print("\nwhere a warm gradflow.io.load spends its time (cProfile, quickest of 3, ms)")
    head = "".join(f"{f'f{d[-2:]} {SUFFIX[f]}':>18}" for d, f in keys)
    print(f"{'stage':<42}{head}")
    for stage in next(iter(stages.values())):
        print(f"{stage:<42}" + "".join(f"{stages[k][stage] * 1e3:>18.1f}" for k in keys))
    return stages


def builtin(stats, name):
    return sum(v[3] for (f, _, n), v in stats.items() if f == "~" and name in n)


def cum(stats, where, name):
    return sum(
        v[3] for (f, _, n), v in stats.items() if n == name and where in f.replace(os.sep, "/")
    )


def check_weights(paths):
    """Max |difference| between every loaded cell and the state dict's arrays."""
    import torch

    from gradflow.io import load

    worst = 0.0
    for (_, fmt), path in paths.items():
        state = torch.load(path, weights_only=True) if fmt == "pt" else st_torch(path)
        for layer in load(path):
            k = layer.index
            expected = {
                "W_hh": state[f"weight_hh_l{k}"], "W_xh": state[f"weight_ih_l{k}"],
                "b": state[f"bias_ih_l{k}"] + state[f"bias_hh_l{k}"],
            }  # fmt: skip
            for name, value in expected.items():
                diff = np.abs(getattr(layer.cell, name) - value.to(torch.float64).numpy())
                worst = max(worst, float(diff.max()))
    return worst


# -- (b) memory ----------------------------------------------------------------------------------
def status() -> dict:
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                fields[key] = int(value.split()[0]) * 1024
    return fields


def phase_memory(label, fmt, path, tiny, trace):
    """One load in this (fresh) process; print its peak memory as JSON."""
    reader = READERS[label, fmt]
    import gradflow.io  # noqa: F401 - before the limits, which cover the BLAS loaded by then

    if reader.torch:
        import torch

        torch.set_num_threads(1)
    with threadpool_limits(1):
        held = reader.fn(tiny)  # imports and first-call allocations
        del held
        gc.collect()
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM to the current RSS
            reset = True
        except OSError:
            reset = False
        before = status()
        if trace:
            tracemalloc.start()
        result = reader.fn(path)
        after = status()
        traced, cycles = None, None
        if trace:
            now, traced = tracemalloc.get_traced_memory()
            gc.collect()
            cycles = now - tracemalloc.get_traced_memory()[0]  # freed only by the collector
    print(json.dumps({
        "peak": after["VmHWM"] - before["VmRSS"], "retained": after["VmRSS"] - before["VmRSS"],
        "reset": reset, "traced": traced, "cycles": cycles,
    }))  # fmt: skip
    del result


def measure_memory(paths, tiny):
    """``{(dtype, label, fmt): {"peak", "retained", "reset", "traced"}}`` in bytes."""
    out = {}
    for dtype in DTYPES:
        for r in READERS.values():
            if not r.memory:
                continue
            args = ["--phase", "memory", "--reader", r.label, "--format", r.fmt, "--path",
                    str(paths[dtype, r.fmt]), "--tiny", str(tiny[dtype, r.fmt])]  # fmt: skip
            rows = {}
            for trace in (False, True) if r.traced else (False,):
                cmd = [sys.executable, __file__, *args, *(["--trace"] if trace else [])]
                done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                rows[trace] = json.loads(done.stdout.strip().splitlines()[-1])
            traced = rows.get(True, {})
            out[dtype, r.label, r.fmt] = {
                **rows[False], "traced": traced.get("traced"), "cycles": traced.get("cycles")
            }  # fmt: skip
    return out


def print_memory(memory, sizes):
    print("\npeak memory of one load, fresh subprocess each (MiB, and x the file's size)")
    print(f"{'reader':<32}{'file':<13}{'peak RSS':>9}{'x file':>8}{'retained':>10}"
          f"{'tracemalloc':>12}{'x file':>8}{'held by cycles':>16}")  # fmt: skip
    for dtype in DTYPES:
        print(f"-- {dtype} weights")
        for (d, label, fmt), m in memory.items():
            if d != dtype:
                continue
            size, traced = sizes[dtype, fmt], m["traced"]
            tm = ""
            if traced is not None:
                tm = f"{traced / MiB:>12.1f}{traced / size:>8.2f}{m['cycles'] / MiB:>16.1f}"
            print(f"{label:<32}{SUFFIX[fmt]:<13}{m['peak'] / MiB:>9.1f}{m['peak'] / size:>8.2f}"
                  f"{m['retained'] / MiB:>10.1f}{tm}")  # fmt: skip
    if not all(m["reset"] for m in memory.values()):
        print("(VmHWM could not be reset: peaks include whatever the imports reached)")
    parts = []
    for dtype in DTYPES:
        for fmt in FORMATS:
            m, size = memory[dtype, "gradflow.io.load", fmt], sizes[dtype, fmt]
            rss, tm = m["peak"] / size, m["traced"] / size
            parts.append(
                f"{dtype} {SUFFIX[fmt]} RSS {rss:.2f}x ({'met' if rss <= 1.5 else 'NOT met'}), "
                f"tracemalloc {tm:.2f}x ({'met' if tm <= 1.5 else 'NOT met'})"
            )
    print("target gradflow.io.load peak <= 1.5x file size: " + "; ".join(parts))
    print(
        "(a float32 file's float64 cells alone take 2.00x its size; 'retained': RSS growth "
        "with the result held; 'held by cycles': traced memory that only gc.collect() frees)"
    )


# -- (c) diagnosis -------------------------------------------------------------------------------
def diagnose(path):
    """``gradflow diagnose PATH`` in this process under cProfile: totals and the breakdown."""
    import gradflow.diagnose as dg
    from gradflow.cli import main as cli
    from gradflow.diagnose import _growth

    per_layer, split = [], {"output": 0.0, "state": 0.0}
    real_report, real_norms = dg.report, _growth.log_gradient_norms

    def timed_report(layer, **kwargs):
        start = time.perf_counter()
        r = real_report(layer, **kwargs)
        per_layer.append((r.layer, time.perf_counter() - start, r.verdict))
        return r

    def timed_norms(cell, traj, v, *, part="state"):
        start = time.perf_counter()
        out = real_norms(cell, traj, v, part=part)
        split[part] += time.perf_counter() - start
        return out

    dg.report, _growth.log_gradient_norms = timed_report, timed_norms
    profiler, printed = cProfile.Profile(), io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            start = time.perf_counter()
            profiler.enable()
            code = cli(["diagnose", str(path)])
            profiler.disable()
            total = time.perf_counter() - start
    finally:
        dg.report, _growth.log_gradient_norms = real_report, real_norms
    if code != 0:
        raise RuntimeError(f"gradflow diagnose {path} exited with {code}")
    stats = pstats.Stats(profiler).stats
    spectral = {
        "SVD, singular values": cum(stats, "gradflow/spectral.py", "singular_values"),
        "eigenvalues (geev)": cum(stats, "gradflow/spectral.py", "eigenvalues"),
        "Schur form (non-normality)": cum(stats, "gradflow/spectral.py", "non_normality"),
    }
    blocks = cum(stats, "gradflow/diagnose/_spectra.py", "block_spectrum")
    long_runs = cum(stats, "gradflow/diagnose/_growth.py", "_forward")
    runs = cum(stats, "gradflow/cells/", "run")
    groups = {
        "read the file (gradflow.io.load)": cum(stats, "gradflow/io/_formats.py", "load"),
        **{f"spectra: {k}": v for k, v in spectral.items()},
        "spectra: the rest (defect, std, fields)": blocks - sum(spectral.values()),
        "trajectories: long runs (burn-in + 6 T)": long_runs,
        "trajectories: window re-runs (T)": runs - long_runs,
        "gradient-norm curves (backprop over T)": split["output"],
        "Lyapunov exponents (adjoint, long run)": split["state"],
        "drive rms": cum(stats, "gradflow/diagnose/_growth.py", "_rms"),
    }
    groups["gate means, verdict, table, rest"] = total - sum(groups.values())
    drive = cum(stats, "gradflow/cells/_base.py", "_drive")
    top = sorted(stats.items(), key=lambda kv: -kv[1][2])[:8]
    return {
        "total": total, "layers": per_layer, "groups": groups, "drive": drive,
        "top": [(f"{n} ({Path(f).name}:{line})" if f != "~" else n, v[2])
                for (f, line, n), v in top],
        "table": printed.getvalue().rstrip(),
    }  # fmt: skip


def step_products(n, repeats):
    """Best seconds of one step's product at batch 8 and 16, and of one GEMV, float64."""
    rng = np.random.default_rng(0)
    W = rng.standard_normal((4 * n, n))
    out = {}
    for name, h in (("batch 8", rng.standard_normal((8, n))),
                    ("batch 16", rng.standard_normal((16, n))),
                    ("GEMV", rng.standard_normal(n))):  # fmt: skip
        fn = (lambda h=h: W @ h) if h.ndim == 1 else (lambda h=h: h @ W.T)
        fn()
        best = np.inf
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        out[name] = best
    return out


def fast_spectra(path):
    """Seconds of ``block_spectrum(..., spectra="fast")`` over the first layer's gate blocks."""
    from gradflow.diagnose import block_nonlinearities, block_spectrum
    from gradflow.io import load

    cell = load(path)[0].cell
    kinds = block_nonlinearities(cell)
    start = time.perf_counter()
    for block, W in cell.recurrent_blocks.items():
        block_spectrum(W, block, kinds[block], spectra="fast")
    return time.perf_counter() - start


def print_diagnosis(d, title):
    layers = ", ".join(f"{name} {sec:.1f} s ({verdict})" for name, sec, verdict in d["layers"])
    print(f"\n{title}: {d['total']:.1f} s in all; report per layer: {layers}")
    print(d["table"])
    print(f"{'where the time goes (both layers)':<44}{'s':>8}{'share':>8}")
    for name, sec in d["groups"].items():
        print(f"{name:<44}{sec:>8.2f}{sec / d['total']:>8.0%}")
    print(f"(of the trajectories: input drive W_xh x_t of the Gaussian runs {d['drive']:.2f} s)")
    print("top entries by own time: " + "; ".join(f"{n} {s:.2f} s" for n, s in d["top"]))


# -- main ----------------------------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 256, few rounds (a smoke run)")
    parser.add_argument("--phase", choices=["memory"], help=argparse.SUPPRESS)
    parser.add_argument("--reader", help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--tiny", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    require()
    if args.phase:
        phase_memory(args.reader, args.format, args.path, args.tiny, args.trace)
        return 0
    n, small, rounds, cold_rounds = (256, 64, 3, 1) if args.quick else (1024, 256, 15, 5)

    import safetensors
    import scipy.linalg  # noqa: F401 - loaded before the limits so that they cover its BLAS
    import torch

    import gradflow.cli
    import gradflow.diagnose
    import gradflow.io  # noqa: F401

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        threads = {i["num_threads"] for i in threadpool_info()}
        if threads != {1}:
            print(f"warning: BLAS libraries run {sorted(threads)} threads", file=sys.stderr)
        folder = Path(tmp)
        paths = write_checkpoints(folder, n)
        tiny = write_checkpoints(folder, 8, "tiny")
        small_paths = write_checkpoints(folder, small)
        sizes = {key: os.path.getsize(p) for key, p in paths.items()}
        for key, p in paths.items():
            if key[1] == "pt":
                IN_MEMORY[p] = {k: t.numpy() for k, t in torch.load(p, weights_only=True).items()}
        params = sum(
            t.numel() for t in torch.load(paths["float32", "pt"], weights_only=True).values()
        )
        print(f"Reading checkpoints: 2-layer torch.nn.LSTM({n}, {n}), {params / 1e6:.1f} M "
              "parameters")  # fmt: skip
        machine = platform.processor() or platform.machine()
        print(f"{machine}, numpy {np.__version__}, torch {torch.__version__}, safetensors "
              f"{safetensors.__version__}, one thread; load averages "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
        print(f"loaded cells against the state dicts: max |difference| {check_weights(paths):.1e}")

        residency = [warm(p) for p in paths.values()]
        for r in READERS.values():  # warm-up: imports, first calls
            for dtype in DTYPES:
                del_me = r.fn(paths[dtype, r.fmt])
                del del_me
        warm_times, seen = time_loads(paths, rounds)
        known = [x for x in seen + residency if x is not None]
        state = f"min {min(known):.0%} of pages resident (mincore)" if known else "not checked"
        print_times(warm_times, sizes, f"load times, page cache warm ({state}), {rounds} "
                    "interleaved rounds")  # fmt: skip
        load_verdicts(warm_times, "warm")

        cold_times, seen = time_loads(paths, cold_rounds, cold=True)
        known = [x for x in seen if x is not None]
        worked = known and max(known) < 0.01
        note = (
            (
                f"at most {max(known):.1%} of pages resident after each drop: the drop "
                f"{'worked' if worked else 'did NOT work'}"
            )
            if known
            else "residency unknown"
        )
        print_times(cold_times, sizes, f"load times, cold-ish (pages dropped before each read; "
                    f"{note}), {cold_rounds} interleaved rounds")  # fmt: skip
        load_verdicts(cold_times, "cold-ish")
        for p in paths.values():
            warm(p)
        load_profile(paths)

        print_memory(measure_memory(paths, tiny), sizes)

        d = diagnose(paths["float32", "pt"])
        print_diagnosis(d, f"gradflow diagnose of the float32 .pt, N = {n}")
        products = step_products(n, 10 if args.quick else 30)
        print(
            f"one step's product (B x {n})(x {n} x {4 * n}) float64: "
            + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in products.items())
            + "; a report makes 2 x 800 forward and 2 x 800 backward steps per layer"
        )
        print(
            f"spectra='fast' (--spectra fast) for the 4 gate blocks of l0: "
            f"{fast_spectra(paths['float32', 'pt']):.2f} s"
        )
        s = diagnose(small_paths["float32", "pt"])
        print_diagnosis(s, f"gradflow diagnose of the float32 .pt, N = {small}")
        print(f"\nN = {n} / N = {small}: {d['total'] / s['total']:.1f}x the time")
        print(f"load averages at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
