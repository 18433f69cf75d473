"""Data-movement kernels behind the layers: im2col/col2im and max-pooling.

Layers call them through this module at call time (``kernels.im2col(...)``), never through a
name bound at import, so that the backend can be switched: for now these are the NumPy reference
kernels; a Numba backend with the same signatures can replace the names here.
"""

from __future__ import annotations

from tinycnn.kernels.im2col import col2im, conv_output_size, im2col, same_padding
from tinycnn.kernels.pool import maxpool_backward, maxpool_forward

__all__ = [
    "col2im",
    "conv_output_size",
    "im2col",
    "maxpool_backward",
    "maxpool_forward",
    "same_padding",
]
