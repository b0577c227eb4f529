"""The worked examples of the textbooks (Dive into Deep Learning, ch. 7; the usual softmax lecture example)."""
import math

import numpy as np

from tinycnn import nn
from tinycnn.backend import to_numpy
from tinycnn.functional import conv_output_size


def test_cross_correlation_3x3_with_2x2(xp):
    conv = nn.Conv2d(1, 1, 2, bias=False)
    conv.weight.data = xp.arange(4, dtype=xp.float32).reshape(1, 1, 2, 2)
    y = conv(xp.arange(9, dtype=xp.float32).reshape(1, 1, 3, 3))
    np.testing.assert_array_equal(to_numpy(y)[0, 0], [[19, 25], [37, 43]])


def test_two_input_channels(xp):
    conv = nn.Conv2d(2, 1, 2, bias=False)
    conv.weight.data = xp.stack([xp.arange(4.0), xp.arange(1.0, 5.0)]).reshape(1, 2, 2, 2).astype(xp.float32)
    x = xp.stack([xp.arange(9.0), xp.arange(1.0, 10.0)]).reshape(1, 2, 3, 3).astype(xp.float32)
    y = to_numpy(conv(x))[0, 0]
    assert y[0, 0] == 56
    np.testing.assert_array_equal(y, [[56, 72], [104, 120]])


def test_cross_entropy_of_probability_three_quarters(xp):
    probabilities = xp.asarray([[0.05, 0.15, 0.75, 0.05]])       # elephant, tiger, lion, whale; truth: lion
    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(xp.log(probabilities), xp.asarray([2]))
    assert round(loss, 3) == 0.288
    assert math.isclose(loss, -math.log(0.75), rel_tol=1e-12)
    np.testing.assert_allclose(to_numpy(loss_fn.backward()), [[0.05, 0.15, -0.25, 0.05]], atol=1e-12)  # p - onehot


def test_output_size_formula():
    # floor((n - k + 2p) / s) + 1, as in the textbooks; the 4x4 input with a (2, 3) window and stride
    assert conv_output_size(8, 3, 1, 1) == 8
    assert conv_output_size(8, 3, 2, 1) == 4
    assert conv_output_size(4, 2, 2, 0) == 2 and conv_output_size(4, 3, 3, 1) == 2
    assert conv_output_size(32, 3, 1, 2, dilation=2) == 32
