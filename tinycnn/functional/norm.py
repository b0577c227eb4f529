"""Batch normalization (Ioffe & Szegedy 2015), forward and backward.

x has shape (N, C) or (N, C, L) or (N, C, H, W); statistics are per channel C, over the m = N*L or N*H*W
values of that channel:

    mean = sum(x) / m,   var = sum((x - mean)^2) / m          (biased: used to normalise)
    xhat = (x - mean) / sqrt(var + eps),   y = gamma * xhat + beta

In training the running statistics move towards the batch's, with the *unbiased* variance var * m / (m - 1):
``running = (1 - momentum) * running + momentum * batch``. In eval mode the running statistics normalise.
"""
from ..backend import get_array_module


def _axes_and_shape(x):
    """The axes to reduce over (all but channels) and the shape that broadcasts a (C,) vector against x."""
    axes = (0,) + tuple(range(2, x.ndim))
    return axes, (1, x.shape[1]) + (1,) * (x.ndim - 2)


def batch_norm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """Returns (y, cache); in training, updates running_mean and running_var in place."""
    xp = get_array_module(x)
    axes, shape = _axes_and_shape(x)
    if training:
        m = x.size // x.shape[1]
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += momentum * var * (m / (m - 1))
    else:
        mean, var = running_mean, running_var
    inv_std = 1.0 / xp.sqrt(var + eps)
    xhat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
    y = xhat * gamma.reshape(shape) + beta.reshape(shape) if gamma is not None else xhat
    return y, (xhat, gamma, inv_std, training)


def batch_norm_backward(dy, cache):
    """(dx, dgamma, dbeta).

    dgamma = sum(dy * xhat), dbeta = sum(dy). In training the mean and variance depend on x too; with
    dxhat = gamma * dy the chain rule gives
        dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
           = gamma * inv_std * (dy - dbeta / m - xhat * dgamma / m).
    In eval mode the statistics are constants: dx = gamma * inv_std * dy.
    """
    xhat, gamma, inv_std, training = cache
    axes, shape = _axes_and_shape(dy)
    dgamma = (dy * xhat).sum(axis=axes)
    dbeta = dy.sum(axis=axes)
    scale = inv_std if gamma is None else gamma * inv_std
    if training:
        m = dy.size // dy.shape[1]
        dx = scale.reshape(shape) * (dy - (dbeta / m).reshape(shape) - xhat * (dgamma / m).reshape(shape))
    else:
        dx = scale.reshape(shape) * dy
    return dx, dgamma, dbeta
