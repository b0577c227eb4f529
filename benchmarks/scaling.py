"""What the second core adds, by kind of work: a matrix product of a ResNet-20 convolution's chunk shape, a copy of an
array from memory and one within a core's cache, each on one thread and on two threads at once (each thread its own
arrays, OpenBLAS at one thread each); then ResNet-20's stride-1 convolutions, forward and backward, on one core and
on two (tinycnn.parallel.cores; medians). A product scales with the cores; a copy bound by memory bandwidth does
not.

    python benchmarks/scaling.py [--repeats 21]
"""
import argparse
import os
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from harness import blas, commit, machine, median_times  # noqa: E402

from tinycnn import parallel  # noqa: E402
from tinycnn.functional import conv  # noqa: E402


def per_thread_seconds(work, threads, rounds):
    """Seconds per call of work(i) when `threads` threads call it `rounds` times each, all at once."""
    def loop(i):
        for _ in range(rounds):
            work(i)
    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return (time.perf_counter() - start) / rounds


def throughput(name, work, amount, unit, rounds):
    """amount / seconds per call of work(i), on one thread (i = 0) and on two at once (i = 0, 1), the best of
    three rounds: a table row."""
    rates = []
    with parallel.cores(1):                                  # OpenBLAS on one thread within each call
        for threads in (1, 2):
            for i in range(threads):
                work(i)                                      # warm-up, and the pages touched
            best = min(per_thread_seconds(work, threads, rounds) for _ in range(3))
            rates.append(threads * amount / best)
    print(f"| {name} | {rates[0]:.0f} {unit} | {rates[1]:.0f} {unit} | {rates[1] / rates[0]:.2f}x |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    if parallel._set_blas_threads is None or parallel.workers < 2:
        sys.exit("scaling.py: needs 2 cores (TINYCNN_NUM_THREADS) and OpenBLAS's thread setting")
    rng = np.random.default_rng(0)
    print(f"{machine()}; {blas()}; commit {commit()}\n")
    print("| work | one thread | two threads, together | two / one |\n|---|---:|---:|---:|")

    # Y = W @ col of 64 -> 64 channels by kernel rows, a chunk of 32 images at 8x8
    weights = [rng.standard_normal((192, 192), dtype=np.float32) for _ in range(2)]
    cols = [rng.standard_normal((192, 2048), dtype=np.float32) for _ in range(2)]
    outs = [np.empty((192, 2048), dtype=np.float32) for _ in range(2)]
    throughput("matrix product (192 x 192) @ (192 x 2048), float32",
               lambda i: np.matmul(weights[i], cols[i], out=outs[i]), 2 * 192 * 192 * 2048 / 1e9, "GFLOP/s", 200)
    for floats, where in ((1 << 24, "from memory (64 MiB arrays)"), (1 << 16, "within the cache (256 KiB arrays)")):
        src = [rng.standard_normal(floats, dtype=np.float32) for _ in range(2)]
        dst = [np.empty(floats, dtype=np.float32) for _ in range(2)]
        throughput(f"copy {where}, read + written", lambda i: np.copyto(dst[i], src[i]), 2 * 4 * floats / 1e9,
                   "GB/s", max(20, (1 << 26) // floats))

    print("\n| ResNet-20 conv, batch 128 | one core | two cores | speed-up |\n|---|---:|---:|---:|")
    for channels, size in ((16, 32), (32, 16), (64, 8)):
        x = rng.standard_normal((channels, 128, size, size), dtype=np.float32).transpose(1, 0, 2, 3)
        dy = rng.standard_normal((channels, 128, size, size), dtype=np.float32).transpose(1, 0, 2, 3)
        W = rng.standard_normal((channels, channels, 3, 3), dtype=np.float32) * 0.1
        _, cache = conv.conv2d_forward(x, W, None, (1, 1), (1, 1))
        for name, fn in (("forward", lambda: conv.conv2d_forward(x, W, None, (1, 1), (1, 1))),
                         ("backward", lambda: conv.conv2d_backward(dy, cache, need_db=False))):
            def on(cores, fn=fn):
                def run():
                    with parallel.cores(cores):
                        fn()
                return run
            one, two = median_times([on(1), on(2)], repeats=args.repeats)
            print(f"| {channels}->{channels}, {size}x{size}, {name} | {one * 1e3:.2f} ms | {two * 1e3:.2f} ms | "
                  f"{one / two:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
