"""Measuring one training step: wall time, FLOPs, memory high-water mark, page faults; machine peak and facts.

Everything here runs inside a job's own process (see ``speed.py``), so the RSS high-water mark and the
fault counters belong to that workload alone.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _faults() -> tuple[int, int]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_minflt, usage.ru_majflt


def time_steps(step: Callable[[], object], device: torch.device, *, warmup: int, steps: int) -> dict:
    """Run ``warmup`` untimed steps, then time ``steps`` steps one by one (device synchronised around each).

    Returns per-step seconds (the first warm-up step separately: it holds one-off costs such as compilation
    or the first page-in), page faults per timed step and the peak memory after the timed steps.
    """
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    first = None
    for i in range(warmup):
        synchronize(device)
        start = time.perf_counter()
        step()
        synchronize(device)
        if i == 0:
            first = time.perf_counter() - start
    minflt, majflt = _faults()
    times = []
    for _ in range(steps):
        synchronize(device)
        start = time.perf_counter()
        step()
        synchronize(device)
        times.append(time.perf_counter() - start)
    minflt2, majflt2 = _faults()
    result = {
        "times_s": times,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "first_step_s": first,
        "minor_faults_per_step": (minflt2 - minflt) / steps,
        "major_faults_per_step": (majflt2 - majflt) / steps,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,  # KiB on Linux
    }
    if device.type == "cuda":
        result["peak_cuda_bytes"] = torch.cuda.max_memory_allocated(device)
    return result


class _GlobalOnly:
    """Stands in for FlopCounterMode's module tracker: every count goes to the "Global" total.

    The tracker's backward hooks break ``autograd.grad`` on a leaf input, which is how ganzoo's gradient
    penalty differentiates the critic; the per-module breakdown it provides is not needed here.
    """

    parents = {"Global"}

    def __enter__(self) -> "_GlobalOnly":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def count_flops(step: Callable[[], object]) -> float:
    """FLOPs of one step as ``FlopCounterMode`` counts them: matrix products and convolutions, forward and every
    backward (the gradient penalty's double backward included); element-wise work and optimizer updates count 0."""
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()
    with counter:
        step()
    return float(counter.get_total_flops())


# The machine's own peak --------------------------------------------------------------------------------------
# (kind, shape): conv = (N, C_in, C_out, H=W, kernel, stride), matmul = (M, K, N). Shapes of the sizes these
# GANs use most: 3x3/4x4 convs at 128-512 channels, and a large square matmul; GPUs need larger batches to fill.
PEAK_SHAPES = {
    "cpu": [
        ("conv", (1, 256, 256, 64, 3, 1)),
        ("conv", (1, 512, 512, 32, 3, 1)),
        ("conv", (4, 128, 128, 64, 3, 1)),
        ("conv", (1, 256, 512, 64, 4, 2)),
        ("matmul", (2048, 2048, 2048)),
    ],
    "cuda": [
        ("conv", (32, 256, 256, 64, 3, 1)),
        ("conv", (64, 512, 512, 32, 3, 1)),
        ("conv", (32, 256, 512, 64, 4, 2)),
        ("matmul", (8192, 8192, 8192)),
    ],
}


def _peak_case(kind: str, shape: tuple, dtype: torch.dtype, device: torch.device, repeats: int) -> float:
    """Best GFLOP/s of one forward op over ``repeats`` timed runs (after two warm-ups)."""
    g = torch.Generator(device="cpu").manual_seed(0)
    if kind == "conv":
        n, c_in, c_out, size, k, stride = shape
        cl = torch.channels_last
        x = torch.randn(n, c_in, size, size, generator=g).to(device, dtype).contiguous(memory_format=cl)
        w = torch.randn(c_out, c_in, k, k, generator=g).to(device, dtype).contiguous(memory_format=cl)
        pad = (k - 1) // 2 if stride == 1 else 1
        out = (size + 2 * pad - k) // stride + 1
        flops = 2.0 * n * c_out * out * out * c_in * k * k
        op = lambda: torch.nn.functional.conv2d(x, w, padding=pad, stride=stride)  # noqa: E731
    else:
        m, kk, nn_ = shape
        a = torch.randn(m, kk, generator=g).to(device, dtype)
        b = torch.randn(kk, nn_, generator=g).to(device, dtype)
        flops = 2.0 * m * kk * nn_
        op = lambda: a @ b  # noqa: E731
    best = float("inf")
    with torch.no_grad():
        for i in range(repeats + 2):
            synchronize(device)
            start = time.perf_counter()
            op()
            synchronize(device)
            if i >= 2:
                best = min(best, time.perf_counter() - start)
    return flops / best / 1e9


def machine_peak(device: torch.device, repeats: int = 5) -> dict:
    """Best GFLOP/s over PEAK_SHAPES, fp32 and bf16, channels_last, at the current thread count.

    On CUDA torch's defaults hold: cuDNN may run fp32 convolutions in TF32, fp32 matmuls stay fp32.
    """
    out = {"threads": torch.get_num_threads(), "cases": []}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        best = 0.0
        for kind, shape in PEAK_SHAPES[device.type]:
            gflops = _peak_case(kind, shape, dtype, device, repeats)
            out["cases"].append({"dtype": name, "kind": kind, "shape": list(shape), "gflops": gflops})
            best = max(best, gflops)
        out[name] = best
    return out


# Facts about the machine -------------------------------------------------------------------------------------
def cpu_model() -> str:
    """The model name from /proc/cpuinfo, with family/model numbers (VMs often report a bare "AMD EPYC")."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if not key:
                    break  # the first processor's block is enough
                fields.setdefault(key, value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name


def cpu_flags() -> list[str]:
    """The vector-instruction flags that decide fp32/bf16 throughput."""
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return [w for w in wanted if w in have]
    except OSError:
        pass
    return []


def machine_info(device: torch.device) -> dict:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cores": cpus,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info
