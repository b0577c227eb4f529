"""tinycnn.optim: SGD, Adam, AdamW and learning-rate schedules, with PyTorch's update rules."""
from . import lr_scheduler
from .adam import Adam, AdamW
from .lr_scheduler import CosineAnnealingLR, OneCycleLR, ReduceLROnPlateau, StepLR
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "StepLR", "CosineAnnealingLR", "OneCycleLR", "ReduceLROnPlateau",
           "lr_scheduler"]
