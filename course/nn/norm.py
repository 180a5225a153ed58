"""Normalisation layers and residual blocks (lecture 6, batch norm; deeper networks).

``BatchNorm1d`` and ``BatchNorm2d`` learn ``weight`` (gamma) and ``bias`` (beta) and keep the
running mean and variance as buffers: saved by ``state_dict``, moved by ``to``, never trained.
The buffers dict itself is handed to the op as its ``state``, so the op's in-place update of
the running statistics lands directly in the buffers.
"""

import numpy as np

from course import ops
from course.nn.layers import AffineOpModule
from course.nn.module import Module, Parameter
from course.ops.checks import check_number, check_positive_int


class _BatchNorm(AffineOpModule):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, dtype=np.float32):
        super().__init__()
        check_positive_int("num_features", num_features)
        check_number("eps", eps, low=0, low_inclusive=False)
        check_number("momentum", momentum, low=0, high=1)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype=dtype))
        self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        for name, value in ops.batchnorm_state(num_features, dtype).items():
            self.register_buffer(name, value)

    def op_params(self):
        return {"state": self._buffers, "train": self.training, "momentum": self.momentum,
                "eps": self.eps}

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


def _batchnorm1d_forward(x, gamma, beta, **params):
    """Batch norm of (N, C) or, with statistics per channel, (N, C, L) inputs."""
    if getattr(x, "ndim", None) == 3:
        out, cache = ops.spatial_batchnorm_forward(x[..., None], gamma, beta, **params)
        return out[..., 0], (True, cache)
    out, cache = ops.batchnorm_forward(x, gamma, beta, **params)
    return out, (False, cache)


def _batchnorm1d_backward(dout, cache):
    sequence, inner = cache
    if not sequence:
        return ops.batchnorm_backward(dout, inner)
    dx, dgamma, dbeta = ops.spatial_batchnorm_backward(dout[..., None], inner)
    return dx[..., 0], dgamma, dbeta


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, num_features) or (N, num_features, L) inputs, as
    ``torch.nn.BatchNorm1d`` (argument order too) (lecture 6).

    Args:
        num_features: D (or C). eps: added to the variance. momentum: weight of each new batch
            in the running statistics. dtype: of the parameters and buffers (the inputs' dtype).
    """

    forward_op = staticmethod(_batchnorm1d_forward)
    backward_op = staticmethod(_batchnorm1d_backward)


class BatchNorm2d(_BatchNorm):
    """Spatial batch norm of (N, C, H, W) inputs with statistics per channel
    (``torch.nn.BatchNorm2d``); arguments as :class:`BatchNorm1d` with C = num_features
    (lecture 6)."""

    forward_op = staticmethod(ops.spatial_batchnorm_forward)
    backward_op = staticmethod(ops.spatial_batchnorm_backward)


class LayerNorm(AffineOpModule):
    """Layer norm over the last dimension (lecture 6): x (N, D) or (N, T, D),
    ``normalized_shape`` = D.

    Args:
        normalized_shape: D, or a 1-tuple (D,). eps: added to the variance.
        dtype: of ``weight`` and ``bias``.
    """

    forward_op = staticmethod(ops.layernorm_forward)
    backward_op = staticmethod(ops.layernorm_backward)

    def __init__(self, normalized_shape, eps=1e-5, dtype=np.float32):
        super().__init__()
        if isinstance(normalized_shape, (tuple, list)):
            if len(normalized_shape) != 1:
                raise ValueError("LayerNorm normalises the last dimension only: "
                                 f"normalized_shape must be D or (D,), got {normalized_shape}")
            (normalized_shape,) = normalized_shape
        check_positive_int("normalized_shape", normalized_shape)
        check_number("eps", eps, low=0, low_inclusive=False)
        self.normalized_shape, self.eps = normalized_shape, eps
        self.weight = Parameter(np.ones(normalized_shape, dtype=dtype))
        self.bias = Parameter(np.zeros(normalized_shape, dtype=dtype))

    def op_params(self):
        return {"eps": self.eps}

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"


class Residual(Module):
    """``out = block(x) + shortcut(x)`` (lecture 6): the building block of ResNets
    (He et al., 2016).

    The shortcut is the identity by default, or a module (e.g. a 1x1 convolution) when the
    block changes the shape. Backward sends ``dout`` down both paths and adds the two
    gradients, because x feeds both.
    """

    def __init__(self, block, shortcut=None):
        super().__init__()
        self.block = block
        self.shortcut = shortcut

    def forward(self, x):
        out = self.block(x)
        skip = x if self.shortcut is None else self.shortcut(x)
        if out.shape != skip.shape:
            raise ValueError(
                f"Residual: the block gives shape {tuple(out.shape)} but the shortcut gives "
                f"{tuple(skip.shape)}; pass a shortcut module that matches the block's output")
        return out + skip

    def backward(self, dout):
        dx = self.block.backward(dout)
        dskip = dout if self.shortcut is None else self.shortcut.backward(dout)
        if dx is None or dskip is None:  # the block's input is the data: no gradient wanted
            return None
        return dx + dskip
