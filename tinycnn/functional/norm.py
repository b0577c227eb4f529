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
from ..backend import get_array_module


def channel_rows(x):
    """x (N, C, ...) -> (C, m): one row per channel (a view when x is channels-major in memory)."""
    xp = get_array_module(x)
    return xp.moveaxis(x, 1, 0).reshape(x.shape[1], -1)


def from_channel_rows(rows, shape):
    """The inverse of channel_rows: (C, m) -> (N, C, ...) of the given shape (a view)."""
    xp = get_array_module(rows)
    return xp.moveaxis(rows.reshape((shape[1], shape[0]) + tuple(shape[2:])), 0, 1)


def batch_norm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """Returns (y, cache); in training, updates running_mean and running_var in place."""
    xp = get_array_module(x)
    x2 = channel_rows(x)                                             # (C, m)
    m = x2.shape[1]
    if training:
        mean = x2.mean(axis=1)
        xhat = x2 - mean[:, None]                                    # x - mean (normalised in place below)
        var = xp.einsum("ij,ij->i", xhat, xhat) / m                  # sum((x - mean)^2) / m, no temporary
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += momentum * var * (m / (m - 1))
    else:
        mean, var = running_mean, running_var
        xhat = x2 - mean[:, None]
    inv_std = 1.0 / xp.sqrt(var + eps)
    xhat *= inv_std[:, None].astype(xhat.dtype)                      # xhat = (x - mean) / sqrt(var + eps)
    if gamma is None:
        y = xhat
    else:
        y = xhat * gamma[:, None]                                    # y = gamma * xhat + beta
        y += beta[:, None]
    return from_channel_rows(y, x.shape), (xhat, gamma, inv_std, training)


def batch_norm_backward(dy, cache):
    """(dx, dgamma, dbeta).

    dgamma = sum(dy * xhat), dbeta = sum(dy). In training the mean and variance depend on x too; with
    dxhat = gamma * dy the chain rule gives
        dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
           = gamma * inv_std * (dy - dbeta / m - xhat * dgamma / m).
    In eval mode the statistics are constants: dx = gamma * inv_std * dy.
    """
    xp = get_array_module(dy)
    xhat, gamma, inv_std, training = cache
    dy2 = channel_rows(dy)                                           # (C, m)
    m = dy2.shape[1]
    dbeta = dy2.sum(axis=1)
    dgamma = xp.einsum("ij,ij->i", dy2, xhat)
    scale = (inv_std if gamma is None else gamma * inv_std).astype(dy.dtype)[:, None]
    if training:
        dx = xhat * (-dgamma / m).astype(dy.dtype)[:, None]          # - xhat * dgamma / m
        dx += dy2
        dx -= (dbeta / m).astype(dy.dtype)[:, None]
        dx *= scale
    else:
        dx = dy2 * scale
    return from_channel_rows(dx, dy.shape), dgamma, dbeta
