"""Output sizes of sliding-window layers, shared by the ops (to validate) and every kernel set.

One spatial axis at a time, as in Chainer's ``get_conv_outsize`` (lecture 3, convolution):
a window of ``kernel`` pixels slides over ``size + 2 * padding`` pixels in steps of ``stride``.
"""


def conv_output_size(size, kernel, stride, padding):
    """Number of window positions (lecture 3): ``(size + 2 * padding - kernel) // stride + 1``.

    Zero or negative when the window does not fit; callers reject that.
    """
    return (size + 2 * padding - kernel) // stride + 1


def conv_transpose_output_size(size, kernel, stride, padding):
    """Output size of a transposed convolution (PyTorch's, without ``output_padding``) (lecture 3).

    ``(size - 1) * stride - 2 * padding + kernel``: the input size of the convolution whose
    backward pass the transposed convolution is, so that ``conv_output_size`` maps it back.
    """
    return (size - 1) * stride - 2 * padding + kernel
