"""Lesson 10: batch normalization.

In training, each channel is normalised with the batch's mean and variance, then scaled and shifted by learned
gamma and beta: y = gamma * (x - mean) / sqrt(var + eps) + beta (Ioffe & Szegedy 2015). Running averages of
the statistics replace them in eval mode. A small deep net is trained with and without it.
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

x = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [6.0, 60.0]])     # 4 samples, 2 features
bn = nn.BatchNorm1d(2).to(np.float64)
y = bn(x)
mean, var = x.mean(axis=0), x.var(axis=0)
print("batch mean", mean, "variance", var)
print("normalised (gamma 1, beta 0):\n", y.round(4))
assert np.allclose(y, (x - mean) / np.sqrt(var + 1e-5))
print("running mean after one batch (momentum 0.1):", bn.running_mean, " running var:", bn.running_var.round(3))
assert np.allclose(bn.running_mean, 0.1 * mean) and np.allclose(bn.running_var, 0.9 + 0.1 * var * 4 / 3)
bn.eval()
print("eval mode uses the running statistics:", bn(x[:1]).round(3))
assert np.allclose(bn(x[:1]), (x[:1] - bn.running_mean) / np.sqrt(bn.running_var + 1e-5))

# A deep plain net with and without batch norm, same data, start and learning rate.
rng = np.random.default_rng(0)
data_x = rng.standard_normal((512, 3, 8, 8)).astype(np.float32)
data_y = (data_x[:, 0].mean(axis=(1, 2)) > data_x[:, 1].mean(axis=(1, 2))).astype(np.int64)
steps, curves = (200 if args.full else 60), {}
for use_bn in (False, True):
    tinycnn.manual_seed(0)
    layers, c = [], 3
    for _ in range(6):
        layers += [nn.Conv2d(c, 16, 3, padding=1), nn.BatchNorm2d(16) if use_bn else nn.Identity(), nn.Sigmoid()]
        c = 16
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 2))
    opt, loss_fn = optim.SGD(model.parameters(), lr=0.5, momentum=0.9), nn.CrossEntropyLoss()
    losses = []
    for _ in range(steps):
        idx = rng.integers(0, 512, 64)
        losses.append(loss_fn(model(data_x[idx]), data_y[idx]))
        opt.zero_grad()
        model.backward(loss_fn.backward())
        opt.step()
    name = "with batch norm" if use_bn else "without"
    curves[name] = losses
    print(f"6 sigmoid conv layers {name:>15}: loss {np.mean(losses[:5]):.3f} -> {np.mean(losses[-10:]):.3f}")
assert np.mean(curves["with batch norm"][-10:]) < np.mean(curves["without"][-10:])

viz.plot_series(curves, os.path.join(args.out, "10_batch_norm.png"), ylabel="training loss",
                title="a deep sigmoid net, with and without batch norm")
print(f"figure: {args.out}/10_batch_norm.png")
