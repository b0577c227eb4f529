"""Muon: momentum SGD whose step for a weight matrix is orthogonalised (K. Jordan et al. 2024, "Muon: an
optimizer for hidden layers in neural networks"; airbench94_muon trains its convolutions with it). PyTorch's
``torch.optim.Muon`` has the same rule, names and defaults for 2-d parameters.

For a weight W with gradient G, a convolution's (C_out, C_in, KH, KW) read as the matrix (C_out, C_in*KH*KW):

    B = momentum * B + G                       (B starts at 0)
    D = G + momentum * B  if nesterov else B
    O = NS(D) ~ U V^T, where D = U S V^T is D's singular value decomposition
    W = W * (1 - lr * weight_decay)            (decoupled weight decay)
    W = W - lr * adjust * O

The raw momentum D is dominated by a few directions (a few large singular values); O keeps D's singular vectors
but sets every singular value to about 1, so the rare directions of the layer's map move as fast as the common
ones. ``adjust`` is 1 for a matrix at least as wide as it is tall (every convolution here) and sqrt(rows/cols)
for a tall one ('original'), or 0.2 sqrt(max(rows, cols)) ('match_rms_adamw': the step's size of AdamW's).

Parameters that are not matrices (biases, batch norm) and, by choice, others (a classifier's weights) go in
groups with ``use_muon=False``: those take SGD's step with the same lr, momentum, nesterov and (coupled L2)
weight_decay keys, so one optimizer trains the whole model.

``normalize=True`` (airbench94_muon) first rescales W to Frobenius norm sqrt(rows). Batch norm after a
convolution makes the loss blind to W's scale, and then only W's direction matters: with its norm held fixed,
lr sets how fast the direction turns, whatever the steps have added to the norm so far.
"""
import math
from functools import partial

from .. import parallel
from ..backend import get_array_module
from .optimizer import Optimizer
from .sgd import SGD

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def newton_schulz(D, steps=5, coefficients=NS_COEFFICIENTS, eps=1e-7):
    """About U V^T for D = U S V^T (a matrix), by iterating an odd polynomial of X on its singular values.

    X = D / ||D||_F puts every singular value in [0, 1]. Each step, with A = X X^T,

        X = a X + (b A + c A A) X     maps each singular value s to  a s + b s^3 + c s^5

    and leaves the singular vectors alone. Muon's (a, b, c) = (3.4445, -4.7750, 2.0315) make the slope at 0
    steep (3.4), so small singular values grow fast; the price is that they settle near 1 rather than at 1
    (after 5 steps, measured on random matrices: those within a factor 100 of the largest end between 0.68
    and 1.21; one 10^4 times smaller still only at 0.01-0.05), which trains as well. (1.5, -0.5, 0) is the
    classical iteration, slow but converging to exactly U V^T. Works on the wide side: a tall D is transposed
    first, so that A is the smaller Gram matrix.

    (Iterating on the (m, m) matrices alone, X = Q X_0 with Q a polynomial in X_0 X_0^T, would halve the work,
    but is not self-correcting: measured, its float32 result after 5 steps was 10 to 300 times further from
    float64's than this loop's, and after 20 to 40 classical steps it drifts away where this loop converges.)"""
    xp = get_array_module(D)
    a, b, c = coefficients
    tall = D.shape[0] > D.shape[1]
    X = D.T if tall else D
    X = X / max(float(xp.linalg.norm(X)), eps)
    for _ in range(steps):
        A = X @ X.T                                                  # (rows, rows)
        X = a * X + (b * A + c * (A @ A)) @ X
    return X.T if tall else X


class Muon(SGD):
    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=NS_COEFFICIENTS, eps=1e-7, ns_steps=5, adjust_lr_fn=None, normalize=False):
        Optimizer.__init__(self, params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, dampening=0.0,
                                              nesterov=nesterov, ns_coefficients=tuple(ns_coefficients), eps=eps,
                                              ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn, normalize=normalize,
                                              use_muon=True))
        index = 0
        for group in self.param_groups:
            if group["adjust_lr_fn"] not in (None, "original", "match_rms_adamw"):
                raise ValueError(f"Muon: adjust_lr_fn must be None, 'original' or 'match_rms_adamw', "
                                 f"got {group['adjust_lr_fn']!r}")
            if not (isinstance(group["ns_steps"], int) and 0 < group["ns_steps"] < 100):
                raise ValueError(f"Muon: ns_steps must be a whole number from 1 to 99, got {group['ns_steps']!r}")
            for p in group["params"]:
                if group["use_muon"] and p.data.ndim < 2:
                    raise ValueError(f"Muon: parameter {index} has shape {tuple(p.data.shape)}; Muon's steps need "
                                     f"a matrix (2 or more dimensions): put it in a group with use_muon=False")
                index += 1

    def step(self):
        muon = []
        for group, p in self._params():
            if group["use_muon"]:
                muon.append((group, p, self._momentum(group, p, p.grad)))    # buf = momentum * buf + G (from 0)
            else:
                self._sgd_step(group, p)
        if not muon:
            return
        # the orthogonalisations are independent: one task per parameter on the cores (tinycnn/parallel.py)
        tasks = [partial(self._orthogonalize, group, D) for group, _, D in muon]
        for (group, p, _), O in zip(muon, parallel.run(tasks, get_array_module(muon[0][2]))):
            self._muon_step(group, p, O)

    @staticmethod
    def _orthogonalize(group, D):
        return newton_schulz(D.reshape(len(D), -1), group["ns_steps"], group["ns_coefficients"], group["eps"])

    def _muon_step(self, group, p, O):
        W = p.data
        rows, cols = W.shape[0], W.size // W.shape[0]
        if group["adjust_lr_fn"] == "match_rms_adamw":
            adjust = 0.2 * math.sqrt(max(rows, cols))
        else:
            adjust = math.sqrt(max(1.0, rows / cols))
        if group["normalize"]:
            # ||W||_F = sqrt(rows). Summed element-wise, not by linalg.norm: its BLAS call here, outside the
            # parallel sections, wakes OpenBLAS's threads, which then spin on the core that the other
            # training process needs (measured beside another run: 100 fastnet steps on two processes took
            # 56.0 s with it, 48.8 s without)
            W *= math.sqrt(rows) / math.sqrt(float((W * W).sum()))
        if group["weight_decay"]:
            W *= 1 - group["lr"] * group["weight_decay"]                # decoupled decay
        W -= (group["lr"] * adjust) * O.reshape(W.shape)                 # W = W - lr * adjust * NS(D)
