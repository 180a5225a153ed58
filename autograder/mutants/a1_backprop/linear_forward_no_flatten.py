"""linear_forward: examples not flattened, so (N, d_1, d_2) inputs fail."""
# cell: linear_forward


def linear_forward(x, w, b):
    out = x @ w + b
    return out, (x, w)
