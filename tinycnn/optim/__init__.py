"""tinycnn.optim: SGD, Adam, AdamW, Muon (PyTorch's update rules), Lookahead and learning-rate schedules."""
from . import lr_scheduler
from .adam import Adam, AdamW
from .lookahead import Lookahead, ema_alpha
from .muon import Muon, newton_schulz
from .lr_scheduler import CosineAnnealingLR, OneCycleLR, ReduceLROnPlateau, StepLR
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Muon", "newton_schulz", "Lookahead", "ema_alpha", "StepLR", "CosineAnnealingLR",
           "OneCycleLR", "ReduceLROnPlateau", "lr_scheduler"]
