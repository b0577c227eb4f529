"""Lesson 2: padding and stride, and the output-size formula.

Along each axis a window of size k, moved in steps of s over an input of size n padded by p on both sides,
fits floor((n - k + 2p) / s) + 1 times. Examples from Dive into Deep Learning, section 7.3, checked against
tinycnn's layer; then the question students meet: for a 4x4 input, a (2, 3) window and a (2, 3) stride, which
padding gives a 2x2 output?
"""
import argparse
import os

import numpy as np

from tinycnn import nn, viz
from tinycnn.functional import conv_output_size, pad2d

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--full", action="store_true", help="(nothing longer to run in this lesson)")
parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
args = parser.parse_args()

x = np.zeros((1, 1, 8, 8), dtype=np.float32)
cases = [dict(kernel_size=3, padding=1), dict(kernel_size=(5, 3), padding=(2, 1)),
         dict(kernel_size=3, padding=1, stride=2), dict(kernel_size=(3, 5), padding=(0, 1), stride=(3, 4))]
print(f"{'kernel':>8} {'padding':>8} {'stride':>8}   formula   layer")
for case in cases:
    layer = nn.Conv2d(1, 1, **case)
    (kh, kw), (ph, pw), (sh, sw) = layer.kernel_size, layer.padding, layer.stride
    formula = (conv_output_size(8, kh, sh, ph), conv_output_size(8, kw, sw, pw))
    shape = layer(x).shape[2:]
    print(f"{str((kh, kw)):>8} {str((ph, pw)):>8} {str((sh, sw)):>8}   {formula}   {shape}")
    assert formula == shape
# D2L's answers: 8x8, 8x8, 4x4, 2x2
assert [nn.Conv2d(1, 1, **c)(x).shape[2:] for c in cases] == [(8, 8), (8, 8), (4, 4), (2, 2)]

image = np.arange(1.0, 10.0).reshape(3, 3)
padded = pad2d(image, 1, 1)
print("a 3x3 image padded by 1 becomes 5x5:\n", padded)
assert padded.shape == (5, 5) and padded[1:4, 1:4].tolist() == image.tolist()

strided = nn.Conv2d(1, 1, 3, stride=(3, 2), padding=1)   # stride 3 down the rows, 2 across the columns
print("stride (3, 2) on 8x8 with padding 1 ->", strided(x).shape[2:])
assert strided(x).shape[2:] == (conv_output_size(8, 3, 3, 1), conv_output_size(8, 3, 2, 1)) == (3, 4)

# The question: 4x4 input, (2, 3) window, (2, 3) stride: which padding per axis gives 2x2?
answer = tuple(next(p for p in range(3) if conv_output_size(4, k, s, p) == 2) for k, s in ((2, 2), (3, 3)))
print("for a 4x4 input, window (2, 3) and stride (2, 3), padding", answer, "gives a 2x2 output")
assert answer == (0, 1) and nn.Conv2d(1, 1, (2, 3), stride=(2, 3), padding=answer)(
    np.zeros((1, 1, 4, 4), np.float32)).shape[2:] == (2, 2)

viz.plot_images([image, padded], ["3x3 image", "padded by 1: 5x5"], os.path.join(args.out, "02_padding.png"))
print(f"figure: {args.out}/02_padding.png")
