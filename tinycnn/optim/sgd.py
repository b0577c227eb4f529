"""Stochastic gradient descent with momentum and Nesterov momentum: PyTorch's update rule."""
from .optimizer import Optimizer


class SGD(Optimizer):
    """For each parameter p with gradient g:

        g = g + weight_decay * p                      (L2 penalty, coupled)
        buf = g                          first step
        buf = momentum * buf + (1 - dampening) * g    later steps
        g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))

    def step(self):
        for group, p in self._params():
            self._sgd_step(group, p)

    def _sgd_step(self, group, p):
        g = p.grad
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data
        p.data -= group["lr"] * self._momentum(group, p, g)

    def _momentum(self, group, p, g):
        """The direction of the step: g itself, or g through the momentum buffer (the rule above)."""
        if not group["momentum"]:
            return g
        state = self._state(p)
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = g.copy()
        else:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += (1 - group["dampening"]) * g
        buf = state["momentum_buffer"]
        return g + group["momentum"] * buf if group["nesterov"] else buf
