"""Data augmentation and normalisation, vectorized over the batch (no per-image Python loop).

Augmentations work on uint8 batches (N, C, H, W) and take a ``numpy.random.Generator``, so a seed fixes them.
They run on whichever array module holds the batch (the random draws are made in NumPy, then moved).
"""
import numpy as np

from ..backend import DEFAULT_DTYPE, get_array_module
from ..functional.im2col import pad2d


def channel_stats(x):
    """Per-channel mean and standard deviation of uint8 images (N, C, H, W), on the [0, 1] scale."""
    x = np.asarray(x)
    mean = np.zeros(x.shape[1])
    sq = np.zeros(x.shape[1])
    for start in range(0, len(x), 5000):                # in slices, to keep the float copy small
        part = x[start:start + 5000].astype(np.float64) / 255
        mean += part.sum(axis=(0, 2, 3))
        sq += (part * part).sum(axis=(0, 2, 3))
    n = x.shape[0] * x.shape[2] * x.shape[3]
    mean /= n
    return mean.astype(np.float32), np.sqrt(sq / n - mean * mean).astype(np.float32)


def normalize(x, mean, std):
    """uint8 (N, C, H, W) -> float32 (x/255 - mean) / std, per channel.

    The result is the (N, C, H, W) view of a channels-major (C, N, H, W) array, the layout tinycnn's
    convolutions work in (see tinycnn/functional/im2col.py), so the first layer needs no transpose copy.
    """
    xp = get_array_module(x)
    scale = xp.asarray(1 / (255 * np.asarray(std, dtype=np.float32)), dtype=DEFAULT_DTYPE).reshape(-1, 1, 1, 1)
    shift = xp.asarray(np.asarray(mean, dtype=np.float32) / np.asarray(std, dtype=np.float32),
                       dtype=DEFAULT_DTYPE).reshape(-1, 1, 1, 1)
    out = x.transpose(1, 0, 2, 3) * scale              # (C, N, H, W), float32
    out -= shift
    return out.transpose(1, 0, 2, 3)


PADDING_MODES = ("zeros", "reflect")


def random_crop(x, padding, rng, size=None, padding_mode="zeros"):
    """Pad by ``padding`` pixels on every side, then cut a random window of ``size`` (OH, OW) from each image, by
    default H x W: a random translation by up to +-padding pixels in each direction. A smaller window also
    drops a random margin of the image (see Augment's small_crops). The border is black ("zeros") or the
    image mirrored at its edge ("reflect", as airbench and the wide-ResNet paper pad, and as tta_views shifts)."""
    xp = get_array_module(x)
    N, C, H, W = x.shape
    OH, OW = (H, W) if size is None else size
    if not (0 < OH <= H + 2 * padding and 0 < OW <= W + 2 * padding):
        raise ValueError(f"random_crop: a {OH}x{OW} window does not fit {H}x{W} images padded by {padding}")
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"random_crop: padding_mode must be one of {', '.join(PADDING_MODES)}, got {padding_mode!r}")
    if padding_mode == "reflect" and not padding < min(H, W):
        raise ValueError(f"random_crop: reflect padding of {padding} needs images larger than that, got {H}x{W}")
    x_pad = xp.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), mode="reflect") \
        if padding_mode == "reflect" else pad2d(x, padding, padding)
    dy = xp.asarray(rng.integers(0, H + 2 * padding - OH + 1, N))       # the window's top-left corner
    dx = xp.asarray(rng.integers(0, W + 2 * padding - OW + 1, N))
    rows = (dy[:, None] + xp.arange(OH))[:, None, :, None]                # (N, 1, OH, 1)
    cols = (dx[:, None] + xp.arange(OW))[:, None, None, :]                # (N, 1, 1, OW)
    return x_pad[xp.arange(N)[:, None, None, None], xp.arange(C)[None, :, None, None], rows, cols]


def random_flip(x, rng, p=0.5):
    """Mirror each image left-right with probability p."""
    return _mirror(x, rng.random(x.shape[0]) < p)


def _mirror(x, flip):
    """Each image of x mirrored left-right where the boolean flip (N,) is True."""
    xp = get_array_module(x)
    return xp.where(xp.asarray(flip)[:, None, None, None], x[..., ::-1], x)


def cutout(x, size, rng):
    """Zero a size x size square at a random centre of each image (DeVries & Taylor 2017); squares near the
    border are clipped by it."""
    xp = get_array_module(x)
    N, C, H, W = x.shape
    cy, cx = (xp.asarray(rng.integers(0, n, N))[:, None] for n in (H, W))
    half = size // 2
    inside_rows = xp.abs(xp.arange(H)[None, :] - cy) < half + size % 2       # (N, H)
    inside_cols = xp.abs(xp.arange(W)[None, :] - cx) < half + size % 2       # (N, W)
    keep = ~(inside_rows[:, None, :, None] & inside_cols[:, None, None, :])
    return x * keep.astype(x.dtype)


def alternating_flip(x, index, epoch, seed=0):
    """Mirror each image on every other epoch (airbench's "alternating flip", Jordan 2024): in epoch 0 image i
    is mirrored when its own fixed coin, drawn once from ``seed``, says so, and in each later epoch exactly
    when it was not mirrored in the epoch before. Random flips show an image the same way two epochs running
    half the time; these never do. index: the dataset positions of the batch's images (B,)."""
    index = np.asarray(index)
    coin = np.random.default_rng(seed).random(int(index.max()) + 1)[index] < 0.5    # the same for every batch
    return _mirror(x, coin ^ bool(epoch % 2))


class Augment:
    """Random crop with padding, horizontal flip and optional cutout, in that order.

    padding_mode: the crop's border, "zeros" (black) or "reflect" (see random_crop).

    flip: True (random, probability 1/2), False, or "alternate" (alternating_flip: then the DataLoader passes
    each batch's dataset positions and the epoch; ``seed`` draws the images' first flips).

    small_crops: (size, epochs) cuts size x size crops in the first ``epochs`` epochs (counted from 0, as the
    DataLoader passes them) and full-size ones after: "progressive resizing" (fast.ai's DAWNBench entries).
    Several stages, ((size1, epochs1), (size2, epochs2), ...), follow each other: size1 for epochs1 epochs,
    then size2 for epochs2, and so on.
    A network that ends in a global pooling trains on the smaller images at a fraction of the cost of a step
    (about (size/H)^2); the objects keep their scale, since nothing is resized, and the last epochs see whole
    images as the test does."""

    def __init__(self, crop_padding=4, flip=True, cutout_size=0, seed=0, small_crops=None, padding_mode="zeros"):
        if flip not in (True, False, "alternate"):
            raise ValueError(f"Augment: flip must be True, False or 'alternate', got {flip!r}")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"Augment: padding_mode must be one of {', '.join(PADDING_MODES)}, got {padding_mode!r}")
        self.padding_mode = padding_mode

        def stage(v):                                                   # (size, epochs), positive ints
            return isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(n, int) and n > 0 for n in v)
        stages = (small_crops,) if stage(small_crops) else small_crops  # one stage, or a sequence of them
        if stages is not None and not (isinstance(stages, (tuple, list)) and len(stages) > 0
                                       and all(stage(v) for v in stages)):
            raise ValueError("Augment: small_crops must be (size, epochs) or a sequence of such stages, positive "
                             f"ints, got {small_crops!r}")
        self.crop_padding, self.flip, self.cutout_size, self.seed = crop_padding, flip, cutout_size, seed
        self.small_crops = None if stages is None else tuple(tuple(stage) for stage in stages)

    def crop_size(self, epoch):
        """The (OH, OW) of epoch's crops under small_crops, None for full-size images."""
        for size, epochs in self.small_crops or ():
            if epoch < epochs:
                return size, size
            epoch -= epochs
        return None

    def __call__(self, x, rng, index=None, epoch=None):
        if self.small_crops is not None and epoch is None:
            raise ValueError("Augment(small_crops=...) needs the epoch: call it as augment(x, rng, epoch=...) "
                             "(DataLoader does)")
        size = self.crop_size(epoch)
        if self.crop_padding or size:
            x = random_crop(x, self.crop_padding, rng, size, self.padding_mode)
        if self.flip == "alternate":
            if index is None or epoch is None:
                raise ValueError("Augment(flip='alternate') needs each batch's dataset positions and the epoch: "
                                 "call it as augment(x, rng, index=..., epoch=...) (DataLoader does)")
            x = alternating_flip(x, index, epoch, self.seed)
        elif self.flip:
            x = random_flip(x, rng)
        if self.cutout_size:
            x = cutout(x, self.cutout_size, rng)
        return x

    def __repr__(self):
        return (f"Augment(crop_padding={self.crop_padding}, flip={self.flip!r}, cutout_size={self.cutout_size}"
                + (f", padding_mode={self.padding_mode!r}" if self.padding_mode != "zeros" else "")
                + (f", small_crops={self.small_crops}" if self.small_crops else "")
                + (f", seed={self.seed})" if self.flip == "alternate" else ")"))
