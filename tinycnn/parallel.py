"""Both CPU cores for the chunks of a convolution and for element-wise work.

NumPy spreads only its matrix products over the cores (through OpenBLAS); the copies that build column
matrices, and every element-wise operation, run on one. tinycnn cuts such work into independent blocks and runs
them on a small thread pool, holding OpenBLAS to one thread meanwhile so that the two levels of threads do not
fight over the cores. NumPy releases the GIL during copies, ufuncs and BLAS calls, so the threads really run at
once.

Blocks also make element-wise work cheaper on one core: a layer such as batch norm passes over its data several
times (mean, variance, normalise, scale), and done block by block, each block stays in the core's cache between
passes instead of streaming the whole tensor through memory each time (this CPU copies about 14 GB/s from
memory, and twice that within its cache).

Where OpenBLAS's thread setting cannot be found (another BLAS, another OS), or for CuPy arrays (the GPU is
parallel already), the chunks simply run one after another. ``TINYCNN_NUM_THREADS`` sets the pool size
(default: the cores this process may use; 1 turns threading off).
"""
import ctypes
import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from functools import partial

import numpy as np

_SET_THREADS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                "openblas_set_num_threads64_", "openblas_set_num_threads")


def _find_openblas():
    """(set_num_threads, get_num_threads, core name) of the OpenBLAS that NumPy loaded, or (None, None, "")."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower()})
    except OSError:
        return None, None, ""
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SET_THREADS:
            if hasattr(lib, name) and hasattr(lib, name.replace("set_", "get_")):
                return getattr(lib, name), getattr(lib, name.replace("set_", "get_")), _core_name(lib, name)
    return None, None, ""


def _core_name(lib, set_threads_name):
    """The kernels OpenBLAS chose for this CPU ("SkylakeX", "Haswell", ...; OPENBLAS_CORETYPE overrides it)."""
    corename = getattr(lib, set_threads_name.replace("set_num_threads", "get_corename"), None)
    if corename is None:
        return ""
    corename.restype = ctypes.c_char_p
    return (corename() or b"").decode()                         # NULL (no name) -> ""


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


_set_blas_threads, _get_blas_threads, blas_core = _find_openblas()
BLOCK = 1 << 17      # floats per element-wise block (512 KiB in float32): one fits a core's L2 (1 MiB here)
LEAST = 1 << 15      # arrays below two blocks of this many floats are not worth splitting
workers = int(os.environ.get("TINYCNN_NUM_THREADS", _cores()))
_pool = None
_lock = threading.Lock()


def run(tasks, xp=np):
    """Run the zero-argument functions ``tasks`` and return their results in order: on the cores when that
    helps (NumPy arrays, OpenBLAS found, more than one core), else one by one. One thread per core, the calling
    thread included, takes the next task nobody has taken until none is left: one hand-over per core, and a core
    that the hypervisor pauses for a while (stolen time, common on shared machines) holds up only the task it is
    on; the other core does the rest. An error in a task reaches the caller after the other threads are done."""
    tasks = list(tasks)
    if xp is not np or workers < 2 or _set_blas_threads is None or len(tasks) < 2:
        return [task() for task in tasks]
    global _pool
    results = [None] * len(tasks)
    counter, counter_lock = itertools.count(), threading.Lock()

    def take():                      # the next task's index: each index is handed out once
        with counter_lock:
            return next(counter)
    with _lock:                      # one parallel section at a time; a second caller waits its turn
        if _pool is None:
            _pool = ThreadPoolExecutor(workers - 1, thread_name_prefix="tinycnn")
        before = _get_blas_threads()
        _set_blas_threads(1)
        others = [_pool.submit(_take_tasks, tasks, results, take) for _ in range(min(workers, len(tasks)) - 1)]
        try:
            _take_tasks(tasks, results, take)
        finally:
            wait(others)             # never leave a task running past this section, even after an error
            _set_blas_threads(before)
    for future in others:
        future.result()              # a worker's error, raised here
    return results


@contextmanager
def cores(n):
    """Within this block, this process uses n cores: n threads for parallel sections, OpenBLAS on n threads.
    For a process that shares the machine's cores with others, as the processes of tinycnn.data_parallel do."""
    global workers
    saved = workers, (_get_blas_threads() if _get_blas_threads else None)
    workers = n
    if _set_blas_threads:
        _set_blas_threads(n)
    try:
        yield
    finally:
        workers = saved[0]
        if _set_blas_threads:
            _set_blas_threads(saved[1])


def _forget_pool():
    """In a forked child: the parent's pool threads do not exist there, so start a pool of its own when needed."""
    global _pool, _lock
    _pool, _lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _take_tasks(tasks, results, take):
    while (i := take()) < len(tasks):
        results[i] = tasks[i]()


def spans(total, floats_per_unit, budget=BLOCK, xp=np, per_worker=2):
    """Cut range(total) (units of floats_per_unit floats each: rows, images) into (start, stop) spans of about
    `budget` floats, at least `per_worker` per worker so that the cores share the work evenly. One span for small
    work and for CuPy arrays (the GPU is parallel already)."""
    if xp is not np or total * floats_per_unit < 2 * LEAST:
        return [(0, total)]
    size = max(1, min(budget // floats_per_unit, -(-total // (per_worker * workers))), -(-LEAST // floats_per_unit))
    return [(start, min(start + size, total)) for start in range(0, total, size)]


def even_spans(total, size):
    """Cut range(total) into (start, stop) spans of at most `size` units, as many for each worker (where there
    are enough units) and of sizes that differ by one at most, so that the cores finish together: five spans on
    two cores would leave one core idle while the other does the fifth."""
    count = -(-total // size)
    count = min(total, -(-count // workers) * workers)
    return [(total * i // count, total * (i + 1) // count) for i in range(count)]


def copy(dst, src):
    """dst[...] = src, in blocks along the first axis on the cores: each block is one large copy, so the two threads
    do not queue for Python's lock between many small ones (RESULTS.md, "Twentieth session"). For the pads and
    crops around a convolution, which NumPy would otherwise copy on one core. Returns dst."""
    if not isinstance(dst, np.ndarray) or dst.ndim == 0:
        dst[...] = src
        return dst
    run([partial(_copy_block, dst, src, start, stop) for start, stop in spans(dst.shape[0], dst[0].size)])
    return dst


def _copy_block(dst, src, start, stop):
    dst[start:stop] = src[start:stop]


def _memory_view(a):
    """a's elements as a 1-D view in the order they lie in memory, or None where a is not one dense block."""
    order = sorted(range(a.ndim), key=lambda axis: a.strides[axis], reverse=True)
    dense = a.transpose(order)
    return dense.reshape(-1) if dense.flags.c_contiguous else None


def elementwise(fn, out, *inputs):
    """fn(out, *inputs) for an element-wise fn that writes into out, run block by block on the cores. The
    arrays must lie in memory alike (same shape and strides, as an empty_like of the input does); otherwise,
    and for CuPy arrays, fn runs once on the whole arrays. Returns out."""
    xp = np if isinstance(out, np.ndarray) else None
    views = [_memory_view(a) for a in (out,) + inputs] if xp is np else [None]
    if any(v is None for v in views) or any(a.shape != out.shape or a.strides != out.strides for a in inputs):
        fn(out, *inputs)
        return out
    run([partial(_on_block, fn, views, start, stop) for start, stop in spans(out.size, 1)])
    return out


def _on_block(fn, views, start, stop):
    fn(*(v[start:stop] for v in views))
