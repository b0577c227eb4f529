"""DataParallel: a batch's gradient computed over several processes, each on its own rows."""
import os
import re
import signal

import numpy as np
import pytest

import tinycnn
from tinycnn import nn, optim
from tinycnn.data_parallel import DataParallel, slice_gradients, slices
from tinycnn.models.resnet import BasicBlock


def rowwise_net():
    """No batch norm: every row is computed on its own, so splitting the batch must not change the gradient."""
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(6 * 4 * 4, 10)).double()


def batch(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3, 8, 8)), rng.integers(0, 10, n)


def batch_norm_net():
    """Every kind of batch norm layer, before and after the flatten (a residual block's BatchNormAddReLU2d among
    them); float64 for tight comparisons."""
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), BasicBlock(4, 4),
                         nn.Conv2d(4, 5, 3), nn.BatchNormReLU2d(5), nn.Conv2d(5, 5, 1), nn.BatchNormGELU2d(5),
                         nn.Flatten(), nn.Linear(5 * 6 * 6, 7), nn.BatchNorm1d(7), nn.Linear(7, 10)).double()


def norms(model):
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm1d) or isinstance(m, nn.BatchNorm2d)]


def gradients(model):
    return [None if p.grad is None else p.grad.copy() for p in model.parameters()]


def test_slices_cover_the_batch_in_order_with_sizes_differing_by_one_at_most():
    assert slices(13, 3) == [(0, 5), (5, 9), (9, 13)]
    assert slices(4, 2) == [(0, 2), (2, 4)]


@pytest.mark.parametrize("processes", [2, 3])
def test_gradient_of_a_split_batch_equals_the_whole_batch_gradient(processes):
    tinycnn.manual_seed(0)
    model, loss_fn = rowwise_net(), nn.CrossEntropyLoss(label_smoothing=0.1)
    x, y = batch(13)                                            # 13 rows: slices of unequal size
    want_loss, want_correct = slice_gradients(model, loss_fn, x, y, len(x), seed=0)
    want = gradients(model)
    model.zero_grad()
    with DataParallel(model, loss_fn, processes) as dp:
        loss, correct = dp.step(x, y)
    assert loss == pytest.approx(want_loss, rel=1e-12) and correct == want_correct
    for p, g in zip(model.parameters(), want):
        np.testing.assert_allclose(p.grad, g, rtol=1e-10, atol=1e-14)


def test_batch_norm_normalises_each_process_rows_on_their_own():
    tinycnn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 8 * 8, 10)).double()
    loss_fn = nn.CrossEntropyLoss()
    x, y = batch(10)
    state = {k: v.copy() for k, v in model.state_dict().items()}
    # the expected gradient: each half on its own (ghost batch norm), weighted by its share of the batch
    halves = []
    for start, stop in slices(10, 2):
        model.load_state_dict(state)
        model.zero_grad()
        slice_gradients(model, loss_fn, x[start:stop], y[start:stop], 10, seed=0)
        halves.append((gradients(model), {k: v.copy() for k, v in model.state_dict().items()}))
    model.load_state_dict(state)
    model.zero_grad()
    with DataParallel(model, loss_fn, 2) as dp:
        dp.step(x, y)
    for p, g0, g1 in zip(model.parameters(), halves[0][0], halves[1][0]):
        np.testing.assert_allclose(p.grad, g0 + g1, rtol=1e-10, atol=1e-14)
    # the running statistics kept are those of the first process's rows
    np.testing.assert_allclose(model.children()[1].running_mean, halves[0][1]["1.running_mean"], rtol=1e-12)
    assert not np.allclose(halves[0][1]["1.running_mean"], halves[1][1]["1.running_mean"])


def test_steps_with_an_optimizer_match_one_process_and_frozen_parameters_get_no_gradient():
    x, y = batch(12)
    runs = []
    for processes in (1, 2):
        tinycnn.manual_seed(3)
        model, loss_fn = rowwise_net(), nn.CrossEntropyLoss()
        model.children()[0].bias.requires_grad = False
        opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        dp = DataParallel(model, loss_fn, processes) if processes > 1 else None
        for step in range(3):                                   # the replica must see each step's new weights
            opt.zero_grad()
            if dp:
                dp.step(x, y, seed=step)
            else:
                slice_gradients(model, loss_fn, x, y, len(x), seed=step)
            assert model.children()[0].bias.grad is None
            opt.step()
        if dp:
            dp.close()
        runs.append([p.data.copy() for p in model.parameters()])
    assert not np.allclose(runs[0][0], rowwise_net().parameters()[0].data)   # the steps did move the weights
    for a, b in zip(*runs):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)


def test_an_error_in_another_process_names_it_and_the_processes_stay_in_step():
    model, loss_fn = rowwise_net(), nn.CrossEntropyLoss()
    x, y = batch(8)
    bad = y.copy()
    bad[6] = 10                                                 # out of range, in the second process's rows
    with DataParallel(model, loss_fn, 2) as dp:
        with pytest.raises(RuntimeError, match=r"(?s)process 1 of 2 failed on rows 4:8 of the batch.*"
                                               r"labels must lie in \[0, 9\] for 10 classes"):
            dp.step(x, bad)
        model.zero_grad()
        loss, _ = dp.step(x, y)                                 # the next step still works
        want, _ = slice_gradients(rowwise_net_like(model), loss_fn, x, y, len(x), seed=0)
        assert loss == pytest.approx(want, rel=1e-12)


def rowwise_net_like(model):
    copy = rowwise_net()
    copy.load_state_dict(model.state_dict())
    return copy


def test_a_process_that_dies_is_reported():
    model, loss_fn = rowwise_net(), nn.CrossEntropyLoss()
    x, y = batch(8)
    dp = DataParallel(model, loss_fn, 2)
    process = dp._replicas[0][0]
    os.kill(process.pid, signal.SIGKILL)
    process.join(5)
    with pytest.raises(RuntimeError, match=r"process 1 \(pid \d+\) ended unexpectedly \(exit code -9\)"):
        dp.step(x, y)
    with pytest.raises(RuntimeError, match="step after close"):
        dp.step(x, y)


def test_bad_arguments():
    model, loss_fn = rowwise_net(), nn.CrossEntropyLoss()
    with pytest.raises(ValueError, match="processes must be an integer >= 2, got 1"):
        DataParallel(model, loss_fn, 1)
    with DataParallel(model, loss_fn, 3) as dp:
        with pytest.raises(ValueError, match="a batch of 2 rows cannot be split over 3 processes"):
            dp.step(*batch(2))


@pytest.mark.parametrize("net, sync", [(rowwise_net, False), (batch_norm_net, True)],
                         ids=["rows-independent", "synchronised-batch-norm"])
def test_trainer_with_two_processes_trains_as_one(net, sync, monkeypatch):
    from tinycnn import data
    from tinycnn.data_parallel import DataParallel as DP
    from tinycnn.train import Trainer
    steps = []
    step = DP.step
    monkeypatch.setattr(DP, "step", lambda self, *args: steps.append(1) or step(self, *args))
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 256, (40, 3, 8, 8), dtype=np.uint8), rng.integers(0, 10, 40)
    runs = []
    for processes in (1, 2):
        tinycnn.manual_seed(0)
        model = net()
        loader = data.DataLoader(x, y, batch_size=10, shuffle=True, augment=data.Augment(1, True), seed=4)
        trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                          progress=False, processes=processes, sync_batch_norm=sync)
        trainer.fit(loader, 2)
        runs.append((trainer.history, list(model.state_dict().values())))
    assert len(steps) == 2 * 4                                  # the 2-process run went through DataParallel
    assert [h["train_acc"] for h in runs[0][0]] == [h["train_acc"] for h in runs[1][0]]
    np.testing.assert_allclose([h["train_loss"] for h in runs[1][0]], [h["train_loss"] for h in runs[0][0]],
                               rtol=1e-10)
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("processes", [2, 3])
def test_synchronised_batch_norm_computes_what_one_process_does(processes):
    tinycnn.manual_seed(0)
    model, loss_fn = batch_norm_net(), nn.CrossEntropyLoss()
    x, y = batch(13)                                            # 13 rows: slices of unequal size
    x = 3 * x + 1                                               # statistics far from the initial running ones
    state = {k: v.copy() for k, v in model.state_dict().items()}
    want_loss, want_correct = slice_gradients(model, loss_fn, x, y, len(x), seed=0)
    want, want_state = gradients(model), {k: v.copy() for k, v in model.state_dict().items()}
    for sync in (False, True):
        model.load_state_dict(state)
        model.zero_grad()
        with DataParallel(model, loss_fn, processes, sync_batch_norm=sync) as dp:
            for _ in range(2):                                  # a second step exchanges through the same tables
                model.zero_grad()
                model.load_state_dict(state)
                loss, correct = dp.step(x, y)
        close = all(np.allclose(p.grad, g, rtol=1e-10, atol=1e-14) for p, g in zip(model.parameters(), want))
        assert close == sync                                    # without the exchange, not the same computation
    assert loss == pytest.approx(want_loss, rel=1e-12) and correct == want_correct
    for p, g in zip(model.parameters(), want):
        np.testing.assert_allclose(p.grad, g, rtol=1e-10, atol=1e-14)
    for name, value in model.state_dict().items():             # the running statistics are the whole batch's
        np.testing.assert_allclose(value, want_state[name], rtol=1e-12, atol=1e-14, err_msg=name)
    assert all(m.all_gather is None for m in norms(model))     # only while a step runs
    model.train()
    model(x)                                                    # so training outside DataParallel does not wait


@pytest.mark.parametrize("bad_row, rank", [(6, 1), (1, 0)])
def test_an_error_in_one_process_under_synchronised_batch_norm_is_reported_and_the_next_step_works(
        bad_row, rank, monkeypatch):
    import threading
    import tinycnn.data_parallel
    monkeypatch.setattr(tinycnn.data_parallel, "BARRIER_TIMEOUT", None)   # a process left waiting would hang
    tinycnn.manual_seed(0)
    model, loss_fn = batch_norm_net(), nn.CrossEntropyLoss()
    x, y = batch(8)
    bad = y.copy()
    bad[bad_row] = 10                    # the loss fails after the forward exchanges, before the backward ones
    state = {k: v.copy() for k, v in model.state_dict().items()}
    with DataParallel(model, loss_fn, 2, sync_batch_norm=True) as dp:
        errors = []

        def failing_step():
            try:
                dp.step(x, bad)
            except Exception as e:      # noqa: BLE001 -- examined below
                errors.append(e)
        thread = threading.Thread(target=failing_step, daemon=True)
        thread.start()
        thread.join(60)
        assert not thread.is_alive(), "the process that failed left the others waiting at the barrier"
        if rank:
            assert isinstance(errors[0], RuntimeError)
            assert re.search(r"(?s)process 1 of 2 failed on rows 4:8 of the batch.*labels must lie in \[0, 9\]",
                             str(errors[0]))
        else:
            assert isinstance(errors[0], ValueError) and "labels must lie in [0, 9]" in str(errors[0])
        model.load_state_dict(state)
        model.zero_grad()
        loss, _ = dp.step(x, y)
    reference = batch_norm_net()
    reference.load_state_dict(state)
    want, _ = slice_gradients(reference, loss_fn, x, y, len(x), seed=0)
    assert loss == pytest.approx(want, rel=1e-12)
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-10, atol=1e-14)
