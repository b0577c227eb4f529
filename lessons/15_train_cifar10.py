"""Lesson 15: training a network on CIFAR-10 end to end, and reading its results.

Accuracy is one number; per-class precision (of the images called "cat", how many are cats), recall (of the
cats, how many were found) and F1, and the confusion matrix, show where a model fails. The default run trains a
small fastnet on a subset for a minute; ``--full`` trains fastnet (32, 64, 128) on all 50,000 images for 9 epochs
at batch 128 (about half an hour, 85% test accuracy; ``make train`` trains a wider fastnet for 14 epochs at batch
128 with a linear schedule, each batch split over two processes).
"""
import os

import numpy as np

import tinycnn
from tinycnn import data, models, nn, optim, viz
from tinycnn.metrics import format_report
from tinycnn.train import evaluate, report
from course import arguments, cifar10, fit, subset

args = arguments(__doc__, "the full 30-minute recipe on all 50,000 images")
cifar = cifar10()
n, epochs, widths = (50000, 9, (32, 64, 128)) if args.full else (5000, 3, (16, 32, 64))
x, y = subset(cifar.x_train, cifar.y_train, n)
mean, std = data.channel_stats(x)
tinycnn.manual_seed(0)
model = models.fastnet(widths=widths)
models.init_whitening(model, data.normalize(x[:2000], mean, std))
opt = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05, momentum=0.9, nesterov=True,
                weight_decay=5e-4)
history = fit(model, nn.CrossEntropyLoss(label_smoothing=0.1), opt, x, y, epochs, mean, std, batch_size=128,
              augment=data.Augment(2), max_lr=0.1)            # one cycle: up to 0.1, then down to nearly 0
result = evaluate(model, data.DataLoader(cifar.x_test, cifar.y_test, 500, mean=mean, std=std), tta=True)
rep = report(result, cifar.classes)
print(format_report(rep))
assert rep["accuracy"] > 0.3

probs, labels, preds = result["probs"], result["labels"], result["preds"]
confidence = probs.max(axis=1)
right = np.flatnonzero(preds == labels)[np.argsort(-confidence[preds == labels])[:4]]
wrong = np.flatnonzero(preds != labels)[np.argsort(-confidence[preds != labels])[:4]]
print("most confidently right:", [(cifar.classes[labels[i]], round(float(confidence[i]), 2)) for i in right])
print("most confidently wrong:", [(cifar.classes[preds[i]], cifar.classes[labels[i]], round(float(confidence[i]), 2))
                                  for i in wrong])
viz.plot_curves(history, os.path.join(args.out, "15_curves.png"))
viz.plot_confusion(rep["confusion_matrix"], cifar.classes, os.path.join(args.out, "15_confusion.png"))
for tag, idx in (("right", right[0]), ("wrong", wrong[0])):
    viz.plot_probabilities(probs[idx], cifar.classes, os.path.join(args.out, f"15_confident_{tag}.png"),
                           title=f"true: {cifar.classes[labels[idx]]}", image=cifar.x_test[idx])
print(f"figures: {args.out}/15_curves.png, 15_confusion.png, 15_confident_right.png, 15_confident_wrong.png")
