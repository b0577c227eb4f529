"""A probe, not part of the library: would Winograd's F(2x2, 3x3) make tinycnn's stride-1 3x3 convolutions faster?

Winograd (Lavin & Gray 2016) computes each 2x2 block of outputs from a 4x4 tile of the input with 16
multiplications per (input channel, output channel) pair where the direct method needs 36:

    Y_tile = A^T [ (G g G^T) * (B^T d B) ] A           (* elementwise over the 4x4 positions)

so the convolution becomes 16 independent matrix products U[k] (C_out, C_in) @ V[k] (C_in, tiles), 2.25x fewer
multiplications than im2col's one product, plus the transforms B^T d B (input) and A^T M A (output), which are
additions over strided views of the tiles. This script builds the forward pass that way (chunks of images on
both cores, like tinycnn's convolution), checks it against tinycnn.functional.conv2d_forward and times both
(and PyTorch's, when it is installed) at the shapes of fastnet and ResNet-20; it also times the 16 products
alone, to show how much of the time the transforms take.

    python benchmarks/winograd.py [--repeats 21]
"""
import argparse
import os
import sys
from functools import partial

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from harness import import_torch, median_times  # noqa: E402

from tinycnn import parallel  # noqa: E402
from tinycnn.functional.conv import conv2d_forward  # noqa: E402

# The transform matrices. G is applied as a product (the kernels are small); B_T and A_T, all 0 and +-1, are
# applied below as the additions they stand for.
B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float32)
G = np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]], np.float32)
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float32)


def winograd_forward(x, W):
    """conv2d(x, W) for a 3x3 kernel, stride 1, padding 1, no bias; x (N, C_in, H, W) channels-major."""
    N, C_in, H, Wd = x.shape
    C_out = W.shape[0]
    th, tw = -(-H // 2), -(-Wd // 2)                                     # tiles per column and per row
    U = np.einsum("ai,ocij,bj->aboc", G, W, G).reshape(16, C_out, C_in)   # U = G g G^T at each of 16 positions
    x_pad = np.zeros((C_in, N, 2 * th + 2, 2 * tw + 2), np.float32)
    x_pad[:, :, 1:1 + H, 1:1 + Wd] = x.transpose(1, 0, 2, 3)
    y = np.empty((C_out, N, 2 * th, 2 * tw), np.float32)

    def images(n0, n1):
        d = x_pad[:, n0:n1]
        r = [d[:, :, a:a + 2 * th:2] for a in range(4)]                  # row a of every tile
        t = [r[0] - r[2], r[1] + r[2], r[2] - r[1], r[1] - r[3]]         # B^T d: the rows
        V = np.empty((16, C_in, n1 - n0, th, tw), np.float32)
        for i in range(4):                                               # (B^T d) B: the columns
            c = [t[i][..., b:b + 2 * tw:2] for b in range(4)]
            np.subtract(c[0], c[2], out=V[4 * i])
            np.add(c[1], c[2], out=V[4 * i + 1])
            np.subtract(c[2], c[1], out=V[4 * i + 2])
            np.subtract(c[1], c[3], out=V[4 * i + 3])
        M = np.matmul(U, V.reshape(16, C_in, -1)).reshape(4, 4, C_out, n1 - n0, th, tw)   # 16 products
        s = [M[0] + M[1] + M[2], M[1] - M[2] - M[3]]                     # A^T M: the rows
        for a in range(2):                                               # (A^T M) A: the columns
            np.add(s[a][0] + s[a][1], s[a][2], out=y[:, n0:n1, a::2, 0::2])
            np.subtract(s[a][1] - s[a][2], s[a][3], out=y[:, n0:n1, a::2, 1::2])

    per_image = 16 * C_in * th * tw
    size = max(1, min((1 << 19) // per_image, -(-N // (2 * parallel.workers))))
    parallel.run([partial(images, n0, min(n0 + size, N)) for n0 in range(0, N, size)])
    return y[:, :, :H, :Wd].transpose(1, 0, 2, 3)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=21)
    args = p.parse_args()
    torch = import_torch()
    print(f"ms, medians of {args.repeats} repeats after warm-up, taken in turns")
    print("| conv (N, C_in->C_out, HxW) | max rel. error | tinycnn (shift) | Winograd | its 16 products alone | PyTorch |")
    print("|---|---:|---:|---:|---:|---:|")
    for N, C_in, C_out, H in [(128, 16, 16, 32), (128, 32, 32, 16), (128, 64, 64, 8), (64, 24, 32, 31),
                              (64, 32, 64, 15), (64, 64, 128, 7)]:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((C_in, N, H, H), dtype=np.float32).transpose(1, 0, 2, 3)
        W = (0.1 * rng.standard_normal((C_out, C_in, 3, 3))).astype(np.float32)
        ref = conv2d_forward(x, W, None, (1, 1), (1, 1))[0]
        error = np.abs(winograd_forward(x, W) - ref).max() / np.abs(ref).max()
        t = -(-H // 2)
        U = rng.standard_normal((16, C_out, C_in), dtype=np.float32)
        V = rng.standard_normal((16, C_in, N * t * t), dtype=np.float32)
        Vs = np.array_split(V, 2 * parallel.workers, axis=2)
        Vs = [np.ascontiguousarray(v) for v in Vs]
        runs = {"shift": lambda: conv2d_forward(x, W, None, (1, 1), (1, 1)), "wino": lambda: winograd_forward(x, W),
                "products": lambda: parallel.run([partial(np.matmul, U, v) for v in Vs])}
        if torch is not None:
            tx, tW = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(W)
            runs["torch"] = lambda: torch.nn.functional.conv2d(tx, tW, padding=1)
        times = median_times(list(runs.values()), args.repeats)
        cell = {k: f"{1e3 * t:.1f}" for k, t in zip(runs, times)}
        print(f"| {N}, {C_in}->{C_out}, {H}x{H} | {error:.1e} | {cell['shift']} | {cell['wino']} | "
              f"{cell['products']} | {cell.get('torch', '-')} |")


if __name__ == "__main__":
    main()
