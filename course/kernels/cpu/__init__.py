"""Numba kernels for the CPU: the default kernel set for numpy arrays.

Numba's ``workqueue`` threading layer is chosen before any parallel kernel runs: the default
OpenMP layer keeps its threads spinning after a parallel region and starves the BLAS threads
that the matrix products right after it need (see PERF_NOTES.md).
"""

import numba

numba.config.THREADING_LAYER = "workqueue"

from course.kernels.cpu.conv import (  # noqa: E402  (after the threading layer is chosen)
    conv2d_backward_data,
    conv2d_backward_weight,
    conv2d_forward,
)
from course.kernels.cpu.pool import (  # noqa: E402
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from course.kernels.cpu.recurrent import lstm_cell_backward, lstm_cell_forward  # noqa: E402
