"""Lesson 1: cross-correlation, by hand and as a layer.

A convolutional layer slides a kernel over its input and, at each position, sums the elementwise products:
that is cross-correlation (deep learning calls it convolution). Worked example from Dive into Deep Learning,
section 7.2: the 3x3 input 0..8 with the 2x2 kernel 0..3 gives [[19, 25], [37, 43]]. Then, as in D2L 7.2.3-4,
a kernel that detects vertical edges is learned back from an image and its edge map.
"""
import argparse
import os

import numpy as np

from tinycnn import nn, optim, viz


def corr2d(X, K):
    """Y[i, j] = sum over the window at (i, j) of X * K: the definition, with two loops."""
    h, w = K.shape
    Y = np.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--full", action="store_true", help="train the kernel for longer")
parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
args = parser.parse_args()

X, K = np.arange(9.0).reshape(3, 3), np.arange(4.0).reshape(2, 2)
Y = corr2d(X, K)
print("X =\n", X, "\nK =\n", K, "\ncorr2d(X, K) =\n", Y)
assert Y.tolist() == [[19, 25], [37, 43]]           # 0*0 + 1*1 + 3*2 + 4*3 = 19, ...

conv = nn.Conv2d(1, 1, kernel_size=2, bias=False)   # the same operation as a layer: (N, C, H, W) in and out
conv.weight.data[0, 0] = K
Y_layer = conv(X[None, None].astype(np.float32))
print("nn.Conv2d gives the same:\n", Y_layer[0, 0])
assert np.array_equal(Y_layer[0, 0], Y)

# An image that is white (1) with a black (0) band, and the kernel [1, -1]: +1 where white turns black,
# -1 where black turns white, 0 elsewhere: a vertical-edge detector.
image = np.ones((6, 8))
image[:, 2:6] = 0
edges = corr2d(image, np.array([[1.0, -1.0]]))
print("edge map of the image:\n", edges)

# Learn the kernel back from (image, edges) by gradient descent on the squared error.
learner = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)
opt, loss_fn = optim.SGD(learner.parameters(), lr=0.03), nn.MSELoss(reduction="sum")
x, target = image[None, None].astype(np.float32), edges[None, None].astype(np.float32)
steps = 200 if args.full else 30
for step in range(steps):
    loss = loss_fn(learner(x), target)
    opt.zero_grad()
    learner.backward(loss_fn.backward())
    opt.step()
    if step % 10 == 9:
        print(f"step {step + 1}: loss {loss:.4f}")
learned = learner.weight.data[0, 0]
print("learned kernel:", learned.round(3), "(the true one is [[1, -1]])")
assert np.allclose(learned, [[1, -1]], atol=0.1)

fig = viz.plot_images([image, edges, learned], ["image", "edges = corr2d(image, [1, -1])", "learned kernel"],
                      os.path.join(args.out, "01_edges.png"))
print(f"figure: {args.out}/01_edges.png")
