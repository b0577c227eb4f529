"""Batch normalization (Ioffe & Szegedy 2015), forward and backward.

x has shape (N, C) or (N, C, L) or (N, C, H, W); statistics are per channel C, over the m = N*L or N*H*W
values of that channel:

    mean = sum(x) / m,   var = sum((x - mean)^2) / m          (biased: used to normalise)
    xhat = (x - mean) / sqrt(var + eps),   y = gamma * xhat + beta

In training the running statistics move towards the batch's, with the *unbiased* variance var * m / (m - 1):
``running = (1 - momentum) * running + momentum * batch``. In eval mode the running statistics normalise.

Synchronised batch norm: when a batch is split over processes (tinycnn/data_parallel.py), x holds one process's
rows and ``all_gather`` makes the statistics, and the sums of the backward pass, those of the whole batch.
``all_gather(v)`` returns every process's vector v in rank order, (P, len(v)). Each process p sends its count
m_p, mean_p and M2_p = sum((x - mean_p)^2), which combine without the cancellation of a sum of squares (Chan,
Golub and LeVeque's pairwise update):

    m = sum m_p,   mean = sum m_p mean_p / m,   M2 = sum (M2_p + m_p (mean_p - mean)^2),   var = M2 / m

The arithmetic runs on the (C, m) matrix of rows "all values of one channel": a free view of tinycnn's
channels-major activations (see im2col.py), so each per-channel sum is a contiguous row reduction. The sums of
x and of g are taken as rows @ ones (dot, BLAS's product of a matrix and a vector): half the time of NumPy's
pairwise sum here (17 against 35 us for a block of two rows of 131,072 floats), and it lets the other core's thread
run meanwhile, where matmul and vecdot at this shape keep Python's lock (measured slower on two threads). Its
float32 sums were 0.6e-7 to 6.2e-7 off the float64 sum, relative, the pairwise sum's 0.6e-7 to 1.3e-7. The sums of
squares and of g * (x - mean) keep einsum, which takes all of a block's rows in one call (RESULTS.md,
"Twenty-seventh session"). Backward keeps x - mean, not xhat: y = a * (x - mean) + beta, a = gamma * inv_std, is
then one pass fewer, and xhat = (x - mean) * inv_std enters backward's sums as a per-channel factor.
"""
from functools import partial

from .. import parallel
from ..backend import get_array_module
from .activation import gelu_tanh_with_slope, relu_into

# Floats per block of channels, at least one block per core. Batch norm's passes are bound by memory bandwidth,
# which two cores share (on the 2-core test machine an 8 MiB multiply took 157 us on two, 172 on one), so
# what more blocks cost (each hand-over between the threads) was not won back: measured against blocks of 2^17
# floats, two per core, batch norm + (add +) ReLU forward + backward took 0.83-0.91 of the time at ResNet-20's
# shapes (benchmarks/RESULTS.md, "Twenty-third session").
BLOCK = 1 << 18


def _blocks(C, m, xp):
    """Slices of channels that the cores normalise side by side: about BLOCK floats each."""
    return [slice(c0, c1) for c0, c1 in parallel.spans(C, m, budget=BLOCK, xp=xp, per_worker=1)]


def channel_rows(x):
    """x (N, C, ...) -> (C, m): one row per channel (a view when x is channels-major in memory)."""
    xp = get_array_module(x)
    return xp.moveaxis(x, 1, 0).reshape(x.shape[1], -1)


def from_channel_rows(rows, shape):
    """The inverse of channel_rows: (C, m) -> (N, C, ...) of the given shape (a view)."""
    xp = get_array_module(rows)
    return xp.moveaxis(rows.reshape((shape[1], shape[0]) + tuple(shape[2:])), 0, 1)


def whole_batch_stats(all_gather, m, mean, var):
    """The whole batch's (m, mean, var) from this process's, through all_gather (see the module docstring)."""
    xp = get_array_module(mean)
    C = len(mean)
    mine = xp.concatenate([xp.asarray([m], dtype=xp.float64), mean, var * m]).astype(xp.float64)
    stats = all_gather(mine)                                                        # (P, 1 + 2C)
    m_p, mean_p, M2_p = stats[:, :1], stats[:, 1:C + 1], stats[:, C + 1:]
    m_all = m_p.sum()
    mean_all = (m_p * mean_p).sum(axis=0) / m_all
    return int(m_all), mean_all, (M2_p + m_p * (mean_p - mean_all) ** 2).sum(axis=0) / m_all


def batch_norm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5,
                       activation=None, all_gather=None, residual=None):
    """Returns (y, cache); in training, updates running_mean and running_var in place. With activation "relu"
    or "gelu" (GELU's tanh form) the activation that usually follows is applied in the same pass over each
    block of channels: y = f(z), z = gamma * xhat + beta. With a residual (an array shaped like x: a residual
    block's shortcut) it is added in that pass too, before the activation: z = gamma * xhat + beta + residual.
    With all_gather (used in training only) the statistics are the whole batch's, over every process's rows."""
    if activation not in (None, "relu", "gelu"):
        raise ValueError(f"batch_norm_forward: activation must be None, 'relu' or 'gelu', got {activation!r}")
    xp = get_array_module(x)
    x2 = channel_rows(x)                                             # (C, m)
    C, m = x2.shape
    dtype = x2.dtype
    r2 = None if residual is None else channel_rows(residual)        # (C, m)
    xc = xp.empty_like(x2)                                           # x - mean, kept for backward
    ones = xp.ones(m, dtype=dtype)                                   # sum(x) = x @ ones (module docstring)
    y = xp.empty_like(x2)
    slope = xp.empty_like(x2) if activation == "gelu" else None     # GELU's dy/dz, kept for backward
    if training:
        mean, var, inv_std = (xp.empty(C, dtype=dtype) for _ in range(3))
    else:
        mean, var = running_mean, running_var
        inv_std = (1.0 / xp.sqrt(var + eps)).astype(dtype)
    sync = training and all_gather is not None
    shift = None                                                     # set below when sync

    def center(rows):
        if training:
            mean[rows] = xp.dot(x2[rows], ones) / m                          # sum(x) / m
        xp.subtract(x2[rows], mean[rows, None].astype(dtype), out=xc[rows])                # x - mean
        if training:
            var[rows] = xp.einsum("ij,ij->i", xc[rows], xc[rows]) / m                    # sum((x - mean)^2) / m

    def scale(rows):
        if sync:
            xc[rows] += shift[rows, None]                        # (x - mean_p) + (mean_p - mean) = x - mean
        if training:
            inv_std[rows] = 1.0 / xp.sqrt(var[rows] + eps)
        a = inv_std[rows] if gamma is None else gamma[rows] * inv_std[rows]
        xp.multiply(xc[rows], a[:, None], out=y[rows])           # z = gamma * xhat + beta = a * (x - mean) + beta
        if beta is not None:
            y[rows] += beta[rows, None]
        z = y[rows]
        if residual is not None:
            z += r2[rows]                                                                   # z += residual
        if activation == "relu":
            relu_into(z, z)                                                                 # y = max(z, 0)
        elif activation == "gelu":
            gelu_tanh_with_slope(z, z, slope[rows])                                # y = GELU(z), its slope kept

    def normalize(rows):                           # a block of channels, start to end while it is in the cache
        center(rows)
        scale(rows)

    blocks = _blocks(C, m, xp)
    count = m
    if sync:                                       # every block centred before the statistics are exchanged
        parallel.run([partial(center, rows) for rows in blocks], xp)
        count, mean_all, var_all = whole_batch_stats(all_gather, m, mean, var)
        shift = (mean - mean_all).astype(dtype)
        mean[...], var[...] = mean_all, var_all
        parallel.run([partial(scale, rows) for rows in blocks], xp)
    else:
        parallel.run([partial(normalize, rows) for rows in blocks], xp)
    if training:
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += momentum * var * (count / (count - 1))
    kept = {None: None, "relu": y, "gelu": slope}[activation]          # what the activation's backward reads
    return from_channel_rows(y, x.shape), (xc, gamma, inv_std, training, activation, kept, count,
                                           all_gather if sync else None, residual is not None)


def batch_norm_backward(dy, cache):
    """(dx, dgamma, dbeta, dresidual); dresidual is None when forward had no residual.

    dgamma = sum(dy * xhat), dbeta = sum(dy). In training the mean and variance depend on x too; with
    dxhat = gamma * dy the chain rule gives
        dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
           = gamma * inv_std * (dy - dbeta / m - xhat * dgamma / m).
    In eval mode the statistics are constants: dx = gamma * inv_std * dy.
    After a fused activation f, dy first passes it: g = dy * f'(z), z = gamma * xhat + beta (for the ReLU: dy where
    y > 0, else 0; for GELU, times the slope that forward kept); g then takes dy's place.
    A residual added to z gets z's gradient whole: dresidual = g (dy itself when there is no activation).
    Synchronised, dbeta and dgamma in dx are the sums over the whole batch and m its size; the dgamma and dbeta
    returned are this process's rows' shares, which the processes' gradients add up to.
    """
    xp = get_array_module(dy)
    xc, gamma, inv_std, training, activation, kept, count, all_gather, has_residual = cache     # xc = x - mean
    dy2 = channel_rows(dy)                                           # (C, m)
    C, m = dy2.shape
    dtype = xp.result_type(dy2, xc)
    dx = xp.empty(dy2.shape, dtype=dtype)
    g_dtype = dy2.dtype if activation != "gelu" else xp.result_type(dy2, kept)
    dz = xp.empty(dy2.shape, dtype=g_dtype) if has_residual and activation is not None else None   # g, kept whole
    ones = xp.ones(m, dtype=g_dtype)                                 # sum(g) = g @ ones
    dgamma, dbeta = xp.empty(C, dtype=dtype), xp.empty(C, dtype=dtype)
    dgamma_all, dbeta_all = dgamma, dbeta                            # replaced by the whole batch's when synced
    scale = (inv_std if gamma is None else gamma * inv_std).astype(dtype)[:, None]

    def sums(rows):
        if activation is None:
            g = dy2[rows]
        else:
            g = dz[rows] if dz is not None else xp.empty(dy2[rows].shape, dtype=g_dtype)
        if activation == "relu":                                          # g = dy * f'(z), through the activation
            xp.multiply(dy2[rows], kept[rows] > 0, out=g)
        elif activation == "gelu":
            xp.multiply(dy2[rows], kept[rows], out=g)
        dbeta[rows] = xp.dot(g, ones)                                                     # sum(g)
        dgamma[rows] = xp.einsum("ij,ij->i", g, xc[rows]) * inv_std[rows]                  # sum(g * xhat)
        return g

    def input_gradient(rows, g):
        if training:
            xhat_scale = -dgamma_all[rows] * inv_std[rows] / count
            xp.multiply(xc[rows], xhat_scale[:, None], out=dx[rows])                # - xhat * dgamma / m
            dx[rows] += g
            dx[rows] -= (dbeta_all[rows] / count)[:, None]
            dx[rows] *= scale[rows]
        else:
            xp.multiply(g, scale[rows], out=dx[rows])

    def gradient(rows):                            # a block of channels, start to end while it is in the cache
        input_gradient(rows, sums(rows))

    blocks = _blocks(C, m, xp)
    if all_gather is not None:                     # every block's sums before they are exchanged
        gs = parallel.run([partial(sums, rows) for rows in blocks], xp)
        total = all_gather(xp.concatenate([dbeta, dgamma]).astype(xp.float64)).sum(axis=0)
        dbeta_all, dgamma_all = total[:C].astype(dtype), total[C:].astype(dtype)
        parallel.run([partial(input_gradient, rows, g) for rows, g in zip(blocks, gs)], xp)
    else:
        parallel.run([partial(gradient, rows) for rows in blocks], xp)
    dresidual = None if not has_residual else dy if dz is None else from_channel_rows(dz, dy.shape)
    return from_channel_rows(dx, dy.shape), dgamma, dbeta, dresidual
