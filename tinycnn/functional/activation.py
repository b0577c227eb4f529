"""Element-wise activations. Each forward returns (y, cache) and each backward is dx = dy * f'(x),
with f' written in terms of what the forward kept (usually y itself, which backward needs anyway)."""
from .. import parallel
from ..backend import get_array_module


def relu_forward(x):
    """y = max(x, 0); keeps y, from which backward reads where x > 0. (Element-wise work runs in blocks on
    both cores: tinycnn/parallel.py.)"""
    xp = get_array_module(x)
    y = parallel.elementwise(relu_into, xp.empty_like(x), x)
    return y, y


def relu_backward(dy, y):
    """dx = dy where x > 0 (that is, y > 0), else 0 (the subgradient 0 at x = 0, as PyTorch)."""
    xp = get_array_module(dy)
    return parallel.elementwise(_pass_where_positive, xp.empty_like(dy), dy, y)


def relu_into(out, x):
    """out = max(x, 0). NumPy's vectorised maximum is its loop for two arrays: given the scalar 0 it runs about
    3.5x slower (NumPy 2.4). So x is compared with a row of zeros that broadcasts over it, rows of 1024 where x
    is one contiguous block (a short row is cheaper to allocate than a long one), else x's last axis."""
    xp = get_array_module(x)
    if x.flags.c_contiguous and out.flags.c_contiguous and x.size % 1024 == 0:
        x, out = x.reshape(-1, 1024), out.reshape(-1, 1024)
    xp.maximum(x, xp.zeros(x.shape[-1], dtype=x.dtype), out=out)


def _pass_where_positive(out, dy, y):
    get_array_module(dy).multiply(dy, y > 0, out=out)


def leaky_relu_forward(x, negative_slope=0.01):
    """y = x for x > 0, else negative_slope * x."""
    xp = get_array_module(x)
    mask = x > 0
    return xp.where(mask, x, negative_slope * x), (mask, negative_slope)


def leaky_relu_backward(dy, cache):
    """dx = dy for x > 0, else negative_slope * dy."""
    xp = get_array_module(dy)
    mask, negative_slope = cache
    return xp.where(mask, dy, negative_slope * dy)


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow for large |x|."""
    xp = get_array_module(x)
    e = xp.exp(-xp.abs(x))                      # in (0, 1]: never overflows
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_forward(x):
    y = sigmoid(x)
    return y, y


def sigmoid_backward(dy, y):
    """dx = dy * y * (1 - y)."""
    return dy * y * (1 - y)


def tanh_forward(x):
    xp = get_array_module(x)
    y = xp.tanh(x)
    return y, y


def tanh_backward(dy, y):
    """dx = dy * (1 - y^2)."""
    return dy * (1 - y * y)


GELU_K, GELU_C = 0.7978845608028654, 0.044715       # sqrt(2 / pi), and the cubic term's coefficient


def gelu_tanh_forward(x):
    """GELU (Hendrycks & Gimpel 2016), x * Phi(x) with Phi the standard normal CDF, in its tanh approximation
    (PyTorch's approximate="tanh"): y = x/2 * (1 + tanh(u)), u = sqrt(2/pi) * (x + 0.044715 x^3).
    Keeps the slope dy/dx at x, computed while x is in the cache, so that backward is one product."""
    xp = get_array_module(x)
    slope = xp.empty_like(x)
    y = parallel.elementwise(gelu_tanh_with_slope, xp.empty_like(x), x, slope)
    return y, slope


def gelu_tanh_backward(dy, slope):
    """dx = dy * dy/dx, the slope that forward kept."""
    xp = get_array_module(dy)
    return parallel.elementwise(_multiply, xp.empty_like(dy), dy, slope)


def _multiply(out, a, b):
    get_array_module(a).multiply(a, b, out=out)


def gelu_tanh_with_slope(y, x, slope):
    """y = GELU(x) and slope = dy/dx, written into y and slope (element-wise, for one block; y may be x itself):
        t = tanh(u),  u = sqrt(2/pi) * x * (1 + c x^2),  c = 0.044715
        y = x * (1 + t)/2
        slope = (1 + t)/2 + x/2 * (1 - t^2) * sqrt(2/pi) * (1 + 3c x^2)     (tanh' = 1 - tanh^2)"""
    xp = get_array_module(x)
    x2 = xp.multiply(x, x)
    xp.multiply(x2, 1.5 * GELU_K * GELU_C, out=slope)
    slope += 0.5 * GELU_K                                 # slope = sqrt(2/pi)/2 * (1 + 3c x^2), for now
    x2 *= GELU_K * GELU_C
    x2 += GELU_K
    x2 *= x                                               # u
    t = xp.tanh(x2, out=x2)
    half_1_t = t * 0.5
    half_1_t += 0.5                                       # (1 + t)/2
    slope *= x
    xp.multiply(x, half_1_t, out=y)                       # y = x * (1 + t)/2, x's last use
    t *= t
    xp.subtract(1, t, out=t)                              # 1 - t^2
    slope *= t
    slope += half_1_t


def dropout_forward(x, p, training):
    """Inverted dropout: in training, zero each value with probability p and scale the rest by 1/(1-p), so
    eval mode is the identity. Returns (y, mask); mask is None when nothing was dropped."""
    if not training or p == 0:
        return x, None
    xp = get_array_module(x)
    if p == 1:
        return xp.zeros_like(x), xp.zeros_like(x)
    mask = (xp.random.random_sample(x.shape) >= p).astype(x.dtype) / (1 - p)
    return x * mask, mask


def dropout_backward(dy, mask):
    """dx = dy * mask (the same values were kept and scaled)."""
    return dy if mask is None else dy * mask
