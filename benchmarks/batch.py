"""Training speed against batch size: one step of the `make train` network (fastnet, widths 32/64/128) at several
batch sizes, as milliseconds per image, the batch sizes taken in turns. A smaller batch gives more optimizer steps
in the same epoch; this says what it costs in speed on this CPU.

    python benchmarks/batch.py [--batches 64,128,256] [--repeats 7]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from harness import machine, median_times, training_step  # noqa: E402

import tinycnn  # noqa: E402
from tinycnn import models  # noqa: E402


def fastnet_step(batch):
    tinycnn.manual_seed(0)
    return training_step(models.fastnet(widths=(32, 64, 128)), batch, weight_decay=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", default="64,128,256")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    # about as many images per timed call at every batch size, so each repeat weighs the same
    calls = [max(1, max(batches) // b) for b in batches]
    steps = [lambda step=fastnet_step(b), n=n: [step() for _ in range(n)] for b, n in zip(batches, calls)]
    times = median_times(steps, args.repeats)
    print(f"{machine()}; NumPy {np.__version__}; fastnet (32, 64, 128) training step, median of {args.repeats}")
    print("| batch | ms per step | ms per image |\n|---:|---:|---:|")
    for b, n, t in zip(batches, calls, times):
        print(f"| {b} | {t / n * 1e3:.0f} | {t / n / b * 1e3:.2f} |")


if __name__ == "__main__":
    main()
