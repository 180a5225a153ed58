"""bias_relu: the right loops without ``@njit``: correct, and no faster than the reference."""
# cell: bias_relu
def bias_relu(x, b, out):
    n, f, h, w = x.shape
    for plane in range(n * f):
        s, k = plane // f, plane % f
        for y in range(h):
            for z in range(w):
                out[s, k, y, z] = max(x[s, k, y, z] + b[k], 0.0)
