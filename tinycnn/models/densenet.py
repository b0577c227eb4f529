"""DenseNet (Huang et al. 2017): every layer sees the maps of all layers before it in its block.

A dense layer computes k new maps with BN-ReLU-1x1 conv (to bn_size*k) - BN-ReLU-3x3 conv (to k) and
concatenates them to its input, so a block of L layers turns k0 channels into k0 + L*k. Its backward splits
dy by channels: the first k0 go straight to x (the concatenation's identity), the last k through the layer,
and the two add up. Transitions (BN-ReLU-1x1 conv halving the channels, 2x2 average pool) join the blocks.
Names follow torchvision (``features.denseblock1.denselayer1.conv1.weight``).
"""
from collections import OrderedDict

from .. import nn
from ..backend import get_array_module
from .common import he_init
from .sequential_models import SequentialClassifier


class DenseLayer(nn.Module):
    def __init__(self, in_channels, growth_rate, bn_size=4):
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)
        self.in_channels = in_channels

    def body(self):
        return [self.norm1, self.relu1, self.conv1, self.norm2, self.relu2, self.conv2]

    def forward(self, x):
        new = x
        for layer in self.body():
            new = layer(new)
        return get_array_module(x).concatenate([x, new], axis=1)    # (N, k0 + k, H, W)

    def backward(self, dy):
        d_new = dy[:, self.in_channels:]
        for layer in reversed(self.body()):
            d_new = layer.backward(d_new)
        return dy[:, :self.in_channels] + d_new


def dense_block(num_layers, in_channels, growth_rate, bn_size):
    return nn.Sequential(OrderedDict(
        (f"denselayer{i + 1}", DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size))
        for i in range(num_layers)))


def transition(in_channels, out_channels):
    return nn.Sequential(OrderedDict(norm=nn.BatchNorm2d(in_channels), relu=nn.ReLU(),
                                     conv=nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                     pool=nn.AvgPool2d(2, 2)))


def densenet(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4, num_classes=1000,
             cifar=False):
    """features (stem, dense blocks joined by transitions, final BN and ReLU) -> global pool -> classifier."""
    if cifar:
        layers = OrderedDict(conv0=nn.Conv2d(3, num_init_features, 3, padding=1, bias=False))
    else:
        layers = OrderedDict(conv0=nn.Conv2d(3, num_init_features, 7, 2, 3, bias=False),
                             norm0=nn.BatchNorm2d(num_init_features), relu0=nn.ReLU(), pool0=nn.MaxPool2d(3, 2, 1))
    channels = num_init_features
    for i, num_layers in enumerate(block_config):
        layers[f"denseblock{i + 1}"] = dense_block(num_layers, channels, growth_rate, bn_size)
        channels += num_layers * growth_rate
        if i != len(block_config) - 1:
            layers[f"transition{i + 1}"] = transition(channels, channels // 2)
            channels //= 2
    layers["norm5"] = nn.BatchNorm2d(channels)
    layers["relu5"] = nn.ReLU()
    model = SequentialClassifier(nn.Sequential(layers), nn.Linear(channels, num_classes), nn.AdaptiveAvgPool2d(1))
    return he_init(model)


def densenet121(num_classes=1000):
    return densenet(32, (6, 12, 24, 16), 64, 4, num_classes)


def densenet_cifar(num_classes=10, growth_rate=12, block_config=(6, 6, 6)):
    """A small DenseNet-BC for 32x32 images: a 3x3 stem to 2k maps, three blocks of 6 layers, k = 12."""
    return densenet(growth_rate, block_config, 2 * growth_rate, 4, num_classes, cifar=True)
