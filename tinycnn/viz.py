"""Figures with matplotlib (a non-interactive backend when there is no display). Each function returns the
figure and, given ``path``, saves it as a PNG."""
import os

import matplotlib

if not os.environ.get("DISPLAY") and os.environ.get("MPLBACKEND") is None:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
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


def plot_images(arrays, titles=None, path=None, annotate=None, cmap="viridis"):
    """Small 2-D arrays side by side as heat maps, with each value written in its cell when they are small
    (at most 12x12, or as ``annotate`` says): the worked examples of the lessons."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    fig, axes = plt.subplots(1, len(arrays), figsize=(3.2 * len(arrays), 3.2), squeeze=False)
    for k, (ax, a) in enumerate(zip(axes[0], arrays)):
        a = a.reshape(1, -1) if a.ndim == 1 else a
        ax.imshow(a, cmap=cmap)
        if annotate if annotate is not None else max(a.shape) <= 12:
            for (i, j), value in np.ndenumerate(a):
                ax.text(j, i, f"{value:g}" if abs(value) < 1e4 else f"{value:.1e}", ha="center", va="center",
                        fontsize=8, color="white" if value < (a.max() + a.min()) / 2 else "black")
        ax.set_xticks([])
        ax.set_yticks([])
        if titles:
            ax.set_title(titles[k], fontsize=9)
    return _finish(fig, path)


def plot_bars(labels, values, path=None, title=None, log=False, xlabel="", xlim=None, line=None, fmt=None):
    """A horizontal bar per label, its value written at its end (with the format string ``fmt``, else whole
    numbers with thousands separators and others to 3 digits). ``line`` is (x, name): a dashed reference line,
    such as a threshold."""
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(labels) + 1.4))
    values = [float(v) for v in values]
    bars = ax.barh(list(labels)[::-1], values[::-1], color="tab:blue")
    ax.bar_label(bars, [fmt.format(v) if fmt else f"{v:,.0f}" if v.is_integer() else f"{v:.3g}"
                        for v in values[::-1]], padding=3, fontsize=8)
    if log:
        ax.set_xscale("log")
    else:
        if max(values) >= 1e4:
            ax.xaxis.set_major_formatter(matplotlib.ticker.EngFormatter(sep=" "))       # 20 k, 40 M
        ax.margins(x=0.2)                        # room for the numbers at the bars' ends
    if line is not None:
        ax.axvline(line[0], color="tab:red", linestyle="--", label=line[1])
        ax.legend(loc="lower right")
    if xlim is not None:
        ax.set_xlim(*xlim)
    ax.set(title=title or "", xlabel=xlabel)
    ax.grid(alpha=0.3, axis="x")
    return _finish(fig, path)


def plot_series(series, path=None, xlabel="step", ylabel="", title=None, log=False):
    """Named curves on shared axes: series is a dict name -> list of values."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, values in series.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    if log:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title or "")
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, path)


def _as_image(image):
    """(3, H, W) or (H, W, 3) or (H, W), uint8 or float -> something imshow shows, scaled to [0, 1] if float."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[0] in (1, 3):
        image = image.transpose(1, 2, 0)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.dtype != np.uint8:
        low, high = float(image.min()), float(image.max())
        image = (image - low) / (high - low) if high > low else np.zeros_like(image, dtype=np.float64)
    return image


def plot_image_grid(images, titles=None, path=None, overlays=None, cols=8, title_colors=None, suptitle=None,
                    cmap="gray"):
    """Images in a grid with a title each (for example "pred cat / true dog"), optionally with a heat map drawn
    over each one (``overlays``: (N, H, W), such as saliency or Grad-CAM maps). Single-channel images use cmap."""
    n = len(images)
    cols = min(cols, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.7 * cols, 2.1 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(_as_image(images[k]), cmap=cmap)
        if overlays is not None:
            ax.imshow(_as_image(overlays[k]), cmap="jet", alpha=0.45)
        if titles:
            ax.set_title(titles[k], fontsize=7, color=(title_colors[k] if title_colors else "black"))
    if suptitle:
        fig.suptitle(suptitle)
    return _finish(fig, path)


def plot_filters(weight, path=None, title="first-layer filters"):
    """Convolution filters (C_out, C_in, KH, KW) as small images: RGB when C_in is 3, else channel 0."""
    weight = np.asarray(weight)
    images = weight if weight.shape[1] == 3 else weight[:, :1]
    return plot_image_grid(images, path=path, cols=min(16, len(images)), suptitle=title)


def plot_feature_maps(maps, path=None, title="feature maps", cols=8):
    """The channels of one image's activations (C, H, W), one panel each."""
    maps = np.asarray(maps)
    return plot_image_grid(maps[:, None], [f"channel {i}" for i in range(len(maps))], path, cols=cols,
                           suptitle=title, cmap="viridis")
