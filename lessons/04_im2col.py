"""Lesson 4: im2col, or how a convolution becomes one matrix product.

Copy every receptive field of the input into a column of a matrix (im2col); then all outputs of all filters
are one product W_mat @ col, which BLAS computes far faster than loops. The price is memory: every input pixel
is copied up to KH*KW times. The small worked example is lesson 1's (the 3x3 input 0..8, the 2x2 kernel 0..3).
"""
import argparse
import os
import time

import numpy as np

from tinycnn import viz
from tinycnn.functional import conv2d_forward, im2col, naive

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--full", action="store_true", help="time a larger batch")
parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
args = parser.parse_args()

X = np.arange(9.0).reshape(1, 1, 3, 3)                  # (N, C, H, W)
W = np.arange(4.0).reshape(1, 1, 2, 2)                  # (C_out, C_in, KH, KW)
# im2col takes the batch channels-major, (C, N, H, W), tinycnn's memory layout (see tinycnn/functional/im2col.py)
col = im2col(X.transpose(1, 0, 2, 3), 2, 2, 2, 2)       # (KH*KW*C, N*OH*OW): one receptive field per column
print("column matrix (one column per output position):\n", col)
Y = W.reshape(1, -1) @ col                              # W_mat (C_out, KH*KW*C) @ col
print("W_mat @ col =", Y, "-> reshaped to 2x2:", Y.reshape(2, 2).tolist())
assert Y.reshape(2, 2).tolist() == [[19, 25], [37, 43]]

# The speed-up on a real layer: 3 -> 16 channels, 3x3, on 32x32 images.
rng = np.random.default_rng(0)
N = 32 if args.full else 4
x = rng.standard_normal((N, 3, 32, 32))
w = rng.standard_normal((16, 3, 3, 3))
start = time.perf_counter()
y_naive = naive.conv2d_forward(x, w, None, (1, 1), (1, 1))
t_naive = time.perf_counter() - start
start = time.perf_counter()
y_fast, _ = conv2d_forward(x, w, None, (1, 1), (1, 1))
t_fast = time.perf_counter() - start
print(f"batch {N}: loops {t_naive * 1e3:.0f} ms, im2col + GEMM {t_fast * 1e3:.1f} ms: "
      f"{t_naive / t_fast:.0f}x faster, same result: {np.allclose(y_naive, y_fast)}")
assert np.allclose(y_naive, y_fast) and t_fast < t_naive

# What the column matrix costs: KH*KW copies of (almost) every input value.
for name, C, H, K, batch in [("ResNet-20 layer 16->16 at 32x32", 16, 32, 3, 128), ("VGG-16 conv1_2 at 224x224", 64, 224, 3, 32)]:
    input_mib = batch * C * H * H * 4 / 2 ** 20
    col_mib = K * K * C * batch * H * H * 4 / 2 ** 20
    print(f"{name}, batch {batch}: input {input_mib:.0f} MiB, column matrix {col_mib:.0f} MiB ({K * K}x)")

viz.plot_images([X[0, 0], W[0, 0], col], ["input 3x3", "kernel 2x2", "im2col: columns = receptive fields"],
                os.path.join(args.out, "04_im2col.png"))
print(f"figure: {args.out}/04_im2col.png")
