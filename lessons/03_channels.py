"""Lesson 3: multiple input and output channels, and the 1x1 convolution.

With several input channels, each has its own kernel and the results add up; each output channel has its own
set of such kernels. Worked example from Dive into Deep Learning, section 7.4: inputs 0..8 and 1..9 with kernels
0..3 and 1..4 give [[56, 72], [104, 120]]. A 1x1 convolution is a fully connected layer applied at every pixel.
"""
import argparse
import os

import numpy as np

from tinycnn import nn, viz

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--full", action="store_true", help="(nothing longer to run in this lesson)")
parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
args = parser.parse_args()

X = np.stack([np.arange(9.0).reshape(3, 3), np.arange(1.0, 10.0).reshape(3, 3)])      # (C_in=2, 3, 3)
K = np.stack([np.arange(4.0).reshape(2, 2), np.arange(1.0, 5.0).reshape(2, 2)])        # (C_in=2, 2, 2)
conv = nn.Conv2d(2, 1, 2, bias=False)
conv.weight.data[0] = K
Y = conv(X[None].astype(np.float32))[0, 0]
print("two input channels:\n", Y)
assert Y[0, 0] == 56 and Y.tolist() == [[56, 72], [104, 120]]   # 19 (channel 0) + 37 (channel 1) = 56

# Three output channels: the kernels K, K + 1, K + 2 stacked on a new first axis: weight (3, 2, 2, 2).
conv3 = nn.Conv2d(2, 3, 2, bias=False)
conv3.weight.data = np.stack([K, K + 1, K + 2]).astype(np.float32)
Y3 = conv3(X[None].astype(np.float32))[0]
print("three output channels:\n", Y3)
assert Y3.shape == (3, 2, 2) and Y3[0].tolist() == Y.tolist()

# A 1x1 convolution mixes channels at each pixel: the same as a Linear layer on every pixel's channel vector.
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
one_by_one = nn.Conv2d(3, 5, 1)
linear = nn.Linear(3, 5)
linear.weight.data, linear.bias.data = one_by_one.weight.data.reshape(5, 3), one_by_one.bias.data
y_conv = one_by_one(x)
y_linear = linear(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)   # pixels as rows, channels as features
print("1x1 conv == Linear at every pixel:", np.allclose(y_conv, y_linear, atol=1e-6))
assert np.allclose(y_conv, y_linear, atol=1e-6)

viz.plot_images(list(X) + list(Y3), ["input channel 0", "input channel 1"] + [f"output channel {i}" for i in range(3)],
                os.path.join(args.out, "03_channels.png"))
print(f"figure: {args.out}/03_channels.png")
