"""Module plumbing: names, modes, state dicts, freezing, dtype and device moves, shapes and init."""
import math

import numpy as np
import pytest

from tinycnn import nn, optim
from tinycnn.backend import to_numpy


class Block(nn.Module):
    def __init__(self):
        self.conv1 = nn.Conv2d(2, 2, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(2)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn1(self.conv1(x)))

    def backward(self, dy):
        return self.conv1.backward(self.bn1.backward(self.relu.backward(dy)))


def make_model():
    return nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), Block(), nn.Flatten(), nn.Linear(2 * 4 * 4, 5))


def test_hierarchical_names_in_order():
    names = [n for n, _ in make_model().named_parameters()]
    assert names == ["0.weight", "0.bias", "1.conv1.weight", "1.bn1.weight", "1.bn1.bias", "3.weight", "3.bias"]
    keys = list(make_model().state_dict())
    assert keys == ["0.weight", "0.bias", "1.conv1.weight", "1.bn1.weight", "1.bn1.bias", "1.bn1.running_mean",
                    "1.bn1.running_var", "1.bn1.num_batches_tracked", "3.weight", "3.bias"]


def test_train_eval_reach_every_module():
    model = make_model().eval()
    assert all(not m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_state_dict_round_trip_and_mismatch(xp, rng):
    a, b = make_model(), make_model()
    x = xp.asarray(rng.standard_normal((2, 3, 4, 4)), dtype=xp.float32)
    a(x)                                            # moves BN running statistics
    b.load_state_dict({k: v.copy() for k, v in a.state_dict().items()})
    a.eval(), b.eval()
    np.testing.assert_array_equal(to_numpy(a(x)), to_numpy(b(x)))
    wrong = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), Block(), nn.Flatten(), nn.Linear(2 * 4 * 4, 5))
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(4, 3, 3, 3\) here but \(2, 3, 3, 3\)"):
        wrong.load_state_dict(a.state_dict())
    with pytest.raises(KeyError, match="missing keys"):
        a.load_state_dict({"0.weight": a.state_dict()["0.weight"]})


def test_gradients_accumulate_and_zero_grad(xp, rng):
    model = make_model()
    x = xp.asarray(rng.standard_normal((2, 3, 4, 4)), dtype=xp.float32)
    dy = xp.ones((2, 5), dtype=xp.float32)
    model(x)
    model.backward(dy)
    first = to_numpy(model[0].weight.grad).copy()
    model(x)
    model.backward(dy)
    np.testing.assert_allclose(to_numpy(model[0].weight.grad), 2 * first, rtol=1e-5)
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_frozen_backbone_is_left_unchanged(xp, rng):
    model = make_model()
    model[0].requires_grad_(False)
    frozen = to_numpy(model[0].weight.data).copy()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(3):
        loss_fn(model(xp.asarray(rng.standard_normal((4, 3, 4, 4)), dtype=xp.float32)), xp.asarray([0, 1, 2, 3]))
        opt.zero_grad()
        model.backward(loss_fn.backward())
        opt.step()
    assert model[0].weight.grad is None
    np.testing.assert_array_equal(to_numpy(model[0].weight.data), frozen)
    assert model.num_parameters(trainable_only=True) < model.num_parameters()


def test_float64_input_stays_float64_and_to_casts():
    model = make_model()
    x = np.random.default_rng(0).standard_normal((1, 3, 4, 4))
    assert model.to(np.float64)(x).dtype == np.float64
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model.float()(x.astype(np.float32)).dtype == np.float32


def test_initialisation_matches_pytorch_bounds():
    conv = nn.Conv2d(16, 32, 3)
    bound = 1 / math.sqrt(16 * 9)
    assert conv.weight.dtype == np.float32 and conv.weight.shape == (32, 16, 3, 3)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.weight.data).max() > 0.9 * bound
    assert np.abs(conv.bias.data).max() <= bound
    assert abs(float(conv.weight.data.std()) - bound / math.sqrt(3)) < 0.1 * bound   # std of U(-b, b)
    linear = nn.Linear(100, 10)
    assert np.abs(linear.weight.data).max() <= 0.1 and np.abs(linear.bias.data).max() <= 0.1


def test_output_shapes():
    x = np.zeros((2, 3, 32, 32), dtype=np.float32)
    assert nn.Conv2d(3, 8, 3, stride=2, padding=1)(x).shape == (2, 8, 16, 16)
    assert nn.Conv2d(3, 8, (5, 3), padding=(2, 1), dilation=(1, 1))(x).shape == (2, 8, 32, 32)
    assert nn.MaxPool2d(3, stride=2, padding=1)(x).shape == (2, 3, 16, 16)
    assert nn.AvgPool2d(2)(x).shape == (2, 3, 16, 16)
    assert nn.AdaptiveAvgPool2d((7, 5))(x).shape == (2, 3, 7, 5)
    assert nn.AdaptiveAvgPool2d((None, 4))(x).shape == (2, 3, 32, 4)
    assert nn.AdaptiveMaxPool2d((None, 4))(x).shape == (2, 3, 32, 4)


def test_batch_norm_running_statistics_are_unbiased(xp, rng):
    bn = nn.BatchNorm2d(2, momentum=0.1)
    x = xp.asarray(rng.standard_normal((4, 2, 3, 3)) * 3 + 2)
    bn(x)
    m = 4 * 3 * 3
    xn = to_numpy(x)
    np.testing.assert_allclose(to_numpy(bn.running_mean), 0.1 * xn.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(to_numpy(bn.running_var), 0.9 + 0.1 * xn.var(axis=(0, 2, 3)) * m / (m - 1), rtol=1e-5)
    bn.eval()
    y = to_numpy(bn(x))
    expected = (xn - to_numpy(bn.running_mean)[None, :, None, None]) / np.sqrt(
        to_numpy(bn.running_var)[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(y, expected, rtol=1e-5)


def test_dropout_is_inverted_and_off_in_eval(xp):
    drop = nn.Dropout(0.25)
    x = xp.ones((200, 500), dtype=xp.float32)
    y = to_numpy(drop(x))
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.01
    assert abs(y.mean() - 1.0) < 0.02
    drop.eval()
    assert drop(x) is x
