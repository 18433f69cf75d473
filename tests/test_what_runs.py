"""What you read is what runs: a profiler on one ``fit`` batch sees the layers' own methods.

Eager (the default), ``Conv2D.forward``/``backward`` and ``MaxPool2D.forward``/``backward`` run
during training on either backend; with ``compile(..., jit_compile=True)`` on Numba the fused
steps of :mod:`tinycnn.fast` run instead and those layer methods do not.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tinycnn import runtime
from tinycnn.zoo import seed_cnn

LAYER_METHODS = {
    ("conv2d.py", "forward"),
    ("conv2d.py", "backward"),
    ("maxpool2d.py", "forward"),
    ("maxpool2d.py", "backward"),
}


def calls_during_one_fit_batch(jit_compile: bool) -> set[tuple[str, str]]:
    """(file name, function name) of every Python function called in one ``fit`` batch."""
    model = seed_cnn(seed=0)
    model.compile("adam", jit_compile=jit_compile)
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 16)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)  # compile the kernels first
    seen: set[tuple[str, str]] = set()

    def profile(frame, event, arg):
        if event == "call":
            code = frame.f_code
            seen.add((code.co_filename.replace("\\", "/").rsplit("/", 1)[-1], code.co_name))

    sys.setprofile(profile)
    try:
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    finally:
        sys.setprofile(None)
    return seen


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_default_fit_runs_the_layers_a_student_reads(backend):
    with runtime.use_backend(backend):
        seen = calls_during_one_fit_batch(jit_compile=False)
    assert LAYER_METHODS <= seen
    assert not any(name.endswith(("winograd.py", "direct.py", "fused.py")) for name, _ in seen)


def test_jit_compile_runs_the_fused_steps_instead():
    with runtime.use_backend("numba"):
        seen = calls_during_one_fit_batch(jit_compile=True)
    assert not LAYER_METHODS & seen
    assert {("direct.py", "forward"), ("direct.py", "backward")} <= seen
    assert {("winograd.py", "forward"), ("winograd.py", "backward")} <= seen
