"""CuPy kernels for the GPU, used for every CuPy array. CuPy is imported lazily by each kernel
file, so importing this package never needs a GPU."""

from course.kernels.gpu.activations import (
    gelu_backward,
    gelu_forward,
    relu_backward,
    relu_forward,
    silu_backward,
    silu_forward,
)
from course.kernels.gpu.concat import channel_concat, channel_split
from course.kernels.gpu.conv import (
    conv2d_backward,
    conv2d_backward_data,
    conv2d_backward_weight,
    conv2d_forward,
)
from course.kernels.gpu.conv_general import (
    conv2d_general_backward_data,
    conv2d_general_backward_weight,
    conv2d_general_forward,
)
from course.kernels.gpu.dropout import dropout_backward, dropout_forward
from course.kernels.gpu.norm import (
    batchnorm_backward,
    batchnorm_eval_forward,
    batchnorm_train_forward,
)
from course.kernels.gpu.pool import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from course.kernels.gpu.recurrent import lstm_cell_backward, lstm_cell_forward
