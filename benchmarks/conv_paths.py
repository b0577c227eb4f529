"""The two ways tinycnn computes a stride-1 convolution, side by side on one core: the shift path (contiguous
column copies read straight from x, dx as a "full" convolution) and im2col's (exact columns image by image, dx by
col2im). tinycnn.functional.conv._shift_pays picks one by shape; this measures both for the shapes of the
make-train network (fastnet (64, 128, 256)) and of ResNet-20, and for other kernels and small maps, then a whole
one-core training step of each model with the rule against the shift path everywhere, steps taken in turns.

    python benchmarks/conv_paths.py [--batch 32] [--repeats 12]

Batch 32 is what each of `make train`'s two processes computed at its batch of 64 (until 2026-11-24); at its
batch of 128 now, each computes 64 (`--batch 64`).
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from harness import median_times, training_step  # noqa: E402

import tinycnn  # noqa: E402
from tinycnn import models, parallel  # noqa: E402
from tinycnn.functional import conv  # noqa: E402
from tinycnn.functional.im2col import conv_output_size  # noqa: E402

SHAPES = [  # (C_in, C_out, map size, kernel, padding, dilation)
    (24, 64, 31, 3, 1, 1), (64, 64, 15, 3, 1, 1), (64, 128, 15, 3, 1, 1), (128, 128, 7, 3, 1, 1),   # fastnet
    (128, 256, 7, 3, 1, 1), (256, 256, 3, 3, 1, 1),
    (3, 16, 32, 3, 1, 1), (16, 16, 32, 3, 1, 1), (32, 32, 16, 3, 1, 1), (64, 64, 8, 3, 1, 1),      # ResNet-20
    (16, 64, 32, 3, 1, 1), (64, 256, 8, 1, 0, 1), (256, 64, 8, 1, 0, 1), (3, 64, 32, 7, 3, 1),     # other kernels
    (32, 32, 16, 5, 2, 1), (64, 64, 16, 3, 2, 2), (32, 32, 16, 3, 0, 1), (32, 32, 16, 2, 0, 1),
    (128, 128, 4, 3, 1, 1), (64, 64, 2, 3, 1, 1), (512, 512, 2, 3, 1, 1),                           # small maps
    (64, 64, 1, 3, 1, 1), (256, 256, 1, 3, 1, 1), (512, 512, 1, 1, 0, 1)]
RULE = conv._shift_pays


def path_times(C_in, C_out, size, kernel, padding, dilation, batch, repeats, shift):
    """Median ms of forward, dW and dx of one convolution with the path forced."""
    conv._shift_pays = lambda *shape: shift
    rng = np.random.default_rng(0)
    x = rng.standard_normal((C_in, batch, size, size), dtype=np.float32).transpose(1, 0, 2, 3)  # channels-major
    W = rng.standard_normal((C_out, C_in, kernel, kernel), dtype=np.float32)
    args = (None, (1, 1), (padding, padding), (dilation, dilation), 1)
    out = conv_output_size(size, kernel, 1, padding, dilation)
    dy = rng.standard_normal((C_out, batch, out, out), dtype=np.float32).transpose(1, 0, 2, 3)
    times = [], [], []
    for r in range(repeats + 2):
        t0 = time.perf_counter()
        _, cache = conv.conv2d_forward(x, W, *args)
        t1 = time.perf_counter()
        conv.conv2d_backward(dy, cache, need_dx=False, need_db=False)
        t2 = time.perf_counter()
        conv.conv2d_backward(dy, cache, need_dW=False, need_db=False)
        t3 = time.perf_counter()
        if r >= 2:
            for ts, t in zip(times, (t1 - t0, t2 - t1, t3 - t2)):
                ts.append(t)
    return [1e3 * statistics.median(ts) for ts in times]


def with_rule(rule, step):
    """step() run with _shift_pays replaced by rule."""
    def run():
        conv._shift_pays = rule
        step()
    return run


def model(name):
    tinycnn.manual_seed(0)
    if name == "resnet20":
        return models.resnet20()
    net = models.fastnet(widths=(64, 128, 256), identity=True)
    net.features.whiten.bias.requires_grad = False        # as from make train's 4th epoch
    return net


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=12)
    args = parser.parse_args()
    print(f"one core, batch {args.batch}, medians of {args.repeats} (ms)\n")
    print("| convolution | rule picks | forward shift / im2col | dW shift / im2col | dx shift / im2col | "
          "all three, shift / im2col |")
    print("|---|---|---:|---:|---:|---:|")
    with parallel.cores(1):
        for shape in SHAPES:
            C_in, C_out, size, kernel, padding, dilation = shape
            out = conv_output_size(size, kernel, 1, padding, dilation)
            rule = "shift" if RULE(out, out) else "im2col"
            a = path_times(*shape, args.batch, args.repeats, True)
            b = path_times(*shape, args.batch, args.repeats, False)
            cells = " | ".join(f"{u:.2f} / {v:.2f}" for u, v in zip(a, b))
            name = f"{C_in}->{C_out}, {size}x{size}" + (f", {kernel}x{kernel} p{padding} d{dilation}"
                                                           if (kernel, padding, dilation) != (3, 1, 1) else "")
            print(f"| {name} | {rule} | {cells} | {sum(a) / sum(b):.2f} |", flush=True)
        print("\n| one-core training step | rule (ms) | shift everywhere (ms) | rule / shift |")
        print("|---|---:|---:|---:|")
        for name in ("fastnet", "resnet20"):
            step = training_step(model(name), args.batch)
            a, b = (1e3 * t for t in median_times([with_rule(RULE, step), with_rule(lambda *shape: True, step)],
                                                  repeats=2 * args.repeats))
            print(f"| {name} | {a:.1f} | {b:.1f} | {a / b:.3f} |", flush=True)
    conv._shift_pays = RULE


if __name__ == "__main__":
    main()
