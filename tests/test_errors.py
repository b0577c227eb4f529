"""Bad input fails early with a message naming the layer, what it expected and what it got."""
import numpy as np
import pytest

from tinycnn import nn


def test_conv_wrong_rank(xp):
    with pytest.raises(ValueError, match=r"Conv2d\(3, 16.*expected input \(N, 3, H, W\), got shape \(3, 32, 32\)"):
        nn.Conv2d(3, 16, 3)(xp.zeros((3, 32, 32), dtype=xp.float32))


def test_conv_wrong_channels(xp):
    with pytest.raises(ValueError, match=r"Conv2d\(3, 16.*expected input \(N, 3, H, W\), got \(8, 1, 32, 32\)"):
        nn.Conv2d(3, 16, 3)(xp.zeros((8, 1, 32, 32), dtype=xp.float32))


def test_conv_kernel_larger_than_padded_input(xp):
    with pytest.raises(ValueError, match=r"Conv2d.*kernel 5x5.*larger than the padded input 4x4"):
        nn.Conv2d(1, 1, 5, padding=1)(xp.zeros((1, 1, 2, 2), dtype=xp.float32))


def test_pool_kernel_larger_than_input(xp):
    with pytest.raises(ValueError, match=r"MaxPool2d.*kernel 3x3.*larger than the padded input 2x2"):
        nn.MaxPool2d(3)(xp.zeros((1, 1, 2, 2), dtype=xp.float32))


def test_integer_input_rejected(xp):
    with pytest.raises(TypeError, match=r"Linear.*floating-point.*int"):
        nn.Linear(4, 2)(xp.zeros((1, 4), dtype=xp.int64))


def test_linear_wrong_features(xp):
    with pytest.raises(ValueError, match=r"Linear\(in_features=4.*expected input \(\*, 4\), got \(2, 5\)"):
        nn.Linear(4, 2)(xp.zeros((2, 5), dtype=xp.float32))


def test_batch_norm_wrong_channels(xp):
    with pytest.raises(ValueError, match=r"BatchNorm2d\(8.*expected input \(N, 8, H, W\), got \(2, 4, 3, 3\)"):
        nn.BatchNorm2d(8)(xp.zeros((2, 4, 3, 3), dtype=xp.float32))


@pytest.mark.parametrize("labels", [[0, 10], [-1, 2]])
def test_labels_out_of_range(xp, labels):
    with pytest.raises(ValueError, match=r"CrossEntropyLoss.*labels must lie in \[0, 9\] for 10 classes"):
        nn.CrossEntropyLoss()(xp.zeros((2, 10), dtype=xp.float32), xp.asarray(labels))


def test_labels_wrong_type_or_shape(xp):
    with pytest.raises(TypeError, match=r"CrossEntropyLoss.*integer class labels"):
        nn.CrossEntropyLoss()(xp.zeros((2, 10), dtype=xp.float32), xp.asarray([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"CrossEntropyLoss.*labels of shape \(2,\).*got \(2, 1\)"):
        nn.CrossEntropyLoss()(xp.zeros((2, 10), dtype=xp.float32), xp.zeros((2, 1), dtype=xp.int64))


@pytest.mark.parametrize("layer", [nn.Conv2d(1, 1, 1), nn.MaxPool2d(2), nn.BatchNorm2d(1), nn.ReLU(),
                                   nn.Linear(1, 1), nn.CrossEntropyLoss()],
                         ids=lambda layer: type(layer).__name__)
def test_backward_before_forward(layer):
    with pytest.raises(RuntimeError, match=rf"{type(layer).__name__}.*backward called before forward"):
        layer.backward(np.ones((1, 1, 2, 2), dtype=np.float32))


def test_second_backward_needs_a_new_forward(xp):
    conv = nn.Conv2d(1, 1, 1)
    y = conv(xp.ones((1, 1, 2, 2), dtype=xp.float32))
    conv.backward(xp.ones_like(y))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        conv.backward(xp.ones_like(y))


def test_backward_with_wrong_gradient_shape(xp):
    conv = nn.Conv2d(1, 2, 3)
    conv(xp.ones((1, 1, 5, 5), dtype=xp.float32))
    with pytest.raises(ValueError, match=r"Conv2d.*expected dy of shape \(1, 2, 3, 3\).*got \(1, 2, 5, 5\)"):
        conv.backward(xp.ones((1, 2, 5, 5), dtype=xp.float32))


def test_batch_norm_add_relu_shortcut_shape_mismatch(xp):
    with pytest.raises(ValueError, match=r"BatchNormAddReLU2d\(4.*shortcut must have the input's shape "
                                         r"\(1, 4, 3, 3\), got \(1, 4, 6, 6\)"):
        nn.BatchNormAddReLU2d(4)(xp.ones((1, 4, 3, 3), dtype=xp.float32), xp.ones((1, 4, 6, 6), dtype=xp.float32))


def test_residual_shape_mismatch(xp):
    block = nn.Residual(nn.Conv2d(2, 4, 3, padding=1))
    with pytest.raises(ValueError, match=r"Residual: body gives \(1, 4, 3, 3\) but the shortcut gives \(1, 2, 3, 3\)"):
        block(xp.ones((1, 2, 3, 3), dtype=xp.float32))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="kernel_size must be an int or a pair"):
        nn.Conv2d(3, 4, (3, 3, 3))
    with pytest.raises(ValueError, match=r"GELU: only approximate='tanh' is implemented .* got approximate='none'"):
        nn.GELU()                                   # PyTorch's default, the exact erf form: refused, not replaced
