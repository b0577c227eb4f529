"""tinycnn: a CNN framework you can read, in NumPy (CuPy on a GPU), with an explicit backward for every layer.

    from tinycnn import nn, optim
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 32 * 32, 10))
    loss = loss_fn(model(x), y); opt.zero_grad(); model.backward(loss_fn.backward()); opt.step()
"""
from . import allocator, backend, functional, models, nn, optim
from .backend import get_array_module, manual_seed, to_numpy, use
from .gradcheck import gradcheck

__version__ = "0.1.0"
__all__ = ["nn", "optim", "functional", "models", "backend", "use", "manual_seed", "get_array_module", "to_numpy",
           "gradcheck"]
