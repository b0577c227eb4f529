"""A fast CIFAR-10 network after the GPU speed records (K. Jordan's cifar10-airbench, arXiv:2404.00498;
before it tysam-code's hlb-CIFAR10 and D. Page's "How to train your ResNet"), narrowed for a CPU.

    whiten: 2x2 conv, 3 -> 24 channels, frozen, from the eigenvectors of the training set's 2x2 patches
    three groups of  conv 3x3 -> max pool 2 -> BN -> ReLU -> conv 3x3 -> BN -> ReLU   (widths w1, w2, w3)
    global max pool -> flatten -> linear

On 32x32 images the maps are 31 -> 15 -> 7 -> 3 -> 1 (airbench's final pool is a 3x3 max pool, the same on
32x32 images; a global one also takes the smaller crops of progressive resizing, 24x24: 23 -> 11 -> 5 -> 2 -> 1).
Pooling right after the first conv of a group lets batch norm and ReLU run on maps four times smaller, and most
of the work is in wide convolutions at low resolution, which are large, efficient matrix products.

Patch whitening (``init_whitening``): with C the covariance of all 2x2 patches of (normalised) training images
and C = V diag(lambda) V.T, the first layer's filters are the rows of V.T / sqrt(lambda + eps) and their
negatives, so its outputs are decorrelated, unit-variance patch features from the first step of training.
"""
from collections import OrderedDict

import numpy as np

from .. import backend, nn
from .common import he_init
from .sequential_models import SequentialClassifier


def conv_group(in_channels, out_channels, activation="relu"):
    norm = nn.BatchNormReLU2d if activation == "relu" else nn.BatchNormGELU2d    # batch norm and activation, fused
    return nn.Sequential(OrderedDict(conv1=nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
                                     pool=nn.MaxPool2d(2), norm1=norm(out_channels),
                                     conv2=nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
                                     norm2=norm(out_channels)))


class Scale(nn.Module):
    """y = scale * x, so dx = scale * dy. airbench multiplies its logits by 1/9: the softmax then starts
    flatter, and the head's weights must grow 9 times larger to give the same confidence."""

    def __init__(self, scale):
        self.scale = scale

    def forward(self, x):
        return x * self.scale

    def backward(self, dy):
        return dy * self.scale

    def extra_repr(self):
        return f"scale={self.scale}"


def identity_init(conv):
    """airbench's "Dirac" initialisation: filter i < min(C_out, C_in) passes input channel i through unchanged
    (1 at the kernel's centre, 0 elsewhere), so a fresh 3x3 conv starts as an identity plus (from its other
    filters) new features: an implicit residual connection."""
    w = conv.weight.data                                        # (C_out, C_in, KH, KW)
    n, (kh, kw) = min(w.shape[:2]), w.shape[2:]
    w[:n] = 0
    channels = backend.get_array_module(w).arange(n)
    w[channels, channels, kh // 2, kw // 2] = 1


def fastnet(num_classes=10, widths=(64, 128, 256), in_channels=3, train_whiten_bias=True, identity=False,
            bn_weights=True, logit_scale=1.0, activation="relu"):
    """The network above; ``widths`` of the three groups (airbench94 uses 64, 256, 256 on a GPU).

    ``train_whiten_bias=False`` freezes the whitening layer's bias too (airbench trains it for the first few
    epochs only). Then nothing before the first group learns, and training need not send gradients back
    through the first group's convolution and the whitening layer: a step about 10% faster on a CPU, but 0.6
    points less test accuracy in the one 9-epoch run that tried it (benchmarks/RESULTS.md, run 6).
    ``identity=True`` gives every 3x3 convolution identity_init's identity filters. ``bn_weights=False`` keeps
    every batch norm's scale (gamma) frozen at 1, as airbench does: only the biases (beta) learn, and a ReLU
    after the norm then sees unit-variance inputs shifted by a learnt threshold. ``logit_scale`` (airbench: 1/9)
    multiplies the logits by a constant (the head becomes ``classifier.linear`` then ``classifier.scale``).
    ``activation="gelu"`` (airbench's) puts GELU (tanh form) after the whitening layer and every batch norm instead
    of ReLU (fused with the norm: nn.BatchNormGELU2d); the parameters, and so the state dict's names, stay the
    same."""
    if activation not in ("relu", "gelu"):
        raise ValueError(f"fastnet: activation must be 'relu' or 'gelu', got {activation!r}")
    w1, w2, w3 = widths
    whiten_channels = 2 * in_channels * 2 * 2
    features = nn.Sequential(OrderedDict(
        whiten=nn.Conv2d(in_channels, whiten_channels, 2, bias=True),
        act=nn.ReLU() if activation == "relu" else nn.GELU(approximate="tanh"),
        group1=conv_group(whiten_channels, w1, activation), group2=conv_group(w1, w2, activation),
        group3=conv_group(w2, w3, activation),
        pool=nn.AdaptiveMaxPool2d(1)))
    head = nn.Linear(w3, num_classes, bias=False)
    if logit_scale != 1:
        head = nn.Sequential(OrderedDict(linear=head, scale=Scale(logit_scale)))
    model = he_init(SequentialClassifier(features, head))
    if identity:
        for group in (model.features.group1, model.features.group2, model.features.group3):
            identity_init(group.conv1)
            identity_init(group.conv2)
    if not bn_weights:
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.requires_grad = False
    model.features.whiten.weight.requires_grad = False          # set from data by init_whitening, then frozen
    model.features.whiten.bias.requires_grad = train_whiten_bias
    return model


def init_whitening(model, x, eps=5e-4):
    """Set the frozen 2x2 whitening filters from normalised training images x (N, C, H, W)."""
    layer = model.features.whiten
    C, (KH, KW) = x.shape[1], layer.kernel_size
    x = backend.to_numpy(x).astype(np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(x, (KH, KW), axis=(2, 3))   # (N, C, H', W', KH, KW)
    patches = windows.transpose(0, 2, 3, 1, 4, 5).reshape(-1, C * KH * KW)
    covariance = patches.T @ patches / len(patches)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)                         # ascending
    filters = (eigenvectors.T / np.sqrt(eigenvalues + eps)[:, None])[::-1]          # largest variance first
    filters = filters.reshape(-1, C, KH, KW)
    weight = np.concatenate([filters, -filters]).astype(backend.DEFAULT_DTYPE)
    layer.weight.data = backend.xp_of(backend.device_of(layer.weight.data)).asarray(weight)
    return model
