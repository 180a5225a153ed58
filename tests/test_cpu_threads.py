"""``course.kernels.cpu.threads``: shares of a batch run on separate threads with one BLAS thread
each, per-thread scratch buffers, and a pool that survives ``fork``."""

import multiprocessing
import threading
import time

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info

from course.kernels import cpu, reference
from course.kernels.cpu.threads import (
    SHARE_MIN_FLOPS,
    SHARES_PER_THREAD,
    in_parallel,
    shares,
    workspace,
)

pytestmark = pytest.mark.conv

needs_two_threads = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                                       reason="Numba has a single thread here")


def blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.mark.parametrize("n, parts", [(5, 2), (2, 2), (7, 3), (1, 1)])
def test_shares_cover_the_range_in_order_with_sizes_one_apart(n, parts):
    pieces = shares(n, parts)
    assert len(pieces) == parts
    assert [i for start, stop in pieces for i in range(start, stop)] == list(range(n))
    sizes = [stop - start for start, stop in pieces]
    assert max(sizes) - min(sizes) <= 1


@needs_two_threads
def test_in_parallel_spreads_the_shares_over_the_threads_with_one_blas_thread(numba_threads):
    numba_threads(2)
    before = blas_threads()
    barrier = threading.Barrier(2, timeout=10)  # the first two shares run at the same time

    def work(start, stop):
        if start < 2:
            barrier.wait()
        return start, stop, threading.get_ident(), blas_threads()

    results = in_parallel(5, work)
    assert [(start, stop) for start, stop, _, _ in results] == shares(5, 5)  # in order
    assert len({ident for _, _, ident, _ in results}) == 2
    assert threading.get_ident() in {ident for _, _, ident, _ in results}  # the caller works
    assert all(set(inside) == {1} for _, _, _, inside in results)
    assert blas_threads() == before


@needs_two_threads
def test_a_slow_thread_takes_fewer_shares(numba_threads):
    numba_threads(2)
    caller, done_elsewhere = threading.get_ident(), []
    others_done = threading.Event()

    def work(start, stop):  # the calling thread's first share waits for all the others
        if threading.get_ident() == caller:
            others_done.wait(timeout=10)
            return "caller"
        done_elsewhere.append(start)
        if len(done_elsewhere) == pieces - 1:
            others_done.set()
        return "other"

    pieces = 2 * SHARES_PER_THREAD  # with one share per thread, the caller would do half
    ran = in_parallel(100, work)
    assert ran.count("caller") == 1 and ran.count("other") == pieces - 1


@needs_two_threads
@pytest.mark.parametrize("flops_in_shares, expected", [
    (None, 2 * SHARES_PER_THREAD), (0.5, 2), (3.9, 2), (4.1, 4), (5.9, 4), (6.1, 6),
    (100, 2 * SHARES_PER_THREAD)])
def test_a_call_with_little_arithmetic_is_cut_into_fewer_shares(numba_threads, flops_in_shares,
                                                                 expected):
    """About one share per SHARE_MIN_FLOPS of the call's arithmetic, the same number for each
    thread (an odd count would leave one idle at the end), at least one and at most
    SHARES_PER_THREAD per thread; without ``flops``, the most."""
    numba_threads(2)
    flops = None if flops_in_shares is None else flops_in_shares * SHARE_MIN_FLOPS
    assert len(in_parallel(100, lambda start, stop: (start, stop), flops=flops)) == expected


def test_in_parallel_with_one_thread_runs_inline_and_keeps_blas_threads(numba_threads):
    numba_threads(1)
    before = blas_threads()
    results = in_parallel(4, lambda start, stop: (start, stop, threading.get_ident(),
                                                  blas_threads()))
    assert results == [(0, 4, threading.get_ident(), before)]


def test_in_parallel_of_nothing_calls_nothing():
    assert in_parallel(0, lambda start, stop: pytest.fail("called")) == []


@needs_two_threads
def test_an_error_in_a_share_is_raised_after_every_share_ends(numba_threads):
    numba_threads(2)
    before = blas_threads()

    finished = []

    def work(start, stop):
        if start == 0:
            raise RuntimeError("share failed")
        time.sleep(0.2)
        finished.append((start, stop))

    with pytest.raises(RuntimeError, match="share failed"):
        in_parallel(4, work)
    assert sorted(finished) == [(1, 2), (2, 3), (3, 4)]  # all ended before the error came out
    assert blas_threads() == before


def test_workspace_is_reused_by_name_and_private_to_a_thread():
    a = workspace("test-a", (3, 4), np.float32)
    assert a.shape == (3, 4) and a.dtype == np.float32
    assert np.shares_memory(workspace("test-a", (2, 5), np.float32), a)  # smaller: same buffer
    assert not np.shares_memory(workspace("test-b", (3, 4), np.float32), a)
    bigger = workspace("test-a", (100, 100), np.float64)
    assert bigger.shape == (100, 100) and bigger.dtype == np.float64
    other = []
    thread = threading.Thread(target=lambda: other.append(workspace("test-a", (3, 4),
                                                                    np.float32)))
    thread.start()
    thread.join()
    assert not np.shares_memory(other[0], workspace("test-a", (3, 4), np.float32))


def _conv_matches_reference(queue):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((6, 2, 7, 5)), rng.standard_normal((3, 2, 3, 3)), np.ones(3)
    got = cpu.conv2d_forward(x, w, b, (1, 1), (1, 1))
    queue.put(bool(np.allclose(got, reference.conv2d_forward(x, w, b, (1, 1), (1, 1)))))


@needs_two_threads
def test_the_conv_kernels_work_in_a_forked_child(numba_threads):
    """A child made by fork has no pool threads: the kernels must make new ones, not hang."""
    numba_threads(2)
    x = np.ones((4, 1, 5, 5))
    cpu.conv2d_forward(x, np.ones((1, 1, 3, 3)), np.zeros(1), (1, 1), (0, 0))  # pool started
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_conv_matches_reference, args=(queue,))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        pytest.fail("the conv kernel hung in a forked child")
    assert queue.get(timeout=5) is True


@pytest.mark.parametrize("threads", [1, 2])
def test_the_first_call_in_a_process_wakes_blas_in_every_thread_at_once(monkeypatch,
                                                                       numba_threads, threads):
    """``_wake_blas`` runs once per process, on the first ``in_parallel`` call (with one thread
    too): the waking product runs in the calling thread and in each of the pool's threads, all at
    the same time, with BLAS held to one thread."""
    from threadpoolctl import threadpool_limits

    from course.kernels.cpu import threads as cpu_threads

    numba_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    seen, together = [], threading.Barrier(numba.config.NUMBA_NUM_THREADS, timeout=10)

    def product():
        seen.append((threading.get_ident(), blas_threads()))
        together.wait()  # broken (the call raises) unless every thread runs it at the same time

    monkeypatch.setattr(cpu_threads, "_waking_product", product)
    monkeypatch.setitem(cpu_threads._STATE, "pid", None)  # as in a fresh process
    with threadpool_limits(limits=2, user_api="blas"):
        for _ in range(3):
            in_parallel(4, lambda start, stop: None)
        assert set(blas_threads()) == {2}
    assert len({ident for ident, _ in seen}) == len(seen) == numba.config.NUMBA_NUM_THREADS
    assert [blas for _, blas in seen] == [[1] * len(blas_threads())] * len(seen)
