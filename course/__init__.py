"""course: a deep-learning library built lecture by lecture.

Layers, bottom up: ``kernels`` (reference numpy, Numba, CuPy) -> ``ops`` (forward/backward pairs)
-> ``nn`` (modules) -> ``models``, ``optim``, ``data``, ``train``. See DESIGN.md in the docs.
"""

import os
import sys

# OpenBLAS's idle threads spin for about 0.1 s after every product they shared (2**28 clock
# cycles), and a convolution or pooling kernel that follows at once shares its cores with
# them: a LeNet-5 training step took 33 ms with the default and 24 ms with the threads
# sleeping at once (2**4 cycles; 2 cores; ``benchmarks/train_step.py``). But a sleeping thread
# must be woken for the next product, and on a virtual machine whose idle cores halt that took
# about 100 us (``benchmarks/bench_conv.py`` prints it): an LSTM's 32 step products, (64, 256)
# @ (256, 1024) and back, each paid it, and the LSTM of ``benchmarks/speed_table.py`` (N64 T16
# D128 H256, forward and backward) took 33-57 ms on two threads, hardly less than 49-53 ms on
# one; with 2**20 cycles 30.6-35.8 ms (PyTorch 27.5-34.5 ms; AMD EPYC Zen 3 VM, six runs each),
# while the LeNet-5 step took the same time with either (21-27 and 18-28 ms). So the threads
# spin for 2**20 cycles, about 0.4 ms: long enough to span the gap between two steps' products,
# and a kernel that follows shares its cores with them for at most that long. OpenBLAS reads
# this variable once, when numpy loads it, so it is set here only if numpy is not imported yet
# (and never over a value the user set); ``course doctor`` says whether it took effect.
OPENBLAS_TIMEOUT_SET = "numpy" not in sys.modules
if OPENBLAS_TIMEOUT_SET:
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")

import numba  # noqa: E402  (imports numpy)

# Numba's default threading layer here (OpenMP) keeps its threads spinning after a parallel
# region and starves the BLAS threads of the matrix product that follows: 2x to 10x slower
# training steps (PERF_NOTES.md). The layer must be chosen before Numba starts any thread
# (a parallel kernel, or even numba.get_num_threads()), so it is chosen on ``import course``.
numba.config.THREADING_LAYER = "workqueue"

__version__ = "0.1.0"

from course.numba_cache import configure as _configure_numba_cache  # noqa: E402

_configure_numba_cache()

from course.random import manual_seed  # noqa: E402
from course.tensor import Tensor, no_grad  # noqa: E402
