"""Word embeddings: a lookup table of learned vectors (lecture 7, LSTM; used in lecture 8)."""

from course.backend import get_array_module
from course.ops.checks import check_float_array, check_int_array, check_same_device


def embedding_forward(idx, W):
    """Look up one vector per token id (lecture 7).

    Args:
        idx: (N, T) integer token ids in [0, V).
        W: (V, D) embedding table.

    Returns:
        out (N, T, D) with ``out[n, t] = W[idx[n, t]]``, and a cache for
        :func:`embedding_backward`.
    """
    check_float_array("W", W, ndim=2)
    check_int_array("idx", idx, W.shape[0])
    if idx.ndim != 2:
        raise ValueError(f"idx must have 2 dimensions (N, T), got shape {tuple(idx.shape)}")
    check_same_device(idx=idx, W=W)
    return W[idx], (idx, W.shape)


def embedding_backward(dout, cache):
    """Gradient of the table (lecture 7): each row of W collects the gradients of every place it was
    used.

    Args:
        dout: (N, T, D) upstream gradient.

    Returns:
        dW (V, D).
    """
    idx, w_shape = cache
    check_float_array("dout", dout, ndim=3)
    if tuple(dout.shape) != tuple(idx.shape) + (w_shape[1],):
        raise ValueError(f"dout must have shape {tuple(idx.shape) + (w_shape[1],)}, "
                         f"got {tuple(dout.shape)}")
    xp = get_array_module(dout)
    dW = xp.zeros(w_shape, dtype=dout.dtype)
    # Repeated ids add up. (On the GPU, cupy.add.at adds with atomics: the order of the
    # additions, and so the last bits of float32 sums, may vary from run to run.)
    xp.add.at(dW, idx.reshape(-1), dout.reshape(-1, w_shape[1]))
    return dW
