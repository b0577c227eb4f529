"""Lesson 6: LeNet-5 on real images, and the lecture's binary LeNet with a sigmoid output.

LeNet-5 (LeCun et al. 1998): two 5x5 convolutions with 6 and 16 maps, each followed by 2x2 pooling, then fully
connected layers of 120 and 84 units. Here it learns CIFAR-10's ten classes from a few thousand images, and then,
with three input channels and one sigmoid output trained with binary cross-entropy, vehicles against animals.
"""
import os

import numpy as np

import tinycnn
from tinycnn import data, models, nn, optim, viz
from tinycnn.train import evaluate
from course import arguments, cifar10, fit, subset

args = arguments(__doc__, "more images and epochs")
cifar = cifar10()
n, epochs = (20000, 10) if args.full else (4000, 3)
x, y = subset(cifar.x_train, cifar.y_train, n)
x_test, y_test = subset(cifar.x_test, cifar.y_test, 2000, seed=1)
mean, std = data.channel_stats(x)

tinycnn.manual_seed(0)
net = models.lenet5(in_channels=3, modern=True)
print(net)
fit(net, nn.CrossEntropyLoss(), optim.Adam(net.parameters(), lr=2e-3), x, y, epochs, mean, std)
acc = evaluate(net, data.DataLoader(x_test, y_test, 500, mean=mean, std=std))["acc"]
print(f"LeNet-5 (ReLU, max pool) on {n} CIFAR-10 images, {epochs} epochs: test accuracy {acc:.3f} (chance 0.1)")
assert acc > 0.25

VEHICLES = [0, 1, 8, 9]                                     # airplane, automobile, ship, truck
is_vehicle = np.isin(y, VEHICLES).astype(np.float32)[:, None]
tinycnn.manual_seed(0)
binary = models.lenet5(in_channels=3, num_classes=1)       # classic: sigmoid activations, average pooling
loss_fn = nn.BCEWithLogitsLoss()                            # the sigmoid of the output is inside the loss
loader = data.DataLoader(x, np.arange(len(x)), 64, shuffle=True, mean=mean, std=std)
opt = optim.Adam(binary.parameters(), lr=3e-3)
for epoch in range(epochs):
    for xb, idx in loader:
        loss_fn(binary(xb), is_vehicle[idx])
        opt.zero_grad()
        binary.backward(loss_fn.backward())
        opt.step()
binary.eval()
x_eval = data.normalize(x_test, mean, std)
p_vehicle = tinycnn.functional.sigmoid(binary(x_eval))[:, 0]
correct = (p_vehicle > 0.5) == np.isin(y_test, VEHICLES)
print(f"binary LeNet, vehicle or animal: test accuracy {correct.mean():.3f} (always 'animal' would score 0.6)")
assert correct.mean() > 0.65

shown = np.concatenate([np.flatnonzero(y_test == c)[:2] for c in range(10)])   # two test images of each class
titles = [f"{cifar.classes[y_test[i]]}: p(vehicle) {p_vehicle[i]:.2f}" for i in shown]
viz.plot_image_grid(x_test[shown], titles, os.path.join(args.out, "06_lenet_binary.png"), cols=10,
                    title_colors=["green" if c else "red" for c in correct[shown]],
                    suptitle="binary LeNet on test images, vehicle or animal (green: right, red: wrong)")
print(f"figure: {args.out}/06_lenet_binary.png")
