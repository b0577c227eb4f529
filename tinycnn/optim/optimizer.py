"""The optimizer base: parameter groups, per-parameter state, zero_grad, state_dict.

As in PyTorch, ``params`` is an iterable of Parameters or of dicts ``{"params": [...], "lr": ...}`` whose
entries override the defaults for that group (for example no weight decay on batch-norm parameters).
"""
from .. import backend


class Optimizer:
    def __init__(self, params, defaults):
        self.defaults = defaults
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = []
        for group in groups:
            group = {**defaults, **group, "params": list(group["params"])}
            self.param_groups.append(group)
        self.state = {}   # id(param) -> dict of arrays and counters

    def _params(self):
        """(group, param) for every parameter that takes a step: trainable and with a gradient."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.requires_grad and p.grad is not None:
                    yield group, p

    def _state(self, p):
        """The state of parameter p, moved to p's device if the model moved since (``model.to``)."""
        state = self.state.setdefault(id(p), {})
        device = backend.device_of(p.data)
        for key, value in state.items():
            if hasattr(value, "shape") and backend.device_of(value) != device:
                state[key] = backend.to_device(value, device)
        return state

    def zero_grad(self):
        """Clear the gradients (to None, as PyTorch's default set_to_none=True)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self):
        raise NotImplementedError

    def state_dict(self):
        """{"state": {index: {name: array or number}}, "param_groups": [hyper-parameters, "params": indices]},
        parameters numbered in order across groups, as PyTorch."""
        index, groups = {}, []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {index[k]: dict(v) for k, v in self.state.items() if k in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved parameter groups do not match "
                             "this optimizer's")
        params = [p for group in self.param_groups for p in group["params"]]
        for own, saved in zip(self.param_groups, groups):
            own.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {}
        for i, values in state_dict["state"].items():
            p = params[int(i)]
            # copies, as PyTorch: the loaded optimizer must not share arrays with the one saved
            self.state[id(p)] = {k: backend.to_device(v, backend.device_of(p.data)).copy() if hasattr(v, "shape")
                                 else v for k, v in values.items()}
        return self
