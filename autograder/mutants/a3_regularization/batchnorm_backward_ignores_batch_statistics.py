"""batchnorm_backward: dx treats the batch mean and variance as constants."""
# cell: batchnorm_backward


def batchnorm_backward(dout, cache):
    x_hat, gamma, std, train = cache
    return dout * gamma / std, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
