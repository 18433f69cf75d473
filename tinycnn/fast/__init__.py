"""The fast path: fused, direct and Winograd steps, run only with ``jit_compile=True``.

``model.compile(..., jit_compile=True)`` (or ``tinycnn train --jit-compile``) asks the model to
run its ``Conv2D(relu)`` + ``MaxPool2D`` pairs as fused steps chosen by :mod:`tinycnn.fast.plan`.
They compute the same function in another way (fewer passes over memory, fewer multiplies), on
the Numba backend only. Everything here is optional: without it, every layer's own ``forward``
and ``backward`` run, which is what a reader of ``tinycnn/layers/`` expects.

- :mod:`tinycnn.fast.plan`: which step runs each pair;
- :mod:`tinycnn.fast.fused`: im2col + one pass (bit-identical to the layers);
- :mod:`tinycnn.fast.direct`: a one-channel first convolution window by window;
- :mod:`tinycnn.fast.winograd`: Winograd F(2x2, 3x3);
- ``*_numba.py``: their compiled kernels; :mod:`tinycnn.fast.workspace`: scratch arrays.
"""
