"""The backward passes of a convolution, each run only where its gradient is needed: what every
kernel set's ``conv2d_backward`` does unless it fuses the two (lecture 3)."""


def separate_passes(backward_data, backward_weight, dout, x, w, stride, padding, need_dx, need_dw):
    """(dx or None, dW or None) from a kernel set's ``conv2d_backward_data`` and
    ``conv2d_backward_weight``, called one after the other."""
    return (backward_data(dout, w, x.shape[2:], stride, padding) if need_dx else None,
            backward_weight(dout, x, w.shape[2:], stride, padding) if need_dw else None)
