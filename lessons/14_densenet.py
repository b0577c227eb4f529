"""Lesson 14: DenseNet, where each layer sees all earlier maps.

A dense layer appends k new maps to its input instead of adding to it (Huang et al. 2017), so a block of L
layers turns k0 channels into k0 + L*k. Transitions (1x1 conv, 2x2 average pool) halve channels and size between
blocks. Worked example, as in Dive into Deep Learning 8.7: 3 channels, two layers of growth 10 -> 23 channels.
"""
import argparse
import os

import numpy as np

from tinycnn import models, viz
from tinycnn.models.densenet import dense_block, transition

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--full", action="store_true", help="(nothing longer to run in this lesson)")
parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
args = parser.parse_args()

x = np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float32)
block = dense_block(2, 3, 10, bn_size=4)
y = block(x)
print("dense block, k0 = 3, L = 2, k = 10:", x.shape, "->", y.shape)
assert y.shape == (4, 3 + 2 * 10, 8, 8)
assert np.array_equal(y[:, :3], x)                     # the input is carried through unchanged
t = transition(23, 10)
print("transition 23 -> 10 channels, half the size:", t(y).shape)
assert t(y).shape == (4, 10, 4, 4)

net = models.densenet121()
channels, c = [], 64
for i, layers in enumerate((6, 12, 24, 16)):
    c += layers * 32
    channels.append(c)
    if i < 3:
        c //= 2
print("DenseNet-121 channels after each dense block:", channels)
print(f"DenseNet-121: {net.num_parameters():,} parameters")
assert channels[-1] == 1024 and net.num_parameters() == 7_978_856
viz.plot_bars([f"block {i + 1}" for i in range(4)], channels, os.path.join(args.out, "14_densenet_channels.png"),
              title="DenseNet-121: channels at the end of each dense block")
print(f"figure: {args.out}/14_densenet_channels.png")
