"""Lesson 19: the same code on a GPU.

Every tinycnn op takes its array module from its inputs, so ``tinycnn.use("cupy")`` (or TINYCNN_BACKEND=cupy)
and ``model.to("cupy")`` run the same layers on a GPU through CuPy. This lesson times one ResNet-20 training
step on both; without CuPy and a GPU it says so and stops (the test suite then reports it as skipped).
"""
import os
import sys
import time

import numpy as np

import tinycnn
from tinycnn import backend, models, nn, optim, viz
from course import arguments

args = arguments(__doc__, "more repeats")
if not backend.cupy_available():
    print("skipped: CuPy with a GPU is not available here (pip install tinycnn[gpu] on a machine with one)")
    sys.exit(3)


def step_time(device, repeats):
    tinycnn.use(device)
    xp = backend.xp_of(device)
    model = models.resnet20().to(device)
    loss_fn, opt = nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = xp.asarray(np.random.default_rng(0).standard_normal((128, 3, 32, 32)), dtype=xp.float32)
    y = xp.asarray(np.random.default_rng(1).integers(0, 10, 128))
    times = []
    for _ in range(repeats + 2):
        start = time.perf_counter()
        loss_fn(model(x), y)
        opt.zero_grad()
        model.backward(loss_fn.backward())
        opt.step()
        if device == "cupy":
            xp.cuda.Device().synchronize()                    # wait for the GPU before reading the clock
        times.append(time.perf_counter() - start)
    return float(np.median(times[2:]))


repeats = 20 if args.full else 5
cpu, gpu = step_time("numpy", repeats), step_time("cupy", repeats)
print(f"ResNet-20 training step, batch 128: CPU {cpu * 1e3:.0f} ms, GPU {gpu * 1e3:.1f} ms ({cpu / gpu:.0f}x)")
viz.plot_bars(["NumPy (CPU)", "CuPy (GPU)"], [cpu * 1e3, gpu * 1e3], os.path.join(args.out, "19_gpu.png"),
              title="ResNet-20 training step, batch 128 (ms)")
