"""Linear, Flatten and Identity."""
import math

from . import init
from .module import Module, Parameter, check_grad, check_input


class Linear(Module):
    """y = x @ W.T + b, on the last axis. x (*, in_features) -> y (*, out_features); W (out, in).
    Initialised as PyTorch: W and b from U(-1/sqrt(in), 1/sqrt(in))."""

    def __init__(self, in_features, out_features, bias=True):
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(init.kaiming_uniform((out_features, in_features)))
        self.bias = Parameter(init.uniform((out_features,), 1 / math.sqrt(in_features))) if bias else None

    def forward(self, x):
        check_input(self, x, range(1, 8), f"(*, {self.in_features})")
        if x.shape[-1] != self.in_features:
            raise ValueError(f"{self._short()}: expected input (*, {self.in_features}), got {tuple(x.shape)}")
        y = x @ self.weight.data.T
        if self.bias is not None:
            y += self.bias.data
        self._cache = (x, y.shape)
        return y

    skips_dx = True

    def backward(self, dy, need_dx=True):
        x, y_shape = self._pop_cache()
        check_grad(self, dy, y_shape)
        dy2 = dy.reshape(-1, self.out_features)
        if self.weight.requires_grad:
            self.weight.accumulate(dy2.T @ x.reshape(-1, self.in_features))   # dW = dY.T @ X
        if self.bias is not None and self.bias.requires_grad:
            self.bias.accumulate(dy2.sum(axis=0))                              # db = sum of dY over rows
        return dy @ self.weight.data if need_dx else None                     # dX = dY @ W

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W) in C order (the same order as PyTorch's flatten); backward reshapes back."""

    def __init__(self, start_dim=1, end_dim=-1):
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        end = self.end_dim % x.ndim
        shape = x.shape[:self.start_dim] + (-1,) + x.shape[end + 1:]
        self._cache = x.shape
        return x.reshape(shape)

    def backward(self, dy):
        return dy.reshape(self._pop_cache())

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """y = x, dx = dy: a placeholder (an identity shortcut, a removed head)."""

    def forward(self, x):
        return x

    def backward(self, dy):
        return dy
