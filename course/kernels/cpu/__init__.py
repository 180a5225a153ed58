"""Numba kernels for the CPU: the default kernel set for numpy arrays.

Numba's ``workqueue`` threading layer is chosen before any parallel kernel runs: the default
OpenMP layer keeps its threads spinning after a parallel region and starves the BLAS threads
that the matrix products right after it need (see PERF_NOTES.md).
"""

import numba

numba.config.THREADING_LAYER = "workqueue"

from course.kernels.cpu.recurrent import lstm_cell_backward, lstm_cell_forward  # noqa: E402
