"""Keep freed memory for the next step instead of handing it back to the operating system.

A training step allocates the same large temporary arrays every time: activations, column matrices, gradients.
glibc's malloc serves each allocation above a threshold (128 KiB, rising to at most 32 MiB as it adapts) with a
fresh mmap and returns it with munmap when freed, and trims freed memory at the top of its heap. The next step's
arrays then land on pages the kernel must fault in and zero again, one 4 KiB page at a time: measured here, a
ResNet-20 step at batch 128 took about 17,000 such page faults (some 70 MiB of pages).

Raising the mmap and trim thresholds (``mallopt``) makes malloc keep those blocks in its heap and reuse them:
the step then takes a hundred or so, and runs a few percent faster here. The cost is that the process keeps
its peak memory until it ends, which a training process does anyway. This is done once, when tinycnn is imported, on Linux with glibc; set
``TINYCNN_KEEP_MEMORY=0`` to leave malloc as it is. (PyTorch has its own caching allocator for the same reason.)
"""
import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3       # mallopt's parameter numbers, from glibc's <malloc.h>
THRESHOLD = 1 << 30                               # bytes: blocks below this come from (and go back to) the heap


def keep_freed_memory():
    """Ask glibc's malloc to reuse freed memory; returns whether it was done (False off glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):                 # not glibc (musl has no mallopt)
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, THRESHOLD))


kept = os.environ.get("TINYCNN_KEEP_MEMORY", "1") != "0" and keep_freed_memory()
