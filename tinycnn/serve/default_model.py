"""The model ``tinycnn serve`` uses when it is given none: a small file shipped in the package.

``default_model.npz`` beside this module is the seed CNN trained on MNIST by
``scripts/make_default_model.py`` (run it again to regenerate the file). It is a plain tinycnn
model file (~0.9 MB), so the page works out of the box and offline, with no training at start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "default_model.npz"


def load_default_model() -> Any:
    """The shipped model, loaded with ``tinycnn.load_model``.

    Raises
    ------
    FileNotFoundError
        The file is missing from this installation; the message says how to make it.
    """
    from tinycnn.model import load_model

    if not DEFAULT_MODEL_PATH.is_file():
        raise FileNotFoundError(
            f"{DEFAULT_MODEL_PATH}: the default model is missing; run "
            "'python scripts/make_default_model.py' or give a model file"
        )
    return load_model(DEFAULT_MODEL_PATH, compile=False)
