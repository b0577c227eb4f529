"""Pooling: max, average, adaptive average and adaptive max, forward and backward.

Shapes: x (N, C, H, W) -> y (N, C, OH, OW), each channel pooled on its own. A window of KH x KW moves in steps
of SH, SW over the input padded by PH, PW. Like im2col, each op is a short loop over the KH*KW kernel offsets
with one strided slice each, so it runs on NumPy and CuPy alike. The work is done on the channels-major view
(C, N, H, W) so that outputs keep the memory layout the convolutions use (see im2col.py).
"""
import math
from functools import partial

from .. import parallel
from ..backend import get_array_module
from .im2col import conv_output_size, pad2d, window


def _offsets(KH, KW):
    return [(i, j) for i in range(KH) for j in range(KW)]


def _running_max(x, axis, K, S, out_size, best, arg):
    """Max over K offsets along ``axis`` (2: rows, 3: columns) with stride S into ``best``, and which offset
    won into ``arg`` (the first on ties)."""
    xp = get_array_module(x)
    index = [slice(None)] * 4
    for k in range(K):
        index[axis] = window(k, S, out_size)
        v = x[tuple(index)]
        if k == 0:
            best[...], arg[...] = v, 0
            continue
        better = (v > best).view(xp.uint8).astype(arg.dtype, copy=False)
        arg += better * (k - arg)                     # arg = k where v wins (k > arg: no underflow)
        xp.maximum(best, v, out=best)                 # (masked copies are several times slower in NumPy)


def _channel_blocks(C, floats_per_channel, xp):
    """Blocks of channels for parallel.run: each channel is pooled on its own, and in the channels-major layout
    a block of channels is one contiguous piece of memory."""
    return [slice(c0, c1) for c0, c1 in parallel.spans(C, floats_per_channel, xp=xp)]


def max_pool2d_forward(x, kernel_size, stride, padding):
    """y = max over each window of x padded with -inf (padding never wins); returns (y, cache).

    A max over a rectangle is a max over rows of maxes over columns, so it is done in two passes: first each
    row's max over the KW columns of every window, then the max of those over the KH rows. Taking the first
    winner in each pass gives the first maximum in row-major order, PyTorch's choice on ties; the cache keeps
    both passes' winners (one byte each) for backward. Blocks of channels go through both passes while they
    are in the cache, on both cores (tinycnn/parallel.py).
    """
    xp = get_array_module(x)
    (KH, KW), (SH, SW), (PH, PW) = kernel_size, stride, padding
    N, C, H, W = x.shape
    OH, OW = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    x_c = x.transpose(1, 0, 2, 3)                                       # (C, N, H, W)
    y = xp.empty((C, N, OH, OW), dtype=x.dtype)
    col_arg = xp.empty((C, N, H + 2 * PH, OW), dtype=xp.uint8 if KW < 256 else xp.int32)
    row_arg = xp.empty((C, N, OH, OW), dtype=xp.uint8 if KH < 256 else xp.int32)

    def pool(c):
        x_pad = pad2d(x_c[c], PH, PW, value=-math.inf)                  # (Cb, N, Hp, Wp)
        row_max = xp.empty(col_arg[c].shape, dtype=x.dtype)              # (Cb, N, Hp, OW)
        _running_max(x_pad, 3, KW, SW, OW, row_max, col_arg[c])
        _running_max(row_max, 2, KH, SH, OH, y[c], row_arg[c])
    parallel.run([partial(pool, c) for c in _channel_blocks(C, N * H * W, xp)], xp)
    return y.transpose(1, 0, 2, 3), (x.shape, col_arg, row_arg, kernel_size, stride, padding)


def _route(dy, arg, axis, K, S, dx):
    """The backward of _running_max, into dx: dy goes to the offset that won; overlapping windows add up."""
    if not (K == S and dx.shape[axis] == K * dy.shape[axis]):    # else every input gets exactly one share below
        dx[...] = 0
    index = [slice(None)] * 4
    for k in range(K):
        index[axis] = window(k, S, dy.shape[axis])
        share = dy * (arg == k)                       # dy where offset k won, else 0
        if K > S:
            dx[tuple(index)] += share
        else:                                         # windows do not overlap: each input gets one share
            dx[tuple(index)] = share


def max_pool2d_backward(dy, cache):
    """dx: each window's gradient goes to its one arg-max input; overlapping windows add up."""
    xp = get_array_module(dy)
    x_shape, col_arg, row_arg, (KH, KW), (SH, SW), (PH, PW) = cache
    N, C, H, W = x_shape
    dy_c = dy.transpose(1, 0, 2, 3)                                     # (C, N, OH, OW)
    dx = xp.empty((C, N, H, W), dtype=dy.dtype)

    def route(c):
        d_row_max = xp.empty(col_arg[c].shape, dtype=dy.dtype)           # (Cb, N, Hp, OW)
        _route(dy_c[c], row_arg[c], 2, KH, SH, d_row_max)
        dx_pad = dx[c] if PH == PW == 0 else xp.empty(d_row_max.shape[:3] + (W + 2 * PW,), dtype=dy.dtype)
        _route(d_row_max, col_arg[c], 3, KW, SW, dx_pad)                 # (Cb, N, Hp, Wp)
        if PH or PW:
            dx[c] = dx_pad[:, :, PH:PH + H, PW:PW + W]
    parallel.run([partial(route, c) for c in _channel_blocks(C, N * H * W, xp)], xp)
    return dx.transpose(1, 0, 2, 3)


def avg_pool2d_forward(x, kernel_size, stride, padding):
    """y = mean of each window of x zero-padded; the padding counts in the divisor KH*KW (PyTorch's default)."""
    (KH, KW), (SH, SW), (PH, PW) = kernel_size, stride, padding
    N, C, H, W = x.shape
    OH, OW = conv_output_size(H, KH, SH, PH), conv_output_size(W, KW, SW, PW)
    x_pad = pad2d(x.transpose(1, 0, 2, 3), PH, PW)
    y = sum(x_pad[:, :, window(i, SH, OH), window(j, SW, OW)] for i, j in _offsets(KH, KW))
    return (y / (KH * KW)).transpose(1, 0, 2, 3), (x.shape, kernel_size, stride, padding)


def avg_pool2d_backward(dy, cache):
    """dx: every input of a window receives dy / (KH*KW) from it."""
    xp = get_array_module(dy)
    x_shape, (KH, KW), (SH, SW), (PH, PW) = cache
    N, C, H, W = x_shape
    OH, OW = dy.shape[2:]
    dx_pad = xp.zeros((C, N, H + 2 * PH, W + 2 * PW), dtype=dy.dtype)
    share = dy.transpose(1, 0, 2, 3) / (KH * KW)
    for i, j in _offsets(KH, KW):
        dx_pad[:, :, window(i, SH, OH), window(j, SW, OW)] += share
    return dx_pad[:, :, PH:PH + H, PW:PW + W].transpose(1, 0, 2, 3)


def adaptive_bins(size, out_size):
    """PyTorch's adaptive pooling windows: bin i covers [floor(i*size/out), ceil((i+1)*size/out))."""
    return [((i * size) // out_size, -((-(i + 1) * size) // out_size)) for i in range(out_size)]


def adaptive_avg_pool2d_forward(x, output_size):
    """y[..., i, j] = mean of x over bin i of the rows and bin j of the columns; bins may differ in size."""
    xp = get_array_module(x)
    N, C, H, W = x.shape
    OH, OW = output_size
    if (OH, OW) == (1, 1):                      # global average pooling, the common case
        return x.mean(axis=(2, 3), keepdims=True), (x.shape, output_size)
    y = xp.empty((N, C, OH, OW), dtype=x.dtype)
    for i, (h0, h1) in enumerate(adaptive_bins(H, OH)):
        for j, (w0, w1) in enumerate(adaptive_bins(W, OW)):
            y[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return y, (x.shape, output_size)


def adaptive_avg_pool2d_backward(dy, cache):
    """dx: each input of bin (i, j) receives dy[..., i, j] / (its bin's size); overlapping bins add up."""
    xp = get_array_module(dy)
    (N, C, H, W), (OH, OW) = cache
    if (OH, OW) == (1, 1):
        return xp.broadcast_to(dy / (H * W), (N, C, H, W)).copy()
    dx = xp.zeros((N, C, H, W), dtype=dy.dtype)
    for i, (h0, h1) in enumerate(adaptive_bins(H, OH)):
        for j, (w0, w1) in enumerate(adaptive_bins(W, OW)):
            dx[:, :, h0:h1, w0:w1] += (dy[:, :, i, j] / ((h1 - h0) * (w1 - w0)))[:, :, None, None]
    return dx


def adaptive_max_pool2d_forward(x, output_size):
    """y[..., i, j] = max of x over bin i of the rows and bin j of the columns (the bins of adaptive_bins)."""
    xp = get_array_module(x)
    N, C, H, W = x.shape
    OH, OW = output_size
    y = xp.empty((N, C, OH, OW), dtype=x.dtype)
    args = {}                                   # (i, j) -> (N, C) index of the max in bin (i, j), flattened
    for i, (h0, h1) in enumerate(adaptive_bins(H, OH)):
        for j, (w0, w1) in enumerate(adaptive_bins(W, OW)):
            block = x[:, :, h0:h1, w0:w1].reshape(N, C, -1)
            args[i, j] = block.argmax(axis=2)
            y[:, :, i, j] = xp.take_along_axis(block, args[i, j][:, :, None], axis=2)[:, :, 0]
    return y, (x.shape, output_size, args)


def adaptive_max_pool2d_backward(dy, cache):
    """dx: dy[..., i, j] goes to the one arg-max of bin (i, j); overlapping bins add up."""
    xp = get_array_module(dy)
    (N, C, H, W), (OH, OW), args = cache
    dx = xp.zeros((N, C, H, W), dtype=dy.dtype)
    for i, (h0, h1) in enumerate(adaptive_bins(H, OH)):
        for j, (w0, w1) in enumerate(adaptive_bins(W, OW)):
            one_hot = xp.arange((h1 - h0) * (w1 - w0)) == args[i, j][:, :, None]       # (N, C, bin size)
            dx[:, :, h0:h1, w0:w1] += (one_hot * dy[:, :, i, j, None]).reshape(N, C, h1 - h0, w1 - w0)
    return dx
