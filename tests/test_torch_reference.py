"""Where PyTorch is installed, tinycnn's layers, losses, optimizers and schedules must agree with it.

Skipped when it is not: PyTorch is never a dependency of tinycnn."""
import numpy as np
import pytest

from tinycnn import nn, optim
from tinycnn.backend import to_numpy

torch = pytest.importorskip("torch")
torch.set_default_dtype(torch.float64)


def both(xp, a):
    """The same float64 values as a tinycnn array on the backend under test and as a torch leaf tensor."""
    return xp.asarray(a), torch.tensor(a, requires_grad=True)


def copy_params(ours, theirs):
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        with torch.no_grad():
            tp.copy_(torch.tensor(to_numpy(p.data)))


def compare_layer(xp, ours, theirs, x, rtol=1e-9):
    ours.to(np.float64)
    theirs = theirs.double()
    copy_params(ours, theirs)
    x_ours, x_torch = both(xp, x)
    y_ours, y_torch = ours(x_ours), theirs(x_torch)
    np.testing.assert_allclose(to_numpy(y_ours), y_torch.detach().numpy(), rtol=rtol, atol=1e-10)
    dy = np.random.default_rng(7).standard_normal(y_torch.shape)
    dx = ours.backward(xp.asarray(dy))
    y_torch.backward(torch.tensor(dy))
    np.testing.assert_allclose(to_numpy(dx), x_torch.grad.numpy(), rtol=rtol, atol=1e-10)
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(to_numpy(p.grad), tp.grad.numpy(), rtol=rtol, atol=1e-10, err_msg=name)


CONV_ARGS = [dict(stride=1, padding=1), dict(stride=2, padding=0), dict(stride=(2, 1), padding=(1, 2)),
             dict(dilation=2, padding=2), dict(groups=2, padding=1), dict(stride=3, padding=1, dilation=(1, 2))]


@pytest.mark.parametrize("kwargs", CONV_ARGS, ids=str)
def test_conv2d(xp, kwargs):
    x = np.random.default_rng(0).standard_normal((3, 4, 9, 8))
    compare_layer(xp, nn.Conv2d(4, 6, 3, **kwargs), torch.nn.Conv2d(4, 6, 3, **kwargs), x)


@pytest.mark.parametrize("ours, theirs", [
    (nn.MaxPool2d(3, stride=2, padding=1), torch.nn.MaxPool2d(3, stride=2, padding=1)),
    (nn.MaxPool2d((2, 3), stride=(2, 1)), torch.nn.MaxPool2d((2, 3), stride=(2, 1))),
    (nn.AvgPool2d(3, stride=2, padding=1), torch.nn.AvgPool2d(3, stride=2, padding=1)),
    (nn.AvgPool2d((3, 2)), torch.nn.AvgPool2d((3, 2))),
    (nn.AdaptiveAvgPool2d((3, 5)), torch.nn.AdaptiveAvgPool2d((3, 5))),
    (nn.AdaptiveAvgPool2d(1), torch.nn.AdaptiveAvgPool2d(1)),
    (nn.AdaptiveMaxPool2d((3, 5)), torch.nn.AdaptiveMaxPool2d((3, 5))),
    (nn.AdaptiveMaxPool2d(1), torch.nn.AdaptiveMaxPool2d(1)),
], ids=["max padded", "max non-square", "avg padded", "avg non-square", "adaptive", "global", "adaptive max",
        "global max"])
def test_pooling(xp, ours, theirs):
    x = np.random.default_rng(1).standard_normal((2, 3, 9, 7))
    compare_layer(xp, ours, theirs, x)


def test_batch_norm_train_then_eval(xp):
    x = np.random.default_rng(2).standard_normal((4, 3, 5, 5)) * 2 + 1
    ours, theirs = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3).double()
    compare_layer(xp, ours, theirs, x)
    np.testing.assert_allclose(to_numpy(ours.running_mean), theirs.running_mean.numpy(), rtol=1e-9)
    np.testing.assert_allclose(to_numpy(ours.running_var), theirs.running_var.numpy(), rtol=1e-9)
    compare_layer(xp, ours.eval(), theirs.eval(), x)


def test_gelu_tanh(xp):
    x = 3 * np.random.default_rng(4).standard_normal((4, 3, 5, 5))
    compare_layer(xp, nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh"), x)


def test_linear(xp):
    compare_layer(xp, nn.Linear(5, 4), torch.nn.Linear(5, 4), np.random.default_rng(3).standard_normal((6, 5)))


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy(xp, smoothing):
    rng = np.random.default_rng(4)
    logits, labels = rng.standard_normal((6, 5)) * 10, rng.integers(0, 5, 6)
    ours, theirs = nn.CrossEntropyLoss(label_smoothing=smoothing), torch.nn.CrossEntropyLoss(label_smoothing=smoothing)
    z_ours, z_torch = both(xp, logits)
    loss = theirs(z_torch, torch.tensor(labels))
    loss.backward()
    assert ours(z_ours, xp.asarray(labels)) == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(to_numpy(ours.backward()), z_torch.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_bce_with_logits(xp):
    rng = np.random.default_rng(5)
    z, t = rng.standard_normal((4, 3)) * 30, rng.uniform(0, 1, (4, 3))
    z_ours, z_torch = both(xp, z)
    loss = torch.nn.BCEWithLogitsLoss()(z_torch, torch.tensor(t))
    loss.backward()
    ours = nn.BCEWithLogitsLoss()
    assert ours(z_ours, xp.asarray(t)) == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(to_numpy(ours.backward()), z_torch.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1)),
    ("Adam", dict(lr=0.01, weight_decay=1e-3)),
    ("AdamW", dict(lr=0.01, betas=(0.8, 0.99))),
])
def test_optimizers(xp, name, kwargs):
    rng = np.random.default_rng(6)
    w0 = rng.standard_normal((3, 4))
    p = nn.Parameter(xp.asarray(w0.copy()))
    tp = torch.tensor(w0.copy(), requires_grad=True)
    ours, theirs = getattr(optim, name)([p], **kwargs), getattr(torch.optim, name)([tp], **kwargs)
    for _ in range(5):
        g = rng.standard_normal((3, 4))
        p.grad, tp.grad = xp.asarray(g), torch.tensor(g)
        ours.step()
        theirs.step()
    np.testing.assert_allclose(to_numpy(p.data), tp.detach().numpy(), rtol=1e-12)


@pytest.mark.skipif(not hasattr(torch.optim, "Muon"), reason="this PyTorch has no torch.optim.Muon")
@pytest.mark.parametrize("shape, kwargs", [((4, 9), dict(lr=0.02)), ((9, 4), dict(lr=0.02, momentum=0.8,
                                           nesterov=False, weight_decay=0.01, adjust_lr_fn="match_rms_adamw"))])
def test_muon(xp, monkeypatch, shape, kwargs):
    """torch.optim.Muon's rule: its momentum, decay and step size around its Newton-Schulz iteration. PyTorch
    runs that iteration in bfloat16 (8 significant bits); here it runs in float64, as written in PyTorch, so that
    the steps can agree to float64's precision. (PyTorch's momentum is an average, (1 - mu) times ours; the
    iteration divides by the norm first, so the steps are the same.)"""
    muon_module = __import__("torch.optim._muon", fromlist=["_zeropower_via_newtonschulz"])

    def zeropower_float64(grad, ns_coefficients, ns_steps, eps):
        a, b, c = ns_coefficients
        X = grad.double()
        X = X.T if grad.size(0) > grad.size(1) else X
        X = X / X.norm().clamp(min=eps)
        for _ in range(ns_steps):
            gram = X @ X.T
            X = a * X + (b * gram + c * gram @ gram) @ X
        return X.T if grad.size(0) > grad.size(1) else X
    monkeypatch.setattr(muon_module, "_zeropower_via_newtonschulz", zeropower_float64)
    rng = np.random.default_rng(8)
    w0 = rng.standard_normal(shape)
    p, tp = nn.Parameter(xp.asarray(w0.copy())), torch.tensor(w0.copy(), requires_grad=True)
    ours, theirs = optim.Muon([p], **kwargs), torch.optim.Muon([tp], **kwargs)
    for _ in range(5):
        g = rng.standard_normal(shape)
        p.grad, tp.grad = xp.asarray(g), torch.tensor(g)
        ours.step()
        theirs.step()
    np.testing.assert_allclose(to_numpy(p.data), tp.detach().numpy(), rtol=1e-10)


@pytest.mark.parametrize("name, kwargs, steps", [
    ("OneCycleLR", dict(max_lr=0.4, total_steps=23, pct_start=0.25), 22),
    ("OneCycleLR", dict(max_lr=0.4, epochs=3, steps_per_epoch=5, three_phase=True, anneal_strategy="linear"), 14),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001), 12),
    ("StepLR", dict(step_size=4, gamma=0.3), 12),
])
def test_schedules(name, kwargs, steps):
    ours_opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=0.1, momentum=0.9)
    theirs_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    ours = getattr(optim, name)(ours_opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(theirs_opt, **kwargs)
    for _ in range(steps):
        assert ours_opt.param_groups[0]["lr"] == pytest.approx(theirs_opt.param_groups[0]["lr"], rel=1e-9)
        assert ours_opt.param_groups[0]["momentum"] == pytest.approx(theirs_opt.param_groups[0]["momentum"])
        theirs_opt.step()
        ours.step()
        theirs.step()


def test_reduce_on_plateau():
    ours_opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=1.0)
    theirs_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    kwargs = dict(factor=0.5, patience=1, cooldown=1, threshold=0.01, min_lr=0.1)
    ours = optim.ReduceLROnPlateau(ours_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, **kwargs)
    for metric in [3.0, 2.0, 1.995, 1.99, 1.5, 1.6, 1.7, 1.49, 1.8, 1.9, 2.0, 2.1, 2.2, 2.3]:
        ours.step(metric)
        theirs.step(metric)
        assert ours_opt.param_groups[0]["lr"] == pytest.approx(theirs_opt.param_groups[0]["lr"])
