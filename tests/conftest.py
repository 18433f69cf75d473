"""Shared test configuration: hypothesis profiles and the MNIST data location.

Profiles (select with ``HYPOTHESIS_PROFILE``; CI uses ``ci``):

- ``ci``: at least 200 examples per property, no deadline (Numba compiles on first call).
- ``dev``: 30 examples, for quick local runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_MNIST = REPO_ROOT.parent / "shared" / "data" / "mnist"


def in_ci() -> bool:
    """True when running under CI, where nothing may be skipped for a missing resource."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def import_keras():
    """Keras 3 with TensorFlow, for the few parity checks outside ``tests/reference``.

    Skips on a laptop without TensorFlow, fails in CI, where the reference extra is installed.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import keras
        import tensorflow  # noqa: F401
    except ImportError as error:
        if in_ci():
            pytest.fail(f"TensorFlow is required in CI: {error}")
        pytest.skip(f"TensorFlow is not installed: {error}")
    return keras


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Folder holding the four full MNIST IDX files.

    Taken from ``TINYCNN_DATA_DIR`` or the shared copy beside the repository. Tests that need
    the full data set skip on a laptop without it, and fail in CI, where it must be present.
    """
    candidates = [os.environ.get("TINYCNN_DATA_DIR"), str(SHARED_MNIST)]
    for candidate in candidates:
        if candidate and (Path(candidate) / "train-labels-idx1-ubyte.gz").exists():
            return Path(candidate)
        if candidate and (Path(candidate) / "train-labels-idx1-ubyte").exists():
            return Path(candidate)
    message = f"full MNIST not found (looked at TINYCNN_DATA_DIR and {SHARED_MNIST})"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the bad-input corpus's tally (``tests/test_bad_inputs.py``) when it ran."""
    import sys

    corpus = sys.modules.get("test_bad_inputs")
    tally = getattr(corpus, "TALLY", None)
    if not tally:
        return
    terminalreporter.section("bad-input corpus")
    total = 0
    for area in sorted(tally):
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(tally[area].items()))
        terminalreporter.write_line(f"{area:<7} {sum(tally[area].values()):>4} cases: {counts}")
        total += sum(tally[area].values())
    terminalreporter.write_line(f"total   {total:>4} cases, each a clear error or a correct answer")
