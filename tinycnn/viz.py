"""Figures with matplotlib (a non-interactive backend when there is no display). Each function returns the
figure and, given ``path``, saves it as a PNG."""
import os

import matplotlib

if not os.environ.get("DISPLAY") and os.environ.get("MPLBACKEND") is None:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _finish(fig, path):
    fig.tight_layout()
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path, dpi=100)
    return fig


def plot_curves(history, path=None):
    """Loss and accuracy per epoch, training and validation; history: a list of per-epoch dicts."""
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        if any(key in h for h in history):
            ax1.plot(epochs, [h.get(key, np.nan) for h in history], marker="o", label=label)
    for key, label in (("train_acc", "train"), ("val_acc", "validation")):
        if any(key in h for h in history):
            ax2.plot(epochs, [h.get(key, np.nan) for h in history], marker="o", label=label)
    ax1.set(xlabel="epoch", ylabel="loss", title="loss")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    return _finish(fig, path)


def plot_confusion(cm, classes, path=None, normalize=True):
    """The confusion matrix as a heat map: rows are true classes, columns predictions."""
    cm = np.asarray(cm, dtype=np.float64)
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    fig, ax = plt.subplots(figsize=(1 + 0.6 * len(classes), 0.8 + 0.6 * len(classes)))
    im = ax.imshow(shown, cmap="Blues", vmin=0)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix" + (" (row-normalised)" if normalize else ""))
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{shown[i, j]:.2f}" if normalize else int(cm[i, j]), ha="center", va="center",
                    fontsize=7, color="white" if shown[i, j] > 0.5 * shown.max() else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _finish(fig, path)


def plot_probabilities(probs, classes, path=None, title=None, image=None):
    """A bar chart of class probabilities (the top ones first), with the image beside it when given
    (image: (3, H, W) uint8 or (H, W, 3))."""
    probs = np.asarray(probs)
    order = np.argsort(probs)[::-1]
    cols = 2 if image is not None else 1
    fig, axes = plt.subplots(1, cols, figsize=(4 * cols + 1, 3), squeeze=False)
    if image is not None:
        img = np.asarray(image)
        axes[0, 0].imshow(img.transpose(1, 2, 0) if img.shape[0] == 3 else img)
        axes[0, 0].axis("off")
    ax = axes[0, -1]
    ax.barh([classes[i] for i in order][::-1], probs[order][::-1], color="tab:blue")
    ax.set(xlim=(0, 1), xlabel="probability", title=title or "")
    return _finish(fig, path)
