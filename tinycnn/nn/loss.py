"""Losses as modules: ``loss = loss_fn(pred, target)`` returns a float; ``loss_fn.backward()`` returns dL/dpred.

Targets are checked before they are used as indices: CuPy would silently wrap an out-of-range label.
"""
from ..functional import loss as F
from .module import Module, check_input


class _Loss(Module):
    def __init__(self, reduction="mean"):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction

    def backward(self, dloss=1.0):
        """dL/dpred, scaled by the upstream gradient of the loss (1 when the loss is the objective)."""
        grad = self._pop_cache()
        return grad if dloss == 1.0 else grad * dloss


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy from logits (N, C) and integer labels (N,), mean over the batch.

    ``label_smoothing`` eps mixes the one-hot target with the uniform distribution: q = (1-eps) onehot + eps/C.
    """

    def __init__(self, label_smoothing=0.0, reduction="mean"):
        super().__init__(reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}")
        self.label_smoothing = label_smoothing

    def forward(self, logits, target):
        check_input(self, logits, (2,), "of logits (N, C)")
        N, C = logits.shape
        if not hasattr(target, "dtype") or target.dtype.kind not in "iu":
            raise TypeError(f"{self._short()}: expected integer class labels (N,), got "
                            f"{getattr(target, 'dtype', type(target).__name__)}")
        if target.shape != (N,):
            raise ValueError(f"{self._short()}: expected labels of shape ({N},) for logits {tuple(logits.shape)}, "
                             f"got {tuple(target.shape)}")
        low, high = int(target.min()), int(target.max())
        if low < 0 or high >= C:
            raise ValueError(f"{self._short()}: labels must lie in [0, {C - 1}] for {C} classes, "
                             f"got values from {low} to {high}")
        loss, self._cache = F.cross_entropy(logits, target, self.label_smoothing, self.reduction)
        return float(loss)

    def extra_repr(self):
        return f"label_smoothing={self.label_smoothing}" if self.label_smoothing else ""


class _PairLoss(_Loss):
    """Losses whose target has the prediction's shape."""
    _fn = None

    def forward(self, pred, target):
        check_input(self, pred, range(1, 8), "of predictions")
        if tuple(target.shape) != tuple(pred.shape):
            raise ValueError(f"{self._short()}: target shape {tuple(target.shape)} does not match "
                             f"prediction shape {tuple(pred.shape)}")
        loss, self._cache = type(self)._fn(pred, target.astype(pred.dtype, copy=False), self.reduction)
        return float(loss)


class BCEWithLogitsLoss(_PairLoss):
    """Binary cross-entropy of sigmoid(logits) against targets in [0, 1], computed stably from the logits."""
    _fn = staticmethod(F.binary_cross_entropy_with_logits)


class MSELoss(_PairLoss):
    """Mean squared error."""
    _fn = staticmethod(F.mse)
