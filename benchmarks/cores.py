"""One core, two cores, or two processes: a fastnet training step (batch 64, the make-train recipe's network) and a
ResNet-20 step (batch 128) in four settings, their rounds interleaved in one run: "two cores" (one process, the
thread pool and OpenBLAS at 2), "one core" (both at 1), "two processes" (tinycnn.data_parallel: the batch split
over two processes of one core each; batch norm then normalises each half on its own) and "two processes, synced
batch norm" (the same with sync_batch_norm=True: the whole batch's statistics). Median and min over rounds.

    python benchmarks/cores.py [ROUNDS]      (default 8)
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from harness import training_setup, training_step  # noqa: E402

import tinycnn  # noqa: E402
from tinycnn import models, parallel  # noqa: E402
from tinycnn.data_parallel import DataParallel  # noqa: E402


def model(name):
    tinycnn.manual_seed(0)
    return models.fastnet(widths=(64, 128, 256), identity=True) if name == "fastnet" else models.resnet20()


def in_setting(cores, step):
    def run():
        with parallel.cores(cores):
            step()
    return run


def two_processes(name, batch, sync_batch_norm=False):
    net = model(name)
    x, y, loss_fn, opt = training_setup(net, batch)
    dp = DataParallel(net, loss_fn, 2, sync_batch_norm)   # each process on parallel.workers // 2 = 1 core

    def step():
        opt.zero_grad()
        dp.step(x, y)
        opt.step()
    return step, dp.close


if parallel._set_blas_threads is None or parallel.workers != 2:
    sys.exit("cores.py: needs 2 cores (TINYCNN_NUM_THREADS) and OpenBLAS's thread setting")
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 8
for name, batch, reps in [("fastnet", 64, 5), ("resnet20", 128, 2)]:
    parallel_step, close = two_processes(name, batch)
    synced_step, close_synced = two_processes(name, batch, sync_batch_norm=True)
    steps = {"two cores": in_setting(2, training_step(model(name), batch)),
             "one core": in_setting(1, training_step(model(name), batch)),
             "two processes": parallel_step, "two processes, synced batch norm": synced_step}
    times = {k: [] for k in steps}
    for step in steps.values():
        step()
    for r in range(rounds):
        for key in (list(steps) if r % 2 == 0 else list(steps)[::-1]):
            t = time.perf_counter()
            for _ in range(reps):
                steps[key]()
            times[key].append((time.perf_counter() - t) / reps * 1e3)
    close()
    close_synced()
    m = {k: (np.median(v), np.min(v)) for k, v in times.items()}
    base = times["two cores"]
    print(f"{name} batch {batch}: " + "; ".join(
        f"{k} median {m[k][0]:.0f} ms (min {m[k][1]:.0f}), {m[k][0] / m['two cores'][0]:.2f}x two cores'"
        + ("" if k == "two cores" else f", faster than two cores in {sum(a < b for a, b in zip(v, base))}/{rounds}")
        for k, v in times.items()), flush=True)
