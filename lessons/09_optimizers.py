"""Lesson 9: SGD, momentum, Adam and Muon, step by step and on one CNN.

Adam keeps running averages of the gradient (m) and of its square (v), corrects their bias towards zero in the
first steps (divide by 1 - beta^t), and steps by lr * m_hat / (sqrt(v_hat) + eps) (Kingma & Ba 2015). The first
steps are printed for f(w) = w^2 from w = 1.

Muon (Jordan et al. 2024) treats a layer's weights as a matrix: it replaces the momentum D = U S V^T by about
U V^T, the same directions with every singular value set near 1, found by a few Newton-Schulz steps
X = a X + (b X X^T + c (X X^T)^2) X that need only matrix products. That is worked through on a 2x2 matrix;
then the four optimizers train the same small CNN.
"""
import argparse
import os

import numpy as np

import tinycnn
from tinycnn import nn, optim, viz

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--full", action="store_true", help="train longer")
parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
args = parser.parse_args()

# Adam by hand on f(w) = w^2 (gradient 2w), against optim.Adam.
lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
w, m, v = 1.0, 0.0, 0.0
p = nn.Parameter(np.array([1.0]))
adam = optim.Adam([p], lr=lr, betas=(b1, b2), eps=eps)
print(" t      g        m        v      m_hat    v_hat      w")
for t in range(1, 4):
    g = 2 * w
    m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
    m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
    w -= lr * m_hat / (np.sqrt(v_hat) + eps)
    print(f"{t:2d} {g:8.4f} {m:8.4f} {v:8.5f} {m_hat:8.4f} {v_hat:8.4f} {w:8.4f}")
    p.grad = 2 * p.data
    adam.step()
    assert np.isclose(p.data[0], w)
    if t == 1:
        first_step = 1.0 - w
print(f"thanks to bias correction the first step is lr * g / |g|: {first_step:.4f} (lr = {lr})")
assert np.isclose(first_step, lr)

# Muon's orthogonalisation on one matrix. D's singular values are 3 times apart; NS(D) keeps D's singular vectors
# and brings both near 1 (Muon's coefficients aim for speed, not exactly 1); the classical coefficients
# (1.5, -0.5, 0), given enough steps, reach U V^T itself.
D = np.array([[3.0, 0.0], [4.0, 5.0]])
U, S, Vt = np.linalg.svd(D)
O = optim.newton_schulz(D, steps=5)
print(f"singular values of D: {S.round(4)}; of D / ||D||_F: {(S / np.linalg.norm(D)).round(4)}")
print(f"after 5 Newton-Schulz steps: {np.linalg.svd(O, compute_uv=False).round(4)}")
print(f"U V^T = {(U @ Vt).round(4).tolist()}; 30 classical steps: "
      f"{optim.newton_schulz(D, 30, (1.5, -0.5, 0.0)).round(4).tolist()}")
assert np.allclose(optim.newton_schulz(D, 30, (1.5, -0.5, 0.0)), U @ Vt)
assert np.allclose(U.T @ O @ Vt.T, np.diag(np.diag(U.T @ O @ Vt.T)))       # the same singular vectors


def muon(params):
    """Muon for the convolution's filters (read as an 8 x 9 matrix), SGD with momentum for the rest."""
    filters = [p for p in params if p.data.ndim == 4]
    rest = [p for p in params if p.data.ndim != 4]
    return optim.Muon([{"params": filters}, {"params": rest, "use_muon": False, "lr": 0.05}], lr=0.05,
                      momentum=0.9, weight_decay=0.0)


# The same CNN, data and start, four optimizers.
rng = np.random.default_rng(0)
x = rng.standard_normal((256, 1, 8, 8)).astype(np.float32)
y = (x[:, 0, :4].mean(axis=(1, 2)) > x[:, 0, 4:].mean(axis=(1, 2))).astype(np.int64)   # is the top half brighter?
steps = 150 if args.full else 40
curves = {}
for name, make in [("SGD", lambda ps: optim.SGD(ps, lr=0.05)),
                   ("SGD + momentum 0.9", lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9)),
                   ("Adam", lambda ps: optim.Adam(ps, lr=0.003)),
                   ("Muon + SGD", muon)]:
    tinycnn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(128, 2))
    opt, loss_fn = make(list(model.parameters())), nn.CrossEntropyLoss()
    losses = []
    for step in range(steps):
        idx = rng.integers(0, 256, 32)
        losses.append(loss_fn(model(x[idx]), y[idx]))
        opt.zero_grad()
        model.backward(loss_fn.backward())
        opt.step()
    curves[name] = losses
    print(f"{name:>20}: loss {np.mean(losses[:5]):.3f} -> {np.mean(losses[-5:]):.3f}")
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
assert np.mean(curves["Adam"][-5:]) < np.mean(curves["SGD"][-5:])

viz.plot_series(curves, os.path.join(args.out, "09_optimizers.png"), xlabel="step", ylabel="training loss")
print(f"figure: {args.out}/09_optimizers.png")
