"""Evaluation-only variants of a trained checkpoint, none of which costs training time:

- test-time augmentation views: the test images shifted by (dy, dx) in {-2..2} (borders reflected, as the
  flip-translate views are) and mirrored; the class probabilities of each view are computed once, and sets of
  views are scored by the accuracy of their weighted mean (the make-train recipe's flip-translate set is one);
- "precise" batch norm statistics: the running means and variances recomputed as the plain average over
  ``--precise-bn`` training images in batches of 500 (momentum None), instead of the training run's moving
  average over its last batches.

    python benchmarks/test_time.py CHECKPOINT [--precise-bn 20000]      (TINYCNN_DATA: where CIFAR-10 is)
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from tinycnn import data, nn  # noqa: E402
from tinycnn.cli import load_model  # noqa: E402
from tinycnn.functional.loss import log_softmax  # noqa: E402
from tinycnn.train import evaluate  # noqa: E402

CENTRE = [(0, 0)]
DIAGONAL = [(-1, -1), (1, 1), (-1, 1), (1, -1)]
CROSS = [(0, 1), (0, -1), (1, 0), (-1, 0)]
FAR = [(-2, -2), (2, 2), (-2, 2), (2, -2)]
# name -> {(dy, dx): weight of the view and of its mirror image}; weights are normalised to sum to 1
VIEW_SETS = {
    "none (centre only, not mirrored)": None,
    "flip": {(0, 0): 1},
    "flip-translate (make train's)": {(0, 0): 2, (-1, -1): 1, (1, 1): 1},
    "centre + 4 diagonal shifts": {s: 1 for s in CENTRE + DIAGONAL},
    "centre + 4 one-pixel shifts": {s: 1 for s in CENTRE + CROSS},
    "3x3 shifts, equal weights": {s: 1 for s in CENTRE + DIAGONAL + CROSS},
    "3x3 shifts, centre weight 2": {**{s: 1 for s in DIAGONAL + CROSS}, (0, 0): 2},
    "3x3 shifts, centre weight 4": {**{s: 1 for s in DIAGONAL + CROSS}, (0, 0): 4},
    "13 shifts up to 2 pixels, equal weights": {s: 1 for s in CENTRE + DIAGONAL + CROSS + FAR},
}


def view_probabilities(model, loader, shifts):
    """{(dy, dx, mirrored): class probabilities (N, classes)} of every view, and the labels."""
    probs, labels = {}, []
    model.eval()
    for _, xb, yb in loader.batches(0):
        padded = np.pad(xb, ((0, 0), (0, 0), (2, 2), (2, 2)), mode="reflect")
        h, w = xb.shape[2:]
        for dy, dx in shifts:
            view = padded[:, :, 2 + dy:2 + dy + h, 2 + dx:2 + dx + w]
            for mirrored in (False, True):
                v = np.ascontiguousarray(view[..., ::-1] if mirrored else view)
                probs.setdefault((dy, dx, mirrored), []).append(np.exp(log_softmax(model(v))))
        labels.append(yb)
    return {k: np.concatenate(p) for k, p in probs.items()}, np.concatenate(labels)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--precise-bn", type=int, default=0, metavar="N",
                        help="also recompute the batch norm statistics over N training images (0: skip)")
    args = parser.parse_args()
    model, ckpt = load_model(args.checkpoint)
    norm = ckpt.meta["normalization"]
    cifar = data.load_cifar10(None, progress=False)
    test = data.DataLoader(cifar.x_test, cifar.y_test, 500, mean=norm["mean"], std=norm["std"])

    shifts = sorted({s for views in VIEW_SETS.values() if views for s in views})
    probs, labels = view_probabilities(model, test, shifts)
    print(f"{args.checkpoint}: test accuracy by set of test-time views")
    for name, views in VIEW_SETS.items():
        if views is None:
            p = probs[0, 0, False]
        else:
            total = 2 * sum(views.values())
            p = sum(weight / total * (probs[dy, dx, False] + probs[dy, dx, True]) for (dy, dx), weight in views.items())
        print(f"  {name:42s} {100 * np.mean(p.argmax(axis=1) == labels):.2f}%")

    if args.precise_bn:
        order = np.random.default_rng(0).permutation(len(cifar.x_train))[:args.precise_bn]
        train = data.DataLoader(cifar.x_train[order], cifar.y_train[order], 500, mean=norm["mean"], std=norm["std"])
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d) or isinstance(module, nn.BatchNorm1d):
                module.momentum, module.num_batches_tracked[...] = None, 0       # the plain average from here on
        model.train()
        for _, xb, _ in train.batches(0):
            model(xb)
        result = evaluate(model, test, "flip-translate")
        print(f"  flip-translate with batch norm statistics over {args.precise_bn} training images: "
              f"{100 * result['acc']:.2f}%")


if __name__ == "__main__":
    main()
