"""sigmoid_backward: ``1 - sigma`` without the ``sigma`` factor."""
# cell: sigmoid_backward


def sigmoid_backward(dout, cache):
    out = cache
    return dout * (1 - out)
