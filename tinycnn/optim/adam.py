"""Adam and AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019): PyTorch's update rules."""
import math

from ..backend import get_array_module
from .optimizer import Optimizer


class Adam(Optimizer):
    """For each parameter p with gradient g, at step t = 1, 2, ...:

        g = g + weight_decay * p                         (Adam: L2 penalty in the gradient)
        m = beta1 * m + (1 - beta1) * g                  first moment
        v = beta2 * v + (1 - beta2) * g^2                second moment
        m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)      bias correction
        p = p - lr * m_hat / (sqrt(v_hat) + eps)
    """

    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def step(self):
        for group, p in self._params():
            xp = get_array_module(p.data)
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            g = p.grad
            if wd and self.decoupled:
                p.data *= 1 - lr * wd                    # AdamW: p = p - lr * wd * p, apart from the gradient
            elif wd:
                g = g + wd * p.data
            state = self._state(p)
            if not state:
                state.update(step=0, exp_avg=xp.zeros_like(p.data), exp_avg_sq=xp.zeros_like(p.data))
            state["step"] += 1
            m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * (g * g)
            # PyTorch's arrangement of the same formula: denom = sqrt(v) / sqrt(1 - beta2^t) + eps
            denom = xp.sqrt(v) / math.sqrt(1 - beta2 ** t) + eps
            p.data -= (lr / (1 - beta1 ** t)) * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay: p = p - lr * weight_decay * p before the Adam step (default 1e-2)."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)
