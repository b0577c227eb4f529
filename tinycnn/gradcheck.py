"""Gradient checking: is a backward pass the derivative of its forward?

For a random upstream gradient dy (never all ones: an all-ones dy cannot see, for example, a batch-norm backward
that forgets the mean's dependence on x) the scalar L = sum(forward(x) * dy) has gradient backward(dy). Each
element of the input and of every parameter is nudged by +-eps in float64 and the central difference
(L(+eps) - L(-eps)) / 2 eps is compared with the analytic gradient:

    error = max |analytic - numeric| / max(max |analytic|, max |numeric|, floor)

Float64 central differences with eps = 1e-6 are accurate to about 1e-9 of the gradient's scale, so a correct
backward stays far below the default tolerance 1e-6 and a wrong one is far above it. The floor (1e-3) keeps a
gradient that is truly zero, such as a conv bias followed by batch norm, from comparing rounding noise with
rounding noise: below it, errors are measured absolutely. Keep inputs away from
kinks (ReLU at 0, ties in max pooling), where the derivative does not exist.
"""
import copy

import numpy as np

from .backend import get_array_module, to_numpy


class GradcheckReport:
    """One row per checked array: name, shape, relative error, and whether it passed."""

    def __init__(self, title, rows, tol):
        self.title, self.rows, self.tol = title, rows, tol

    @property
    def ok(self):
        return all(err <= self.tol for _, _, err in self.rows)

    @property
    def max_error(self):
        return max(err for _, _, err in self.rows)

    def errors(self):
        return {name: err for name, _, err in self.rows}

    def __str__(self):
        lines = [f"gradcheck {self.title}: {'ok' if self.ok else 'FAILED'} (tolerance {self.tol:.0e})"]
        for name, shape, err in self.rows:
            mark = "ok" if err <= self.tol else "FAIL"
            lines.append(f"  {name:<24} {str(shape):<20} rel. error {err:.2e}  {mark}")
        return "\n".join(lines)

    __repr__ = __str__


def relative_error(analytic, numeric, floor=1e-3):
    """max |a - n| / max(max |a|, max |n|, floor)."""
    a, n = to_numpy(analytic).astype(np.float64), to_numpy(numeric).astype(np.float64)
    scale = max(np.abs(a).max(initial=0.0), np.abs(n).max(initial=0.0), floor)
    return float(np.abs(a - n).max(initial=0.0) / scale)


def gradcheck(module, x, target=None, eps=1e-6, tol=1e-6, seed=0, check_params=True):
    """Check the backward of ``module`` at input ``x`` (a copy of both is made, in float64).

    module: a Module (layer, container, model), a loss (then pass ``target``), or a pair of functions
        ``(forward, backward)`` with ``forward(x) -> y`` and ``backward(dy) -> dx``.
    Random layers (Dropout) are checked with the same random draws in every forward: the generator is reseeded
    with ``seed`` before each one (and restored afterwards).
    Returns a GradcheckReport; ``report.ok`` says whether every error is within ``tol``.
    """
    xp = get_array_module(x)
    x = x.astype(np.float64, copy=True)
    is_pair = isinstance(module, tuple)
    if is_pair:
        forward, backward = module
        params, title = [], getattr(forward, "__name__", "function")
    else:
        module = copy.deepcopy(module).to(np.float64)
        forward = (lambda v: module(v, target)) if target is not None else module
        backward = module.backward
        params = list(module.named_parameters()) if check_params else []
        title = module._short() if not module.children() else type(module).__name__
    saved_rng = np.random.get_state()

    def run(v):
        np.random.seed(seed)
        if xp is not np:
            xp.random.seed(seed)
        return forward(v)

    try:
        y = run(x)
        rng = np.random.default_rng(seed + 1)
        if target is not None:                         # a loss: L = dy * loss, dy a random scalar
            dy = float(rng.uniform(0.5, 1.5))
            objective = lambda v: run(v) * dy                       # noqa: E731
        else:
            dy = xp.asarray(rng.standard_normal(y.shape))
            objective = lambda v: float((run(v) * dy).sum())        # noqa: E731
        if not is_pair:
            module.zero_grad()
        dx = backward(dy)
        if tuple(dx.shape) != tuple(x.shape):
            raise ValueError(f"gradcheck {title}: backward returned dx of shape {tuple(dx.shape)} for input "
                             f"{tuple(x.shape)}")
        rows = [("input", tuple(x.shape), relative_error(dx, numeric_gradient(objective, x, eps)))]
        for name, p in params:
            if not p.requires_grad:
                continue
            analytic = p.grad if p.grad is not None else xp.zeros_like(p.data)
            numeric = numeric_gradient(lambda _: objective(x), p.data, eps)
            rows.append((name, tuple(p.shape), relative_error(analytic, numeric)))
    finally:
        np.random.set_state(saved_rng)
    return GradcheckReport(title, rows, tol)


def numeric_gradient(f, a, eps=1e-6):
    """Central differences of the scalar function f with respect to every element of array a (in place)."""
    xp = get_array_module(a)
    grad = xp.zeros(a.shape, dtype=np.float64)
    flat, gflat = a.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = float(flat[i])
        flat[i] = old + eps
        plus = f(a)
        flat[i] = old - eps
        minus = f(a)
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad
