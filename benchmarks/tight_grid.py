"""The probe behind the library's grid without padding columns (commit d32f643): the stride-1 forward on it.

Written when tinycnn's grid still had padding columns; since d32f643 tinycnn.functional.conv does this itself
(for every kernel, padding and dilation, forward and backward), and since the twenty-seventh session it reads the
rows straight from x, with no grid at all. What the probe still shows is --pad: rows of exactly m floats against
rows padded by 16. It read:

tinycnn's shift path lays each padded image on a grid of Hp x Wp positions (Wp = W + 1 for a 3x3 kernel with
padding 1: one zero column per row, shared between neighbouring rows), and the forward by kernel rows computes
every kernel column's share at all OH x Wp positions of the grid rows that hold outputs, one in Wp of them wasted.
On a grid of rows W wide (zero rows above and below each image, no zero columns) a share taken from j - PW columns
further along would run into the neighbouring row's first (or last) columns; zeroing those columns of that share,
which no output of their own row uses, makes the flat shifted adds exact again:

    y[oh, ow] = sum_j P_j[oh, ow + j - PW],  P_j = (kernel column j's weights) @ (rows of x shifted by whole rows)

Then the products and copies are W/Wp of today's, the pad copies whole rows, and y is written in place (no crop).
This script builds that forward for 3x3 kernels with padding 1 (chunks of images on both cores, like tinycnn's),
checks it against tinycnn.functional.conv2d_forward and times both, with the column matrix and the product in
arrays whose rows are `--pad` floats longer than they need to be: with --pad 0 a chunk's row length is a multiple
of 4 KiB at 32x32, and OpenBLAS slows down on such strides.

    python benchmarks/tight_grid.py [--repeats 21] [--pad 16]
"""
import argparse
import os
import sys
from functools import partial

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from harness import median_times  # noqa: E402

from tinycnn import parallel  # noqa: E402
from tinycnn.functional import conv as F  # noqa: E402
from tinycnn.functional import grid  # noqa: E402


def forward_tight(x, W, pad):
    """conv2d(x, W) for a 3x3 kernel, stride 1, padding 1, on a grid W wide; returns y (N, C_out, H, W)."""
    N, C_in, H, Wd = x.shape
    C_out, _, KH, KW = W.shape
    PH = PW = 1
    Hp = H + PH                                                 # zero rows shared between images
    image, rows = Hp * Wd, H * Wd                               # grid positions per image; those with outputs
    src = np.zeros((C_in, N * image + (KH - 1) * Wd), dtype=x.dtype)
    parallel.copy(src[:, :N * image].reshape(C_in, N, image)[:, :, PH * Wd:(PH + H) * Wd],
                  x.transpose(1, 0, 2, 3).reshape(C_in, N, rows))
    y = np.empty((C_out, N, H, Wd), dtype=x.dtype)
    W_taps = grid.column_taps_weight(W, 1)[0]                   # (KW*C_out, KH*C_in), rows (j, o), columns (i, c)

    def chunk(n0, n1):
        m = (n1 - n0) * rows
        col = np.empty((KH * C_in, m + pad), dtype=x.dtype)[:, :m]
        col.reshape(KH, C_in, n1 - n0, rows)[...] = np.lib.stride_tricks.as_strided(
            src[:, n0 * image:], shape=(KH, C_in, n1 - n0, rows),
            strides=(Wd * src.itemsize, src.strides[0], image * src.itemsize, src.itemsize))
        P = np.empty((KW * C_out, m + pad), dtype=x.dtype)[:, :m]
        F._matmul(W_taps[None], col[None], P[None])                # tinycnn's product, pieces where they pay
        P = P.reshape(KW, C_out, m)
        for j in range(KW):                                     # the columns no output of their own row uses
            d = j - PW
            by_row = P[j].reshape(C_out, -1, Wd)
            if d > 0:
                by_row[:, :, :d] = 0
            elif d < 0:
                by_row[:, :, Wd + d:] = 0
        out = y[:, n0:n1].reshape(C_out, m)                     # y[t] = sum_j P_j[t + j - PW], in place
        out[...] = P[PW]
        for j in range(KW):
            d = j - PW
            if d > 0:
                out[:, :m - d] += P[j, :, d:]
            elif d < 0:
                out[:, -d:] += P[j, :, :m + d]
    parallel.run([partial(chunk, n0, n1) for n0, n1 in F._chunks(N, KH * C_in * rows)])
    return y.transpose(1, 0, 2, 3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--pad", type=int, default=16, help="floats added to each row of the chunk's arrays")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"ms, medians of {args.repeats} repeats after warm-up, taken in turns; rows padded by {args.pad} floats")
    print("| conv (N, C_in->C_out, HxW) | max abs. difference | tinycnn | this probe | ratio |")
    print("|---|---:|---:|---:|---:|")
    for C, S in ((16, 32), (32, 16), (64, 8)):
        x = rng.standard_normal((C, 128, S, S), dtype=np.float32).transpose(1, 0, 2, 3)   # channels-major
        W = rng.standard_normal((C, C, 3, 3), dtype=np.float32)
        diff = float(np.abs(forward_tight(x, W, args.pad) - F.conv2d_forward(x, W, None, (1, 1), (1, 1))[0]).max())
        t = median_times([lambda: F.conv2d_forward(x, W, None, (1, 1), (1, 1)),
                          lambda: forward_tight(x, W, args.pad)], repeats=args.repeats)
        print(f"| 128, {C}->{C}, {S}x{S} | {diff:.1e} | {t[0] * 1e3:.2f} | {t[1] * 1e3:.2f} | {t[1] / t[0]:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
