"""linear_backward: the bias gradient summed over the wrong axis."""
# cell: linear_backward


def linear_backward(dout, cache):
    x, w = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=1)
    return dx, dw, db
