"""The exercises' graders, mutation-tested: each exercise's reference answer passes, its stub is
"not started", and each planted bug fails with the check (and hint) it names.

Every case runs ``tinycnn exercises`` in-process on a file written by ``start`` (``--solution`` for
the reference, then one planted edit for a mutant). A mutant is ``(exercise, old, new, check,
hint)``: ``old`` is replaced by ``new`` once, inside the solution (after the first ``### BEGIN
SOLUTION``); ``check`` must appear in the FAIL line and ``hint`` (when not None) in the hint.
To add an exercise, add its file and at least three mutants here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import tinycnn
from tinycnn.cli import main
from tinycnn.teach.exercises import exercises, get_exercise, handout
from tinycnn.teach.exercises.handout import clear_hidden_tests, clear_solutions, solution_text

NAMES = [exercise.name for exercise in exercises()]
PIECES = get_exercise("capstone").uses
LIBRARY = str(Path(tinycnn.__file__).parent)

REF = "matches the reference"
MUTANTS = [
    # output_size
    ("output_size", "return max((H + 2 * P - K) // S + 1, 0)",
     "return max(-(-(H + 2 * P - K) // S) + 1, 0)", "worked example", "rounded up"),
    ("output_size", "return max((H + 2 * P - K) // S + 1, 0)", "return max((H - K) // S + 1, 0)",
     "worked example", "padding ignored"),
    ("output_size",
     "return total // 2, total - total // 2", "return total - total // 2, total // 2",
     "same_padding", "at the END"),
    ("output_size", "return max((H + 2 * P - K) // S + 1, 0)",
     "return max((H + 2 * P - K) / S + 1, 0)", "returns ints", "// (floor division)"),
    # conv2d_naive_forward
    ("conv2d_naive_forward",
     "np.sum(window * w[:, :, :, f])", "np.sum(window * w[::-1, ::-1, :, f])",
     "worked example", "flipped"),
    ("conv2d_naive_forward",
     "np.sum(window * w[:, :, :, f]) + b[f]", "np.sum(window * w[:, :, :, f])",
     REF, "the bias is missing"),
    ("conv2d_naive_forward", "window = x_pad[n, SH * i : SH * i + KH, SW * j : SW * j + KW, :]",
     "window = x_pad[n, i : i + KH, j : j + KW, :]", REF, "stride is ignored"),
    ("conv2d_naive_forward", "out = np.zeros((N, OH, OW, F), dtype=x.dtype)",
     "out = np.zeros((N, OH, OW, F))", "shapes and dtypes", None),
    # conv2d_naive_backward
    ("conv2d_naive_backward", "dx_pad[n, rows, cols, :] += g * w[:, :, :, f]",
     "dx_pad[n, rows, cols, :] = g * w[:, :, :, f]", REF, "must ADD"),
    ("conv2d_naive_backward", "db[f] += g", "db[f] += g / N", REF, "1/N of the loss"),
    ("conv2d_naive_backward", "return dx_pad[:, top : top + H, left : left + W, :], dw, db",
     "return dx_pad[:, :H, :W, :], dw, db", REF, None),
    ("conv2d_naive_backward", "dx_pad = np.zeros(x_pad.shape, dtype=x.dtype)",
     "dx_pad = np.zeros(x_pad.shape)", "shapes and dtypes", None),
    # im2col
    ("im2col", "cols[:, :, :, p, q, :]", "cols[:, :, :, q % KH, p % KW, :]", "worked example",
     "read it row by row"),
    ("im2col", "p : p + SH * OH : SH", "p : p + OH", REF, "the stride is ignored"),
    ("im2col", "return cols.reshape(", "return cols.transpose(0, 1, 2, 5, 3, 4).reshape(", REF,
     "(c, p, q) order"),
    ("im2col", "x_pad = pad_input(x, KH, KW, (SH, SW), padding)",
     "x_pad = np.pad(x, ((0, 0), (1, 0), (1, 0), (0, 0))) if padding == 'same' else x", "",
     None),
    # col2im
    ("col2im", "] += cols[", "] = cols[", "worked example", "must ADD"),
    ("col2im", "return dx_pad[:, top : top + H, left : left + W, :]", "return dx_pad[:, :H, :W, :]",
     "adjoint", "drop the padding on every side"),
    ("col2im", "q : q + SW * OW : SW", "q : q + OW", "adjoint", None),
    # conv2d_forward
    ("conv2d_forward", "+ b  #", "  #", REF, "the bias is missing"),
    ("conv2d_forward", "w.reshape(KH * KW * C, F)", "w.reshape(F, -1).T", REF,
     "w.reshape(F, -1).T"),
    ("conv2d_forward", "cols = im2col(x, KH, KW, S, padding)",
     "cols = im2col(x, KH, KW, S, padding); w = w[::-1, ::-1]", "worked example", "flipped"),
    ("conv2d_forward", "cols = im2col(x, KH, KW, S, padding)",
     "cols = im2col(x, KH, KW, S, padding); w = w.transpose(1, 0, 2, 3)", "worked example",
     "transposed"),
    # conv2d_backward
    ("conv2d_backward", "db = dout2d.sum(axis=0)", "db = dout2d.mean(axis=0)", "worked example",
     "not a mean"),
    ("conv2d_backward", "dw = (cols.T @ dout2d)", "dw = (cols.T @ dout2d / x.shape[0])", REF,
     "1/N is already in dout"),
    ("conv2d_backward", "dout2d @ w.reshape(-1, F).T", "dout2d @ w[::-1, ::-1].reshape(-1, F).T",
     REF, "flipped kernel"),
    ("conv2d_backward", "return dx, dw, db", "return dx, dw", "shapes and dtypes", None),
    # maxpool_forward
    ("maxpool_forward", "value=-np.inf)  #", ")  #", REF, "pad with -inf"),
    ("maxpool_forward", "out = np.maximum(out, window)", "out = np.maximum(out, window[:, ::-1])",
     REF, None),
    ("maxpool_forward", "np.full((x.shape[0], OH, OW, x.shape[3]), -np.inf",
     "np.full((x.shape[0], OH, OW, x.shape[3]), 0.0", REF, None),
    # maxpool_backward
    ("maxpool_backward", "better = window > best", "better = window >= best", "worked example",
     "LAST maximum"),
    ("maxpool_backward", "routed = np.where(winner == k, dout, 0)",
     "routed = np.where(x_pad[:, p : p + SH * OH : SH, q : q + SW * OW : SW, :] == best, dout, 0)",
     "worked example", "ties double-counted"),
    ("maxpool_backward", "routed = np.where(winner == k, dout, 0)",
     "tied = sum(x_pad[:, a : a + SH * OH : SH, b : b + SW * OW : SW, :] == best for a, b in "
     "np.ndindex(KH, KW)); routed = np.where(x_pad[:, p : p + SH * OH : SH, q : q + SW * OW : SW, "
     ":] == best, dout / tied, 0)", "worked example", "shared among tied"),
    ("maxpool_backward", "dx_pad[:, top : top + H, left : left + W, :]", "dx_pad[:, :H, :W, :]",
     REF, None),
    # relu
    ("relu", "return dout * (x > 0)", "return dout * (x >= 0)", "worked example", "x > 0, not"),
    ("relu", "return dout * (x > 0)", "return np.maximum(dout, 0)", "worked example",
     "not from the sign of dout"),
    ("relu", "return np.maximum(x, 0)", "return np.abs(x)", "worked example", "absolute value"),
    ("relu", "return dout * (x > 0)", "return dout * np.maximum(x, 0)", "worked example",
     "0/1 mask"),
    # dropout
    ("dropout", "mask = (keep / (1 - rate))", "mask = (keep * 1.0)", "worked example",
     "not rescaled"),
    ("dropout", "if not training:", "if False:", "identity at inference",
     "applied at inference"),
    ("dropout", "return dout if mask is None else dout * mask", "return dout", "worked example",
     "dropped elements get no gradient"),
    ("dropout", "keep = rng.random(x.shape) >= rate", "keep = rng.random(x.shape) < rate",
     "worked example", "mask is inverted"),
    # softmax_cross_entropy
    ("softmax_cross_entropy", "return float(loss), dlogits / N", "return float(loss), dlogits", REF,
     "missing 1/N"),
    ("softmax_cross_entropy", "shifted = logits - logits.max(axis=1, keepdims=True)",
     "shifted = logits", REF, "max shift"),
    ("softmax_cross_entropy", "loss = -log_p[np.arange(N), y].mean()",
     "loss = -log_p[np.arange(N), y].sum()", REF, "batch MEAN"),
    # dense_backward
    ("dense_backward", "db = dout.sum(axis=0)", "db = dout.mean(axis=0)", REF, "not a mean"),
    ("dense_backward", "db = dout.sum(axis=0)", "db = dout[0]", REF, "db not summed"),
    ("dense_backward", "dw = x.T @ dout", "dw = x.T @ dout / len(x)", REF, "1/N is already"),
    ("dense_backward", "dx = dout @ w.T", "dx = dout @ w.T[::-1]", REF, None),
    # adam
    ("adam", "lr_t = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)",
     "lr_t = learning_rate", "worked example", "missing bias correction"),
    ("adam", "return p - lr_t * m / (np.sqrt(v) + epsilon), m, v",
     "return p - learning_rate * (m / (1 - beta_1**t)) / (np.sqrt(v / (1 - beta_2**t)) + epsilon), "
     "m, v", "worked example", "paper's form"),
    ("adam", "v = beta_2 * v + (1 - beta_2) * g**2", "v = beta_2 * v + (1 - beta_2) * g",
     "worked example", "SQUARED"),
    ("adam", "m = beta_1 * m + (1 - beta_1) * g", "m *= beta_1; m += (1 - beta_1) * g",
     "arguments are not modified", "in place"),
    # gradient_check
    ("gradient_check", "grad[index] = (plus - minus) / (2 * eps)",
     "grad[index] = (plus - minus) / eps", "worked example", "divide by 2*eps"),
    ("gradient_check", "        x[index] = original  # restore", "        pass  # restore",
     "shapes and dtypes", "not restored"),
    ("gradient_check", "return float(np.max(np.abs(analytic - numeric) / size))",
     "return float(np.max(np.abs(analytic - numeric)))", "worked example",
     "so the error is relative"),
    ("gradient_check", "x[index] = original - eps\n        minus = f()",
     "x[index] = original\n        minus = f()\n        grad[index] = (plus - minus) / eps\n"
     "        continue", "worked example", "one-sided difference"),
    ("gradient_check", "return float(np.max(np.abs(analytic - numeric) / size))",
     "return float(np.median(np.abs(analytic - numeric) / size))",
      "worked example", "not the mean"),
    # capstone (the folder holds every other reference answer: see the references fixture)
    ("capstone", "out = layer.forward(out, training=True)",
     "out = layer.forward(out, training=False)", "six steps of your loop", "training=False"),
    ("capstone", "order = rng.permutation(len(x))", "order = np.arange(len(x))",
     "six steps of your loop", "not shuffled"),
    ("capstone", "m, v, t + 1, learning_rate)", "m, v, t, learning_rate)", "six steps of your loop",
     "t starts at 1"),
    ("capstone", "        kit.Dropout(0.25, rng),\n", "", "the layer list", None),
    # batchnorm
    ("batchnorm", "var = ((x - mean) ** 2).mean(axis=axes)  # (C,), biased",
     "var = ((x - mean) ** 2).sum(axis=axes) / (x.size // x.shape[-1] - 1)  # (C,), biased",
     "worked example", "unbiased variance"),
    ("batchnorm", "x_hat = (x - mean) / np.sqrt(var + epsilon)",
     "x_hat = (x - mean) / (np.sqrt(var) + epsilon)", "worked example", "inside the square root"),
    ("batchnorm", "dx = gamma * inv_std * (dout - dbeta / M - x_hat * dgamma / M)",
     "dx = gamma * inv_std * dout", "worked example", "two extra terms"),
    ("batchnorm", "moving_mean = momentum * moving_mean + (1 - momentum) * mean",
     "moving_mean = (1 - momentum) * moving_mean + momentum * mean", "moving statistics",
     "wrong way round"),
    ("batchnorm", "if training:", "if True:", "inference uses the moving statistics",
     "batch's statistics were used at inference"),
    ("batchnorm", "axes = tuple(range(x.ndim - 1))  # every axis", "axes = 0  # every axis",
     "shapes and dtypes", "every axis but the last"),
    ("batchnorm", "M = x.size // x.shape[-1]", "M = len(x)", REF, "N*H*W"),
    ("batchnorm", "moving_variance = momentum * moving_variance + (1 - momentum) * var",
     "moving_variance = momentum * moving_variance + (1 - momentum) * var * x.size "
     "/ (x.size - x.shape[-1])", "moving statistics", "PyTorch"),
    # saliency
    ("saliency", "return np.abs(dx).max(axis=-1)", "return dx.max(axis=-1)", "worked example",
     "absolute value before the maximum"),
    ("saliency", "return np.abs(dx).max(axis=-1)", "return np.abs(dx).sum(axis=-1)",
     "worked example", "not their sum"),
    ("saliency", "return np.abs(dx).max(axis=-1)", "return np.abs(dx.max(axis=-1))",
     "worked example", "absolute value first"),
    ("saliency", "dscores[:, k] = 1.0", "dscores[:, :] = 1.0", "worked example", "SUM of"),
    ("saliency", "return np.abs(dx).max(axis=-1)", "return np.abs(dx).max(axis=-1)[0]",
     "shapes and dtypes", None),
    # fgsm
    ("fgsm", "return np.clip(x + epsilon * np.sign(g), 0.0, 1.0)",
     "return np.clip(x - epsilon * np.sign(g), 0.0, 1.0)", "worked example", "AWAY"),
    ("fgsm", "return np.clip(x + epsilon * np.sign(g), 0.0, 1.0)",
     "return np.clip(x + epsilon * g, 0.0, 1.0)", "worked example", "SIGN of the gradient"),
    ("fgsm", "return np.clip(x + epsilon * np.sign(g), 0.0, 1.0)",
     "return x + epsilon * np.sign(g)", "worked example", "clip the new image"),
    ("fgsm", "dscores = -p", "dscores = 0 * p", "worked example", "not z_t alone"),
    ("fgsm", "z = z - z.max(axis=1, keepdims=True)", "z = z + 0", "scores near 1000",
     "subtract each row's largest score"),
]  # fmt: skip


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    status = main(["exercises", *map(str, argv)])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def plant(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    begin = text.index("### BEGIN SOLUTION")
    assert old in text[begin:], f"planted edit not found in {path.name}: {old!r}"
    path.write_text(text[:begin] + text[begin:].replace(old, new, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> Path:
    """A folder with every exercise's reference answer (the capstone needs the pieces)."""
    folder = tmp_path_factory.mktemp("references")
    for name in NAMES:
        assert main(["exercises", "start", name, str(folder), "--solution"]) == 0
    return folder


def test_list_shows_the_exercises_naive_first_in_course_order(capsys, tmp_path):
    status, out = run_cli(capsys, "list", tmp_path)
    assert status == 0
    listed = [line.split()[0] for line in out.splitlines()[1:] if line.strip()][: len(NAMES)]
    assert listed == NAMES and len(NAMES) >= 17
    assert NAMES[:3] == ["output_size", "conv2d_naive_forward", "conv2d_naive_backward"]
    assert NAMES[3:7] == ["im2col", "col2im", "conv2d_forward", "conv2d_backward"]
    assert NAMES.index("capstone") > max(map(NAMES.index, PIECES))  # after the pieces it uses


@pytest.mark.parametrize("name", NAMES)
def test_stub_is_not_started(capsys, tmp_path, name):
    for piece in get_exercise(name).uses:  # the capstone needs its pieces' files beside it
        assert run_cli(capsys, "start", piece, tmp_path)[0] == 0
    assert run_cli(capsys, "start", name, tmp_path)[0] == 0
    text = (tmp_path / f"{name}.py").read_text()
    assert "NotImplementedError(" in text and "### BEGIN" not in text and "Exercise(" not in text
    status, out = run_cli(capsys, "check", name, tmp_path)
    assert status == 1
    assert f"{name}: not started" in out and "FAIL" not in out and "Traceback" not in out


@pytest.mark.parametrize("name", NAMES)
def test_reference_answer_passes(capsys, references, name):
    status, out = run_cli(capsys, "check", name, references)
    assert status == 0, out
    assert f"{name}: passed all" in out


@pytest.mark.parametrize(
    ("name", "old", "new", "check", "hint"),
    MUTANTS,
    ids=[f"{m[0]}-{i}" for i, m in enumerate(MUTANTS)],
)
def test_planted_bug_is_caught(capsys, references, tmp_path, name, old, new, check, hint):
    for other in references.iterdir():  # the capstone grades the other pieces of the folder
        (tmp_path / other.name).write_text(other.read_text())
    plant(tmp_path / f"{name}.py", old, new)
    status, out = run_cli(capsys, "check", name, tmp_path)
    assert status == 1, out
    failed = re.search(r"FAIL  (.*)", out)
    assert failed and check in failed.group(1), out
    if hint is not None:
        assert re.search(r"hint: .*" + re.escape(hint), out), out
    assert LIBRARY not in out  # no traceback line from tinycnn's own code


def test_every_exercise_has_at_least_three_planted_bugs():
    counts = {name: sum(m[0] == name for m in MUTANTS) for name in NAMES}
    assert min(counts.values()) >= 3, counts


def test_capstone_fails_when_one_piece_is_wrong(capsys, references, tmp_path):
    for other in references.iterdir():
        (tmp_path / other.name).write_text(other.read_text())
    plant(tmp_path / "conv2d_backward.py", "dw = (cols.T @ dout2d)", "dw = (cols.T @ dout2d / 2)")
    status, out = run_cli(capsys, "check", "capstone", tmp_path)
    assert status == 1
    assert "FAIL  six steps of your loop" in out and "Conv2D w after 6 steps" in out
    assert "one of your pieces differs" in out and "hint:" not in out


def test_student_exception_shows_only_the_students_lines(capsys, references, tmp_path):
    (tmp_path / "relu.py").write_text(
        "import numpy as np\n\n\ndef relu_forward(x):\n    return np.maximum(x, 0)\n\n\n"
        "def relu_backward(dout, x):\n    return dout @ np.ones((2, 2, 2))\n"
    )
    status, out = run_cli(capsys, "check", "relu", tmp_path)
    assert status == 1
    assert "your code raised an error" in out and f'"{tmp_path / "relu.py"}", line 9' in out
    assert "ValueError" in out and LIBRARY not in out and "numpy" not in out.split("line 9")[1]


def test_check_many_folders_prints_a_table_and_writes_json(capsys, references, tmp_path):
    stub = tmp_path / "alice"
    assert run_cli(capsys, "start", "relu", stub)[0] == 0
    report = tmp_path / "report.json"
    status, out = run_cli(capsys, "check", "relu", references, stub, "--json", report)
    assert status == 1
    table = out.split("\n\n")[-1].splitlines()
    assert table[0].split() == ["folder", "relu", "passed", "points"]
    points = len(get_exercise("relu").checks) + len(get_exercise("relu").questions)  # 3 + 2
    assert table[1].split()[1:] == [f"{points}/{points}", "1/1", f"{points}/{points}"]
    assert table[2].split()[1:] == ["-", "0/1", f"0/{points}"]
    document = json.loads(report.read_text())
    assert document["passed"] == 1 and document["total"] == 2
    assert [r["status"] for r in document["results"]] == ["passed", "not started"]
    assert [r["points"] for r in document["results"]] == [points, 0]


def test_list_shows_each_exercises_status(capsys, tmp_path):
    run_cli(capsys, "start", "relu", tmp_path)
    run_cli(capsys, "start", "adam", tmp_path, "--solution")
    path = tmp_path / "dropout.py"
    run_cli(capsys, "start", "dropout", tmp_path)
    path.write_text(path.read_text().replace("# YOUR CODE HERE", "x = x  # started", 1))
    status, out = run_cli(capsys, "list", tmp_path)
    states = {line.split()[0]: line.split()[1] for line in out.splitlines()[1 : len(NAMES) + 1]}
    assert states["relu"] == "not" and states["adam"] == "written"
    assert states["dropout"] == "in" and states["im2col"] == "missing"


def test_start_refuses_to_overwrite_a_students_work(capsys, tmp_path):
    assert run_cli(capsys, "start", "relu", tmp_path)[0] == 0
    status, out = run_cli(capsys, "start", "relu", tmp_path)
    assert status == 2 and "--force" in out


def test_handout_uses_nbgrader_transform():
    text = (
        "def f():\n    '''doc'''\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"
        "### BEGIN HIDDEN TESTS\nassert f() == 1\n### END HIDDEN TESTS\n"
    )
    assert clear_solutions(text) == (
        "def f():\n    '''doc'''\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    )
    assert solution_text(text) == text.split("### BEGIN HIDDEN")[0]
    assert clear_hidden_tests("a\n### BEGIN HIDDEN TESTS\nb\n### END HIDDEN TESTS\nc\n") == "a\nc\n"
    for bad in ("### BEGIN SOLUTION\n", "### END SOLUTION\n",
                "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n"):  # fmt: skip
        with pytest.raises(ValueError):
            clear_solutions(bad)


@pytest.mark.parametrize("name", NAMES)
def test_teachers_version_keeps_nbgrader_markers_and_drops_the_checks(name):
    text = handout(name, solution=True)
    assert "### BEGIN SOLUTION" in text and "### END SOLUTION" in text
    assert "HIDDEN TESTS" not in text and "EXERCISE" not in text
    compile(text, name, "exec")
    compile(handout(name), name, "exec")


TUTORIALS = sorted((Path(__file__).parents[2] / "tutorials").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("path", [p for p in TUTORIALS if p.name >= "02"], ids=lambda p: p.stem)
def test_tutorials_end_with_your_turn_and_a_check_cell(path):
    text = path.read_text(encoding="utf-8")
    last = text.rsplit("# ## Your turn", 1)
    assert len(last) == 2 and "# ## " not in last[1], "the last section must be 'Your turn'"
    named = re.findall(r'"(\w+)",?', last[1].split("for name in", 1)[1].split(":\n", 1)[0])
    assert named and set(named) <= set(NAMES), named
    assert 'print(check(name, "my_exercises")' in last[1]
