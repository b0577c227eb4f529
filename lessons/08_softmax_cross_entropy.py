"""Lesson 8: softmax and cross-entropy, and why their gradient is so simple.

Softmax turns scores z into probabilities p_k = exp(z_k) / sum_j exp(z_j); cross-entropy of the true class y
is -log p_y. The usual lecture example: classes elephant, tiger, lion, whale, predicted [0.05, 0.15, 0.75,
0.05], truth lion: loss -log 0.75 = 0.288. Together their gradient is p - onehot(y). Subtracting max(z) before
exp keeps the computation finite for any logits.
"""
import argparse
import os

import numpy as np

from tinycnn import gradcheck, nn, viz
from tinycnn.functional import softmax

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--full", action="store_true", help="(nothing longer to run in this lesson)")
parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
args = parser.parse_args()

classes = ["elephant", "tiger", "lion", "whale"]
p = np.array([[0.05, 0.15, 0.75, 0.05]])
loss_fn = nn.CrossEntropyLoss()
loss = loss_fn(np.log(p), np.array([2]))             # logits whose softmax is p
print("predicted", ", ".join(f"{c} {q:.2f}" for c, q in zip(classes, p[0])), f"; truth lion: loss = -log 0.75 = {loss:.3f}")
assert round(loss, 3) == 0.288
grad = loss_fn.backward()
print("gradient dL/dz = softmax(z) - onehot:", grad.round(3))
assert np.allclose(grad, p - np.eye(4)[2])

# Stability: logits of 1000 overflow exp() in float64, but not the shifted computation.
big = np.array([[1000.0, 999.0, 0.0]])
with np.errstate(over="ignore", invalid="ignore"):
    naive = np.exp(big) / np.exp(big).sum()
print("naive softmax of [1000, 999, 0]:", naive, " stable:", softmax(big).round(4))
assert np.isnan(naive).any() and np.isfinite(softmax(big)).all()

# Label smoothing mixes the target with the uniform distribution: q = 0.9 onehot + 0.1 / 4.
smooth = nn.CrossEntropyLoss(label_smoothing=0.1)
print(f"with label smoothing 0.1: loss {smooth(np.log(p), np.array([2])):.3f}, gradient {smooth.backward().round(3)}")
assert gradcheck(nn.CrossEntropyLoss(label_smoothing=0.1), np.random.default_rng(0).standard_normal((4, 4)),
                 target=np.array([0, 1, 2, 3])).ok

viz.plot_bars(classes, p[0], os.path.join(args.out, "08_softmax.png"), title="predicted probabilities (truth: lion)")
print(f"figure: {args.out}/08_softmax.png")
