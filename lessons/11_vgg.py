"""Lesson 11: VGG, a network built from a list of blocks.

Simonyan & Zisserman (2015) used only 3x3 convolutions and 2x2 max pools, repeated in blocks; the whole
network is one configuration list. VGG-16 as published has 138,357,544 parameters, most of them in its first
fully connected layer; a CIFAR-size VGG keeps the blocks and drops that classifier.
"""
import argparse
import os

import numpy as np

from tinycnn import models, nn, optim, viz
from tinycnn.models.vgg import CONFIGS
from tinycnn.summary import summary

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--full", action="store_true", help="train the CIFAR VGG for longer on random data")
parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
args = parser.parse_args()

print("VGG-16's configuration:", CONFIGS[16])
big = models.vgg16()
print(f"VGG-16 (ImageNet): {big.num_parameters():,} parameters")
assert big.num_parameters() == 138_357_544
first_fc = big.classifier[0]
print(f"  of which the first fully connected layer {first_fc.weight.shape}: "
      f"{first_fc.weight.data.size + first_fc.bias.data.size:,} "
      f"({(first_fc.weight.data.size + first_fc.bias.data.size) / big.num_parameters():.0%})")
layers = [(name, m) for name, m in big.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
labels = [f"{name}: conv {m.in_channels}->{m.out_channels}" if isinstance(m, nn.Conv2d) else
          f"{name}: linear {m.in_features}->{m.out_features}" for name, m in layers]
counts = [sum(p.data.size for p in m.parameters()) for _, m in layers]
fc6 = next(i for i, (_, m) in enumerate(layers) if isinstance(m, nn.Linear))          # the first linear layer
viz.plot_bars(labels, counts, os.path.join(args.out, "11_vgg_parameters.png"), xlabel="parameters",
              title=f"VGG-16: {big.num_parameters():,} parameters, {counts[fc6] / sum(counts):.0%} in one layer")
print(f"figure: {args.out}/11_vgg_parameters.png")
del big

small = models.vgg11(cifar=True, width=0.25, batch_norm=True)
s = summary(small, (3, 32, 32), batch_size=128)
print(f"VGG-11 for CIFAR at a quarter width: {s.total_params:,} parameters, {s.total_macs / 1e6:.0f} M MACs per image")
blocks = [row for row in s.rows if row[1] == "MaxPool2d"]
print("the map size after each block:", [row[2][1:] for row in blocks])
assert [row[2][1] for row in blocks] == [16, 8, 4, 2, 1]

rng = np.random.default_rng(0)
x = rng.standard_normal((64, 3, 32, 32)).astype(np.float32)
y = rng.integers(0, 10, 64)
opt, loss_fn = optim.SGD(small.parameters(), lr=0.05, momentum=0.9), nn.CrossEntropyLoss()
losses = []
for _ in range(30 if args.full else 8):
    losses.append(loss_fn(small(x), y))
    opt.zero_grad()
    small.backward(loss_fn.backward())
    opt.step()
print(f"fitting 64 images: loss {losses[0]:.3f} -> {losses[-1]:.3f}")
assert losses[-1] < losses[0]
