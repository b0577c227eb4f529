"""Weight initialisation, with PyTorch's formulas, in the active backend and the default dtype.

fan_in of a conv weight (C_out, C_in/G, KH, KW) is C_in/G * KH * KW; of a linear weight (out, in) it is in.
"""
import math

from .. import backend


def uniform(shape, bound):
    """U(-bound, bound) in the default dtype."""
    xp = backend.xp_of()
    return xp.random.uniform(-bound, bound, size=shape).astype(backend.DEFAULT_DTYPE)


def normal(shape, std):
    xp = backend.xp_of()
    return (xp.random.standard_normal(size=shape) * std).astype(backend.DEFAULT_DTYPE)


def fans(shape):
    """(fan_in, fan_out) of a weight shape: (out, in, *kernel)."""
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def kaiming_uniform(shape, a=math.sqrt(5), mode="fan_in"):
    """PyTorch's kaiming_uniform_: bound = gain * sqrt(3 / fan), gain = sqrt(2 / (1 + a^2)).
    Its default a = sqrt(5), used by Conv2d and Linear, gives bound = 1 / sqrt(fan_in)."""
    fan = fans(shape)[0 if mode == "fan_in" else 1]
    gain = math.sqrt(2.0 / (1 + a * a))
    return uniform(shape, gain * math.sqrt(3.0 / fan))


def kaiming_normal(shape, mode="fan_out"):
    """He et al. 2015 for ReLU nets: N(0, 2 / fan); torchvision's ResNets use mode='fan_out'."""
    fan = fans(shape)[0 if mode == "fan_in" else 1]
    return normal(shape, math.sqrt(2.0 / fan))


def zeros(shape):
    return backend.xp_of().zeros(shape, dtype=backend.DEFAULT_DTYPE)


def ones(shape):
    return backend.xp_of().ones(shape, dtype=backend.DEFAULT_DTYPE)
