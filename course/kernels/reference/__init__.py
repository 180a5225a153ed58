"""Readable numpy loops: slow, obviously right, the oracle the fast kernels are tested against.

Each topic lives in its own file; this package re-exports them so that every kernel set
(``reference``, ``cpu``, ``gpu``) offers the same names.
"""

from course.kernels.reference.activations import (
    gelu_backward,
    gelu_forward,
    relu_backward,
    relu_forward,
    silu_backward,
    silu_forward,
)
from course.kernels.reference.concat import channel_concat, channel_split
from course.kernels.reference.conv import (
    conv2d_backward,
    conv2d_backward_data,
    conv2d_backward_weight,
    conv2d_forward,
)
from course.kernels.reference.conv_general import (
    conv2d_general_backward_data,
    conv2d_general_backward_weight,
    conv2d_general_forward,
)
from course.kernels.reference.dropout import dropout_backward, dropout_forward
from course.kernels.reference.norm import (
    batchnorm_backward,
    batchnorm_eval_forward,
    batchnorm_train_forward,
)
from course.kernels.reference.pool import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from course.kernels.reference.recurrent import lstm_cell_backward, lstm_cell_forward
