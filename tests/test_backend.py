"""The backend switch: NumPy and Numba give the same model, and Numba is optional.

Every Numba twin is bit-identical to its NumPy reference and both backends call the same NumPy
matrix multiplies, so the promise for the whole seed CNN is *bit-identical* losses, gradients
and, after 50 Adam steps, weights.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tinycnn import LambdaCallback, kernels, runtime
from tinycnn.losses import SoftmaxCrossEntropy
from tinycnn.zoo import dense_baseline, seed_cnn

REPO = Path(__file__).resolve().parent.parent
numba = pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _restore_backend():
    previous = runtime.get_backend()
    yield
    runtime.set_backend(previous)


def test_set_get_and_use_backend():
    assert runtime.set_backend("numpy") == "numpy" == runtime.get_backend()
    assert kernels.implementation("adam_update").__module__ == "tinycnn.kernels.adam"
    assert kernels.implementation("im2col").__module__ == "tinycnn.kernels.im2col"
    with runtime.use_backend(" NUMBA ") as active:
        assert active == "numba" == runtime.get_backend()
        assert kernels.implementation("im2col").__module__ == "tinycnn.kernels.im2col_numba"
        assert kernels.implementation("relu_forward").__module__ == "tinycnn.kernels.relu_numba"
    assert runtime.get_backend() == "numpy"


def test_bad_names_raise_value_errors_listing_the_choices():
    with pytest.raises(ValueError, match="numpy, numba.*'cuda'"):
        runtime.set_backend("cuda")
    with pytest.raises(ValueError, match="'nope'"):
        kernels.implementation("nope")
    with pytest.raises(ValueError, match="'winograd_input_transform' on 'numba'"):
        kernels.implementation("winograd_input_transform", "numba")  # fast path, not a twin


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter from the repository root."""
    environment = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize(("value", "expected"), [("numpy", "numpy"), ("", "numba")])
def test_environment_variable_chooses_the_default(value, expected):
    result = run_python(
        "from tinycnn import runtime; print(runtime.get_backend())", TINYCNN_BACKEND=value
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_import_does_not_import_numba():
    result = run_python("import sys, tinycnn, tinycnn.kernels; print('numba' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def batch(n: int, seed: int):
    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, n)


@pytest.mark.parametrize("make", [seed_cnn, dense_baseline])
def test_loss_and_gradients_are_bit_identical_between_backends(make):
    x, y = batch(16, seed=1)
    results = {}
    for backend in runtime.BACKENDS:
        runtime.set_backend(backend)
        model, loss = make(seed=3), SoftmaxCrossEntropy()
        value = loss.forward(model.forward(x, training=True, logits=True), y)
        dx = model.backward(loss.backward())
        results[backend] = [value, dx] + [g.copy() for _, _, g in model.params_and_grads()]
    for a, b in zip(results["numpy"], results["numba"], strict=True):
        np.testing.assert_array_equal(a, b)


def fifty_adam_steps(dtype, jit_compile: bool = False) -> dict[str, list]:
    """The seed CNN's batch losses and weights after 50 steps of ``fit`` on each backend, from
    the same seeds; ``jit_compile`` applies on the Numba backend (the NumPy one runs eager)."""
    x, y = batch(50 * 8, seed=2)
    results = {}
    for backend in runtime.BACKENDS:
        runtime.set_backend(backend)
        model = seed_cnn(seed=5).astype(dtype)
        model.compile(optimizer="adam", jit_compile=jit_compile and backend == "numba")
        losses: list[float] = []
        record = LambdaCallback(
            on_batch_end=lambda batch, logs, out=losses: out.append(logs["loss"])
        )
        model.fit(x.astype(dtype), y, epochs=1, batch_size=8, seed=7, verbose=0,
                  callbacks=[record])  # fmt: skip
        results[backend] = [np.array(losses), *model.get_weights()]
        assert model.optimizer.iterations == 50 and len(losses) == 50
    initial = seed_cnn(seed=5).get_weights()
    assert any(np.any(w != v) for w, v in zip(results["numpy"][1:], initial, strict=True))
    return results


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fifty_adam_steps_give_bit_identical_losses_and_weights(dtype):
    results = fifty_adam_steps(dtype)
    for a, b in zip(results["numpy"], results["numba"], strict=True):
        np.testing.assert_array_equal(a, b)


def test_fifty_adam_steps_with_jit_compile_agree_to_rounding():
    # float64, where rounding cannot grow into a visible difference in 50 steps (measured
    # 3.5e-15); in float32 any two orders of addition drift apart under Adam (the im2col path
    # itself ends ~1.5e-2 from its float64 run), see docs/benchmarks.md
    results = fifty_adam_steps(np.float64, jit_compile=True)
    for a, b in zip(results["numpy"], results["numba"], strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-12)


BLOCK_NUMBA = "import sys; sys.modules['numba'] = None  # any 'import numba' now fails\n"


def test_without_numba_one_warning_then_numpy_trains():
    result = run_python(
        BLOCK_NUMBA
        + """
        import warnings
        import numpy as np
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from tinycnn import runtime
            from tinycnn.zoo import seed_cnn
            model = seed_cnn(seed=0)
            model.compile(optimizer="adam")
            rng = np.random.default_rng(0)
            x, y = rng.random((16, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 16)
            before = model.get_weights()[0].copy()
            model.fit(x, y, epochs=1, batch_size=16, verbose=0)
            runtime.set_backend("numba")  # asked for explicitly: still NumPy, no second warning
            model.fit(x, y, epochs=1, batch_size=16, verbose=0)
        messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
        numba_messages = [m for m in messages if "Numba" in m]
        print(len(numba_messages), runtime.get_backend(), model.optimizer.iterations)
        print(bool(np.any(model.get_weights()[0] != before)))
        """.replace("\n        ", "\n")
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "numpy", "2", "True"]


def test_layer_tests_pass_without_numba():
    layer_tests = [
        "tests/kernels/test_im2col.py",
        "tests/layers/test_conv2d.py",
        "tests/layers/test_maxpool2d.py",
        "tests/layers/test_relu.py",
        "tests/layers/test_dense.py",
        "tests/optim/test_optim.py",
    ]
    result = run_python(
        BLOCK_NUMBA
        + "import pytest\n"
        + f"sys.exit(pytest.main({layer_tests!r} + ['-q', '-p', 'no:cacheprovider', '-x']))",
        HYPOTHESIS_PROFILE="dev",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and " failed" not in result.stdout
