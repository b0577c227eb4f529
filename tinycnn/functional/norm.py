"""Batch normalization (Ioffe & Szegedy 2015), forward and backward.

x has shape (N, C) or (N, C, L) or (N, C, H, W); statistics are per channel C, over the m = N*L or N*H*W
values of that channel:

    mean = sum(x) / m,   var = sum((x - mean)^2) / m          (biased: used to normalise)
    xhat = (x - mean) / sqrt(var + eps),   y = gamma * xhat + beta

In training the running statistics move towards the batch's, with the *unbiased* variance var * m / (m - 1):
``running = (1 - momentum) * running + momentum * batch``. In eval mode the running statistics normalise.

The arithmetic runs on the (C, m) matrix of rows "all values of one channel": a free view of tinycnn's
channels-major activations (see im2col.py), so each per-channel sum is a contiguous row reduction.
"""
from functools import partial

from .. import parallel
from ..backend import get_array_module


def channel_rows(x):
    """x (N, C, ...) -> (C, m): one row per channel (a view when x is channels-major in memory)."""
    xp = get_array_module(x)
    return xp.moveaxis(x, 1, 0).reshape(x.shape[1], -1)


def from_channel_rows(rows, shape):
    """The inverse of channel_rows: (C, m) -> (N, C, ...) of the given shape (a view)."""
    xp = get_array_module(rows)
    return xp.moveaxis(rows.reshape((shape[1], shape[0]) + tuple(shape[2:])), 0, 1)


def batch_norm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5, relu=False):
    """Returns (y, cache); in training, updates running_mean and running_var in place. With relu=True the ReLU
    that usually follows is applied in the same pass, y = max(gamma * xhat + beta, 0)."""
    xp = get_array_module(x)
    x2 = channel_rows(x)                                             # (C, m)
    C, m = x2.shape
    dtype = x2.dtype
    xhat = xp.empty_like(x2)
    y = xhat if gamma is None and not relu else xp.empty_like(x2)
    if training:
        mean, var, inv_std = (xp.empty(C, dtype=dtype) for _ in range(3))
    else:
        mean, var = running_mean, running_var
        inv_std = (1.0 / xp.sqrt(var + eps)).astype(dtype)

    def normalize(rows):                           # a block of channels, start to end while it is in the cache
        if training:
            mean[rows] = x2[rows].mean(axis=1)
        xp.subtract(x2[rows], mean[rows, None].astype(dtype), out=xhat[rows])              # x - mean
        if training:
            var[rows] = xp.einsum("ij,ij->i", xhat[rows], xhat[rows]) / m                # sum((x - mean)^2) / m
            inv_std[rows] = 1.0 / xp.sqrt(var[rows] + eps)
        xhat[rows] *= inv_std[rows, None]                                        # xhat = (x - mean) / sqrt(var + eps)
        if gamma is not None:
            xp.multiply(xhat[rows], gamma[rows, None], out=y[rows])               # y = gamma * xhat + beta
            y[rows] += beta[rows, None]
        if relu:
            xp.maximum(xhat[rows] if gamma is None else y[rows], 0, out=y[rows])           # y = max(y, 0)
    parallel.run([partial(normalize, slice(c0, c1)) for c0, c1 in parallel.spans(C, m, xp=xp)], xp)
    if training:
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += momentum * var * (m / (m - 1))
    return from_channel_rows(y, x.shape), (xhat, gamma, inv_std, training, y if relu else None)


def batch_norm_backward(dy, cache):
    """(dx, dgamma, dbeta).

    dgamma = sum(dy * xhat), dbeta = sum(dy). In training the mean and variance depend on x too; with
    dxhat = gamma * dy the chain rule gives
        dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
           = gamma * inv_std * (dy - dbeta / m - xhat * dgamma / m).
    In eval mode the statistics are constants: dx = gamma * inv_std * dy.
    After a fused ReLU, dy first passes the ReLU: dy where y > 0, else 0.
    """
    xp = get_array_module(dy)
    xhat, gamma, inv_std, training, relu_y = cache
    dy2 = channel_rows(dy)                                           # (C, m)
    C, m = dy2.shape
    dtype = xp.result_type(dy2, xhat)
    dx = xp.empty(dy2.shape, dtype=dtype)
    dgamma, dbeta = xp.empty(C, dtype=dtype), xp.empty(C, dtype=dtype)
    scale = (inv_std if gamma is None else gamma * inv_std).astype(dtype)[:, None]

    def gradient(rows):                            # a block of channels, start to end while it is in the cache
        g = dy2[rows] if relu_y is None else dy2[rows] * (relu_y[rows] > 0)            # through the fused ReLU
        dbeta[rows] = g.sum(axis=1)
        dgamma[rows] = xp.einsum("ij,ij->i", g, xhat[rows])
        if training:
            xp.multiply(xhat[rows], (-dgamma[rows] / m)[:, None], out=dx[rows])              # - xhat * dgamma / m
            dx[rows] += g
            dx[rows] -= (dbeta[rows] / m)[:, None]
            dx[rows] *= scale[rows]
        else:
            xp.multiply(g, scale[rows], out=dx[rows])
    parallel.run([partial(gradient, slice(c0, c1)) for c0, c1 in parallel.spans(C, m, xp=xp)], xp)
    return from_channel_rows(dx, dy.shape), dgamma, dbeta
