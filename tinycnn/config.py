"""Which backend runs the kernels: the readable NumPy reference or its compiled Numba twins.

Two backends compute the same numbers, bit for bit:

- ``"numpy"``: the reference kernels in ``tinycnn/kernels/*.py``, written to be read;
- ``"numba"``: their twins in ``tinycnn/kernels/*_numba.py``, compiled loops (the default).

The backend is chosen, in order of precedence, by ``set_backend(name)``, by the environment
variable ``TINYCNN_BACKEND`` (read on first use), or by the default ``"numba"``. If Numba cannot be
imported the library falls back to ``"numpy"`` and says so with one ``RuntimeWarning``.

Numba is imported lazily, the first time a kernel runs, so ``import tinycnn`` stays fast.
The backend is half of what decides how a model runs; :mod:`tinycnn.runtime` has the whole
decision (backend and plan) in one place.

Examples
--------
>>> from tinycnn import config
>>> config.set_backend("numpy")
'numpy'
>>> config.get_backend()
'numpy'
>>> with config.use_backend("numba"):
...     pass  # kernels called here use the Numba twins (if Numba is installed)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

BACKENDS: tuple[str, ...] = ("numpy", "numba")
DEFAULT_BACKEND = "numba"
ENV_VAR = "TINYCNN_BACKEND"

_active: str | None = None  # resolved backend; None until first use or set_backend
_numba_ok: bool | None = None  # None until the first attempt to import numba


def numba_available() -> bool:
    """Whether Numba can be imported; the first failure warns once (``RuntimeWarning``)."""
    global _numba_ok
    if _numba_ok is None:
        try:
            import numba  # noqa: F401
        except Exception as error:  # ImportError, or a broken install (e.g. llvmlite mismatch)
            _numba_ok = False
            warnings.warn(
                f"tinycnn: Numba is not available ({type(error).__name__}: {error}); "
                "falling back to the NumPy backend",
                RuntimeWarning,
                stacklevel=3,
            )
        else:
            _numba_ok = True
    return _numba_ok


def _check(name: str, source: str) -> str:
    """Normalise a backend name; ValueError naming the choices otherwise."""
    key = str(name).strip().lower()
    if key not in BACKENDS:
        raise ValueError(f"{source}: expected one of {', '.join(BACKENDS)}, got {name!r}")
    return key


def _resolve(requested: str) -> str:
    """The backend that will actually run: ``"numba"`` only when Numba imports."""
    if requested == "numba" and not numba_available():
        return "numpy"
    return requested


def set_backend(name: str) -> str:
    """Choose the backend for every kernel call from now on.

    Parameters
    ----------
    name : {"numpy", "numba"}
        ``"numba"`` silently becomes ``"numpy"`` (after the one warning) when Numba is missing.

    Returns
    -------
    str
        The backend now active.
    """
    global _active
    _active = _resolve(_check(name, "set_backend"))
    return _active


def get_backend() -> str:
    """The active backend, ``"numpy"`` or ``"numba"``.

    On first use this reads ``TINYCNN_BACKEND`` (default ``"numba"``).
    """
    global _active
    if _active is None:
        requested = os.environ.get(ENV_VAR, "").strip() or DEFAULT_BACKEND
        _active = _resolve(_check(requested, ENV_VAR))
    return _active


@contextmanager
def use_backend(name: str) -> Iterator[str]:
    """Run a block with backend ``name``, then restore the previous one."""
    previous = get_backend()
    try:
        yield set_backend(name)
    finally:
        set_backend(previous)
