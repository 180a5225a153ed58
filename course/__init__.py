"""course: a deep-learning library built lecture by lecture.

Layers, bottom up: ``kernels`` (reference numpy, Numba, CuPy) -> ``ops`` (forward/backward pairs)
-> ``nn`` (modules) -> ``models``, ``optim``, ``data``, ``train``. See DESIGN.md in the docs.
"""

import numba

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
