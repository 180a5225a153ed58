"""spatial_batchnorm_forward: reshaped to (-1, C) without moving the channel axis last."""
# cell: spatial_batchnorm_forward


def spatial_batchnorm_forward(x, gamma, beta, state, train=True, momentum=0.1, eps=1e-5):
    n, c, h, w = x.shape
    out, inner = batchnorm_forward(x.reshape(-1, c), gamma, beta, state,  # noqa: F821
                                   train, momentum, eps)
    return out.reshape(x.shape), (inner, x.shape)
