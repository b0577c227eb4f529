"""Activation layers and Dropout. The math lives in tinycnn.functional.activation."""
from ..functional import activation as F
from .module import Module


class ReLU(Module):
    """y = max(x, 0)."""

    def __init__(self, inplace=False):
        self.inplace = inplace   # accepted for PyTorch compatibility; tinycnn never overwrites its input

    def forward(self, x):
        y, self._cache = F.relu_forward(x)
        return y

    def backward(self, dy):
        return F.relu_backward(dy, self._pop_cache())


class LeakyReLU(Module):
    """y = x for x > 0, else negative_slope * x."""

    def __init__(self, negative_slope=0.01, inplace=False):
        self.negative_slope = negative_slope

    def forward(self, x):
        y, self._cache = F.leaky_relu_forward(x, self.negative_slope)
        return y

    def backward(self, dy):
        return F.leaky_relu_backward(dy, self._pop_cache())

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x))."""

    def forward(self, x):
        y, self._cache = F.sigmoid_forward(x)
        return y

    def backward(self, dy):
        return F.sigmoid_backward(dy, self._pop_cache())


class Tanh(Module):
    """y = tanh(x)."""

    def forward(self, x):
        y, self._cache = F.tanh_forward(x)
        return y

    def backward(self, dy):
        return F.tanh_backward(dy, self._pop_cache())


class GELU(Module):
    """y = x * Phi(x), Phi the standard normal CDF, in its tanh approximation: GELU(approximate="tanh") is
    PyTorch's nn.GELU(approximate="tanh"). PyTorch's default, the exact form with erf, is not implemented (NumPy
    has no erf), so GELU() asks for the approximation by name rather than silently computing a different
    function; the two differ by less than 0.0005 (tinycnn.functional.activation.gelu_tanh_forward)."""

    def __init__(self, approximate="none"):
        if approximate != "tanh":
            raise ValueError(f"GELU: only approximate='tanh' is implemented (NumPy has no erf for the exact "
                             f"form), got approximate={approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        y, self._cache = F.gelu_tanh_forward(x)
        return y

    def backward(self, dy):
        return F.gelu_tanh_backward(dy, self._pop_cache())

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Dropout(Module):
    """Inverted dropout with probability p in training; the identity in eval mode."""

    def __init__(self, p=0.5, inplace=False):
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        y, mask = F.dropout_forward(x, self.p, self.training)
        self._cache = (mask,)
        return y

    def backward(self, dy):
        (mask,) = self._pop_cache()
        return F.dropout_backward(dy, mask)

    def extra_repr(self):
        return f"p={self.p}"
