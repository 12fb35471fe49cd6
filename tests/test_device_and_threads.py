"""What convgrad does to the process and where tensors live.

* ``Tensor.device`` is the CPU; ``.cpu()`` and ``.to('cpu')`` are no-ops as in PyTorch, and any
  other device is refused in one line that names the way to a GPU.
* Importing convgrad changes nothing in the process (glibc's malloc is not tuned), and its
  kernels leave OpenBLAS's thread count as they found it; both settings are explicit calls
  (``convgrad.keep_freed_memory``, ``convgrad.set_num_threads``).  The process-level checks
  run in a fresh interpreter.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

import convgrad as cg
import convgrad.functional as F
from convgrad.kernels import blas, parallel


# ----------------------------------------------------------------------------- devices
def test_device_cpu_and_to_cpu_are_no_ops_as_in_torch():
    for lib in (cg, torch):
        x = lib.tensor([1.0, 2.0])
        assert str(x.device) == "cpu" and x.device.type == "cpu"
        assert x.cpu() is x
        assert x.to("cpu") is x
        assert x.to(device="cpu") is x
        assert x.to(x.device) is x
        assert x.to(device="cpu", dtype=lib.float64).dtype == lib.float64
        assert x.to("cpu", lib.float64).dtype == lib.float64
        assert x.to(lib.tensor([1], dtype=lib.float64)).dtype == lib.float64
        assert x.to("cpu", copy=True) is not x
    assert repr(cg.tensor(1.0).device) == repr(torch.tensor(1.0).device) == "device(type='cpu')"
    assert cg.device("cpu") == cg.tensor(1.0).device


@pytest.mark.parametrize("where", ["cuda", "cuda:1", "mps", "a device object"])
def test_other_devices_are_refused_in_one_line_naming_the_torch_backend(where):
    where = cg.device("cuda") if where == "a device object" else where
    x = cg.tensor([1.0])
    calls = [lambda: x.to(where), lambda: x.to(device=where, dtype=cg.float64),
             lambda: cg.nn.Linear(2, 3).to(where), lambda: cg.nn.Linear(2, 3, device=where)]
    for call in calls:
        with pytest.raises(RuntimeError) as error:
            call()
        message = str(error.value)
        assert "\n" not in message
        assert "CPU" in message and "convgrad train --backend torch" in message
        assert str(cg.device(where)) in message


def test_unknown_device_names_raise_like_torch():
    for lib in (cg, torch):
        with pytest.raises(RuntimeError, match="device type at start of device string: tpu"):
            lib.tensor([1.0]).to("tpu")
    with pytest.raises(TypeError, match="dtype or a device"):
        cg.tensor([1.0]).to(object())


# ----------------------------------------------------------------------------- the process
def _fresh_python(code: str, **env) -> dict:
    """Run ``code`` (which prints one JSON line) in a new interpreter; its output."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CONVGRAD_")}
    environment.update(env)
    done = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_convgrad_does_not_touch_malloc():
    result = _fresh_python("""
import json, sys
looked_up = []   # Python's audit event for every ctypes symbol lookup
sys.addaudithook(lambda event, args: looked_up.append(args[1])
                 if event == "ctypes.dlsym" and isinstance(args[1], str) else None)
import convgrad
print(json.dumps(looked_up))
""")
    assert "mallopt" not in result


_MALLOC = """
import ctypes, ctypes.util, json, os
import convgrad
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]

def resident():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def returned_on_free(size=24 << 20):
    # how much of a freed, touched block malloc gives back to the system at once
    block = libc.malloc(size)
    libc.memset(block, 1, size)
    touched = resident()
    libc.free(block)
    return touched - resident()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_keep_freed_memory_keeps_freed_blocks_inside_and_returns_them_after():
    result = _fresh_python(_MALLOC + """
with convgrad.keep_freed_memory() as raised:
    inside = returned_on_free()
print(json.dumps({"raised": raised, "inside": inside, "after": returned_on_free()}))
""")
    if not result["raised"]:
        pytest.skip("not glibc")
    megabyte = 1 << 20
    assert result["inside"] < 4 * megabyte        # kept in the heap for the next step
    assert result["after"] > 16 * megabyte        # glibc's defaults again: unmapped at once


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_keep_freed_memory_can_be_turned_off_by_the_environment():
    result = _fresh_python(_MALLOC + """
with convgrad.keep_freed_memory() as raised:
    inside = returned_on_free()
print(json.dumps({"raised": raised, "inside": inside}))
""", CONVGRAD_KEEP_MALLOC="1")
    assert result["raised"] is False
    assert result["inside"] > 16 << 20


@pytest.mark.skipif(not blas.can_control_threads(), reason="NumPy's OpenBLAS not found")
def test_kernels_leave_openblas_thread_count_as_they_found_it():
    result = _fresh_python("""
import json
import numpy as np
import convgrad as cg, convgrad.functional as F
from convgrad.kernels import blas, parallel
before = blas.thread_count()
x = cg.tensor(np.ones((8, 16, 32, 32), np.float32), requires_grad=True)
w = cg.tensor(np.ones((16, 16, 3, 3), np.float32), requires_grad=True)
F.conv2d(x, w, padding=1).sum().backward()
print(json.dumps({"before": before, "after": blas.thread_count(), "workers": parallel.workers()}))
""", CONVGRAD_NUM_THREADS="2")
    if result["before"] == 1:
        pytest.skip("OpenBLAS runs one thread here: nothing a kernel could change")
    assert result["workers"] == 2        # the pool ran the products
    assert result["after"] == result["before"]


@pytest.mark.skipif(not blas.can_control_threads(), reason="NumPy's OpenBLAS not found")
def test_one_thread_is_lowered_inside_and_restored_after_even_when_nested():
    before = blas.thread_count()
    with blas.one_thread():
        assert blas.thread_count() == 1
        with blas.one_thread():
            assert blas.thread_count() == 1
        assert blas.thread_count() == 1
    assert blas.thread_count() == before


def test_set_num_threads_changes_the_workers_and_not_the_results(rng):
    previous = cg.get_num_threads()
    x = rng.standard_normal((4, 8, 16, 16)).astype(np.float32)
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    results = []
    try:
        for count in (1, 2):
            cg.set_num_threads(count)
            assert cg.get_num_threads() == count
            results.append(F.conv2d(cg.tensor(x), cg.tensor(w), padding=1).numpy())
    finally:
        cg.set_num_threads(previous)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-5)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="positive integer"):
            cg.set_num_threads(bad)


@pytest.mark.skipif(not blas.can_control_threads(), reason="NumPy's OpenBLAS not found")
def test_small_kernels_stay_in_the_calling_thread_with_openblas_on_one_thread():
    """Work under the split thresholds (multiply-adds of a product, numbers of a pass) is one
    piece, run here (a hand-off costs more than it saves) with OpenBLAS on one thread as in a
    worker's block; bigger work is shared out."""
    previous = cg.get_num_threads()
    try:
        cg.set_num_threads(2)
        assert parallel.pieces_for(parallel._SPLIT_WORK - 1) == 1
        assert parallel.pieces_for(parallel._SPLIT_WORK) == 2
        assert parallel.pieces_for_pass(parallel._SPLIT_SIZE - 1) == 1
        assert parallel.pieces_for_pass(parallel._SPLIT_SIZE) == 2
        seen = parallel.run_pieces(
            lambda i: (threading.current_thread().name, blas.thread_count()), 1)
        assert seen == [(threading.current_thread().name, 1)]
        names = parallel.run_pieces(lambda i: threading.current_thread().name, 2)
        assert names[0] == threading.current_thread().name and names[1].startswith("convgrad")
    finally:
        cg.set_num_threads(previous)
