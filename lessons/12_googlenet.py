"""Lesson 12: GoogLeNet's Inception block and auxiliary classifiers.

An Inception block (Szegedy et al. 2015) runs 1x1, 1x1 -> 3x3, 1x1 -> 5x5 and 3x3-max-pool -> 1x1 branches
side by side and concatenates their maps: block 3a turns 192 channels into 64 + 128 + 32 + 32 = 256. In
training, two auxiliary classifiers add their losses: L = L_main + 0.3 (L_aux1 + L_aux2).
"""
import argparse
import os

import numpy as np

from tinycnn import models, nn, viz
from tinycnn.models.googlenet import BLOCKS, Inception

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--full", action="store_true", help="(nothing longer to run in this lesson)")
parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
args = parser.parse_args()

names, outs = [], []
for name, (c_in, c1, _, c3, _, c5, proj) in BLOCKS.items():
    names.append(name)
    outs.append(c1 + c3 + c5 + proj)
    print(f"inception {name}: {c_in:4d} -> {c1} + {c3} + {c5} + {proj} = {outs[-1]} channels")
assert outs[0] == 256 and outs[-1] == 1024

block = Inception(*BLOCKS["3a"])
y = block(np.random.default_rng(0).standard_normal((2, 192, 8, 8)).astype(np.float32))
print("block 3a on (2, 192, 8, 8) ->", y.shape)
assert y.shape == (2, 256, 8, 8)

net = models.googlenet(cifar=True)
x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype(np.float32)
main, aux1, aux2 = net.train()(x)                     # training: three heads
labels = np.array([3, 5])
loss_fn = models.GoogLeNetLoss()
total = loss_fn((main, aux1, aux2), labels)
l_main, l_aux1, l_aux2 = (nn.CrossEntropyLoss()(out, labels) for out in (main, aux1, aux2))
print(f"training: three outputs {main.shape}, {aux1.shape}, {aux2.shape}")
print(f"L = L_main + 0.3 (L_aux1 + L_aux2) = {l_main:.3f} + 0.3 ({l_aux1:.3f} + {l_aux2:.3f}) = {total:.3f}")
assert np.isclose(total, l_main + 0.3 * (l_aux1 + l_aux2))
dx = net.backward(loss_fn.backward())                 # all three heads' gradients reach the input
print("eval: one output", net.eval()(x).shape)
assert dx.shape == x.shape and net.eval()(x).shape == (2, 10)
print(f"GoogLeNet (ImageNet size, without its auxiliary heads): {models.googlenet(aux_logits=False).num_parameters():,} parameters")

viz.plot_bars(names, outs, os.path.join(args.out, "12_inception_channels.png"), title="output channels of each Inception block")
print(f"figure: {args.out}/12_inception_channels.png")
