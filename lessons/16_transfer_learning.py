"""Lesson 16: transfer learning.

Features learned on one task help another. A small CNN is trained on five CIFAR-10 classes; its convolutional
backbone is then frozen and only a new head is trained on the other five classes, from few labelled images,
against the same network trained from scratch on those few images; finally everything is fine-tuned.
"""
import os

import numpy as np

import tinycnn
from tinycnn import data, models, nn, optim, viz
from tinycnn.train import evaluate
from course import arguments, cifar10, fit, subset

args = arguments(__doc__, "more images and epochs")
cifar = cifar10()
A, B = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]
n_pre, n_few, epochs = (25000, 1000, 15) if args.full else (6000, 500, 4)
x_a, y_a = subset(cifar.x_train, cifar.y_train, n_pre, classes=A)
x_b, y_b = subset(cifar.x_train, cifar.y_train, n_few, seed=1, classes=B)
x_t, y_t = subset(cifar.x_test, cifar.y_test, 2000, seed=2, classes=B)
y_b, y_t = y_b - 5, y_t - 5                                   # classes 5..9 become 0..4
mean, std = data.channel_stats(x_a)
test = data.DataLoader(x_t, y_t, 500, mean=mean, std=std)


def small_cnn():
    return models.lenet5(in_channels=3, num_classes=5, modern=True)    # backbone: the convs; head: the classifier


tinycnn.manual_seed(0)
pretrained = small_cnn()
fit(pretrained, nn.CrossEntropyLoss(), optim.Adam(pretrained.parameters(), lr=2e-3), x_a, y_a, epochs, mean, std)

results = {}
tinycnn.manual_seed(1)
scratch = small_cnn()
fit(scratch, nn.CrossEntropyLoss(), optim.Adam(scratch.parameters(), lr=2e-3), x_b, y_b, epochs * 2, mean, std)
results["from scratch"] = evaluate(scratch, test)["acc"]

pretrained.reset_head(5).freeze_backbone()
trainable = [p for p in pretrained.parameters() if p.requires_grad]
print(f"frozen backbone: {pretrained.num_parameters(trainable_only=True):,} of {pretrained.num_parameters():,} "
      "parameters train")
frozen_before = [p.data.copy() for p in pretrained.backbone_parameters()]
fit(pretrained, nn.CrossEntropyLoss(), optim.Adam(trainable, lr=5e-3), x_b, y_b, epochs * 2, mean, std)
assert all(np.array_equal(a, p.data) for a, p in zip(frozen_before, pretrained.backbone_parameters()))
results["frozen backbone, new head"] = evaluate(pretrained, test)["acc"]

pretrained.freeze_backbone(False)
fit(pretrained, nn.CrossEntropyLoss(), optim.Adam(pretrained.parameters(), lr=5e-4), x_b, y_b, epochs, mean, std)
results["then fine-tuned"] = evaluate(pretrained, test)["acc"]
for name, acc in results.items():
    print(f"{name:>26}: test accuracy {acc:.3f} on classes {[cifar.classes[c] for c in B]} (chance 0.2)")
assert max(results["frozen backbone, new head"], results["then fine-tuned"]) > results["from scratch"]

viz.plot_bars(list(results), list(results.values()), os.path.join(args.out, "16_transfer.png"),
              title=f"{n_few} labelled images of 5 new classes: test accuracy")
print(f"figure: {args.out}/16_transfer.png")
