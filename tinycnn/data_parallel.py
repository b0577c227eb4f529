"""Data parallelism: the batch of a training step split over processes, each on one core.

One process uses both cores through threads (tinycnn/parallel.py), but only inside its parallel sections: the
Python between them, small arrays, the loss and the optimizer run on one core, and the threads of one process
share one GIL. Processes share nothing: each runs its own copy (a replica) of the model on its own rows of the
batch, on one core, and only parameters and gradients travel between them. benchmarks/RESULTS.md has what that
buys on this project's 2-core machine.

A step with P processes and a batch of N rows, process p taking n_p of them (x_p, y_p):

    every process p:  logits_p = model(x_p)        L_p = loss(logits_p, y_p)    (the mean over its n_p rows)
                      g_p = the parameter gradient of (n_p / N) * L_p
    the batch:        L = sum_p (n_p / N) * L_p    grad = sum_p g_p

For layers that treat rows independently that is the gradient of the whole batch's mean loss. Batch norm does
not: by default each process normalises its rows with their own mean and variance (PyTorch's
DistributedDataParallel does the same unless its layers are converted to SyncBatchNorm; with one process per
slice it is "ghost batch norm"). So training with 2 processes is not the same computation as with 1, though
each is reproducible; the running statistics kept are those of the first process's rows. With
``sync_batch_norm=True`` the processes exchange their statistics at every batch norm layer, forward and
backward (tinycnn/functional/norm.py, ``all_gather``), and compute what one process would: the whole batch's
normalisation, gradient and running statistics. Each exchange is a barrier: two per layer and step.

The first process owns the model and the optimizer. Before each step it copies the current parameters into
memory that all the processes share and sends each other process its slice of the batch through a pipe; after
the step, each writes its gradients into shared memory of its own and answers with its loss. (Sent through the
pipes, parameters and gradients cost about 15 ms of a 220 ms fastnet step, measured on the 2-core machine.)
The other processes are started with fork, so this needs Linux or macOS.
"""
import mmap
import multiprocessing
import signal
import threading
import traceback

import numpy as np

from . import backend, parallel
from .data.loader import batch_seed
from .nn.norm import _BatchNorm

BARRIER_TIMEOUT = 300    # seconds a process waits for the others at a batch norm exchange before giving up


def slice_gradients(model, loss_fn, x, y, total, seed):
    """Forward and backward of one slice of a batch of `total` rows: the parameter gradients of the slice's share
    of the batch-mean loss, (len(x) / total) * L_slice, accumulated into param.grad. Returns (L_slice, correct)."""
    backend.manual_seed(seed)                                       # dropout masks, replayable
    out = model(x)
    loss = loss_fn(out, y)
    dlogits = loss_fn.backward(len(x) / total)                      # d((n/N) L)/dlogits
    if model.skips_dx:                                              # no one needs dL/d(images)
        model.backward(dlogits, need_dx=False)
    else:
        model.backward(dlogits)
    logits = out[0] if isinstance(out, tuple) else out
    return loss, int((logits.argmax(axis=1) == y).sum())


def _shared_like(a):
    """An empty array shaped like a, in memory that processes forked after this call share with this one."""
    return np.frombuffer(mmap.mmap(-1, max(1, a.nbytes)), dtype=a.dtype, count=a.size).reshape(a.shape)


class _AllGather:
    """all_gather(v) for synchronised batch norm: every process's vector v (as float64) in rank order, an array
    (P, len(v)). Each process writes its row of a table in shared memory and waits at a barrier until all have.
    Two tables take turns: a process writing its row for the next call cannot overwrite one that another
    process is still reading, since that process must finish reading before it reaches the next barrier."""

    def __init__(self, processes, size, context):
        self.tables = [_shared_like(np.empty((processes, size))) for _ in range(2)]
        self.barrier = context.Barrier(processes, timeout=BARRIER_TIMEOUT)
        self.rank, self.calls = 0, 0

    def __call__(self, v):
        table = self.tables[self.calls % 2]
        self.calls += 1
        table[self.rank, :len(v)] = v
        self.barrier.wait()
        return table[:, :len(v)].copy()


def _set_all_gather(model, all_gather):
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.all_gather = all_gather


def _serve(model, loss_fn, conn, cores, shared_params, shared_grads, rank, all_gather):
    """A replica's loop: receive a slice, take the parameters from shared_params, write the gradients into
    shared_grads and answer (loss, correct, which gradients there are); None ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)                    # Ctrl-C is the first process's to handle
    params = model.parameters()
    if all_gather:
        all_gather.rank = rank
        _set_all_gather(model, all_gather)
    with parallel.cores(cores):
        while True:
            try:
                message = conn.recv()
            except EOFError:                                        # the first process is gone
                return
            if message is None:
                return
            try:
                flags, training, x, y, total, seed = message
                for p, data, flag in zip(params, shared_params, flags):
                    p.data[...] = data
                    p.requires_grad, p.grad = flag, None
                model.train(training)
                if all_gather:
                    all_gather.calls = 0
                loss, correct = slice_gradients(model, loss_fn, x, y, total, seed)
                has_grad = [p.requires_grad and p.grad is not None for p in params]
                for p, shared, has in zip(params, shared_grads, has_grad):
                    if has:
                        shared[...] = p.grad
                conn.send(("ok", loss, correct, has_grad))
            except Exception:                                       # noqa: BLE001 -- reported to the first process
                if all_gather:
                    all_gather.barrier.abort()                      # no process waits for this one's statistics
                conn.send(("error", traceback.format_exc()))


def slices(total, parts):
    """(start, stop) of `parts` consecutive slices of range(total), sizes differing by at most one."""
    sizes = [total // parts + (p < total % parts) for p in range(parts)]
    starts = [sum(sizes[:p]) for p in range(parts)]
    return [(s, s + n) for s, n in zip(starts, sizes)]


class DataParallel:
    """Training steps of ``model`` under ``loss_fn`` split over ``processes`` processes (this one and
    processes - 1 started here, each with a copy of the model as it is now), each using an equal share of the
    cores (tinycnn.parallel.workers). ``sync_batch_norm=True``: batch norm layers normalise with the whole
    batch's statistics (see above). Use as a context manager, or call ``close()``, to end the other processes.

        with DataParallel(model, loss_fn, processes=2) as dp:
            for x, y in batches:
                opt.zero_grad()
                loss, correct = dp.step(x, y)      # param.grad += the batch-mean gradient
                opt.step()
    """

    def __init__(self, model, loss_fn, processes=2, sync_batch_norm=False):
        if not isinstance(processes, int) or processes < 2:
            raise ValueError(f"DataParallel: processes must be an integer >= 2, got {processes!r}")
        if backend.xp_of() is not backend.np:
            raise ValueError("DataParallel: splits work over CPU processes and needs the NumPy backend; "
                             f"the active backend is {backend.xp_of().__name__}")
        self.model, self.loss_fn, self.processes = model, loss_fn, processes
        self.cores = max(1, parallel.workers // processes)         # each process's share of the cores
        if "fork" not in multiprocessing.get_all_start_methods():
            raise ValueError("DataParallel: starts its processes with fork, which this platform does not have")
        context = multiprocessing.get_context("fork")
        self._params = model.parameters()
        norms = [m.num_features for m in model.modules() if isinstance(m, _BatchNorm)]
        self._all_gather = _AllGather(processes, 1 + 2 * max(norms), context) if sync_batch_norm and norms else None
        self._shared_params = [_shared_like(p.data) for p in self._params]
        self._shared_grads = [None]                                # rank 0 adds its gradients in place
        self._replicas = []                                         # (process, connection) of ranks 1..P-1
        for rank in range(1, processes):
            self._shared_grads.append([_shared_like(p.data) for p in self._params])
            ours, theirs = context.Pipe()
            process = context.Process(target=_serve, daemon=True, name=f"tinycnn-replica-{rank}",
                                      args=(model, loss_fn, theirs, self.cores, self._shared_params,
                                            self._shared_grads[rank], rank, self._all_gather))
            process.start()
            theirs.close()
            self._replicas.append((process, ours))

    def step(self, x, y, seed=0):
        """Forward and backward of the batch (x, y) over the processes; the gradient of the batch-mean loss is
        added into each parameter's ``grad``. ``seed`` seeds this process's random draws (dropout); the others
        derive theirs from it. Returns (batch-mean loss, number of rows classified correctly)."""
        if not self._replicas:
            raise RuntimeError("DataParallel: step after close()")
        total = len(x)
        if total < self.processes:
            raise ValueError(f"DataParallel: a batch of {total} rows cannot be split over {self.processes} "
                             "processes (each needs at least one row)")
        spans = slices(total, self.processes)
        for p, shared in zip(self._params, self._shared_params):
            shared[...] = p.data
        flags = [p.requires_grad for p in self._params]
        if self._all_gather:
            if self._all_gather.barrier.broken:                     # by an error in the last step; no one waits
                self._all_gather.barrier.reset()
            self._all_gather.calls = 0
        for rank, (start, stop) in enumerate(spans[1:], 1):
            self._send(rank, (flags, self.model.training, x[start:stop], y[start:stop], total,
                              batch_seed(seed, rank)))
        error = None
        try:
            if self._all_gather:
                _set_all_gather(self.model, self._all_gather)      # only while the step runs
            with parallel.cores(self.cores):
                start, stop = spans[0]
                loss, correct = slice_gradients(self.model, self.loss_fn, x[start:stop], y[start:stop], total, seed)
                loss *= (stop - start) / total
        except Exception as e:                                      # noqa: BLE001 -- raised after the replies
            error = e
            if self._all_gather:
                self._all_gather.barrier.abort()                    # no process waits for this one's statistics
        finally:
            if self._all_gather:
                _set_all_gather(self.model, None)
        replies = [self._receive(rank) for rank in range(1, self.processes)]   # always, to keep in step
        failed = any(status == "error" for status, *_ in replies)
        if error is not None and not (isinstance(error, threading.BrokenBarrierError) and failed):
            raise error                                             # else the process that broke the barrier says why
        for rank, (status, *reply) in enumerate(replies, 1):
            if status == "error":
                raise RuntimeError(f"DataParallel: process {rank} of {self.processes} failed on rows "
                                   f"{spans[rank][0]}:{spans[rank][1]} of the batch:\n{reply[0]}")
        for rank, (_, slice_loss, slice_correct, has_grad) in enumerate(replies, 1):
            loss += slice_loss * (spans[rank][1] - spans[rank][0]) / total
            correct += slice_correct
            for p, grad, has in zip(self._params, self._shared_grads[rank], has_grad):
                if has:                                             # a copy where p.grad would be the shared array
                    p.accumulate(grad if p.grad is not None else grad.copy())
        return loss, correct

    def _send(self, rank, message):
        try:
            self._replicas[rank - 1][1].send(message)
        except (BrokenPipeError, ConnectionResetError):
            self._died(rank)

    def _receive(self, rank):
        try:
            return self._replicas[rank - 1][1].recv()
        except (EOFError, ConnectionResetError):
            self._died(rank)

    def _died(self, rank):
        process = self._replicas[rank - 1][0]
        process.join(1)
        self.close()
        raise RuntimeError(f"DataParallel: process {rank} (pid {process.pid}) ended unexpectedly "
                           f"(exit code {process.exitcode})") from None

    def close(self):
        """End the other processes (each finishes the step it is on)."""
        for process, conn in self._replicas:
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for process, conn in self._replicas:
            process.join(5)
            if process.is_alive():
                process.terminate()
                process.join()
            conn.close()
        self._replicas = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_replicas", None):
            self.close()
