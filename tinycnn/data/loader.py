"""Batches for training and evaluation: shuffle, augment, normalise, move to the active backend.

Every random choice of an epoch derives from (seed, epoch) and of a batch from (seed, epoch, batch index), so
an epoch can be replayed from any batch: that is what makes a resumed training run match an uninterrupted one.
"""
import numpy as np

from .. import backend
from .augment import Augment, normalize


def batch_seed(*keys):
    """A 32-bit seed from integers, for reseeding generators at a point of the run."""
    return int(np.random.SeedSequence(list(keys)).generate_state(1)[0])


class DataLoader:
    """Iterate ``(x, y)`` batches: x float32 (B, C, H, W) normalised, y int64 (B,), both on the active backend.

    x: uint8 images (N, C, H, W); y: labels (N,); mean, std: per-channel statistics on the [0, 1] scale;
    augment: a callable (uint8 batch, numpy Generator) -> uint8 batch, or a data.Augment (which is also given
    the batch's dataset positions and the epoch, for alternating flips).
    """

    def __init__(self, x, y, batch_size=128, shuffle=False, augment=None, mean=(0.5,) * 3, std=(0.5,) * 3,
                 seed=0, drop_last=False):
        if len(x) != len(y):
            raise ValueError(f"DataLoader: {len(x)} images but {len(y)} labels")
        if np.asarray(x).dtype != np.uint8 or np.ndim(x) != 4:
            raise ValueError(f"DataLoader: expected uint8 images (N, C, H, W), got {np.asarray(x).dtype} "
                             f"{np.shape(x)}")
        self.x, self.y = x, np.asarray(y, dtype=np.int64)
        self.batch_size, self.shuffle, self.augment = batch_size, shuffle, augment
        self.mean, self.std, self.seed, self.drop_last = mean, std, seed, drop_last
        self.epoch = 0

    def __len__(self):
        n = len(self.x) // self.batch_size
        return n if self.drop_last or len(self.x) % self.batch_size == 0 else n + 1

    def order(self, epoch):
        if not self.shuffle:
            return np.arange(len(self.x))
        return np.random.default_rng(batch_seed(self.seed, epoch)).permutation(len(self.x))

    def batches(self, epoch, start=0):
        """(index, x, y) for the batches of ``epoch`` from batch ``start`` on."""
        order = self.order(epoch)
        xp = backend.xp_of()
        for b in range(start, len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            xb, yb = self.x[idx], self.y[idx]
            if self.augment is not None:
                rng = np.random.default_rng(batch_seed(self.seed, epoch, b))
                # data.Augment may need to know which images these are (alternating flips); a plain callable not
                xb = self.augment(xb, rng, index=idx, epoch=epoch) if isinstance(self.augment, Augment) else \
                    self.augment(xb, rng)
            yield b, normalize(xp.asarray(xb), self.mean, self.std), xp.asarray(yb)

    def __iter__(self):
        for _, xb, yb in self.batches(self.epoch):
            yield xb, yb
        self.epoch += 1
