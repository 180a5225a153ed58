"""Data parallelism over a batch with Python threads, for kernels that mix Numba and BLAS
(lecture 3).

A convolution alternates packing loops (Numba) and matrix products (BLAS). Running each step
on all cores in turn makes two thread pools hand the cores back and forth several times per
layer, and leaves every product small enough to run below BLAS's peak. Instead, ``in_parallel``
splits the batch into one share of samples per thread, and each thread runs its share from
start to end on its own core: serial Numba kernels (compiled with ``nogil=True``, so they run
while other threads hold the GIL) and single-threaded BLAS products (numpy releases the GIL
during a product). See ``course/kernels/cpu/conv.py`` for the speed this gave.

Each thread also keeps its scratch buffers between calls (``workspace``): a fresh buffer of
several megabytes is new memory that the operating system maps page by page on first touch,
and page faults from two threads queue behind one lock in the kernel.

One interaction to know: after a product that OpenBLAS ran on several threads (a linear layer),
its idle threads keep spinning for about 0.1 s (a 50 ms sleep right after one used 50 ms of
CPU), so a convolution that follows at once shares a core with a spinning thread (measured:
0.67 ms alone, 1.14 ms right after a small two-thread product). ``OPENBLAS_THREAD_TIMEOUT``,
read when numpy loads OpenBLAS, shortens the spinning.

Another, after a pause: the threads of the pool sleep between calls, and the first call after
0.2 s or more of idling woke the other thread onto the core of the calling thread. On the
project's 2-core VM the two shares then shared one core until Linux's load balancer moved a
thread away, about 50 ms later (LeNet-5's second layer: 4.5 ms per call in that time, 2.5 ms
after it; after pauses of 20 ms only the first call was slow). Pinning each thread to its own
core removed the slow phase but made every call about 5% slower, so the threads are not pinned;
``benchmarks/bench_conv.py`` warms each library up for 0.1 s before timing it.

And one about OpenBLAS itself: in a process whose products have all been small or medium,
OpenBLAS (0.3.31, Haswell kernels, on the project's AMD EPYC machine) may run medium products at
half speed until a large one has run, after which they stay fast. One thread, float32: the
32->64 3x3 convolution's forward product, (768, 288) @ (288, 64), ran at 17-18 GFLOP/s before
and 35 GFLOP/s after a single (128, 128) @ (128, 512) product (not after (32, 128) @ (128, 512),
nor after any number of the convolution's own products); the forward pass of that layer on two
threads took 20.9 ms before and 15.2 ms after. The state goes with the OpenBLAS buffer a product
uses, and products that run at the same time use different buffers: of two threads started
together after the main thread's large product, the first ran at 36 GFLOP/s and the second at
17.5 until it ran a large product itself, while threads started one after another were all fast
(``benchmarks/bench_blas_state.py``). So with only the calling thread woken, the pool's thread
ran (256, 576) @ (576, 64) at 22 GFLOP/s (median) against the caller's 35, and its shares of
the stride-2 layer's forward pass took 1.4-2.2 ms against 0.9-1.2. Why is not known (it is not
page faults or memory mappings). A large product that OpenBLAS shares between threads does not
do it: it must run on one thread. So the first call of ``in_parallel`` in a process has the
calling thread and the pool's threads each run one such product on one BLAS thread, all at once
(``_wake_blas``).
"""

import contextlib
import itertools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numba
import numpy as np
from threadpoolctl import ThreadpoolController

_LOCK = threading.Lock()      # one parallel section at a time (see in_parallel)
_STATE = {"pid": None}        # the pool and the BLAS controller of this process
_SCRATCH = threading.local()  # each thread's buffers, by name
SHARES_PER_THREAD = 4         # shares of a batch per thread, at most (see in_parallel)
SHARE_MIN_FLOPS = 10_000_000  # and fewer shares where each would do less arithmetic than this


def _waking_product():
    """The product that puts an OpenBLAS buffer in its fast state (see the module docstring)."""
    np.ones((128, 128), np.float32) @ np.ones((128, 512), np.float32)


def _wake_blas(pool, threads):
    """Put OpenBLAS in its fast state (see the module docstring) for ``threads`` products at
    once: the calling thread and ``threads - 1`` of the pool's each run one product of the size
    that does it, all at the same time (a barrier starts them together), with BLAS held to one
    thread. About 1 ms, once per process."""
    start = threading.Barrier(threads)

    def wake():
        start.wait()
        _waking_product()

    futures = [pool.submit(wake) for _ in range(threads - 1)]
    wake()
    for future in futures:
        future.result()


def _pool_and_blas():
    """This process's thread pool and its BLAS libraries' controllers, made on first use (and
    again in a child process after ``fork``, which does not copy threads), and OpenBLAS woken
    for as many threads as Numba may use."""
    if _STATE["pid"] != os.getpid():
        blas = ThreadpoolController().select(user_api="blas").lib_controllers
        threads = max(1, numba.config.NUMBA_NUM_THREADS)
        pool = ThreadPoolExecutor(max(1, threads - 1), thread_name_prefix="course-cpu")
        with _one_blas_thread(blas):
            _wake_blas(pool, threads)
        _STATE.update(pid=os.getpid(), blas=blas, pool=pool)
    return _STATE["pool"], _STATE["blas"]


def shares(n, parts):
    """Split range(n) into ``parts`` contiguous (start, stop) shares, sizes differing by at most
    one (lecture 3)."""
    return [(n * i // parts, n * (i + 1) // parts) for i in range(parts)]


def in_parallel(n, work, flops=None):
    """Run ``work(start, stop)`` on shares of range(n), spread over the threads; returns their
    results in the order of the shares (lecture 3). ``flops``: the arithmetic of the whole
    call, if known (see below).

    As many threads as ``numba.get_num_threads()`` (at most ``n``), the calling thread included,
    with numpy's BLAS held to one thread each while they run. The batch is cut into
    SHARES_PER_THREAD shares per thread, and each thread takes the next share left when it
    finishes one: a thread that another program slows down then does fewer shares instead of
    holding up the others (with one share per thread, a busy-loop process on one of two cores
    made each share on that core, and so the whole call, take twice as long). But each share
    costs Python some 50-100 us (slicing, buffers, kernel calls): a call of less than
    ``threads * SHARES_PER_THREAD * SHARE_MIN_FLOPS`` floating-point operations is cut into
    fewer shares, about one per SHARE_MIN_FLOPS, and always the same number for every thread.
    On the project's 2-core machine that took the small ResNet's 1x1 stride-2 shortcut (N64
    16->32 16x16, 4 MFLOP a pass, 2 shares instead of 8) from 2.9-3.4 to 1.5-1.6 ms, forward
    and backward; an odd number of shares left one thread idle for the last (LeNet-5's second
    layer forward, 39 MFLOP: 3 shares took 2.6 ms, 2 shares 1.7 ms). The shares
    and the order of the results do not depend on which thread ran which, so the results are
    the same on every run. With a single thread, ``work`` runs once in the calling thread and BLAS
    keeps all its threads. One parallel section runs at a time: a second caller waits, so that
    the threads never outnumber the cores and the BLAS thread count is restored exactly.
    """
    threads = min(numba.get_num_threads(), n)
    if threads <= 1:
        with _LOCK:
            _pool_and_blas()  # wakes BLAS once per process (see the module docstring)
        return [work(0, n)] if n > 0 else []
    with _LOCK:
        pool, blas = _pool_and_blas()
        per_thread = SHARES_PER_THREAD
        if flops is not None:
            per_thread = max(1, min(per_thread, int(flops // (SHARE_MIN_FLOPS * threads))))
        parts = threads * per_thread  # the same number of shares for every thread
        pieces = shares(n, min(n, parts))
        results = [None] * len(pieces)
        claim = itertools.count()  # next() on it is atomic: each share is taken once

        def run():
            while (i := next(claim)) < len(pieces):
                results[i] = work(*pieces[i])

        with _one_blas_thread(blas):
            futures = [pool.submit(run) for _ in range(threads - 1)]
            try:
                run()
            finally:  # the other threads end before the lock and the BLAS limit are let go
                wait(futures)
            for future in futures:
                future.result()  # raises a worker's exception here
            return results


@contextlib.contextmanager
def _one_blas_thread(libraries):
    """Each BLAS library (threadpoolctl's controllers) on one thread inside the block, then on as
    many as before. Calling the libraries' controllers directly takes 8 us, threadpoolctl's
    ``limit`` 36 us: a network's convolutions enter this block twice per layer and step."""
    before = [library.num_threads for library in libraries]
    for library in libraries:
        library.set_num_threads(1)
    try:
        yield
    finally:
        for library, threads in zip(libraries, before, strict=True):
            library.set_num_threads(threads)


def sample_groups(start, stop, sample_bytes, group_bytes):
    """(first, last + 1) sample of each group in range(start, stop) of samples whose scratch
    buffers, sample_bytes each, fill about group_bytes (at least one sample a group)."""
    size = max(1, group_bytes // max(1, sample_bytes))
    return [(s, min(stop, s + size)) for s in range(start, stop, size)]


def workspace(name, shape, dtype):
    """A scratch array of ``shape`` and ``dtype``, private to the calling thread and reused by its
    next call with the same ``name`` (contents undefined) (lecture 3)."""
    size = math.prod(shape) * np.dtype(dtype).itemsize
    buffers = _SCRATCH.__dict__.setdefault("buffers", {})
    if name not in buffers or buffers[name].size < size:
        buffers[name] = np.empty(size, dtype=np.uint8)
    return buffers[name][:size].view(dtype).reshape(shape)
