"""summary(model, input_shape): a table of layers with output shapes, parameters and multiply-accumulates, and
the memory a training step needs.

It runs one training-mode forward pass on a batch of two zero images and reads, from every leaf layer, the shape
it returned and the arrays it keeps for backward (its cache): those are the activations a training step holds.
Per-image numbers are then scaled to the batch size asked for.
"""
import numpy as np

from . import backend, nn
from .functional.conv import CHUNK

PROBE_BATCH = 2


def _cached_bytes(obj, exclude, seen):
    """Bytes of the arrays inside a forward cache (nested tuples and lists), each counted once."""
    if hasattr(obj, "nbytes") and hasattr(obj, "shape"):
        if id(obj) in exclude or id(obj) in seen:
            return 0
        seen.add(id(obj))
        return int(obj.nbytes)
    if isinstance(obj, (tuple, list)):
        return sum(_cached_bytes(o, exclude, seen) for o in obj)
    return 0


def _macs(layer, out_shape):
    """Multiply-accumulates per image: every output value of a conv or linear layer is one dot product."""
    per_output = 0
    if isinstance(layer, nn.Conv2d):
        per_output = layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]
    elif isinstance(layer, nn.Linear):
        per_output = layer.in_features
    return int(np.prod(out_shape[1:])) * per_output


class Summary:
    def __init__(self, title, rows, batch_size, activation_bytes, im2col_bytes, params, trainable):
        self.title, self.rows, self.batch_size = title, rows, batch_size
        self.activation_bytes, self.im2col_bytes = activation_bytes, im2col_bytes
        self.total_params, self.trainable_params = params, trainable
        self.total_macs = sum(r[4] for r in rows)

    def __str__(self):
        mib = 2 ** 20
        width = max([len(r[0]) for r in self.rows] + [10])
        lines = [self.title, f"{'layer':<{width}}  {'type':<18} {'output shape':<20} {'params':>12} {'MACs':>15}",
                 "-" * (width + 70)]
        for name, kind, shape, params, macs in self.rows:
            lines.append(f"{name:<{width}}  {kind:<18} {str(shape):<20} {params:>12,} {macs:>15,}")
        lines += ["-" * (width + 70),
                  f"parameters: {self.total_params:,} ({self.trainable_params:,} trainable), "
                  f"{self.total_params * 4 / mib:.1f} MiB in float32",
                  f"multiply-accumulates per image: {self.total_macs:,} ({self.total_macs / 1e9:.2f} G)",
                  f"training step at batch {self.batch_size}: activations kept for backward "
                  f"{self.activation_bytes / mib:.1f} MiB; largest im2col matrix if built whole "
                  f"{self.im2col_bytes / mib:.1f} MiB (tinycnn builds it in chunks of at most "
                  f"{CHUNK * 4 / mib:.0f} MiB per thread)"]
        return "\n".join(lines)

    __repr__ = __str__


def summary(model, input_shape, batch_size=128):
    """Summarise ``model`` for images of ``input_shape`` = (C, H, W); memory is for a batch of ``batch_size``."""
    leaves = [(name, m) for name, m in model.named_modules() if not m.children()]
    shapes = {}

    def recording(name, forward):
        def wrapped(*args, **kwargs):
            y = forward(*args, **kwargs)
            shapes[name] = tuple(y.shape) if hasattr(y, "shape") else ()
            return y
        return wrapped

    was_training = model.training
    for name, layer in leaves:
        layer.forward = recording(name, layer.forward)
    try:
        x = backend.xp_of().zeros((PROBE_BATCH,) + tuple(input_shape), dtype=backend.DEFAULT_DTYPE)
        model.train()(x)
        params = {id(p.data) for p in model.parameters()}
        seen = set()
        activation = sum(_cached_bytes(m._cache, params, seen) for m in model.modules())
    finally:
        for name, layer in leaves:
            del layer.forward
        for m in model.modules():
            m._cache = None
        model.train(was_training)

    rows, im2col = [], 0
    for name, layer in leaves:
        if name not in shapes:          # not run in this forward (for example a head used only in training)
            continue
        shape = shapes[name]
        rows.append((name, type(layer).__name__, shape[1:], sum(int(p.data.size) for p in layer.parameters()),
                     _macs(layer, shape)))
        if isinstance(layer, nn.Conv2d):
            KH, KW = layer.kernel_size
            im2col = max(im2col, KH * KW * layer.in_channels * int(np.prod(shape[2:])) * 4)
    title = f"{type(model).__name__} on input {tuple(input_shape)}"
    return Summary(title, rows, batch_size, activation * batch_size // PROBE_BATCH, im2col * batch_size,
                   model.num_parameters(), model.num_parameters(trainable_only=True))
