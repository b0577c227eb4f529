"""Loop references for convolution and pooling: the definitions, written as plainly as possible.

They are slow (Python loops over every output position) and exist to be read and to hold the fast versions to
account: the tests check fast == naive on random cases. NumPy only; x is (N, C, H, W) as in the definitions.
"""
import numpy as np

from .im2col import conv_output_size


def _pad(x, PH, PW, value=0.0):
    return np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)), constant_values=value)


def conv2d_forward(x, W, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """y[n, o, oh, ow] = b[o] + sum_{c, i, j} W[o, c, i, j] * x_pad[n, g*Cg + c, oh*SH + i*DH, ow*SW + j*DW],
    where g = o // (C_out/G) is the group of output channel o and Cg = C_in/G."""
    (SH, SW), (PH, PW), (DH, DW) = stride, padding, dilation
    N, C_in, H, Wd = x.shape
    C_out, Cg, KH, KW = W.shape
    OH, OW = conv_output_size(H, KH, SH, PH, DH), conv_output_size(Wd, KW, SW, PW, DW)
    xp = _pad(x, PH, PW)
    y = np.zeros((N, C_out, OH, OW), dtype=np.result_type(x, W))
    for n in range(N):
        for o in range(C_out):
            g = o // (C_out // groups)
            for oh in range(OH):
                for ow in range(OW):
                    patch = xp[n, g * Cg:(g + 1) * Cg,
                               oh * SH:oh * SH + DH * (KH - 1) + 1:DH,
                               ow * SW:ow * SW + DW * (KW - 1) + 1:DW]
                    y[n, o, oh, ow] = np.sum(patch * W[o]) + (0 if b is None else b[o])
    return y


def conv2d_backward(dy, x, W, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """(dx, dW, db): every output y[n, o, oh, ow] sends dy[n, o, oh, ow] * W[o] back to its input patch and
    dy[n, o, oh, ow] * patch to W[o]."""
    (SH, SW), (PH, PW), (DH, DW) = stride, padding, dilation
    N, C_in, H, Wd = x.shape
    C_out, Cg, KH, KW = W.shape
    _, _, OH, OW = dy.shape
    xp = _pad(x, PH, PW)
    dxp = np.zeros_like(xp)
    dW = np.zeros_like(W)
    for n in range(N):
        for o in range(C_out):
            g = o // (C_out // groups)
            for oh in range(OH):
                for ow in range(OW):
                    rows = slice(oh * SH, oh * SH + DH * (KH - 1) + 1, DH)
                    cols = slice(ow * SW, ow * SW + DW * (KW - 1) + 1, DW)
                    chans = slice(g * Cg, (g + 1) * Cg)
                    dxp[n, chans, rows, cols] += dy[n, o, oh, ow] * W[o]
                    dW[o] += dy[n, o, oh, ow] * xp[n, chans, rows, cols]
    db = dy.sum(axis=(0, 2, 3))
    return dxp[:, :, PH:PH + H, PW:PW + Wd], dW, db


def _pool_windows(x_shape, kernel_size, stride, padding):
    """(oh, ow, rows, cols) for every window of the padded input."""
    (KH, KW), (SH, SW), (PH, PW) = kernel_size, stride, padding
    H, W = x_shape[2:]
    for oh in range(conv_output_size(H, KH, SH, PH)):
        for ow in range(conv_output_size(W, KW, SW, PW)):
            yield oh, ow, slice(oh * SH, oh * SH + KH), slice(ow * SW, ow * SW + KW)


def max_pool2d_forward(x, kernel_size, stride, padding):
    """y[n, c, oh, ow] = max of the window, the padding being -inf."""
    xp = _pad(x, *padding, value=-np.inf)
    N, C = x.shape[:2]
    windows = list(_pool_windows(x.shape, kernel_size, stride, padding))
    OH, OW = windows[-1][0] + 1, windows[-1][1] + 1
    y = np.empty((N, C, OH, OW), dtype=x.dtype)
    for oh, ow, rows, cols in windows:
        y[:, :, oh, ow] = xp[:, :, rows, cols].max(axis=(2, 3))
    return y


def max_pool2d_backward(dy, x, kernel_size, stride, padding):
    """dx: dy of each window goes to the first position holding its maximum."""
    PH, PW = padding
    xp = _pad(x, PH, PW, value=-np.inf)
    dxp = np.zeros_like(xp)
    KW = kernel_size[1]
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for oh, ow, rows, cols in _pool_windows(x.shape, kernel_size, stride, padding):
                k = np.argmax(xp[n, c, rows, cols])             # first maximum in row-major order
                dxp[n, c, rows.start + k // KW, cols.start + k % KW] += dy[n, c, oh, ow]
    return dxp[:, :, PH:PH + x.shape[2], PW:PW + x.shape[3]]


def avg_pool2d_forward(x, kernel_size, stride, padding):
    """y[n, c, oh, ow] = sum of the zero-padded window / (KH*KW)."""
    xp = _pad(x, *padding)
    windows = list(_pool_windows(x.shape, kernel_size, stride, padding))
    y = np.empty(x.shape[:2] + (windows[-1][0] + 1, windows[-1][1] + 1), dtype=x.dtype)
    for oh, ow, rows, cols in windows:
        y[:, :, oh, ow] = xp[:, :, rows, cols].sum(axis=(2, 3)) / (kernel_size[0] * kernel_size[1])
    return y


def avg_pool2d_backward(dy, x, kernel_size, stride, padding):
    """dx: each window spreads dy / (KH*KW) over its inputs."""
    PH, PW = padding
    dxp = np.zeros_like(_pad(x, PH, PW))
    for oh, ow, rows, cols in _pool_windows(x.shape, kernel_size, stride, padding):
        dxp[:, :, rows, cols] += (dy[:, :, oh, ow] / (kernel_size[0] * kernel_size[1]))[:, :, None, None]
    return dxp[:, :, PH:PH + x.shape[2], PW:PW + x.shape[3]]


def batch_norm_forward(x, gamma, beta, eps=1e-5):
    """Training-mode batch norm, statistics over (N, H, W) for each channel: y = gamma * xhat + beta."""
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = ((x - mean) ** 2).mean(axis=(0, 2, 3), keepdims=True)
    xhat = (x - mean) / np.sqrt(var + eps)
    return gamma.reshape(1, -1, 1, 1) * xhat + beta.reshape(1, -1, 1, 1)


def batch_norm_backward(dy, x, gamma, eps=1e-5):
    """(dx, dgamma, dbeta) of batch_norm_forward, by the chain rule through xhat, the mean and the variance:
    dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sqrt(var + eps), with dxhat = gamma * dy."""
    axes = (0, 2, 3)
    mean = x.mean(axis=axes, keepdims=True)
    std = np.sqrt(((x - mean) ** 2).mean(axis=axes, keepdims=True) + eps)
    xhat = (x - mean) / std
    dxhat = gamma.reshape(1, -1, 1, 1) * dy
    dx = (dxhat - dxhat.mean(axis=axes, keepdims=True) - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)) / std
    return dx, (dy * xhat).sum(axis=axes), dy.sum(axis=axes)
