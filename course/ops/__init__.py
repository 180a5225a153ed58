"""Functional primitives: ``NAME_forward(...) -> (out, cache)`` and ``NAME_backward(dout, cache)``.

Every op is importable flat from here, whichever file defines it::

    from course import ops
    out, cache = ops.linear_forward(x, w, b)
    dx, dw, db = ops.linear_backward(dout, cache)
"""

from course.backend import dispatching as _dispatching
from course.ops.activations import (
    elu_backward,
    elu_forward,
    gelu_backward,
    gelu_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    silu_backward,
    silu_forward,
    tanh_backward,
    tanh_forward,
)
from course.ops.batchnorm import (
    batchnorm_backward,
    batchnorm_forward,
    batchnorm_state,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from course.ops.concat import concat_backward, concat_forward, split_backward, split_forward
from course.ops.conv import (
    conv1d_backward,
    conv1d_forward,
    conv2d_backward,
    conv2d_forward,
    conv_transpose2d_backward,
    conv_transpose2d_forward,
)
from course.ops.conv_general import (
    conv2d_general_backward,
    conv2d_general_forward,
    conv_transpose2d_general_backward,
    conv_transpose2d_general_forward,
)
from course.ops.dropout import dropout_backward, dropout_forward
from course.ops.embedding import embedding_backward, embedding_forward
from course.ops.layernorm import layernorm_backward, layernorm_forward
from course.ops.linear import linear_backward, linear_forward
from course.ops.losses import mse_loss, pixel_softmax_loss, softmax, softmax_loss, svm_loss
from course.ops.pool import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    global_avg_pool2d_backward,
    global_avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from course.ops.recurrent import (
    lstm_backward,
    lstm_forward,
    lstm_states_backward,
    lstm_states_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)
from course.ops.temporal import (
    temporal_linear_backward,
    temporal_linear_forward,
    temporal_softmax_loss,
)

# course.backend.use("mine") runs the student's own function instead of an op where the
# student exported one (course.mine): every op goes through that switch.
for _name in [n for n in dir() if n.endswith(("_forward", "_backward", "_loss"))]:
    globals()[_name] = _dispatching(globals()[_name])
del _name
