"""What every benchmark here shares: child processes, medians, peak memory, the BLAS peak.

convgrad and PyTorch never run in the same process: each library runs in a child started
with the same thread count (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS set
before NumPy or torch is imported, and torch.set_num_threads), so neither one's thread pool
or allocator disturbs the other.  A child prints one JSON line; the parent prints the table.

Times are medians after a warm-up (these machines are shared and noisy: a median of many
runs, and a ratio measured in the same run, mean more than any single time).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time


def median_ms(fn, warmup: int, repeats: int) -> float:
    """The median wall time of ``fn()`` in milliseconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def median_wall_and_cpu_ms(fn, warmup: int, repeats: int) -> tuple:
    """Median wall time and median CPU time (this process, all threads) of ``fn()`` in ms.

    On a shared machine the CPU time of a one-thread run hardly depends on what else runs.
    """
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return 1e3 * statistics.median(wall), 1e3 * statistics.median(cpu)


def engine_settings(library: str):
    """What ``convgrad train`` runs under, for a convgrad child (glibc keeps freed memory
    mapped: ``convgrad.keep_freed_memory``); nothing for NumPy or torch children.  Trees
    older than the context (their ``keep_freed_memory()`` returned a bool) set it when
    imported."""
    if library.startswith("convgrad"):
        import convgrad

        settings = convgrad.keep_freed_memory()
        if hasattr(settings, "__enter__"):
            return settings
    return contextlib.nullcontext()


def peak_memory_mb() -> float:
    """This process's peak resident memory so far (ru_maxrss is in KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _status_mb(field: str) -> float:
    """A size from /proc/self/status (Linux), in MB; 0 where there is none."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@contextlib.contextmanager
def step_memory():
    """Measure the memory of what runs inside: yields a dict that, on exit, holds
    ``peak_mb`` (the process's peak resident size during the block) and ``step_mb`` (that
    peak less the resident size on entry: what the block itself needed at its worst).

    Linux resets the peak (VmHWM) when "5" is written to /proc/self/clear_refs, so imports
    and set-up before the block do not count; elsewhere the peak is the whole process's.
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        pass
    before = _status_mb("VmRSS") or peak_memory_mb()
    result = {}
    yield result
    peak = _status_mb("VmHWM") or peak_memory_mb()
    result.update(peak_mb=peak, step_mb=peak - before)


def run_child(script: str, threads: int, arguments: list, source: str | None = None) -> dict:
    """Run ``script --worker ...`` in a fresh process with ``threads`` threads; its JSON.

    ``source``: a ``src`` folder whose convgrad the child imports instead of this one's (put
    first on ``PYTHONPATH``), to time two versions in one run.
    """
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.abspath(source),
                                                          env.get("PYTHONPATH")]))
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    env["CONVGRAD_NUM_THREADS"] = str(threads)
    command = [sys.executable, os.path.abspath(script), *arguments]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child {' '.join(arguments)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def matmul_peak_gflops(library: str, threads: int, size: int = 2048, repeats: int = 10) -> float:
    """float32 GEMM speed of ``library`` ("numpy" or "torch"): this machine's practical peak."""
    import numpy as np

    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    if library == "torch":
        import torch

        torch.set_num_threads(threads)
        a = torch.from_numpy(a)
    ms = median_ms(lambda: a @ a, warmup=2, repeats=repeats)
    return 2 * size ** 3 / (ms * 1e6)


def emit(result) -> None:
    """A child's result: one JSON line on stdout."""
    print(json.dumps(result))


def _blas_worker(library: str, threads: int) -> dict:
    """What ``library``'s matrix products run on here, and their measured peak."""
    if library == "numpy":
        import numpy as np  # noqa: F401  (threadpoolctl sees only loaded libraries)
        from threadpoolctl import threadpool_info

        blas = [(f"{pool['internal_api']} {pool['version']}, kernel {pool.get('architecture')}, "
                 f"{pool['num_threads']} threads") for pool in threadpool_info()
                if pool["user_api"] == "blas"]
        kernel = "; ".join(blas) or "no BLAS found by threadpoolctl"
    else:
        import torch

        kernel = f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}"
    return dict(kernel=kernel, gflops=matmul_peak_gflops(library, threads))


def blas_description(threads: int) -> str:
    """Lines naming the BLAS kernels NumPy and torch run, with their float32 GEMM peak
    measured now (each in its own process), and the OpenBLAS variables of this run."""
    lines = []
    for library in ("numpy", "torch"):
        info = run_child(__file__, threads, ["--blas", library, str(threads)])
        lines.append(f"{library:<6} {info['kernel']}; float32 GEMM 2048²: "
                     f"{info['gflops']:.0f} GFLOP/s")
    settings = [f"{name}={os.environ[name]}" for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                if name in os.environ]
    lines.append("OpenBLAS settings: " + (", ".join(settings) + " (run with `env -u "
                                          "OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE` to let "
                                          "OpenBLAS pick its kernel)" if settings
                                          else "none (OpenBLAS picks its kernel for this CPU)"))
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="a benchmark child describing a BLAS")
    parser.add_argument("--blas", nargs=2, metavar=("LIBRARY", "THREADS"), required=True)
    arguments = parser.parse_args()
    emit(_blas_worker(arguments.blas[0], int(arguments.blas[1])))
