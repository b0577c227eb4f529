"""Lesson 7: backpropagation through conv, pooling and ReLU, derived by hand and checked numerically.

Each layer only needs the gradient of the loss with respect to its output, dY, to produce dX (and its weight
gradients). The derivations are in the comments below; tinycnn.gradcheck then compares each backward with
central differences in float64 and prints the relative errors (CS231n's check, with a random dY).
"""
import argparse
import os

import numpy as np

from tinycnn import gradcheck, nn, viz

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--full", action="store_true", help="check larger layers")
parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
args = parser.parse_args()
rng = np.random.default_rng(0)
size = 8 if args.full else 5

# Convolution, Y[o, i, j] = sum_{c, a, b} W[o, c, a, b] X[c, i + a, j + b] + b[o]:
#   dW[o, c, a, b] = sum_{i, j} dY[o, i, j] X[c, i + a, j + b]   (the input correlated with dY)
#   dX[c, p, q]    = sum_{o, a, b} dY[o, p - a, q - b] W[o, c, a, b]   (dY, padded, with the kernel flipped)
#   db[o]          = sum_{i, j} dY[o, i, j]
# Max pooling, Y = max of a window: the whole dY of a window goes to the input that was the maximum.
# ReLU, Y = max(X, 0): dX = dY where X > 0, else 0.
# Check the worked 1-D case by hand first: y = w * x, loss L = y^2 / 2 at x = 3, w = 2: dL/dw = y * x = 18.
x, w = 3.0, 2.0
y = w * x
print(f"y = {y}, dL/dy = y = {y}, dL/dw = dL/dy * x = {y * x}, dL/dx = dL/dy * w = {y * w}")
assert (y * x, y * w) == (18.0, 12.0)

errors = {}
for name, layer, shape in [
        ("Conv2d 3x3", nn.Conv2d(2, 3, 3, padding=1), (2, 2, size, size)),
        ("Conv2d stride 2", nn.Conv2d(2, 3, 3, stride=2), (2, 2, size + 2, size + 2)),
        ("MaxPool2d 2x2", nn.MaxPool2d(2), (2, 3, size + 1, size + 1)),
        ("ReLU", nn.ReLU(), (2, 3, size, size)),
        ("conv -> relu -> pool", nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
         (2, 2, size + 1, size + 1))]:
    report = gradcheck(layer, rng.standard_normal(shape))
    print(report)
    assert report.ok
    errors[name] = report.max_error

fig = viz.plot_bars(list(errors), list(errors.values()), os.path.join(args.out, "07_gradcheck.png"),
                    title="largest relative error of each backward", log=True, xlabel="relative error (log scale)",
                    xlim=(1e-13, 1e-3), line=(1e-6, "gradcheck's tolerance 1e-6"), fmt="{:.1e}")
print(f"figure: {args.out}/07_gradcheck.png")
