"""relu_forward: zeroes the negative entries of the caller's array (and the cache) in place."""
# cell: relu_forward


def relu_forward(x):
    x[x < 0] = 0
    return x, x
