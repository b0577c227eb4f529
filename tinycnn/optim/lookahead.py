"""Lookahead (Zhang, Lucas, Hinton & Ba 2019, arXiv:1907.08610) around any optimizer.

The inner optimizer moves the "fast" weights theta; every k of its steps the "slow" weights phi, kept here,
move a fraction alpha of the way towards them, and the fast weights start again from there:

    phi = phi + alpha (theta - phi)          every k steps (phi starts as the initial weights)
    theta = phi

With alpha falling over training this is airbench's weight averaging (``ema_alpha``): early on the slow weights
follow the fast ones, at the end they are an average over the last part of the run.
"""


class Lookahead:
    """Wraps ``optimizer``; ``alpha`` is a number or a function of the step count (1, 2, ...) giving one.

    ``param_groups`` are the inner optimizer's, so learning-rate schedulers drive it unchanged; the slow weights
    live in the inner optimizer's per-parameter state (key "slow"), so checkpoints carry them."""

    def __init__(self, optimizer, k=5, alpha=0.5):
        if k < 1:
            raise ValueError(f"Lookahead: k must be at least 1, got {k}")
        self.optimizer, self.k, self.alpha = optimizer, k, alpha
        for group in self.param_groups:
            group.setdefault("lookahead_steps", 0)

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    @property
    def state(self):
        return self.optimizer.state

    def zero_grad(self):
        self.optimizer.zero_grad()

    def step(self):
        for group, p in self.optimizer._params():
            state = self.optimizer._state(p)
            if "slow" not in state:
                state["slow"] = p.data.copy()                 # phi_0 = theta_0, before the first step
        self.optimizer.step()
        group0 = self.param_groups[0]
        steps = group0["lookahead_steps"] + 1
        for group in self.param_groups:
            group["lookahead_steps"] = steps
        if steps % self.k:
            return
        alpha = self.alpha(steps) if callable(self.alpha) else self.alpha
        for group in self.param_groups:
            for p in group["params"]:
                state = self.optimizer.state.get(id(p))
                if not p.requires_grad or not state or "slow" not in state:
                    continue
                slow = self.optimizer._state(p)["slow"]
                slow += alpha * (p.data - slow)               # phi = phi + alpha (theta - phi)
                p.data[...] = slow                            # theta = phi

    def state_dict(self):
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict):
        self.optimizer.load_state_dict(state_dict)
        return self


def ema_alpha(total_steps, k=5, batch_size=1024, decay=0.95, power=3):
    """airbench's schedule: alpha(t) = 1 - decay^(k B / 1024) (t / T)^power.

    At batch B=1024 each step keeps ``decay`` of the average (airbench94: 0.95, synced every 5 steps); a smaller
    batch keeps decay^(B/1024) per step, so the average spans the same number of images. The factor
    (t / T)^power lets the slow weights follow the fast ones early and average strongly at the end."""
    rho = decay ** (k * batch_size / 1024)
    return lambda t: 1.0 - rho * min(t / total_steps, 1.0) ** power
