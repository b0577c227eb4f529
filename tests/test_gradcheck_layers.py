"""Every layer, container and loss passes a float64 gradient check for its input and every parameter, over the
edge cases that broke earlier CNN frameworks."""
import numpy as np
import pytest

from tinycnn import gradcheck, nn
from tinycnn.functional.norm import from_channel_rows


def distinct(rng, shape, low=-3.0, high=3.0):
    """Values spaced well apart (no max-pool ties, nothing within eps of a ReLU kink), shuffled."""
    n = int(np.prod(shape))
    values = np.linspace(low, high, n) + 0.5 * (high - low) / n
    return rng.permutation(values).reshape(shape)


CONV_CASES = {
    "3x3 padding 0": (dict(in_channels=2, out_channels=3, kernel_size=3), (2, 2, 5, 5)),
    "3x3 padding 1 (same)": (dict(in_channels=2, out_channels=3, kernel_size=3, padding=1), (2, 2, 5, 5)),
    "stride that does not divide": (dict(in_channels=2, out_channels=2, kernel_size=3, stride=2), (2, 2, 6, 8)),
    "non-square input and kernel": (dict(in_channels=2, out_channels=3, kernel_size=(3, 2), stride=(2, 1),
                                         padding=(1, 0)), (2, 2, 7, 5)),
    "batch size 1": (dict(in_channels=3, out_channels=2, kernel_size=2), (1, 3, 4, 4)),
    "dilation": (dict(in_channels=2, out_channels=2, kernel_size=3, dilation=2, padding=1), (2, 2, 7, 6)),
    "dilation with stride": (dict(in_channels=2, out_channels=2, kernel_size=(2, 3), dilation=(2, 1), stride=2),
                             (1, 2, 7, 7)),
    "groups": (dict(in_channels=4, out_channels=6, kernel_size=3, padding=1, groups=2), (2, 4, 5, 4)),
    "depthwise, strided": (dict(in_channels=3, out_channels=3, kernel_size=3, stride=2, groups=3), (2, 3, 6, 6)),
    "1x1 with padding": (dict(in_channels=3, out_channels=2, kernel_size=1, padding=1), (2, 3, 3, 4)),
    "no bias": (dict(in_channels=2, out_channels=3, kernel_size=3, bias=False), (2, 2, 4, 4)),
}


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d(xp, rng, case):
    kwargs, shape = CONV_CASES[case]
    report = gradcheck(nn.Conv2d(**kwargs), xp.asarray(rng.standard_normal(shape)))
    assert report.ok, report
    assert {name for name, _, _ in report.rows} == {"input", "weight"} | ({"bias"} if kwargs.get("bias", True) else set())


POOL_CASES = {
    "max 2x2": (nn.MaxPool2d(2), (2, 3, 4, 6)),
    "max overlapping 3x3 stride 2": (nn.MaxPool2d(3, stride=2), (2, 2, 7, 7)),
    "max stride that does not divide": (nn.MaxPool2d(2), (1, 2, 5, 7)),
    "max non-square": (nn.MaxPool2d((2, 3), stride=(1, 2)), (2, 2, 4, 7)),
    "avg 2x2": (nn.AvgPool2d(2), (2, 3, 4, 6)),
    "avg overlapping padded": (nn.AvgPool2d(3, stride=2, padding=1), (2, 2, 7, 6)),
    "avg non-square": (nn.AvgPool2d((3, 2), stride=(2, 1)), (1, 2, 7, 5)),
    "adaptive avg to 1": (nn.AdaptiveAvgPool2d(1), (2, 3, 5, 4)),
    "adaptive avg uneven bins": (nn.AdaptiveAvgPool2d((3, 2)), (2, 2, 7, 5)),
    "adaptive avg upsampling bins": (nn.AdaptiveAvgPool2d(4), (1, 2, 3, 3)),
    "adaptive max to 1": (nn.AdaptiveMaxPool2d(1), (2, 3, 5, 4)),
    "adaptive max uneven bins": (nn.AdaptiveMaxPool2d((3, 2)), (2, 2, 7, 5)),
    "adaptive max upsampling bins": (nn.AdaptiveMaxPool2d(4), (1, 2, 3, 3)),
}


@pytest.mark.parametrize("case", POOL_CASES)
def test_pooling(xp, rng, case):
    layer, shape = POOL_CASES[case]
    report = gradcheck(layer, xp.asarray(distinct(rng, shape)))
    assert report.ok, report


def test_padded_max_pool_on_all_negative_input(xp, rng):
    """Zero padding would win every border window here and swallow the gradient; -inf padding must not."""
    x = xp.asarray(distinct(rng, (2, 2, 5, 5), low=-9.0, high=-1.0))
    pool = nn.MaxPool2d(3, stride=2, padding=1)
    y = pool(x)
    assert float(y.max()) < 0, "padding won a window: it must act as -inf"
    report = gradcheck(pool, x)
    assert report.ok, report


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.BatchNorm2d(3), (4, 3, 3, 2)),
    (lambda: nn.BatchNorm2d(2), (1, 2, 3, 3)),              # batch size 1: statistics over H, W
    (lambda: nn.BatchNorm1d(4), (6, 4)),
    (lambda: nn.BatchNorm1d(3), (2, 3, 5)),
    (lambda: nn.BatchNorm2d(3, affine=False), (3, 3, 2, 2)),
    (lambda: nn.BatchNormReLU2d(3), (4, 3, 3, 2)),
    (lambda: nn.BatchNormReLU2d(3, affine=False), (3, 3, 2, 2)),
    (lambda: nn.BatchNormGELU2d(3), (4, 3, 3, 2)),
    (lambda: nn.BatchNormGELU2d(3, affine=False), (3, 3, 2, 2)),
], ids=["2d", "2d batch 1", "1d (N, C)", "1d (N, C, L)", "2d no affine", "2d + relu", "2d + relu no affine",
        "2d + gelu", "2d + gelu no affine"])
def test_batch_norm(xp, rng, layer, shape, training):
    bn = layer()
    bn.train(training)
    if not training:   # non-trivial running statistics
        bn.running_mean[...] = xp.asarray(rng.standard_normal(bn.num_features))
        bn.running_var[...] = xp.asarray(rng.uniform(0.5, 2.0, bn.num_features))
    x = xp.asarray(rng.standard_normal(shape) * 2 + 1)
    if bn.affine:
        bn.weight.data[...] = xp.asarray(rng.uniform(0.5, 1.5, bn.num_features))
        bn.bias.data[...] = xp.asarray(rng.standard_normal(bn.num_features))
    report = gradcheck(bn, x)
    assert report.ok, report


@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.Linear(5, 3), (4, 5)),
    (lambda: nn.Linear(4, 2, bias=False), (1, 4)),
    (lambda: nn.Linear(3, 2), (2, 5, 3)),
    (lambda: nn.ReLU(), (3, 4, 2, 2)),
    (lambda: nn.LeakyReLU(0.1), (3, 7)),
    (lambda: nn.Sigmoid(), (3, 7)),
    (lambda: nn.Tanh(), (3, 7)),
    (lambda: nn.GELU(approximate="tanh"), (3, 7)),
    (lambda: nn.Dropout(0.3), (4, 6)),
    (lambda: nn.Flatten(), (2, 3, 2, 2)),
    (lambda: nn.Identity(), (2, 3)),
], ids=["linear", "linear no bias batch 1", "linear 3-d", "relu", "leaky relu", "sigmoid", "tanh", "gelu", "dropout",
        "flatten", "identity"])
def test_elementwise_and_linear(xp, rng, layer, shape):
    report = gradcheck(layer(), xp.asarray(distinct(rng, shape)))
    assert report.ok, report


def test_containers(xp, rng):
    block = nn.Residual(nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.Tanh(),
                                      nn.Conv2d(4, 4, 3, padding=1)),
                        shortcut=nn.Sequential(nn.Conv2d(2, 4, 1, stride=2), nn.BatchNorm2d(4)))
    x = xp.asarray(rng.standard_normal((2, 2, 5, 5)))
    report = gradcheck(block, x)
    assert report.ok, report
    assert len(report.rows) == 1 + len(block.parameters())

    identity = nn.Residual(nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Tanh()))
    assert gradcheck(identity, xp.asarray(rng.standard_normal((2, 3, 4, 4)))).ok

    inception = nn.Concat(nn.Conv2d(3, 2, 1), nn.Sequential(nn.Conv2d(3, 2, 1), nn.Conv2d(2, 3, 3, padding=1)),
                          nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(3, 1, 1)))
    report = gradcheck(inception, xp.asarray(distinct(rng, (2, 3, 4, 4))))
    assert report.ok, report
    dense = nn.Concat(nn.Identity(), nn.Sequential(nn.BatchNorm2d(3), nn.Tanh(), nn.Conv2d(3, 2, 3, padding=1)))
    assert dense(xp.asarray(rng.standard_normal((2, 3, 4, 4)))).shape == (2, 5, 4, 4)
    assert gradcheck(dense, xp.asarray(rng.standard_normal((2, 3, 4, 4)))).ok


@pytest.mark.parametrize("smoothing, reduction", [(0.0, "mean"), (0.1, "mean"), (0.2, "sum")])
def test_cross_entropy(xp, rng, smoothing, reduction):
    logits = xp.asarray(rng.standard_normal((5, 4)) * 3)
    labels = xp.asarray(rng.integers(0, 4, 5))
    report = gradcheck(nn.CrossEntropyLoss(label_smoothing=smoothing, reduction=reduction), logits, target=labels)
    assert report.ok, report


def test_bce_and_mse(xp, rng):
    z = xp.asarray(rng.standard_normal((4, 3)) * 4)
    assert gradcheck(nn.BCEWithLogitsLoss(), z, target=xp.asarray(rng.uniform(0, 1, (4, 3)))).ok
    assert gradcheck(nn.MSELoss(), z, target=xp.asarray(rng.standard_normal((4, 3)))).ok


class _BatchNormForgettingTheMean(nn.BatchNorm2d):
    """A classic bug: the backward of the eval-mode formula used in training (statistics treated as constants)."""

    def backward(self, dy):
        xc, gamma, inv_std, *_ = self._pop_cache()                       # xc = x - mean
        xhat = from_channel_rows(xc, dy.shape) * inv_std.reshape(1, -1, 1, 1)
        self.weight.accumulate((dy * xhat).sum(axis=(0, 2, 3)))
        self.bias.accumulate(dy.sum(axis=(0, 2, 3)))
        return dy * (gamma * inv_std).reshape(1, -1, 1, 1)


def test_gradcheck_catches_a_broken_batch_norm_backward(xp, rng):
    report = gradcheck(_BatchNormForgettingTheMean(3), xp.asarray(rng.standard_normal((4, 3, 2, 2))))
    assert not report.ok
    assert report.errors()["input"] > 1e-2
    assert "FAIL" in str(report)
