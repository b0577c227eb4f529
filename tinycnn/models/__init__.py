"""tinycnn.models: the classic CNNs, built from tinycnn.nn, in CIFAR and published ImageNet sizes."""
from .common import Classifier
from .densenet import densenet, densenet121, densenet_cifar
from .fastnet import fastnet, init_whitening
from .googlenet import GoogLeNet, GoogLeNetLoss, googlenet
from .resnet import (ResNet, resnet18, resnet20, resnet32, resnet34, resnet44, resnet50, resnet56, resnet101,
                     resnet110, resnet152, resnet_cifar, resnet_imagenet)
from .sequential_models import alexnet, alexnet_cifar, lenet5, simple_cnn
from .vgg import vgg, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn

# Name -> constructor, for the command line (`python -m tinycnn summary resnet50`).
MODELS = {f.__name__: f for f in (
    lenet5, simple_cnn, alexnet, alexnet_cifar, vgg11, vgg13, vgg16, vgg19, vgg11_bn, vgg13_bn, vgg16_bn,
    vgg19_bn, googlenet, resnet20, resnet32, resnet44, resnet56, resnet110, resnet18, resnet34, resnet50,
    resnet101, resnet152, densenet121, densenet_cifar, fastnet)}


def get_model(name, **kwargs):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}")
    return MODELS[name](**kwargs)
