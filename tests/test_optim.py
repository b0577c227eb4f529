"""Optimizers follow the update rules written out by hand; schedulers follow PyTorch's closed forms."""
import math

import numpy as np
import pytest

from tinycnn import optim
from tinycnn.backend import to_numpy
from tinycnn.nn import Parameter

STEPS = 6


def grad_of(w):
    """The gradient of a fixed problem, f(w) = sum(a * w^2 + c * w), evaluated at w."""
    a = np.linspace(0.5, 2.0, w.size).reshape(w.shape)
    return 2 * a * w + 0.3


def run(xp, make_optimizer, w0):
    p = Parameter(xp.asarray(w0.copy()))
    opt = make_optimizer([p])
    for _ in range(STEPS):
        opt.zero_grad()
        p.accumulate(xp.asarray(grad_of(to_numpy(p.data))))
        opt.step()
    return to_numpy(p.data)


W0 = np.array([[1.0, -2.0, 0.5], [3.0, -0.1, 0.0]])


@pytest.mark.parametrize("momentum, nesterov, wd, dampening", [
    (0.0, False, 0.0, 0.0), (0.9, False, 0.0, 0.0), (0.9, True, 5e-4, 0.0), (0.8, False, 1e-2, 0.1)])
def test_sgd_matches_the_rule(xp, momentum, nesterov, wd, dampening):
    lr = 0.05
    got = run(xp, lambda ps: optim.SGD(ps, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=wd,
                                       dampening=dampening), W0)
    w, buf = W0.copy(), None
    for _ in range(STEPS):
        g = grad_of(w) + wd * w
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        w = w - lr * g
    np.testing.assert_allclose(got, w, rtol=1e-12)


@pytest.mark.parametrize("cls, wd", [(optim.Adam, 0.0), (optim.Adam, 1e-2), (optim.AdamW, 1e-2)])
def test_adam_matches_the_rule(xp, cls, wd):
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    got = run(xp, lambda ps: cls(ps, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd), W0)
    w, m, v = W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
    for t in range(1, STEPS + 1):
        g = grad_of(w)
        if cls is optim.AdamW:
            w = w * (1 - lr * wd)
        else:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    np.testing.assert_allclose(got, w, rtol=1e-10)


def test_param_groups_and_skipping(xp):
    a, b, frozen = (Parameter(xp.ones(2)) for _ in range(3))
    frozen.requires_grad = False
    opt = optim.SGD([{"params": [a]}, {"params": [b, frozen], "lr": 0.5}], lr=0.1)
    for p in (a, b, frozen):
        p.grad = xp.ones(2)
    opt.step()
    np.testing.assert_allclose(to_numpy(a.data), 0.9)
    np.testing.assert_allclose(to_numpy(b.data), 0.5)
    np.testing.assert_allclose(to_numpy(frozen.data), 1.0)


def test_optimizer_state_dict_round_trip(xp):
    p = Parameter(xp.asarray(W0.copy()))
    opt = optim.Adam([p], lr=0.1)
    p.grad = xp.asarray(grad_of(W0))
    opt.step()
    q = Parameter(to_numpy(p.data).copy())
    q.data = xp.asarray(q.data)
    opt2 = optim.Adam([q], lr=0.5)
    opt2.load_state_dict(opt.state_dict())
    assert opt2.param_groups[0]["lr"] == 0.1
    for o, param in ((opt, p), (opt2, q)):
        param.grad = xp.asarray(grad_of(to_numpy(param.data)))
        o.step()
    np.testing.assert_allclose(to_numpy(q.data), to_numpy(p.data), rtol=1e-12)


@pytest.mark.parametrize("k, alpha", [(2, 0.5), (3, lambda t: 1.0 / t)])
def test_lookahead_matches_the_rule(xp, k, alpha):
    lr, momentum = 0.05, 0.9
    got = run(xp, lambda ps: optim.Lookahead(optim.SGD(ps, lr=lr, momentum=momentum), k=k, alpha=alpha), W0)
    fast, slow, buf = W0.copy(), W0.copy(), None
    for t in range(1, STEPS + 1):
        g = grad_of(fast)
        buf = g.copy() if buf is None else momentum * buf + g
        fast = fast - lr * buf
        if t % k == 0:
            a = alpha(t) if callable(alpha) else alpha
            slow = slow + a * (fast - slow)
            fast = slow.copy()
    np.testing.assert_allclose(got, fast, rtol=1e-12)
    plain = run(xp, lambda ps: optim.SGD(ps, lr=lr, momentum=momentum), W0)
    assert not np.allclose(got, plain)                          # the averaging changed something


def test_lookahead_state_round_trip_and_frozen_parameters(xp):
    """A Lookahead rebuilt from state_dict (as a resumed run) takes the same steps as the original; a frozen
    parameter is left alone."""
    def make(w):
        p, frozen = Parameter(xp.asarray(w.copy())), Parameter(xp.ones(2))
        frozen.requires_grad = False
        return p, frozen, optim.Lookahead(optim.SGD([p, frozen], lr=0.1, momentum=0.9), k=4, alpha=0.3)

    def steps(p, frozen, opt, n):
        for _ in range(n):
            opt.zero_grad()
            p.grad, frozen.grad = xp.asarray(grad_of(to_numpy(p.data))), xp.ones(2)
            opt.step()

    p, frozen, opt = make(W0)
    steps(p, frozen, opt, 6)                                     # stops between two syncs
    q, _, opt2 = make(to_numpy(p.data))
    opt2.load_state_dict(opt.state_dict())
    assert opt2.param_groups[0]["lookahead_steps"] == 6 and "slow" in opt2.state_dict()["state"][0]
    steps(p, frozen, opt, 5)
    steps(q, frozen, opt2, 5)
    np.testing.assert_allclose(to_numpy(q.data), to_numpy(p.data), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(frozen.data), 1.0)


def test_lookahead_schedule_and_errors():
    alpha = optim.ema_alpha(100, k=5, batch_size=1024, decay=0.95, power=3)
    assert alpha(0) == 1.0                                       # at first the slow weights follow the fast ones
    assert alpha(50) == pytest.approx(1 - 0.95 ** 5 / 8)
    assert alpha(100) == pytest.approx(1 - 0.95 ** 5)
    assert optim.ema_alpha(100, k=5, batch_size=64)(100) == pytest.approx(1 - 0.95 ** (5 * 64 / 1024))
    with pytest.raises(ValueError, match="Lookahead: k must be at least 1, got 0"):
        optim.Lookahead(optim.SGD([Parameter(np.zeros(1))], lr=0.1), k=0)


def lrs(make, steps, base_lr=0.1, **opt_kwargs):
    opt = optim.SGD([Parameter(np.zeros(1))], lr=base_lr, **opt_kwargs)
    sched = make(opt)
    out = [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        sched.step()
        out.append(opt.param_groups[0]["lr"])
    return out, opt


def test_step_and_cosine_schedules():
    got, _ = lrs(lambda o: optim.StepLR(o, step_size=3, gamma=0.5), 7)
    np.testing.assert_allclose(got, [0.1] * 3 + [0.05] * 3 + [0.025] * 2)
    got, _ = lrs(lambda o: optim.CosineAnnealingLR(o, T_max=4, eta_min=0.01), 4)
    np.testing.assert_allclose(got, [0.01 + 0.09 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)])


def test_one_cycle_schedule():
    total = 10
    got, opt = lrs(lambda o: optim.OneCycleLR(o, max_lr=1.0, total_steps=total, pct_start=0.3), total - 1,
                   momentum=0.9)
    cos = lambda a, b, pct: b + (a - b) / 2 * (math.cos(math.pi * pct) + 1)   # noqa: E731
    up_end = 0.3 * total - 1
    expected = [cos(1 / 25, 1.0, t / up_end) if t <= up_end else
                cos(1.0, 1 / 25 / 1e4, (t - up_end) / (total - 1 - up_end)) for t in range(total)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got[-1] == pytest.approx(1 / 25 / 1e4)
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.95)   # momentum cycles back up at the end
    with pytest.raises(ValueError, match="tried to step 11 times"):
        sched = optim.OneCycleLR(opt, max_lr=1.0, total_steps=total)
        for _ in range(total + 1):
            sched.step()


def test_reduce_on_plateau():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=1.0)
    sched = optim.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    history = []
    for metric in [5, 4] + [4] * 12:
        sched.step(metric)
        history.append(opt.param_groups[0]["lr"])
    # 3 epochs without improvement (> patience) halve the rate; the cooldown epoch after a cut does not count
    # as bad; the rate stops at min_lr
    assert history == [1.0] * 4 + [0.5] * 4 + [0.25] * 4 + [0.2] * 2


def test_reduce_on_plateau_max_mode_and_threshold():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=1.0)
    sched = optim.ReduceLROnPlateau(opt, mode="max", factor=0.1, patience=0, threshold=0.1, threshold_mode="abs")
    for metric in [0.5, 0.65, 0.7]:        # +0.15 is an improvement, +0.05 is not (threshold 0.1)
        sched.step(metric)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
