"""Differentiable functions on Tensors, each one an existing ``course.ops`` pair (lecture 2b).

No new maths lives here: ``apply`` runs an op's forward on the arrays inside the Tensors and
records the op's backward, with its cache, on the output. Every function also takes plain
arrays, and then returns a plain array (no graph), so a module or a model can call them on
either::

    import course.functional as F
    h = F.relu(F.linear(x, w, b))              # x a Tensor: h is a Tensor with a graph
    loss = F.cross_entropy(F.linear(h, w2, b2), y)
    loss.backward()
"""

import numpy as np

from course import ops
from course.backend import get_array_module
from course.random import make_rng
from course.tensor import Tensor, as_array, record


def apply(forward_op, backward_op, *inputs, **params):
    """Run ``forward_op(*inputs, **params) -> (out, cache)`` and, when an input is a Tensor,
    record ``backward_op(dout, cache)`` as the gradient of the inputs, in order (lecture 2b).

    ``inputs`` are the op's differentiable arguments (Tensors or arrays; arrays are
    constants); ``params`` are the others. With no Tensor among the inputs the plain output
    array is returned.
    """
    out, cache = forward_op(*[as_array(a) for a in inputs], **params)
    if not any(isinstance(a, Tensor) for a in inputs):
        return out
    return record(out, inputs, lambda dout: backward_op(dout, cache), forward_op.__name__)


def _loss(loss_op, pred, *targets, **params):
    """A ``(loss, dpred)`` op as a function of ``pred``; the loss is a 0-d Tensor."""
    loss, dpred = loss_op(as_array(pred), *[as_array(t) for t in targets], **params)
    xp = get_array_module(dpred)
    loss = xp.asarray(loss, dtype=dpred.dtype)
    if not isinstance(pred, Tensor):
        return loss
    return record(loss, (pred,), lambda g: g * dpred, loss_op.__name__)


# -- layers ------------------------------------------------------------------------------------

def linear(x, weight, bias):
    """``x @ weight + bias`` (lecture 1): x (N, ...), weight (D, M), bias (M,) -> (N, M)."""
    return apply(ops.linear_forward, ops.linear_backward, x, weight, bias)


def conv2d(x, weight, bias, stride=1, padding=0):
    """Convolution (lecture 3): x (N, C, H, W), weight (F, C, KH, KW), bias (F,)."""
    return apply(ops.conv2d_forward, ops.conv2d_backward, x, weight, bias, stride=stride,
                 padding=padding)


def conv_transpose2d(x, weight, bias, stride=1, padding=0):
    """Transposed convolution (lecture 3): x (N, C_in, H, W), weight (C_in, C_out, KH, KW)."""
    return apply(ops.conv_transpose2d_forward, ops.conv_transpose2d_backward, x, weight, bias,
                 stride=stride, padding=padding)


def max_pool2d(x, kernel_size=2, stride=None):
    """Maximum over windows (lecture 4): (N, C, H, W) -> (N, C, Ho, Wo)."""
    return apply(ops.max_pool2d_forward, ops.max_pool2d_backward, x, size=kernel_size,
                 stride=stride)


def avg_pool2d(x, kernel_size=2, stride=None):
    """Mean over windows (lecture 4): (N, C, H, W) -> (N, C, Ho, Wo)."""
    return apply(ops.avg_pool2d_forward, ops.avg_pool2d_backward, x, size=kernel_size,
                 stride=stride)


def global_avg_pool2d(x):
    """Mean over all pixels of each channel (lecture 4): (N, C, H, W) -> (N, C)."""
    return apply(ops.global_avg_pool2d_forward, ops.global_avg_pool2d_backward, x)


def relu(x):
    """``max(0, x)`` (lecture 1)."""
    return apply(ops.relu_forward, ops.relu_backward, x)


def sigmoid(x):
    """``1 / (1 + exp(-x))`` (lecture 1)."""
    return apply(ops.sigmoid_forward, ops.sigmoid_backward, x)


def tanh(x):
    """Hyperbolic tangent (lecture 1)."""
    return apply(ops.tanh_forward, ops.tanh_backward, x)


def leaky_relu(x, negative_slope=0.01):
    """``x`` where positive, ``negative_slope * x`` elsewhere (lecture 1)."""
    return apply(ops.leaky_relu_forward, ops.leaky_relu_backward, x, alpha=negative_slope)


def elu(x, alpha=1.0):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere (lecture 1)."""
    return apply(ops.elu_forward, ops.elu_backward, x, alpha=alpha)


def dropout(x, p=0.5, training=True, rng=None):
    """Inverted dropout with drop probability ``p`` (lecture 5); ``rng`` None draws the mask
    from ``course.manual_seed``'s source."""
    return apply(ops.dropout_forward, ops.dropout_backward, x, p=p, train=training,
                 rng=make_rng(rng))


def batch_norm(x, weight, bias, state, training=True, momentum=0.1, eps=1e-5):
    """Batch norm of (N, D) or, per channel, (N, C, H, W) inputs (lecture 6); ``state`` holds
    the running statistics (``ops.batchnorm_state``), updated in place in training."""
    if np.ndim(as_array(x)) == 4:
        forward_op, backward_op = ops.spatial_batchnorm_forward, ops.spatial_batchnorm_backward
    else:
        forward_op, backward_op = ops.batchnorm_forward, ops.batchnorm_backward
    return apply(forward_op, backward_op, x, weight, bias, state=state, train=training,
                 momentum=momentum, eps=eps)


def layer_norm(x, weight, bias, eps=1e-5):
    """Layer norm over the last axis (lecture 6)."""
    return apply(ops.layernorm_forward, ops.layernorm_backward, x, weight, bias, eps=eps)


def _embedding_forward(weight, idx):
    return ops.embedding_forward(idx, weight)


def embedding(idx, weight):
    """Rows of ``weight`` (V, D) picked by the integer ids ``idx`` (N, T) (lecture 7)."""
    return apply(_embedding_forward, ops.embedding_backward, weight, idx=as_array(idx))


def rnn(x, h0, Wx, Wh, b):
    """A vanilla RNN over sequences (lecture 7): x (N, T, D), h0 (N, H) -> h (N, T, H)."""
    return apply(ops.rnn_forward, ops.rnn_backward, x, h0, Wx, Wh, b)


def lstm(x, h0, Wx, Wh, b):
    """An LSTM over sequences (lecture 7): x (N, T, D), h0 (N, H) -> h (N, T, H)."""
    return apply(ops.lstm_forward, ops.lstm_backward, x, h0, Wx, Wh, b)


def temporal_linear(x, weight, bias):
    """The same affine map at every step (lecture 7): (N, T, D) -> (N, T, M)."""
    return apply(ops.temporal_linear_forward, ops.temporal_linear_backward, x, weight, bias)


# -- losses (mean over the batch, as the ops) ----------------------------------------------------

def cross_entropy(scores, y):
    """Softmax cross-entropy, averaged over the batch (lecture 2): scores (N, C), y (N,)."""
    return _loss(ops.softmax_loss, scores, y)


def svm_loss(scores, y, margin=1.0):
    """Multiclass hinge loss, averaged over the batch (lecture 2)."""
    return _loss(ops.svm_loss, scores, y, margin=margin)


def mse_loss(pred, target):
    """``sum((pred - target)^2) / N`` (lecture 2): the squared error summed over each example's
    values, averaged over the N examples (PyTorch's ``mse_loss`` also divides by the values)."""
    return _loss(ops.mse_loss, pred, target)


def temporal_cross_entropy(scores, y, mask):
    """Softmax cross-entropy at every kept step, averaged over the batch (lecture 7)."""
    return _loss(ops.temporal_softmax_loss, scores, y, mask)


# -- joining and splitting -------------------------------------------------------------------

def cat(tensors, axis=1):
    """Concatenate along ``axis`` (channels by default, as a U-Net's skip connections)
    (lecture 2b)."""
    arrays = [as_array(t) for t in tensors]
    if not arrays:
        raise ValueError("cat needs at least one tensor")
    xp = get_array_module(arrays[0])
    out = xp.concatenate(arrays, axis=axis)
    if not any(isinstance(t, Tensor) for t in tensors):
        return out
    bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]
    return record(out, tuple(tensors),
                  lambda g: tuple(xp.split(g, bounds, axis=axis)), "cat")


def flatten(x, start_dim=1):
    """Merge the dimensions from ``start_dim`` on: (N, C, H, W) -> (N, C * H * W) (lecture 2b)."""
    if isinstance(x, Tensor):
        return x.flatten(start_dim)
    return x.reshape(x.shape[:start_dim] + (-1,))
