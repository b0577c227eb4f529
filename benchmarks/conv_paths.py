"""The two ways tinycnn computes a stride-1 convolution, side by side on one core: the shift path (contiguous
column copies on the padded grid, dx as a "full" convolution) and im2col's (exact columns image by image, dx by
col2im). tinycnn.functional.conv._shift_pays picks one by shape; this measures both for the shapes of the
make-train network (fastnet (64, 128, 256)) and of ResNet-20, then a whole one-core training step of each model
with the rule against the shift path everywhere (the rule before the eleventh session), steps taken in turns.

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

SHAPES = [  # (C_in, C_out, map size), all 3x3 kernels with padding 1
    (24, 64, 31), (64, 64, 15), (64, 128, 15), (128, 128, 7), (128, 256, 7), (256, 256, 3),   # fastnet
    (3, 16, 32), (16, 16, 32), (32, 32, 16), (64, 64, 8)]                                     # ResNet-20
RULE = conv._shift_pays


def path_times(C_in, C_out, size, batch, repeats, shift):
    """Median ms of forward, dW and dx of one convolution with the path forced."""
    conv._shift_pays = lambda *shape: shift
    rng = np.random.default_rng(0)
    x = rng.standard_normal((C_in, batch, size, size), dtype=np.float32).transpose(1, 0, 2, 3)  # channels-major
    W = rng.standard_normal((C_out, C_in, 3, 3), dtype=np.float32)
    dy = rng.standard_normal((C_out, batch, size, size), dtype=np.float32).transpose(1, 0, 2, 3)
    times = [], [], []
    for r in range(repeats + 2):
        t0 = time.perf_counter()
        _, cache = conv.conv2d_forward(x, W, None, (1, 1), (1, 1), (1, 1), 1)
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
    print("| convolution | rule picks | forward shift / im2col | dW shift / im2col | dx shift / im2col |")
    print("|---|---|---:|---:|---:|")
    with parallel.cores(1):
        for C_in, C_out, size in SHAPES:
            rule = "shift" if RULE(C_in, C_out, size, size, 3, 3, 1, 1, 1, 1) else "im2col"
            a = path_times(C_in, C_out, size, args.batch, args.repeats, True)
            b = path_times(C_in, C_out, size, args.batch, args.repeats, False)
            cells = " | ".join(f"{u:.2f} / {v:.2f}" for u, v in zip(a, b))
            print(f"| {C_in}->{C_out}, {size}x{size} | {rule} | {cells} |", flush=True)
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
