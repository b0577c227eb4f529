"""What the lessons that use CIFAR-10 share: their command line, the data (or a clean exit with status 3 and a
message when it is missing, which the test suite reports as a skip), and a quick training loop."""
import argparse
import os
import sys

import numpy as np

from tinycnn import data, optim
from tinycnn.train import Trainer


def arguments(doc, full_help):
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--full", action="store_true", help=full_help)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
    return parser.parse_args()


def cifar10():
    """CIFAR-10 from $TINYCNN_DATA or ~/.cache/tinycnn, or exit(3) saying how to get it."""
    try:
        return data.load_cifar10(download=False, progress=False)
    except FileNotFoundError as error:
        print(str(error).replace("\n", " "))
        print("skipped: this lesson needs CIFAR-10; set TINYCNN_DATA to a folder holding it (or run `make train`, "
              "which downloads it)")
        sys.exit(3)


def subset(x, y, n, seed=0, classes=None):
    """n random images (of the given classes only, when asked)."""
    keep = np.flatnonzero(np.isin(y, classes)) if classes is not None else np.arange(len(y))
    keep = np.sort(np.random.default_rng(seed).permutation(keep)[:n])
    return x[keep], y[keep]


def fit(model, loss_fn, optimizer, x, y, epochs, mean, std, batch_size=64, augment=None, max_lr=None):
    """Train quietly; returns the history (one dict per epoch). With max_lr, the learning rate follows a one-cycle
    schedule up to max_lr and down to nearly zero, batch by batch."""
    loader = data.DataLoader(x, y, batch_size, shuffle=True, augment=augment, mean=mean, std=std)
    scheduler = None if max_lr is None else optim.OneCycleLR(optimizer, max_lr, epochs=epochs,
                                                             steps_per_epoch=len(loader))
    return Trainer(model, loss_fn, optimizer, scheduler, schedule="batch", progress=False).fit(loader, epochs)
