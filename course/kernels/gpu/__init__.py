"""CuPy kernels for the GPU, used for every CuPy array. CuPy is imported lazily by each kernel
file, so importing this package never needs a GPU."""

from course.kernels.gpu.recurrent import lstm_cell_backward, lstm_cell_forward
