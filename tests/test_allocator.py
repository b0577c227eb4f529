"""tinycnn keeps freed memory for reuse (tinycnn/allocator.py): the large arrays of a second training step land
on pages the first one mapped, so they cost no page faults."""
import resource
import subprocess
import sys

import pytest

import tinycnn

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")

FAULTS = """
import resource
import numpy as np
import tinycnn
def step():                        # a training step's pattern: arrays of many sizes (1 to 40 MiB), freed at its end
    arrays = [np.ones(n << 18, dtype=np.float32) for n in (1, 8, 2, 16, 4, 40, 3, 24)]
    del arrays
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults_of_a_second_step(keep):
    env = {"TINYCNN_KEEP_MEMORY": "1" if keep else "0", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", FAULTS], env=env, capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_freed_memory_is_reused_without_page_faults():
    assert tinycnn.allocator.kept
    pages = (98 << 20) // resource.getpagesize()                     # what the step allocates
    assert faults_of_a_second_step(keep=False) > pages // 10       # malloc's default: many pages fresh again
    assert faults_of_a_second_step(keep=True) < pages // 100       # kept: the first step's pages are reused
