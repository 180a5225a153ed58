"""Numba kernels for the CPU: the default kernel set for numpy arrays.

``import course`` has already chosen Numba's threading layer (see ``course/__init__.py``).
"""

from course.kernels.cpu.activations import (
    gelu_backward,
    gelu_forward,
    relu_backward,
    relu_forward,
    silu_backward,
    silu_forward,
)
from course.kernels.cpu.concat import channel_concat, channel_split
from course.kernels.cpu.conv import (
    conv2d_backward,
    conv2d_backward_data,
    conv2d_backward_weight,
    conv2d_forward,
)
from course.kernels.cpu.conv_general import (
    conv2d_general_backward_data,
    conv2d_general_backward_weight,
    conv2d_general_forward,
)
from course.kernels.cpu.dropout import dropout_backward, dropout_forward
from course.kernels.cpu.norm import (
    batchnorm_backward,
    batchnorm_eval_forward,
    batchnorm_train_forward,
)
from course.kernels.cpu.pool import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from course.kernels.cpu.recurrent import lstm_cell_backward, lstm_cell_forward
