"""Losses as pure functions: each returns (loss, dpred), the mean loss over the batch and its gradient.

Cross-entropy is fused with log-softmax. Subtracting the row maximum first keeps exp() from overflowing
for logits of any size:  log softmax(z)_k = z_k - max(z) - log(sum_j exp(z_j - max(z))).
"""
from ..backend import get_array_module
from .activation import sigmoid


def log_softmax(z):
    """log softmax over the last axis, stable for large logits."""
    xp = get_array_module(z)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(z):
    xp = get_array_module(z)
    return xp.exp(log_softmax(z))


def cross_entropy(logits, target, label_smoothing=0.0, reduction="mean"):
    """Softmax cross-entropy of logits (N, C) against integer classes target (N,).

    With label smoothing eps the target distribution is q = (1 - eps) * onehot + eps / C (PyTorch's rule), and
        loss_n = -sum_k q_k log p_k,     dloss_n / dz = p - q.
    The mean over the batch divides both by N. Labels must already be checked to lie in [0, C).
    """
    xp = get_array_module(logits)
    N, C = logits.shape
    logp = log_softmax(logits)
    q = xp.full((N, C), label_smoothing / C, dtype=logits.dtype)
    q[xp.arange(N), target] += 1.0 - label_smoothing
    losses = -(q * logp).sum(axis=1)
    grad = xp.exp(logp) - q                        # softmax - q
    if reduction == "sum":
        return losses.sum(), grad
    return losses.mean(), grad / N


def binary_cross_entropy_with_logits(z, t, reduction="mean"):
    """BCE of sigmoid(z) against t in [0, 1], computed from the logits:
        loss = max(z, 0) - z*t + log(1 + exp(-|z|)),    dloss/dz = sigmoid(z) - t."""
    xp = get_array_module(z)
    losses = xp.maximum(z, 0) - z * t + xp.log1p(xp.exp(-xp.abs(z)))
    grad = sigmoid(z) - t
    if reduction == "sum":
        return losses.sum(), grad
    return losses.mean(), grad / z.size


def mse(pred, target, reduction="mean"):
    """loss = mean((pred - target)^2),   dloss/dpred = 2 (pred - target) / numel."""
    diff = pred - target
    if reduction == "sum":
        return (diff * diff).sum(), 2 * diff
    return (diff * diff).mean(), 2 * diff / diff.size
