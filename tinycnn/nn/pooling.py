"""Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d. The math lives in
tinycnn.functional.pool."""
from ..functional import pool as F
from ..functional.im2col import pair
from .module import Module, check_grad, check_input


class _Pool2d(Module):
    """What max and average pooling share: arguments, checks, cache handling."""

    def __init__(self, kernel_size, stride=None, padding=0):
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride")
        self.padding = pair(padding, "padding")
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{self._short()}: padding should be at most half the kernel size")

    def _check(self, x):
        check_input(self, x, (4,), "(N, C, H, W)")
        (KH, KW), (PH, PW) = self.kernel_size, self.padding
        if x.shape[2] + 2 * PH < KH or x.shape[3] + 2 * PW < KW:
            raise ValueError(f"{self._short()}: kernel {KH}x{KW} is larger than the padded input "
                             f"{x.shape[2] + 2 * PH}x{x.shape[3] + 2 * PW} (input {tuple(x.shape)})")

    def forward(self, x):
        self._check(x)
        y, cache = self._forward(x, self.kernel_size, self.stride, self.padding)
        self._cache = (cache, y.shape)
        return y

    def backward(self, dy):
        cache, y_shape = self._pop_cache()
        check_grad(self, dy, y_shape)
        return self._backward(dy, cache)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max over each window; padding acts as -inf; the gradient goes to one arg-max per window."""
    _forward = staticmethod(F.max_pool2d_forward)
    _backward = staticmethod(F.max_pool2d_backward)


class AvgPool2d(_Pool2d):
    """Mean over each window, padding counted as zeros in the divisor (PyTorch's count_include_pad=True)."""
    _forward = staticmethod(F.avg_pool2d_forward)
    _backward = staticmethod(F.avg_pool2d_backward)


class _AdaptivePool2d(Module):
    """What adaptive max and average pooling share: pooling to a fixed output size (OH, OW) whatever the input
    size. Bin i of an axis of length H covers [floor(i*H/OH), ceil((i+1)*H/OH)). ``None`` in output_size keeps
    that input dimension."""

    def __init__(self, output_size):
        self.output_size = (output_size, output_size) if not isinstance(output_size, (tuple, list)) \
            else tuple(output_size)

    def forward(self, x):
        check_input(self, x, (4,), "(N, C, H, W)")
        size = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(self.output_size))
        y, cache = self._forward(x, size)
        self._cache = (cache, y.shape)
        return y

    def backward(self, dy):
        cache, y_shape = self._pop_cache()
        check_grad(self, dy, y_shape)
        return self._backward(dy, cache)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptivePool2d):
    """Mean over each bin; bins may differ in size and overlap."""
    _forward = staticmethod(F.adaptive_avg_pool2d_forward)
    _backward = staticmethod(F.adaptive_avg_pool2d_backward)


class AdaptiveMaxPool2d(_AdaptivePool2d):
    """Max over each bin; the gradient goes to one arg-max per bin. ``AdaptiveMaxPool2d(1)`` is global max
    pooling, whatever the map size."""
    _forward = staticmethod(F.adaptive_max_pool2d_forward)
    _backward = staticmethod(F.adaptive_max_pool2d_backward)
