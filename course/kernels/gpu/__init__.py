"""CuPy kernels for the GPU, used for every CuPy array. CuPy is imported lazily by each kernel
file, so importing this package never needs a GPU."""

from course.kernels.gpu.dropout import dropout_backward, dropout_forward
from course.kernels.gpu.norm import (
    batchnorm_backward,
    batchnorm_eval_forward,
    batchnorm_train_forward,
)
