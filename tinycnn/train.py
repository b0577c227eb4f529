"""The training loop: epochs of forward, loss, backward and optimizer step, with validation, schedules,
callbacks, a progress bar, history files and checkpoints.

Reproducibility: the order, augmentation and dropout of every batch derive from (seed, epoch, batch), so a run
stopped anywhere and resumed with ``Trainer.resume`` computes exactly the same steps as a run never stopped.
Ctrl-C during ``fit`` lets the current batch finish, saves ``last.npz`` at that point and returns; a second
Ctrl-C aborts at once, leaving the previous checkpoint as it was (checkpoints are written atomically).
"""
import csv
import json
import math
import os
import signal
import threading
import time

import numpy as np

from . import backend
from .backend import to_numpy
from .checkpoint import Checkpoint, save_checkpoint
from .data_parallel import DataParallel, slice_gradients
from .data.loader import batch_seed
from .functional.loss import log_softmax
from .metrics import classification_report, confusion_matrix
from .optim import lr_scheduler


class TrainingError(RuntimeError):
    """The run cannot go on (a NaN or infinite loss)."""


class Callback:
    """Called before every epoch (with its 0-based index) and after it (with the epoch's logs); may set
    ``trainer.stop``."""

    def on_epoch_begin(self, trainer, epoch):
        pass

    def on_epoch_end(self, trainer, logs):
        pass

    def state_dict(self):
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def load_state_dict(self, state):
        vars(self).update(state)


class _Monitor(Callback):
    """A callback watching one logged value, which improves by going down ('min') or up ('max')."""

    def __init__(self, monitor, mode, min_delta=0.0):
        self.monitor, self.min_delta = monitor, min_delta
        self.mode = mode or ("min" if "loss" in monitor else "max")
        self.best = math.inf if self.mode == "min" else -math.inf

    def improved(self, logs):
        if self.monitor not in logs:
            raise KeyError(f"{type(self).__name__}: '{self.monitor}' is not logged; logged are {sorted(logs)}")
        value = logs[self.monitor]
        better = value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta
        if better:
            self.best = value
        return better


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor="val_loss", patience=5, mode=None, min_delta=0.0):
        super().__init__(monitor, mode, min_delta)
        self.patience, self.wait = patience, 0

    def on_epoch_end(self, trainer, logs):
        if self.improved(logs):
            self.wait = 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.stop = f"early stopping: {self.monitor} has not improved for {self.patience} epochs"


class ReduceLROnPlateau(Callback):
    """optim.ReduceLROnPlateau driven by a logged value (by default the validation loss)."""

    def __init__(self, monitor="val_loss", mode=None, **kwargs):
        self.monitor = monitor
        self.mode = mode or ("min" if "loss" in monitor else "max")
        self.kwargs = kwargs
        self._scheduler = None
        self.scheduler_state = None

    def on_epoch_end(self, trainer, logs):
        if self.monitor not in logs:
            raise KeyError(f"ReduceLROnPlateau: '{self.monitor}' is not logged; logged are {sorted(logs)}")
        if self._scheduler is None:
            self._scheduler = lr_scheduler.ReduceLROnPlateau(trainer.optimizer, mode=self.mode, **self.kwargs)
            if self.scheduler_state:
                self._scheduler.load_state_dict(self.scheduler_state)
        self._scheduler.step(logs[self.monitor])
        self.scheduler_state = self._scheduler.state_dict()


class ModelCheckpoint(_Monitor):
    """Save ``last.npz`` after every epoch and ``best.npz`` whenever ``monitor`` improves, in ``directory``."""

    def __init__(self, directory, monitor="val_acc", mode=None, save_best=True, save_last=True):
        super().__init__(monitor, mode)
        self.directory, self.save_best, self.save_last = directory, save_best, save_last

    def on_epoch_end(self, trainer, logs):
        if self.save_last:
            trainer.save(os.path.join(self.directory, "last.npz"))
        if self.save_best and self.improved(logs):
            trainer.save(os.path.join(self.directory, "best.npz"))


class FreezeAfter(Callback):
    """Train the parameters whose names start with ``prefix`` for the first ``epochs`` epochs only, then freeze
    them (airbench trains the whitening layer's bias for 3 epochs). Set before every epoch, so a resumed run
    freezes them too. The layers before the first trainable one are then not run backward at all."""

    def __init__(self, model, prefix, epochs):
        self.prefix, self.epochs = prefix, epochs
        self._params = [p for name, p in model.named_parameters() if name == prefix or name.startswith(prefix + ".")]
        if not self._params:
            names = [name for name, _ in model.named_parameters()]
            raise ValueError(f"FreezeAfter: no parameter is named {prefix!r} or under it; the model has "
                             f"{', '.join(names[:8])}{', ...' if len(names) > 8 else ''}")

    def on_epoch_begin(self, trainer, epoch):
        if epoch >= self.epochs:
            for p in self._params:
                p.requires_grad = False


TTA_MODES = ("none", "flip", "flip-translate")


def tta_views(x, tta):
    """The test-time views of a batch x (N, C, H, W) and their weights, which sum to 1.

    "none": the images. "flip": the images and their mirror images, 1/2 each. "flip-translate" (airbench's):
    those two at 1/4 each, and both again shifted by one pixel up-left and one down-right (borders reflected),
    1/8 each. True means "flip" and False "none"."""
    tta = {True: "flip", False: "none"}.get(tta, tta)
    if tta not in TTA_MODES:
        raise ValueError(f"evaluate: tta must be one of {', '.join(TTA_MODES)}, got {tta!r}")
    if tta == "none":
        return [(1.0, x)]
    flips = [(0.5, x), (0.5, x[..., ::-1])]
    if tta == "flip":
        return flips
    xp = backend.get_array_module(x)
    padded = xp.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")         # (N, C, H + 2, W + 2)
    h, w = x.shape[2:]
    shifts = [padded[:, :, :h, :w], padded[:, :, 2:, 2:]]                          # content moves down-right, up-left
    return [(wt / 2, v) for wt, v in flips] + [(wt / 4, v) for s in shifts for wt, v in tta_views(s, "flip")]


def evaluate(model, loader, tta=False):
    """Predict every batch of ``loader`` in eval mode. With ``tta`` ("flip", or True; "flip-translate") the class
    probabilities are the weighted mean over the views of tta_views. Returns loss (cross-entropy of the
    probabilities), accuracy, probabilities (N, C), predictions and labels, as NumPy arrays."""
    tta_views(np.zeros((1, 1, 2, 2)), tta)                                         # a bad mode fails before any work
    was_training = model.training
    model.eval()
    probs, labels = [], []
    try:
        for _, xb, yb in loader.batches(0):
            xp = backend.get_array_module(xb)
            p = sum(weight * xp.exp(log_softmax(model(view))) for weight, view in tta_views(xb, tta))
            probs.append(to_numpy(p))
            labels.append(to_numpy(yb))
    finally:
        model.train(was_training)
    probs, labels = np.concatenate(probs), np.concatenate(labels)
    preds = probs.argmax(axis=1)
    loss = float(-np.log(np.maximum(probs[np.arange(len(labels)), labels], 1e-12)).mean())
    return {"loss": loss, "acc": float((preds == labels).mean()), "probs": probs, "preds": preds, "labels": labels}


def report(result, classes):
    """Per-class precision, recall, F1, macro averages and the confusion matrix of an evaluate() result."""
    cm = confusion_matrix(result["labels"], result["preds"], len(classes))
    return {"loss": result["loss"], **classification_report(cm, classes)}


class Trainer:
    """Runs training. ``schedule`` says when ``scheduler.step()`` is called: after every "batch" or "epoch".

    meta: JSON-able facts stored in every checkpoint (model name and config, classes, normalisation...).
    processes: split each batch over this many processes, one core each (tinycnn/data_parallel.py). Batch norm
    then normalises each process's rows on their own, so 2 processes do not compute what 1 does, unless
    sync_batch_norm is set: then the processes share their statistics and compute what one would.
    """

    def __init__(self, model, loss_fn, optimizer, scheduler=None, schedule="epoch", callbacks=(), seed=0,
                 out_dir=None, meta=None, progress=True, tta=False, processes=1,
                 sync_batch_norm=False):
        if schedule not in ("batch", "epoch"):
            raise ValueError(f"Trainer: schedule is 'batch' or 'epoch', got {schedule!r}")
        if not isinstance(processes, int) or processes < 1:
            raise ValueError(f"Trainer: processes must be an integer >= 1, got {processes!r}")
        self.processes, self.sync_batch_norm, self._parallel = processes, sync_batch_norm, None
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.scheduler, self.schedule, self.callbacks = scheduler, schedule, list(callbacks)
        self.seed, self.out_dir, self.meta = seed, out_dir, dict(meta or {})
        self.progress, self.tta = progress, tta
        self.history, self.epoch, self.batch, self.partial = [], 0, 0, None
        self.stop = None

    # --- checkpoints -----------------------------------------------------------------------------------------
    def save(self, path):
        run = {"seed": self.seed, "epoch": self.epoch, "batch": self.batch, "partial": self.partial,
               "history": self.history, "callbacks": [cb.state_dict() for cb in self.callbacks]}
        return save_checkpoint(path, self.model, self.optimizer, self.scheduler, {**self.meta, "run": run})

    def resume(self, path):
        """Continue from a checkpoint written by this trainer's configuration."""
        ckpt = path if isinstance(path, Checkpoint) else Checkpoint(path)
        ckpt.restore(self.model, self.optimizer, self.scheduler)
        run = ckpt.meta["run"]
        self.seed, self.epoch, self.batch = run["seed"], run["epoch"], run["batch"]
        self.partial, self.history = run["partial"], run["history"]
        for cb, state in zip(self.callbacks, run["callbacks"]):
            cb.load_state_dict(state)
        return self

    # --- training --------------------------------------------------------------------------------------------
    def _step(self, xb, yb, epoch, b):
        seed = batch_seed(self.seed, epoch, b, 1)                    # dropout masks, replayable
        self.optimizer.zero_grad()
        if self._parallel is not None:
            loss, correct = self._parallel.step(xb, yb, seed)
        else:
            loss, correct = slice_gradients(self.model, self.loss_fn, xb, yb, len(xb), seed)
        if not math.isfinite(loss):
            lr = self.optimizer.param_groups[0]["lr"]
            raise TrainingError(f"the loss became {loss} at epoch {epoch + 1}, batch {b + 1} (learning rate "
                                f"{lr:.3g}): training diverged; lower the learning rate or check the data")
        self.optimizer.step()
        self.last_lr = self.optimizer.param_groups[0]["lr"]          # the rate this step used
        if self.scheduler is not None and self.schedule == "batch":
            self.scheduler.step()
        return loss, correct

    def _epoch(self, loader, epoch):
        sums = self.partial or {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        bar = _bar(len(loader), self.batch, f"epoch {epoch + 1}", self.progress)
        start = time.perf_counter() - sums["seconds"]
        for b, xb, yb in loader.batches(epoch, self.batch):
            loss, correct = self._step(xb, yb, epoch, b)
            n = len(yb)
            sums["loss"] += loss * n
            sums["correct"] += correct
            sums["seen"] += n
            sums["seconds"] = time.perf_counter() - start
            self.batch, self.partial = b + 1, sums
            if self._interrupted:
                break
            if bar:
                bar.update(1)
                bar.set_postfix(loss=f"{sums['loss'] / sums['seen']:.3f}",
                                acc=f"{sums['correct'] / sums['seen']:.3f}",
                                lr=f"{self.last_lr:.3g}",
                                img_s=f"{sums['seen'] / max(sums['seconds'], 1e-9):.0f}")
        if bar:
            bar.close()
        return sums

    def _on_sigint(self, signum, frame):
        if self._interrupted:
            raise KeyboardInterrupt
        self._interrupted = True
        print("\nCtrl-C: stopping after this batch and saving (press again to abort without saving)", flush=True)

    def fit(self, train_loader, epochs, val_loader=None):
        """Train until ``epochs`` epochs are done (counting those of a resumed run) or a callback stops it.
        Returns the history: one dict of logs per epoch."""
        self._interrupted = False
        main_thread = threading.current_thread() is threading.main_thread()
        if self.processes > 1:
            self._parallel = DataParallel(self.model, self.loss_fn, self.processes, self.sync_batch_norm)
        previous = signal.signal(signal.SIGINT, self._on_sigint) if main_thread else None
        try:
            self._fit(train_loader, epochs, val_loader)
        finally:
            if main_thread:
                signal.signal(signal.SIGINT, previous)
            if self._parallel is not None:
                self._parallel.close()
                self._parallel = None
        if self.stop and self.stop != "interrupted" and self.progress:
            print(self.stop, flush=True)
        return self.history

    def _fit(self, train_loader, epochs, val_loader):
        while self.epoch < epochs and not self.stop:
            epoch = self.epoch
            for cb in self.callbacks:
                cb.on_epoch_begin(self, epoch)
            sums = self._epoch(train_loader, epoch)
            if self._interrupted:
                where = f"epoch {self.epoch + 1}, batch {self.batch}"
                if self.out_dir:
                    path = self.save(os.path.join(self.out_dir, "last.npz"))
                    print(f"interrupted at {where}: saved {path}; continue with --resume {path}", flush=True)
                else:
                    print(f"interrupted at {where}", flush=True)
                self.stop = "interrupted"
                return
            logs = {"epoch": epoch + 1, "train_loss": sums["loss"] / sums["seen"],
                    "train_acc": sums["correct"] / sums["seen"], "lr": self.last_lr,
                    "seconds": sums["seconds"], "images_per_s": sums["seen"] / max(sums["seconds"], 1e-9)}
            if val_loader is not None:
                result = evaluate(self.model, val_loader, self.tta)
                logs.update(val_loss=result["loss"], val_acc=result["acc"])
            if self.scheduler is not None and self.schedule == "epoch":
                self.scheduler.step()
            self.history.append(logs)
            self.epoch, self.batch, self.partial = epoch + 1, 0, None
            for cb in self.callbacks:
                cb.on_epoch_end(self, logs)
            self._write_history()
            print(_describe(logs), flush=True)

    def _write_history(self):
        if not self.out_dir:
            return
        os.makedirs(self.out_dir, exist_ok=True)
        with open(os.path.join(self.out_dir, "history.json"), "w") as f:
            json.dump(self.history, f, indent=1)
        keys = list(dict.fromkeys(k for h in self.history for k in h))
        with open(os.path.join(self.out_dir, "history.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, keys)
            writer.writeheader()
            writer.writerows(self.history)


def _describe(logs):
    return "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in logs.items())


def _bar(total, initial, desc, enabled):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc, unit="batch", leave=False, dynamic_ncols=True)
