"""Lesson 5: pooling, maximum and average, with padding and stride, channel by channel.

Examples from Dive into Deep Learning, section 7.5: 2x2 max pooling of the 3x3 input 0..8 gives [[4, 5],
[7, 8]], average pooling [[2, 3], [5, 6]]; a 3x3 window with padding 1 and stride 2 on 0..15 gives
[[5, 7], [13, 15]]. Padding in max pooling must act as -infinity: with zeros, an all-negative input would
come out as 0 at the borders.
"""
import argparse
import os

import numpy as np

from tinycnn import nn, viz

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--full", action="store_true", help="(nothing longer to run in this lesson)")
parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
args = parser.parse_args()

X = np.arange(9.0, dtype=np.float32).reshape(1, 1, 3, 3)
maxed = nn.MaxPool2d(2, stride=1)(X)[0, 0]
averaged = nn.AvgPool2d(2, stride=1)(X)[0, 0]
print("max pool 2x2:\n", maxed, "\navg pool 2x2:\n", averaged)
assert maxed.tolist() == [[4, 5], [7, 8]] and averaged.tolist() == [[2, 3], [5, 6]]

X16 = np.arange(16.0, dtype=np.float32).reshape(1, 1, 4, 4)
print("3x3 window, default stride 3 (= the window):", nn.MaxPool2d(3)(X16)[0, 0].tolist())
padded = nn.MaxPool2d(3, stride=2, padding=1)(X16)[0, 0]
print("3x3 window, padding 1, stride 2:\n", padded)
assert nn.MaxPool2d(3)(X16)[0, 0].tolist() == [[10]] and padded.tolist() == [[5, 7], [13, 15]]

# Channels are pooled separately: two channels in, two out.
X2 = np.concatenate([X16, X16 + 1], axis=1)
two = nn.MaxPool2d(3, stride=2, padding=1)(X2)[0]
print("two channels:\n", two)
assert two.shape == (2, 2, 2) and np.array_equal(two[1], two[0] + 1)

# Padding acts as -inf: on all-negative numbers every window still returns a real input value.
negative = -1 - X16
pooled = nn.MaxPool2d(3, stride=2, padding=1)(negative)[0, 0]
zero_padded = np.pad(negative[0, 0], 1)                         # what zero padding would see
wrong = np.array([[zero_padded[i:i + 3, j:j + 3].max() for j in (0, 2)] for i in (0, 2)])
print("all-negative input, -inf padding:", pooled.tolist(), " zero padding would give:", wrong.tolist())
assert (pooled < 0).all() and wrong[0, 0] == 0 and pooled[0, 0] == negative[0, 0, :2, :2].max()

viz.plot_images([X16[0, 0], padded, negative[0, 0], pooled],
                ["input 0..15", "max 3x3, pad 1, stride 2", "negative input", "max pool of it (pad = -inf)"],
                os.path.join(args.out, "05_pooling.png"))
print(f"figure: {args.out}/05_pooling.png")
