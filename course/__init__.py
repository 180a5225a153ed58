"""course: a deep-learning library built lecture by lecture.

Layers, bottom up: ``kernels`` (reference numpy, Numba, CuPy) -> ``ops`` (forward/backward pairs)
-> ``nn`` (modules) -> ``models``, ``optim``, ``data``, ``train``. See DESIGN.md in the docs.
"""

__version__ = "0.1.0"
