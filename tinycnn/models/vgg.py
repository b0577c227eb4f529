"""VGG (Simonyan & Zisserman 2015): blocks of 3x3 convolutions and 2x2 max pools, built from a config list.

A number in the config is a 3x3 conv (padding 1) with that many output channels, followed by ReLU (and batch
norm before it with ``batch_norm=True``); "M" is a 2x2 max pool. The ImageNet size ends with torchvision's
adaptive pool to 7x7 and a 4096-4096-classes classifier; the CIFAR size scales every width by ``width`` and
ends, after five pools of a 32x32 image, with one Linear layer.
"""
from .. import nn
from ..nn import init
from .common import he_init
from .sequential_models import SequentialClassifier

CONFIGS = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def make_features(config, batch_norm=False, in_channels=3, width=1.0):
    layers = []
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
            continue
        out = max(1, int(round(v * width)))
        layers.append(nn.Conv2d(in_channels, out, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers.append(nn.ReLU())
        in_channels = out
    return nn.Sequential(*layers), in_channels


def vgg(depth, batch_norm=False, num_classes=None, cifar=False, width=1.0, dropout=0.5):
    """VGG-11/13/16/19; ImageNet size by default (1000 classes), ``cifar=True`` for 32x32 images (10 classes)."""
    if num_classes is None:
        num_classes = 10 if cifar else 1000
    features, channels = make_features(CONFIGS[depth], batch_norm, width=width if cifar else 1.0)
    if cifar:
        model = SequentialClassifier(features, nn.Sequential(nn.Linear(channels, num_classes)))
    else:
        classifier = nn.Sequential(nn.Linear(channels * 7 * 7, 4096), nn.ReLU(), nn.Dropout(dropout),
                                   nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout), nn.Linear(4096, num_classes))
        model = SequentialClassifier(features, classifier, nn.AdaptiveAvgPool2d(7))
    he_init(model)
    for layer in model.classifier:               # torchvision: Linear weights from N(0, 0.01), biases 0
        if isinstance(layer, nn.Linear):
            layer.weight.data = init.normal(layer.weight.shape, 0.01)
            layer.bias.data = init.zeros(layer.bias.shape)
    return model


def vgg11(**kwargs):
    return vgg(11, **kwargs)


def vgg13(**kwargs):
    return vgg(13, **kwargs)


def vgg16(**kwargs):
    return vgg(16, **kwargs)


def vgg19(**kwargs):
    return vgg(19, **kwargs)


def vgg11_bn(**kwargs):
    return vgg(11, batch_norm=True, **kwargs)


def vgg13_bn(**kwargs):
    return vgg(13, batch_norm=True, **kwargs)


def vgg16_bn(**kwargs):
    return vgg(16, batch_norm=True, **kwargs)


def vgg19_bn(**kwargs):
    return vgg(19, batch_norm=True, **kwargs)
