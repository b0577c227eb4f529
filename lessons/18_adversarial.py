"""Lesson 18: adversarial examples with the fast gradient sign method.

Goodfellow et al. (2015): moving every pixel by eps in the direction that increases the loss,
x_adv = x + eps * sign(dL/dx), changes an image imperceptibly and its prediction often. dL/dx is exactly what
``model.backward`` returns. Accuracy falls as eps grows.
"""
import os

import numpy as np

import tinycnn
from tinycnn import data, models, nn, optim, viz
from course import arguments, cifar10, fit, subset

args = arguments(__doc__, "train longer, attack more images")
cifar = cifar10()
x, y = subset(cifar.x_train, cifar.y_train, 20000 if args.full else 6000)
mean, std = data.channel_stats(x)
tinycnn.manual_seed(0)
model = models.lenet5(in_channels=3, modern=True)
fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=2e-3), x, y, 8 if args.full else 4, mean, std)
model.eval()

x_test, y_test = subset(cifar.x_test, cifar.y_test, 2000 if args.full else 500, seed=1)
x_norm = data.normalize(x_test, mean, std)
loss_fn = nn.CrossEntropyLoss()
loss_fn(model(x_norm), y_test)
grad = model.backward(loss_fn.backward())                     # dL/dx for every test image
scale = np.asarray(std, dtype=np.float32).reshape(1, 3, 1, 1)  # eps in pixel units of [0, 1]
accuracies = {}
for eps in [0.0, 0.002, 0.005, 0.01, 0.02, 0.05]:
    x_adv = x_norm + eps / scale * np.sign(grad)
    accuracies[eps] = float((model(x_adv).argmax(axis=1) == y_test).mean())
    print(f"eps {eps:5.3f} ({eps * 255:4.1f} of 255 grey levels): accuracy {accuracies[eps]:.3f}")
assert accuracies[0.02] < accuracies[0.0] - 0.15

eps = 0.02
shown = [int(np.flatnonzero(y_test == c)[0]) for c in range(6)]        # one image of each of 6 classes
adv = np.clip(x_test[shown] / 255 + eps * np.sign(grad[shown]), 0, 1)
before = model(x_norm[shown]).argmax(axis=1)
after = model(x_norm[shown] + eps / scale * np.sign(grad[shown])).argmax(axis=1)
panel = np.concatenate([x_test[shown] / 255, adv])
titles = [f"{cifar.classes[p]}" for p in before] + [f"eps {eps}: {cifar.classes[p]}" for p in after]
viz.plot_image_grid(panel, titles, os.path.join(args.out, "18_adversarial.png"), cols=6,
                    suptitle="top: original and prediction; bottom: FGSM image and prediction")
viz.plot_series({"accuracy": list(accuracies.values())}, os.path.join(args.out, "18_accuracy_vs_eps.png"),
                xlabel="eps index " + str(list(accuracies)), ylabel="test accuracy")
print(f"figures: {args.out}/18_adversarial.png, 18_accuracy_vs_eps.png")
