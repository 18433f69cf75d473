"""Checking an experiment grid in the parent, before any run starts.

A mistake in a grid (a setting of the wrong type, a seed twice, two names that make one file)
found inside a child costs the runs before it and ends in a traceback; found here it costs
nothing and is one line naming the key and the value. Result files are checked the same way
when they are read, so a damaged one is named instead of crashing the table.

- :func:`check_document`: a grid file's JSON (``{"configs": {...}, "seeds": [...]}``);
- :func:`check_settings`: one configuration's settings, completed with the defaults;
- :func:`check_seeds`: distinct integers >= 0;
- :func:`check_file_names`: no two configurations writing the same result file;
- :func:`check_result`: a stored run (a dict with its spec and a finite accuracy in [0, 1]).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, TypeGuard

from tinycnn.optim import checks

SCHEDULES = ("constant", "cosine")
MAX_SEED = 2**32 - 1
MAX_NAME = 64


def check_document(document: Any) -> tuple[dict[str, dict[str, Any]], list[int] | None]:
    """The configurations and seeds (None when the file gives none) of a grid document."""
    if not isinstance(document, dict):
        raise ValueError(
            f'a grid must be a JSON object {{"configs": {{...}}, "seeds": [...]}}, got a '
            f"{type(document).__name__}"
        )
    unknown = sorted(set(document) - {"configs", "seeds"})
    if unknown:
        raise ValueError(f"unknown key(s) {unknown}; a grid has 'configs' and 'seeds'")
    configs = document.get("configs")
    if not isinstance(configs, dict) or not configs:
        raise ValueError(
            f"'configs' must be a non-empty object of name: settings, got {str(configs)[:80]}"
        )
    seeds = document.get("seeds")
    return configs, None if seeds is None else check_seeds(seeds)


def check_settings(name: Any, settings: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    """One configuration's settings, every one checked, missing ones from ``defaults``."""
    from tinycnn.zoo import MODELS

    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME or not name.isprintable():
        raise ValueError(f"a configuration name must be 1 to {MAX_NAME} characters, got {name!r}")
    owner = f"configuration {name!r}"
    if not isinstance(settings, dict):
        raise ValueError(f"{owner}: settings must be an object, got {str(settings)[:80]}")
    unknown = sorted(set(settings) - set(defaults) - {"model"})
    if unknown:
        raise ValueError(f"{owner}: unknown setting(s) {unknown}; known: {sorted(defaults)}")
    full = {**defaults, **settings}
    if not isinstance(full.get("model"), str) or full["model"] not in MODELS:
        raise ValueError(f"{owner}: model must be one of {list(MODELS)}, got {full.get('model')!r}")
    if full["schedule"] not in SCHEDULES:
        raise ValueError(
            f"{owner}: schedule must be one of {list(SCHEDULES)}, got {full['schedule']!r}"
        )
    full["lr"] = checks.number(owner, "lr", full["lr"], low=0, low_open=True)
    full["epochs"] = checks.count(owner, "epochs", full["epochs"], low=1)
    full["batch_size"] = checks.count(owner, "batch_size", full["batch_size"], low=1)
    for key in ("augment", "jit_compile"):
        full[key] = checks.flag(owner, key, full[key])
    return full


def check_seeds(seeds: Any) -> list[int]:
    """Distinct integers in 0..2**32-1 (a seed twice would train the same run twice)."""
    if not isinstance(seeds, list) or not seeds:
        raise ValueError(f"seeds must be a non-empty list of integers, got {str(seeds)[:80]}")
    checked = [checks.count("seeds", "each seed", seed) for seed in seeds]
    for seed, value in zip(checked, seeds, strict=True):
        if seed > MAX_SEED:
            raise ValueError(f"seeds: each seed must be at most {MAX_SEED}, got {value!r}")
    twice = sorted({seed for seed in checked if checked.count(seed) > 1})
    if twice:
        raise ValueError(f"seeds: {twice} given more than once (each run would train twice)")
    return checked


def check_file_names(names: list[str], file_name: Any) -> None:
    """Refuse two configurations whose result files would be the same (``a/b`` and ``a_b``)."""
    seen: dict[str, str] = {}
    for name in names:
        stem = file_name(name)
        if stem in seen:
            raise ValueError(
                f"configurations {seen[stem]!r} and {name!r} would write the same result file "
                f"({stem}-seed<k>.json); rename one"
            )
        seen[stem] = name


def check_result(path: Path, result: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """A stored run: a dict holding ``spec`` and a finite ``test_accuracy`` in [0, 1]."""
    fix = "delete it to train that run again"
    if not isinstance(result, dict):
        raise ValueError(f"{path}: not a run's result (a {type(result).__name__}); {fix}")
    if result.get("spec") != spec:
        raise ValueError(
            f"{path} holds a run with other settings ({str(result.get('spec'))[:200]}); use "
            f"another output folder or delete it"
        )
    accuracy = result.get("test_accuracy")
    if not _is_number(accuracy) or not 0 <= accuracy <= 1:
        raise ValueError(
            f"{path}: test_accuracy must be a number in [0, 1], got {accuracy!r}; {fix}"
        )
    for key in ("test_loss", "seconds"):
        if not _is_number(result.get(key)):
            raise ValueError(
                f"{path}: {key} must be a finite number, got {result.get(key)!r}; {fix}"
            )
    if not isinstance(result.get("history"), dict):
        raise ValueError(f"{path}: history must be an object; {fix}")
    return result


def _is_number(value: Any) -> TypeGuard[float]:
    return type(value) in (int, float) and math.isfinite(value)
