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



def test_newton_schulz_classical_coefficients_give_the_polar_factor(xp):
    """With (1.5, -0.5, 0) the iteration converges to U V^T of D = U S V^T, wide or tall."""
    rng = np.random.default_rng(3)
    for shape in [(5, 8), (8, 5)]:
        D = rng.standard_normal(shape)
        U, _, Vt = np.linalg.svd(D, full_matrices=False)
        got = optim.newton_schulz(xp.asarray(D), steps=60, coefficients=(1.5, -0.5, 0.0))
        np.testing.assert_allclose(to_numpy(got), U @ Vt, atol=1e-10)


def test_newton_schulz_muon_coefficients_keep_directions_and_bound_the_values(xp):
    """Muon's quintic keeps D's singular vectors and puts singular values spread over a factor 100 in
    [0.68, 1.21] after 5 steps (its docstring's claim); a plain normalisation would leave them 100x apart."""
    rng = np.random.default_rng(4)
    for shape in [(16, 40), (40, 16)]:
        U, _, Vt = np.linalg.svd(rng.standard_normal(shape), full_matrices=False)
        S = np.logspace(0, -2, min(shape))
        O = to_numpy(optim.newton_schulz(xp.asarray((U * S) @ Vt), steps=5))
        inner = U.T @ O @ Vt.T                                 # diagonal when the singular vectors are kept
        np.testing.assert_allclose(inner - np.diag(np.diag(inner)), 0.0, atol=1e-10)
        assert 0.68 <= np.diag(inner).min() and np.diag(inner).max() <= 1.21
        # float32 (as in training) agrees with float64 to float32's rounding (1.2e-7) times the most that 5 steps
        # can amplify an error (the slope at 0, 3.4445^5 ~ 480), even with singular values 1e-4 apart
        D = (U * np.logspace(0, -4, min(shape))) @ Vt
        O64 = to_numpy(optim.newton_schulz(xp.asarray(D), steps=5))
        O32 = to_numpy(optim.newton_schulz(xp.asarray(D.astype(np.float32)), steps=5))
        assert O32.dtype == np.float32 and np.abs(O32 - O64).max() <= 1.2e-7 * 480 * np.abs(O64).max()


@pytest.mark.parametrize("shape, kwargs", [
    ((3, 8), dict(momentum=0.95, nesterov=True, weight_decay=0.1)),
    ((4, 2, 3, 3), dict(momentum=0.6, nesterov=True, weight_decay=0.0, normalize=True)),
    ((6, 2), dict(momentum=0.9, nesterov=False, weight_decay=0.05)),                     # tall: adjusted
    ((3, 8), dict(momentum=0.0, nesterov=False, weight_decay=0.0, adjust_lr_fn="match_rms_adamw")),
], ids=["nesterov", "conv normalized", "tall", "no momentum, rms"])
def test_muon_matches_the_rule(xp, shape, kwargs):
    lr = 0.02
    w0 = np.random.default_rng(5).standard_normal(shape)
    got = run(xp, lambda ps: optim.Muon(ps, lr=lr, **kwargs), w0)
    mu, wd = kwargs["momentum"], kwargs["weight_decay"]
    rows, cols = shape[0], w0.size // shape[0]
    adjust = 0.2 * math.sqrt(max(rows, cols)) if kwargs.get("adjust_lr_fn") else math.sqrt(max(1, rows / cols))
    w, buf = w0.copy(), np.zeros_like(w0)
    for _ in range(STEPS):
        g = grad_of(w)
        buf = mu * buf + g
        d = g + mu * buf if kwargs["nesterov"] else buf
        O = optim.newton_schulz(d.reshape(rows, cols)).reshape(shape)
        if kwargs.get("normalize"):
            w = w * math.sqrt(rows) / np.linalg.norm(w)
        w = w * (1 - lr * wd) - lr * adjust * O
    np.testing.assert_allclose(got, w, rtol=1e-10, atol=1e-12)
    if kwargs.get("normalize"):                                   # the norm before the last step, plus one step
        assert abs(np.linalg.norm(got) - math.sqrt(rows)) < lr * adjust * np.linalg.norm(O) * 1.01


def test_muon_groups_without_muon_take_sgd_steps(xp):
    """One Muon optimizer for a whole model: a use_muon=False group steps exactly as SGD with its keys."""
    rng = np.random.default_rng(6)
    matrix, bias = rng.standard_normal((4, 6)), rng.standard_normal(4)
    sgd_kwargs = dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)
    w = Parameter(xp.asarray(matrix.copy()))
    b_muon, b_sgd = Parameter(xp.asarray(bias.copy())), Parameter(xp.asarray(bias.copy()))
    muon = optim.Muon([{"params": [w]}, {"params": [b_muon], "use_muon": False, **sgd_kwargs}], lr=0.02)
    sgd = optim.SGD([b_sgd], **sgd_kwargs)
    for _ in range(STEPS):
        for p in (w, b_muon, b_sgd):
            p.grad = xp.asarray(grad_of(to_numpy(p.data)))
        muon.step()
        sgd.step()
    np.testing.assert_allclose(to_numpy(b_muon.data), to_numpy(b_sgd.data), rtol=1e-12)
    assert not np.allclose(to_numpy(w.data), matrix)


def test_muon_errors_name_the_parameter():
    bias = Parameter(np.zeros(3))
    with pytest.raises(ValueError, match=r"Muon: parameter 1 has shape \(3,\).*use_muon=False"):
        optim.Muon([Parameter(np.zeros((2, 3))), bias])
    with pytest.raises(ValueError, match="adjust_lr_fn must be None, 'original' or 'match_rms_adamw', got 'x'"):
        optim.Muon([Parameter(np.zeros((2, 3)))], adjust_lr_fn="x")
    with pytest.raises(ValueError, match="ns_steps must be a whole number from 1 to 99, got 0"):
        optim.Muon([{"params": [Parameter(np.zeros((2, 3)))], "ns_steps": 0}])


def test_muon_state_dict_round_trip(xp):
    """A Muon rebuilt from state_dict (a resumed run) continues with the same momentum buffer."""
    w0 = np.random.default_rng(7).standard_normal((3, 5))
    p = Parameter(xp.asarray(w0.copy()))
    opt = optim.Muon([p], lr=0.02, momentum=0.9)
    for _ in range(2):
        p.grad = xp.asarray(grad_of(to_numpy(p.data)))
        opt.step()
    q = Parameter(xp.asarray(to_numpy(p.data).copy()))
    opt2 = optim.Muon([q], lr=0.5, momentum=0.1).load_state_dict(opt.state_dict())
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



def test_one_cycle_per_group_values():
    """max_lr, base_momentum and max_momentum take one value per group; a list of the wrong length is an error."""
    groups = [{"params": [Parameter(np.zeros(1))]}, {"params": [Parameter(np.zeros(1))]}]
    opt = optim.SGD(groups, lr=0.1, momentum=0.9)
    sched = optim.OneCycleLR(opt, max_lr=[1.0, 0.5], total_steps=10, base_momentum=[0.85, 0.6],
                             max_momentum=[0.95, 0.6])
    for _ in range(3):
        sched.step()
    assert opt.param_groups[0]["momentum"] < 0.95 and opt.param_groups[1]["momentum"] == pytest.approx(0.6)
    assert opt.param_groups[1]["lr"] == pytest.approx(opt.param_groups[0]["lr"] / 2)
    with pytest.raises(ValueError, match="OneCycleLR: base_momentum has 3 values for 2 parameter groups"):
        optim.OneCycleLR(opt, max_lr=1.0, total_steps=10, base_momentum=[0.8, 0.8, 0.8])
