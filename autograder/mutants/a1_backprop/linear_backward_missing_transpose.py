"""linear_backward: ``dout @ w`` instead of ``dout @ w.T`` (a missing transpose)."""
# cell: linear_backward


def linear_backward(dout, cache):
    x, w = cache
    dx = (dout @ w).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db
