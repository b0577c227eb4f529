"""tinycnn.nn: layers with explicit forward and backward, containers, losses."""
from . import init
from .activation import GELU, Dropout, LeakyReLU, ReLU, Sigmoid, Tanh
from .containers import Concat, Residual, Sequential
from .conv import Conv2d
from .linear import Flatten, Identity, Linear
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .module import Module, Parameter
from .norm import BatchNorm1d, BatchNorm2d, BatchNormAddReLU2d, BatchNormGELU2d, BatchNormReLU2d
from .pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d

__all__ = ["Module", "Parameter", "Conv2d", "Linear", "Flatten", "Identity", "MaxPool2d", "AvgPool2d",
           "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "BatchNorm1d", "BatchNorm2d", "BatchNormReLU2d",
           "BatchNormGELU2d", "BatchNormAddReLU2d", "ReLU", "GELU", "LeakyReLU", "Sigmoid", "Tanh", "Dropout",
           "Sequential", "Residual", "Concat", "CrossEntropyLoss", "BCEWithLogitsLoss", "MSELoss", "init"]
