"""tinycnn.parallel: the tasks' results come back in order, every task runs once, an error in any task reaches
the caller only after the other tasks have finished, a core that is held up does not hold up the tasks nobody has
taken, and OpenBLAS gets its thread count back."""
import os
import signal
import threading
import time

import numpy as np
import pytest

from tinycnn import parallel


@pytest.mark.parametrize("count", [2, 3, 7, 40])
def test_results_come_back_in_order_and_each_task_runs_once(count):
    calls = []
    results = parallel.run([lambda i=i: calls.append(i) or i * i for i in range(count)])
    assert results == [i * i for i in range(count)]
    assert sorted(calls) == list(range(count))


def test_an_error_is_raised_after_the_other_tasks_have_finished():
    done = []

    def slow(i):
        time.sleep(0.05)
        done.append(i)

    def fail():
        raise RuntimeError("task failed")
    tasks = [fail] + [lambda i=i: slow(i) for i in range(1, 6)]
    with pytest.raises(RuntimeError, match="task failed"):
        parallel.run(tasks)
    if parallel.workers < 2 or parallel._get_blas_threads is None:
        assert done == []                            # one by one: the error stops the tasks after it
    else:
        assert sorted(done) == list(range(1, 6))     # the other thread(s) took every task that fail's did not


@pytest.mark.skipif(parallel.workers < 2 or parallel._get_blas_threads is None,
                    reason="needs two cores and NumPy's OpenBLAS")
def test_tasks_run_on_two_threads_and_blas_threads_are_restored():
    before = parallel._get_blas_threads()
    seen, inside = set(), []

    def task():
        seen.add(threading.get_ident())
        inside.append(parallel._get_blas_threads())
        time.sleep(0.02)
    parallel.run([task] * 8)
    assert len(seen) >= 2 and set(inside) == {1}
    assert parallel._get_blas_threads() == before


@pytest.mark.skipif(parallel.workers < 2 or parallel._get_blas_threads is None,
                    reason="needs two cores and NumPy's OpenBLAS")
def test_a_held_up_thread_does_not_hold_up_the_tasks_nobody_has_taken():
    # Task 0 stands for a core the hypervisor pauses: while it sleeps, the other thread must take all the rest.
    # (With a fixed share per core, the paused core's share would wait for it and run after the pause.)
    ran_by = {}

    def task(i):
        if i == 0:
            time.sleep(0.5)
        ran_by[i] = threading.get_ident()
    parallel.run([lambda i=i: task(i) for i in range(9)])
    assert all(ran_by[i] != ran_by[0] for i in range(1, 9))


@pytest.mark.skipif(parallel.workers < 2 or parallel._get_blas_threads is None or not hasattr(os, "fork"),
                    reason="needs two cores, NumPy's OpenBLAS and fork")
def test_a_forked_child_runs_tasks_on_threads_of_its_own():
    # The parent's pool threads are not copied into a forked child (data_parallel forks its processes): the child
    # must start its own pool, or its first parallel section waits for threads that do not exist.
    parallel.run([lambda: None] * 4)                      # the parent's pool exists
    pid = os.fork()
    if pid == 0:
        seen = set()
        parallel.run([lambda: (seen.add(threading.get_ident()), time.sleep(0.02))] * 8)
        os._exit(0 if len(seen) >= 2 else 1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child's parallel section did not finish in 30 s")
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize("n", [1, 2])
def test_cores_sets_the_threads_within_a_block_and_restores_them(n):
    before = parallel.workers, parallel._get_blas_threads() if parallel._get_blas_threads else None
    with parallel.cores(n):
        assert parallel.workers == n
        if parallel._get_blas_threads:
            assert parallel._get_blas_threads() == n
    assert (parallel.workers, parallel._get_blas_threads() if parallel._get_blas_threads else None) == before


def test_elementwise_blocks_cover_the_whole_array_in_any_layout():
    rng = np.random.default_rng(0)
    for x in (rng.standard_normal((300, 500)), rng.standard_normal((40, 30, 200)).transpose(1, 0, 2),
              rng.standard_normal((600, 400))[:, ::2]):                      # contiguous, permuted, strided
        out = parallel.elementwise(lambda o, a: np.multiply(a, 2, out=o), np.empty_like(x), x)
        np.testing.assert_array_equal(out, 2 * x)


def test_copy_in_blocks_fills_every_element_of_a_strided_destination(monkeypatch):
    """parallel.copy, as the convolutions pad and crop with it: into and out of the interior of a padded grid,
    split into several blocks (a small block budget), nothing outside the interior touched."""
    monkeypatch.setattr(parallel, "BLOCK", 1 << 10)
    monkeypatch.setattr(parallel, "LEAST", 1 << 6)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3, 10, 12))
    grid = np.full((6, 3, 12, 14), -7.0)
    assert len(parallel.spans(6, x[0].size)) > 2                      # the copy really is split
    parallel.copy(grid[:, :, 1:11, 1:13], x)
    np.testing.assert_array_equal(grid[:, :, 1:11, 1:13], x)
    assert (grid[:, :, 0] == -7).all() and (grid[:, :, 11] == -7).all() and (grid[..., 0] == -7).all()
    crop = parallel.copy(np.empty_like(x), grid[:, :, 1:11, 1:13])
    np.testing.assert_array_equal(crop, x)


@pytest.mark.parametrize("workers", [2, 3])
def test_even_spans_give_each_worker_as_many_spans_of_one_size(monkeypatch, workers):
    monkeypatch.setattr(parallel, "workers", workers)
    for total in range(1, 200):
        for size in range(1, total + 1, 3):
            spans = parallel.even_spans(total, size)
            lengths = [stop - start for start, stop in spans]
            assert spans[0][0] == 0 and spans[-1][1] == total
            assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))         # in order, no gap, no overlap
            assert max(lengths) <= size and max(lengths) - min(lengths) <= 1 and min(lengths) > 0
            assert len(spans) % workers == 0 or len(spans) == total             # as many for each worker
    if workers == 2:
        assert parallel.even_spans(128, 28) == [(0, 21), (21, 42), (42, 64), (64, 85), (85, 106), (106, 128)]
