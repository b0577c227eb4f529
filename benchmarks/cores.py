"""One core or two: a fastnet training step (batch 64, the make-train recipe's network) and a ResNet-20 step
(batch 128), alternating two-core and one-core settings (the thread pool and OpenBLAS at 2, then both at 1) in
one process; median and min over rounds.

    python benchmarks/cores.py [ROUNDS]      (default 8; benchmarks/RESULTS.md's table used 6)
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from harness import training_step  # noqa: E402

import tinycnn  # noqa: E402
from tinycnn import models, parallel  # noqa: E402


def make(name, batch):
    tinycnn.manual_seed(0)
    model = models.fastnet(widths=(32, 64, 128), identity=True) if name == "fastnet" else models.resnet20()
    return training_step(model, batch)


def setting(cores):
    parallel.workers = cores
    parallel._set_blas_threads(cores)


if parallel._set_blas_threads is None:
    sys.exit("cores.py: OpenBLAS's thread setting was not found, so one core cannot be compared with two")
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 8
for name, batch, reps in [("fastnet", 64, 5), ("resnet20", 128, 2)]:
    step = make(name, batch)
    times = {1: [], 2: []}
    for cores in (2, 1):
        setting(cores); step()
    for r in range(rounds):
        for cores in ((2, 1) if r % 2 == 0 else (1, 2)):
            setting(cores)
            t = time.perf_counter()
            for _ in range(reps):
                step()
            times[cores].append((time.perf_counter() - t) / reps * 1e3)
    m = {c: (np.median(v), np.min(v)) for c, v in times.items()}
    print(f"{name} batch {batch}: two cores median {m[2][0]:.0f} ms (min {m[2][1]:.0f}), one core median "
          f"{m[1][0]:.0f} ms (min {m[1][1]:.0f}); one/two = {m[1][0] / m[2][0]:.2f} (medians), "
          f"{m[1][1] / m[2][1]:.2f} (mins); one-core faster in "
          f"{sum(a < b for a, b in zip(times[1], times[2]))} of {rounds} rounds", flush=True)
