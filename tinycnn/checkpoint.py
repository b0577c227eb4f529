"""Checkpoints: one ``.npz`` file (read with ``allow_pickle=False``: loading one never runs code) holding the
model's parameters and buffers, the optimizer's state arrays, and a JSON document with everything else (model
name and configuration, class names, normalisation, optimizer and scheduler settings, the run's position and
seed, history, tinycnn's version).

Files are written to a temporary name and renamed, so an interruption leaves the previous checkpoint intact.
"""
import json

import numpy as np

from .backend import to_numpy
from .files import atomic_write

FORMAT = "tinycnn-checkpoint-1"


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def save_checkpoint(path, model, optimizer=None, scheduler=None, meta=None):
    """Write model (and optimizer/scheduler) state and the JSON-able ``meta`` dict to ``path`` atomically."""
    from . import __version__
    arrays = {f"model/{name}": to_numpy(value) for name, value in model.state_dict().items()}
    doc = {"format": FORMAT, "version": __version__, **(meta or {})}
    if optimizer is not None:
        state = optimizer.state_dict()
        scalars = {}
        for index, values in state["state"].items():
            for key, value in values.items():
                if hasattr(value, "shape"):
                    arrays[f"optim/{index}/{key}"] = to_numpy(value)
                else:
                    scalars.setdefault(str(index), {})[key] = value
        doc["optimizer"] = {"type": type(optimizer).__name__, "param_groups": state["param_groups"],
                            "scalars": scalars}
    if scheduler is not None:
        doc["scheduler"] = {"type": type(scheduler).__name__, "state": scheduler.state_dict()}
    arrays["meta.json"] = np.array(json.dumps(_jsonable(doc)))
    return atomic_write(path, lambda f: np.savez(f, **arrays))


class Checkpoint:
    """A loaded checkpoint: ``meta`` (the JSON document), ``model_state`` and ``optimizer_state`` dicts."""

    def __init__(self, path):
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
            meta = json.loads(str(arrays.pop("meta.json")))
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(f"{path}: not a readable tinycnn checkpoint ({error})") from error
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: unknown checkpoint format {meta.get('format')!r}")
        self.path, self.meta = path, meta
        self.model_state = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
        self._optim_arrays = {k: v for k, v in arrays.items() if k.startswith("optim/")}

    def optimizer_state(self):
        """The optimizer's state_dict as it was saved (arrays on the host; load_state_dict moves them)."""
        doc = self.meta["optimizer"]
        state = {}
        for key, value in self._optim_arrays.items():
            _, index, name = key.split("/", 2)
            state.setdefault(int(index), {})[name] = value
        for index, values in doc["scalars"].items():
            state.setdefault(int(index), {}).update(values)
        return {"state": state, "param_groups": doc["param_groups"]}

    def restore(self, model, optimizer=None, scheduler=None):
        """Load the saved state into model (and optimizer, scheduler); names the first part that does not fit."""
        model.load_state_dict(self.model_state)
        if optimizer is not None and "optimizer" in self.meta:
            optimizer.load_state_dict(self.optimizer_state())
        if scheduler is not None and "scheduler" in self.meta:
            scheduler.load_state_dict(self.meta["scheduler"]["state"])
        return self
