"""Which backend runs the hot kernels: the readable NumPy reference or the Numba fast path.

Two backends compute the same numbers:

- ``"numpy"``: the reference kernels in ``tinycnn/kernels/*.py``, written to be read;
- ``"numba"``: their twins in ``tinycnn/kernels/*_numba.py``, compiled loops (the default).

The backend is chosen, in order of precedence, by ``set_backend(name)``, by the environment
variable ``TINYCNN_BACKEND`` (read on first use), or by the default ``"numba"``. If Numba cannot be
imported the library falls back to ``"numpy"`` and says so with one ``RuntimeWarning``.

Numba is imported lazily, the first time a kernel runs, so ``import tinycnn`` stays fast.

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


# -- Winograd convolutions in training ----------------------------------------------------------
WINOGRAD_ENV_VAR = "TINYCNN_WINOGRAD"
_winograd: bool | None = None  # None until first use or set_winograd


def set_winograd(enabled: bool) -> bool:
    """Let fused steps compute 3x3 convolutions by Winograd F(2x2, 3x3) (``tinycnn.winograd``).

    On (the default), ``fit``, ``evaluate`` and ``predict`` on the Numba backend run each
    ``Conv2D(3x3, relu)`` with several input channels followed by ``MaxPool2D(2)`` with 2.25x
    fewer multiplies; results then match the NumPy backend to float32 rounding instead of bit
    for bit. Off, the fused steps are bit-identical to the layers. The environment variable
    ``TINYCNN_WINOGRAD=0`` turns it off too.

    Returns
    -------
    bool
        The setting now in force.
    """
    global _winograd
    if not isinstance(enabled, (bool, int)) or enabled not in (0, 1):
        raise ValueError(f"set_winograd: expected True or False, got {enabled!r}")
    _winograd = bool(enabled)
    return _winograd


def winograd_enabled() -> bool:
    """Whether fused steps may use Winograd (reads ``TINYCNN_WINOGRAD`` on first use)."""
    global _winograd
    if _winograd is None:
        value = os.environ.get(WINOGRAD_ENV_VAR, "").strip().lower() or "1"
        if value not in ("0", "1", "false", "true", "off", "on"):
            raise ValueError(f"{WINOGRAD_ENV_VAR}: expected 0 or 1, got {value!r}")
        _winograd = value in ("1", "true", "on")
    return _winograd


@contextmanager
def use_winograd(enabled: bool) -> Iterator[bool]:
    """Run a block with :func:`set_winograd` ``(enabled)``, then restore the previous setting."""
    previous = winograd_enabled()
    try:
        yield set_winograd(enabled)
    finally:
        set_winograd(previous)
