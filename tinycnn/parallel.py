"""Both CPU cores for the chunks of a convolution.

NumPy spreads only its matrix products over the cores (through OpenBLAS); the copies that build column
matrices run on one. tinycnn cuts a convolution into independent chunks (a few copies and one GEMM each) and runs
them on a small thread pool, holding OpenBLAS to one thread meanwhile so that the two levels of threads do not
fight over the cores. NumPy releases the GIL during copies and BLAS calls, so the threads really run at once.

Where OpenBLAS's thread setting cannot be found (another BLAS, another OS), or for CuPy arrays (the GPU is
parallel already), the chunks simply run one after another. ``TINYCNN_NUM_THREADS`` sets the pool size
(default: the cores this process may use; 1 turns threading off).
"""
import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_SET_THREADS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                "openblas_set_num_threads64_", "openblas_set_num_threads")


def _find_openblas():
    """(set_num_threads, get_num_threads) of the OpenBLAS that NumPy loaded, or (None, None)."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower()})
    except OSError:
        return None, None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SET_THREADS:
            if hasattr(lib, name) and hasattr(lib, name.replace("set_", "get_")):
                return getattr(lib, name), getattr(lib, name.replace("set_", "get_"))
    return None, None


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


_set_blas_threads, _get_blas_threads = _find_openblas()
workers = int(os.environ.get("TINYCNN_NUM_THREADS", _cores()))
_pool = None
_lock = threading.Lock()


def run(tasks, xp=np):
    """Run the zero-argument functions ``tasks`` and return their results in order: on the thread pool when
    that helps (NumPy arrays, OpenBLAS found, more than one core), else one by one."""
    tasks = list(tasks)
    if xp is not np or workers < 2 or _set_blas_threads is None or len(tasks) < 2:
        return [task() for task in tasks]
    global _pool
    with _lock:                      # one parallel section at a time; a second caller waits its turn
        if _pool is None:
            _pool = ThreadPoolExecutor(workers, thread_name_prefix="tinycnn")
        before = _get_blas_threads()
        _set_blas_threads(1)
        try:
            return list(_pool.map(lambda task: task(), tasks))
        finally:
            _set_blas_threads(before)
