"""tinycnn.testing and checking a layer of one's own: the docs page "Check your own layer" runs
here block by block, plus the pieces it relies on (assert_gradients, the kink hook, load_model's
custom_objects, ``tinycnn gradcheck --layer``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT

from tinycnn.cli import main
from tinycnn.layers import ReLU
from tinycnn.testing import assert_gradients

PAGE = REPO_ROOT / "docs" / "guides" / "check_your_own_layer.md"


def page_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.S)


@pytest.fixture
def in_empty_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("my_layers", None)


def test_check_your_own_layer_page_runs(in_empty_folder, capsys):
    """The acceptance test: a custom layer, checked with tinycnn.testing, saved in a model and
    loaded back with custom_objects, with identical predictions."""
    first, *rest = page_blocks()
    assert first.startswith("# my_layers.py")
    (in_empty_folder / "my_layers.py").write_text(first)
    namespace: dict = {}
    for block in rest:
        exec(compile(block, str(PAGE), "exec"), namespace)
    out = capsys.readouterr().out
    reports = out.split("gradcheck ")
    leaky, without_hook, buggy = reports[1], reports[2], reports[3]
    assert "OK:" in leaky and re.search(r"\bx\s+\(1, 5\)\s+\S+\s+4\s+1\b", leaky)  # 1 kink
    assert "FAIL:" in without_hook and re.search(r"\bx\s+\(1, 5\)\s+\S+\s+5\s+0\b", without_hook)
    assert "FAIL:" in buggy and "both properties hold" in out
    assert "identical predictions after reloading" in out


def test_the_pages_command_checks_a_users_layer(in_empty_folder, capsys):
    (in_empty_folder / "my_layers.py").write_text(page_blocks()[0])
    argv = ["gradcheck", "--layer", "my_layers:AvgPool2D", "--config", '{"pool_size": 2}']
    assert main([*argv, "--input-shape", "2,4,6,3"]) == 0
    assert "AvgPool2D" in capsys.readouterr().out
    buggy = "\n\nclass Buggy(AvgPool2D):\n    def backward(self, dout):\n"
    buggy += "        return super().backward(dout) * 4\n"
    (in_empty_folder / "buggy.py").write_text(page_blocks()[0] + buggy)
    assert main(["gradcheck", "--layer", "buggy.py:Buggy", "--input-shape", "2,4,6,3"]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert main(["gradcheck", "--layer", "my_layers:Nope"]) == 2
    assert "has no class 'Nope'" in capsys.readouterr().err


def test_assert_gradients_raises_with_the_per_tensor_report():
    class Wrong(ReLU):
        def backward(self, dout):
            return 2 * super().backward(dout)

    x = np.random.default_rng(0).standard_normal((3, 4))
    assert assert_gradients(ReLU(), x).ok
    with pytest.raises(AssertionError, match=r"(?s)x\s+\(3, 4\).*FAIL: max rel error"):
        assert_gradients(Wrong(), x)


def test_assert_gradients_refuses_a_check_of_nothing():
    at_the_kink = np.zeros((2, 3))  # ReLU's slope changes at every element: none can be checked
    with pytest.raises(AssertionError, match=r"nothing checked in x: every element sits at a kink"):
        assert_gradients(ReLU(), at_the_kink)
    assert assert_gradients(ReLU(), at_the_kink + 0.5).tensors[0].n_checked == 6


def test_load_model_names_a_missing_custom_class(in_empty_folder):
    (in_empty_folder / "my_layers.py").write_text(page_blocks()[0])
    from my_layers import LeakyReLU

    from tinycnn import Dense, Sequential, load_model

    model = Sequential([Dense(3), LeakyReLU(0.3)], input_shape=(4,), seed=0)
    model.save("m.npz")
    with pytest.raises(ValueError, match=r"unknown class 'LeakyReLU'.*custom_objects"):
        load_model("m.npz")
    again = load_model(os.fspath(Path("m.npz")), custom_objects={"LeakyReLU": LeakyReLU})
    assert again.layers[1].alpha == 0.3


def test_tests_use_the_public_strategies():
    suite = Path(__file__).resolve().parents[1]
    assert not (suite / "strategies.py").exists()  # one copy: tinycnn.testing.strategies
    users = [
        p for p in suite.rglob("test_*.py") if "tinycnn.testing.strategies import" in p.read_text()
    ]
    assert len(users) >= 5


def test_import_tinycnn_leaves_hypothesis_to_the_strategies():
    probe = (
        "import sys, tinycnn; print('hypothesis' in sys.modules); "
        "from tinycnn.testing import conv_configs; print('hypothesis' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
