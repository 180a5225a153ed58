"""OpenBLAS's slow state for medium products, and the product that ends it
(``course/kernels/cpu/threads.py``, ``_wake_blas``).

Run in a fresh process: it times the forward product of the N64 32->64 3x3 convolution's
column groups, (768, 288) @ (288, 64) float32 on one BLAS thread, then runs one larger
(128, 128) @ (128, 512) product on one thread, as each thread of ``course``'s parallel calls
does before its first share, and times the same product again. Then the same in two threads
started together, each timing its own product before and after its own large product: the
state goes with the OpenBLAS buffer a product uses, and products running at the same time use
different buffers. It prints the machine, then GFLOP/s before and after.

    PYTHONPATH=. python benchmarks/bench_blas_state.py
"""

import os
import sys
import threading
import time

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before numpy loads OpenBLAS

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_conv import describe_machine  # noqa: E402

ROWS, INNER, COLUMNS = 768, 288, 64


def gflops(a, b, out, calls=30):
    """GFLOP/s of a @ b into out, the best of ``calls`` calls."""
    best = min(_timed(a, b, out) for _ in range(calls))
    return 2 * a.shape[0] * a.shape[1] * b.shape[1] / best / 1e9


def _timed(a, b, out):
    start = time.perf_counter()
    np.matmul(a, b, out=out)
    return time.perf_counter() - start


def before_and_after(cols, w, out):
    """GFLOP/s of the product before and after one (128, 128) @ (128, 512) product."""
    before = gflops(cols.T, w.T, out)
    np.ones((128, 128), np.float32) @ np.ones((128, 512), np.float32)
    return before, gflops(cols.T, w.T, out)


def main():
    print(describe_machine())
    rng = np.random.default_rng(0)
    cols = rng.standard_normal((INNER, ROWS), dtype=np.float32)  # laid out as conv.py's columns
    w = rng.standard_normal((COLUMNS, INNER), dtype=np.float32)
    shape = f"({ROWS}, {INNER}) @ ({INNER}, {COLUMNS}) float32, one BLAS thread"
    before, after = before_and_after(cols, w, np.empty((ROWS, COLUMNS), np.float32))
    print(f"{shape}: {before:.1f} GFLOP/s before a (128, 128) @ (128, 512) product, "
          f"{after:.1f} GFLOP/s after")
    results = [None, None]

    def thread(i):
        results[i] = before_and_after(cols, w, np.empty((ROWS, COLUMNS), np.float32))

    threads = [threading.Thread(target=thread, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, (before, after) in enumerate(results):
        print(f"then in new thread {i} of 2 started together: {before:.1f} GFLOP/s before its "
              f"own large product, {after:.1f} after")


if __name__ == "__main__":
    main()
