"""Containers: Sequential, Residual and Concat. Each calls its children's backward in reverse order."""
from ..backend import get_array_module
from .module import Module


class Sequential(Module):
    """y = f_n(...f_2(f_1(x))); backward runs dy through the layers in reverse. Children are named 0, 1, ...,
    or, given one ordered dict as in PyTorch, by its keys: ``Sequential(OrderedDict(conv0=..., norm0=...))``."""

    def __init__(self, *layers):
        named = layers[0].items() if len(layers) == 1 and isinstance(layers[0], dict) else \
            ((str(i), layer) for i, layer in enumerate(layers))
        for name, layer in named:
            setattr(self, name, layer)

    def __len__(self):
        return len(self.children())

    def __iter__(self):
        return iter(self.children())

    def __getitem__(self, i):
        layers = self.children()
        return Sequential(*layers[i]) if isinstance(i, slice) else layers[i]

    def append(self, layer):
        setattr(self, str(len(self)), layer)
        return self

    def forward(self, x):
        for layer in self:
            x = layer(x)
        return x

    skips_dx = True

    def backward(self, dy, need_dx=True):
        return chain_backward(self.children(), dy, need_dx)


def chain_backward(layers, dy, need_dx=True):
    """dL/dx of a chain of layers (given in forward order): dy through their backward passes in reverse.

    With need_dx=False (the training loop: the images are not learned) the work that only serves dL/dx is left
    out: the layers before the first one with trainable parameters (fastnet's frozen whitening layer and its
    ReLU) are not run backward at all, that first layer is asked for its parameter gradients only when it
    ``skips_dx``, and None is returned."""
    start = 0
    if not need_dx:
        start = next((i for i, layer in enumerate(layers)
                      if any(p.requires_grad for p in layer.parameters())), len(layers))
    for i in range(len(layers) - 1, start - 1, -1):
        if i == start and not need_dx and layers[i].skips_dx:
            return layers[i].backward(dy, need_dx=False)
        dy = layers[i].backward(dy)
    return dy if need_dx else None


class Residual(Module):
    """y = body(x) + shortcut(x), the shortcut being the identity when None (He et al. 2016).

    x forks into two paths, so its gradient is the sum of both: dx = body.backward(dy) + shortcut.backward(dy),
    which for the identity is dL/dx = dL/dy (dF/dx + 1): the "+1" that lets gradients through deep nets.
    """

    def __init__(self, body, shortcut=None):
        self.body = body
        self.shortcut = shortcut

    def forward(self, x):
        fx = self.body(x)
        sx = x if self.shortcut is None else self.shortcut(x)
        if fx.shape != sx.shape:
            raise ValueError(f"Residual: body gives {tuple(fx.shape)} but the shortcut gives {tuple(sx.shape)}; "
                             "use a projection shortcut (a 1x1 Conv2d with the body's stride) where shapes change")
        return fx + sx

    def backward(self, dy):
        dx = self.body.backward(dy)
        return dx + (dy if self.shortcut is None else self.shortcut.backward(dy))


class Concat(Module):
    """Parallel branches on the same input, joined on the channel axis (Inception blocks; DenseNet layers with
    ``Concat(Identity(), layer)``). Backward splits dy by channels and sums the branches' input gradients."""

    def __init__(self, *branches, dim=1):
        for i, branch in enumerate(branches):
            setattr(self, str(i), branch)
        self.dim = dim

    def forward(self, x):
        outs = [branch(x) for branch in self.children()]
        self._cache = [y.shape[self.dim] for y in outs]
        return get_array_module(x).concatenate(outs, axis=self.dim)

    def backward(self, dy):
        sizes = self._pop_cache()
        xp = get_array_module(dy)
        parts = xp.split(dy, list(_cumsum(sizes[:-1])), axis=self.dim)
        dx = None
        for branch, part in zip(self.children(), parts):
            g = branch.backward(part)
            dx = g if dx is None else dx + g
        return dx


def _cumsum(values):
    total = 0
    for v in values:
        total += v
        yield total
