"""Module and Parameter: what every layer, container and model is built on.

There is no autograd tape. A module's ``forward`` computes y and keeps in ``self._cache`` what its
``backward`` needs; ``backward(dy)`` consumes that cache, adds the parameter gradients into ``param.grad``
and returns dx. A module's parameters and sub-modules are simply its attributes, found in the order they were
assigned (``vars(self)``), which gives PyTorch's hierarchical names: ``layer1.0.conv1.weight``.
"""
from collections import OrderedDict

import numpy as np

from .. import backend


class Parameter:
    """A learnable array ``data`` and the gradient ``grad`` accumulated into it (None until a backward)."""

    def __init__(self, data, requires_grad=True):
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    def accumulate(self, grad):
        """grad += the given (fresh) array; frozen parameters ignore it."""
        if not self.requires_grad:
            return
        if self.grad is None:
            self.grad = grad
        else:
            self.grad += grad

    def __repr__(self):
        frozen = "" if self.requires_grad else ", requires_grad=False"
        return f"Parameter(shape={tuple(self.shape)}, dtype={self.dtype}{frozen})"


class Module:
    """Base class. Subclasses set parameters and sub-modules as attributes and define forward/backward.

    ``buffer_names`` lists array attributes that are state but not learnable (BatchNorm's running
    statistics): they are saved by ``state_dict`` and moved by ``to``.
    """

    training = True
    buffer_names = ()
    _cache = None
    # True where backward(dy, need_dx=False) is understood: the parameter gradients only, no input gradient,
    # returns None. Nothing needs dL/dx of the images when training, and for a first convolution computing it
    # costs as much as its weight gradient (see chain_backward).
    skips_dx = False

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, dy):
        raise NotImplementedError(f"{type(self).__name__} does not define backward")

    # --- the cache between forward and backward -------------------------------------------------------
    def _pop_cache(self):
        """Hand the last forward's cache to backward, once; a second backward needs a new forward."""
        if self._cache is None:
            raise RuntimeError(f"{self._short()}: backward called before forward "
                               "(each forward allows one backward)")
        cache, self._cache = self._cache, None
        return cache

    def _short(self):
        """How errors name this module: its class and constructor arguments."""
        return f"{type(self).__name__}({self.extra_repr()})"

    # --- the module tree --------------------------------------------------------------------------------
    def named_children(self):
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self):
        return [m for _, m in self.named_children()]

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return [m for _, m in self.named_modules()]

    def named_parameters(self):
        """(name, Parameter) pairs: a module's own parameters, then its children's, depth first.
        A parameter shared by two modules is listed once."""
        seen = set()
        for prefix, module in self.named_modules():
            for name, value in vars(module).items():
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{prefix}.{name}" if prefix else name), value

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def named_buffers(self):
        for prefix, module in self.named_modules():
            for name in module.buffer_names:
                yield (f"{prefix}.{name}" if prefix else name), module, name

    def num_parameters(self, trainable_only=False):
        return sum(int(p.data.size) for p in self.parameters() if p.requires_grad or not trainable_only)

    # --- modes, gradients, devices ----------------------------------------------------------------------
    def train(self, mode=True):
        for module in self.modules():
            module.training = mode
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze every parameter of this module: a frozen backbone."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def to(self, device=None, dtype=None):
        """Move parameters and buffers to a device ('numpy'/'cpu' or 'cupy'/'gpu') and/or cast to a float
        dtype, in place; drops any forward cache. ``to(np.float64)`` works too."""
        if device is not None and not isinstance(device, str):
            device, dtype = None, device
        def move(a):
            if device is not None:
                a = backend.to_device(a, device)
            return a.astype(dtype, copy=False) if dtype is not None else a
        for p in self.parameters():
            p.data = move(p.data)
            p.grad = None if p.grad is None else move(p.grad)
        for _, module, name in self.named_buffers():
            value = getattr(module, name)
            if value is not None and np.issubdtype(value.dtype, np.floating):
                setattr(module, name, move(value))
            elif value is not None and device is not None:
                setattr(module, name, backend.to_device(value, device))
        for module in self.modules():
            module._cache = None
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    # --- saving and loading -----------------------------------------------------------------------------
    def _state_entries(self):
        """name -> ("param", Parameter, None) or ("buffer", module, attribute), in PyTorch's order: each
        module's parameters, then its buffers, depth first."""
        entries, seen = OrderedDict(), set()
        for prefix, module in self.named_modules():
            dot = f"{prefix}." if prefix else ""
            for name, value in vars(module).items():
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))
                    entries[dot + name] = ("param", value, None)
            for name in module.buffer_names:
                entries[dot + name] = ("buffer", module, name)
        return entries

    def state_dict(self):
        """An ordered name -> array mapping of parameters and buffers (the arrays themselves, not copies)."""
        return OrderedDict((name, target.data if kind == "param" else getattr(target, attr))
                           for name, (kind, target, attr) in self._state_entries().items())

    def load_state_dict(self, state, strict=True):
        """Copy arrays into this module's parameters and buffers, keeping their device and dtype.

        Every shape must match; with ``strict`` the names must match exactly. The first mismatch is named.
        """
        own = self._state_entries()
        if strict:
            missing = [k for k in own if k not in state]
            unexpected = [k for k in state if k not in own]
            if missing or unexpected:
                raise KeyError(f"{type(self).__name__}.load_state_dict: missing keys {missing[:5]}, "
                               f"unexpected keys {unexpected[:5]}")
        for name, (kind, target, attr) in own.items():
            if name not in state:
                continue
            current = target.data if kind == "param" else getattr(target, attr)
            value = state[name]
            if tuple(value.shape) != tuple(current.shape):
                raise ValueError(f"{type(self).__name__}.load_state_dict: '{name}' has shape "
                                 f"{tuple(current.shape)} here but {tuple(value.shape)} in the state dict")
            value = backend.to_device(value, backend.device_of(current)).astype(current.dtype, copy=True)
            if kind == "param":
                target.data = value
            else:
                setattr(target, attr, value)
        return self

    # --- printing -----------------------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        children = list(self.named_children())
        if not children:
            return self._short()
        lines = [f"{type(self).__name__}("]
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)


def check_input(module, x, ndim_options, expected):
    """Fail early and clearly: x must be a floating array with one of the allowed ranks."""
    if not hasattr(x, "ndim") or not hasattr(x, "dtype"):
        raise TypeError(f"{module._short()}: expected an array {expected}, got {type(x).__name__}")
    if x.ndim not in ndim_options:
        raise ValueError(f"{module._short()}: expected input {expected}, got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"{module._short()}: expected a floating-point array {expected}, got dtype {x.dtype}")


def check_grad(module, dy, shape):
    """backward's dy must have the shape forward returned (Chainer's habit: shapes asserted both ways)."""
    if tuple(dy.shape) != tuple(shape):
        raise ValueError(f"{module._short()}: backward expected dy of shape {tuple(shape)} "
                         f"(the forward output), got {tuple(dy.shape)}")
