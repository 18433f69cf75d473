"""What the exercises teach and say (issue 22): derivation stubs, graded questions, hint
ladders, feedback that never misleads, and the capstone's speed message.

Every planted answer is the reference answer (``start --solution``) with one edit, graded by
``tinycnn exercises check`` in a child process, as a student's file is.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from test_exercises import NAMES, plant, run_cli

from tinycnn.cli import main
from tinycnn.teach.exercises import get_exercise, handout
from tinycnn.teach.exercises.grading import CheckError, expect_array, gradients_match
from tinycnn.teach.exercises.hints import HINTS_FILE
from tinycnn.teach.exercises.questions import Question, grade_questions, read_answers

EXERCISES = [get_exercise(name) for name in NAMES]
QUESTIONS = [(e.name, q) for e in EXERCISES for q in e.questions]


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> Path:
    """A folder with every exercise's reference answer (the capstone needs the pieces)."""
    folder = tmp_path_factory.mktemp("references")
    for name in NAMES:
        assert main(["exercises", "start", name, str(folder), "--solution"]) == 0
    return folder


def planted(references: Path, folder: Path, name: str, old: str, new: str) -> Path:
    """``folder`` holding every reference answer, ``name``'s with one edit."""
    for other in references.glob("*.py"):
        (folder / other.name).write_text(other.read_text())
    plant(folder / f"{name}.py", old, new)
    return folder


# --- stubs that ask for the derivation -------------------------------------------------------

DERIVED = ["conv2d_backward", "dense_backward", "maxpool_backward", "softmax_cross_entropy",
           "batchnorm", "adam", "conv2d_naive_backward"]  # fmt: skip


def _formulas(solution_region: str, every_line: bool) -> set[str]:
    """The gradient formulas of a solution: each code line (comment dropped) that names a
    gradient (``dx``, ``dout2d``, ``dlogits``...; with ``every_line`` all lines), and its
    right-hand side, without spaces; short ones (``return dx``) and one element of an array
    (``dout[n, i, j, f]``) are not formulas."""
    found = set()
    for line in solution_region.splitlines():
        code = line.split("#")[0].strip()
        if not every_line and not re.search(r"\bd(?!type\b)[a-z]\w*", code):
            continue  # the shapes and the forward quantities the stub gives (cols, x_pad)
        for part in (code, code.split("=", 1)[-1], code.removeprefix("return ")):
            part = part.replace(" ", "")
            if len(part) >= 8 and not re.fullmatch(r"\w+\[[^\]]*\]", part):  # not dout[n,i,j,f]
                found.add(part)
    return found


@pytest.mark.parametrize("name", DERIVED)
def test_stub_holds_no_line_of_the_gradient_formulas(name):
    solution = handout(name, solution=True)
    regions = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", solution, re.S)
    if name == "batchnorm":
        regions = regions[1:]  # batchnorm_backward; the forward pass is given math
    formulas = set().union(*(_formulas(region, name == "adam") for region in regions))
    stub = handout(name).replace(" ", "")
    assert formulas and not [line for line in formulas if line in stub]
    assert "derive" in handout(name).lower()


@pytest.mark.parametrize("name", NAMES)
def test_every_stub_states_the_dtype_it_returns(name):
    assert re.search(r"dtype|float32|\bint\b", handout(name).split("### BEGIN")[0])


# --- graded questions -------------------------------------------------------------------------


def test_at_least_thirty_questions_two_per_exercise():
    per_exercise = {e.name: len(e.questions) for e in EXERCISES}
    assert len(QUESTIONS) >= 30 and min(per_exercise.values()) >= 2, per_exercise


def _wrong(question: Question):
    if question.choices:
        return next(letter for letter in question.letters if letter != question.answer)
    return float(question.answer) * 2 + 1


def _answered(name: str, key: str, value) -> str:
    text = handout(name, solution=True)
    line = re.compile(rf'^(    "{key}": ).*?,(  # .*)$', re.M)
    assert line.search(text), key
    return line.sub(lambda m: f"{m.group(1)}{value!r},{m.group(2)}", text, count=1)


@pytest.mark.parametrize(
    ("name", "question"), QUESTIONS, ids=[f"{n}-{q.key}" for n, q in QUESTIONS]
)
def test_a_wrong_answer_costs_its_points_and_says_why(name, question):
    exercise = get_exercise(name)
    right = {r.key: r for r in grade_questions(exercise.questions, handout(name, solution=True))}
    assert right[question.key].points == question.points > 0
    marks = grade_questions(exercise.questions, _answered(name, question.key, _wrong(question)))
    mark = next(m for m in marks if m.key == question.key)
    assert mark.points == 0 and mark.max_points == question.points
    assert question.why in mark.message and "is wrong" in mark.message
    assert all(m.ok for m in marks if m.key != question.key)


def test_answers_are_read_never_run():
    source = 'import os\nos._exit(3)\nANSWERS = {"a": 4, "b": "c"}\nraise SystemExit\n'
    assert read_answers(source) == {"a": 4, "b": "c"}
    marks = grade_questions(
        [Question("a", "?", 4, "four"), Question("b", "?", "b", "b", ("x", "y", "z"))], source
    )
    assert [m.points for m in marks] == [1, 0] and "four" not in marks[0].message
    for bad, says in (("ANSWERS = {'a': len('xy')}", "dictionary literal"),
                      ("x = 1", "no ANSWERS"), ("ANSWERS = {", "does not parse")):  # fmt: skip
        assert all(says in m.message for m in grade_questions([Question("a", "?", 1, "")], bad))


def test_a_wrong_answer_shows_in_the_report_with_its_points(capsys, references, tmp_path):
    text = _answered("relu", "sum_dx", 7)
    (tmp_path / "relu.py").write_text(text)
    status, out = run_cli(capsys, "check", "relu", tmp_path)
    assert status == 1
    assert re.search(r"FAIL  question sum_dx  \[0/1\]", out)
    assert "7 is wrong: only x = 3 is positive" in out and "ok    question dead_unit" in out


# --- hints ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_hint_opens_three_levels_in_order_and_records_them(capsys, tmp_path, name):
    ladder = get_exercise(name).hints
    for level in (1, 2, 3):
        status, out = run_cli(capsys, "hint", name, tmp_path)
        assert status == 0 and f"{name}, hint {level} of 3" in out
        first_words = " ".join(ladder.level(level).split()[:6])
        assert first_words in " ".join(out.split())
        record = json.loads((tmp_path / HINTS_FILE).read_text())
        assert record["format"] == "tinycnn-hints/1"
        assert record["exercises"][name]["opened"] == level
        assert len(record["exercises"][name]["at"]) == level
        if level == 2 and ladder.picture is not None:
            assert (tmp_path / f"hint-{name}.png").read_bytes()[:4] == b"\x89PNG"
    status, out = run_cli(capsys, "hint", name, tmp_path)
    assert "hint 3 of 3" in out and "all three levels are open" in out
    assert json.loads((tmp_path / HINTS_FILE).read_text())["exercises"][name]["opened"] == 3
    assert not list(tmp_path.glob(".hints-*"))  # the atomic write left no temporary file


def test_the_report_shows_the_hints_opened_without_a_penalty(capsys, references, tmp_path):
    (tmp_path / "relu.py").write_text((references / "relu.py").read_text())
    run_cli(capsys, "hint", "relu", tmp_path)
    run_cli(capsys, "hint", "relu", tmp_path)
    status, out = run_cli(capsys, "check", "relu", tmp_path)
    assert status == 0 and "hints opened: 2 of 3 (no penalty)" in out
    assert "relu: passed all" in out


# --- feedback that never misleads: each hint, and a different mistake with the same symptom ----

FINGERPRINTS = [
    ("im2col column order", "im2col", "(c, p, q) order",
     ("return cols.reshape(", "return cols.transpose(0, 1, 2, 5, 3, 4).reshape("),
     ("p : p + SH * OH : SH", "p : p + OH")),
    ("im2col stride ignored", "im2col", "the stride is ignored",
     ("p : p + SH * OH : SH", "p : p + OH"),
     ("return cols.reshape(", "return cols.transpose(0, 1, 2, 5, 3, 4).reshape(")),
    ("naive conv stride ignored", "conv2d_naive_forward", "stride is ignored",
     ("window = x_pad[n, SH * i : SH * i + KH, SW * j : SW * j + KW, :]",
      "window = x_pad[n, i : i + KH, j : j + KW, :]"),
     ("np.sum(window * w[:, :, :, f])", "np.sum(window * w[::-1, ::-1, :, f])")),
    ("padding ignored", "output_size", "padding ignored",
     ("return max((H + 2 * P - K) // S + 1, 0)", "return max((H - K) // S + 1, 0)"),
     ("return max((H + 2 * P - K) // S + 1, 0)", "return max(-(-(H + 2 * P - K) // S) + 1, 0)")),
    ("dw mis-laid", "conv2d_backward", "laid out wrong",
     ("dw = (cols.T @ dout2d).reshape(KH, KW, C, F)",
      "dw = (dout2d.T @ cols).reshape(KH, KW, C, F)"),
     ("dw = (cols.T @ dout2d)", "dw = (cols.T @ dout2d / x.shape[0])")),
    ("dw transposed", "conv2d_backward", "KH and KW swapped",
     ("dw = (cols.T @ dout2d).reshape(KH, KW, C, F)",
      "dw = (cols.T @ dout2d).reshape(KH, KW, C, F).transpose(1, 0, 2, 3)"),
     ("dw = (cols.T @ dout2d).reshape(KH, KW, C, F)",
      "dw = (dout2d.T @ cols).reshape(KH, KW, C, F)")),
    ("overlaps overwritten", "col2im", "must ADD",
     ("] += cols[", "] = cols["),
     ("return dx_pad[:, top : top + H, left : left + W, :]", "return dx_pad[:, :H, :W, :]")),
    ("overlaps overwritten (naive)", "conv2d_naive_backward", "must ADD",
     ("dx_pad[n, rows, cols, :] += g * w[:, :, :, f]",
      "dx_pad[n, rows, cols, :] = g * w[:, :, :, f]"),
     ("return dx_pad[:, top : top + H, left : left + W, :], dw, db",
      "return dx_pad[:, :H, :W, :], dw, db")),
    ("sum where a mean belongs", "softmax_cross_entropy", "batch MEAN",
     ("loss = -log_p[np.arange(N), y].mean()", "loss = -log_p[np.arange(N), y].sum()"),
     ("return float(loss), dlogits / N", "return float(loss), dlogits")),
    ("mean where a sum belongs", "dense_backward", "not a mean",
     ("db = dout.sum(axis=0)", "db = dout.mean(axis=0)"),
     ("db = dout.sum(axis=0)", "db = dout[0]")),
    ("missing 1/N", "softmax_cross_entropy", "missing 1/N",
     ("return float(loss), dlogits / N", "return float(loss), dlogits"),
     ("dlogits[np.arange(N), y] -= 1", "dlogits[np.arange(N), y] -= 0")),
    ("row max not subtracted", "softmax_cross_entropy", "without the max shift",
     ("shifted = logits - logits.max(axis=1, keepdims=True)", "shifted = logits"),
     ("loss = -log_p[np.arange(N), y].mean()",
      "loss = -np.log(np.exp(log_p)[np.arange(N), y]).mean()")),
    ("log of an underflowed probability", "softmax_cross_entropy", "underflowed",
     ("loss = -log_p[np.arange(N), y].mean()",
      "loss = -np.log(np.exp(log_p)[np.arange(N), y]).mean()"),
     ("shifted = logits - logits.max(axis=1, keepdims=True)", "shifted = logits")),
    ("global vs per-row maximum", "softmax_cross_entropy", "one global maximum",
     ("shifted = logits - logits.max(axis=1, keepdims=True)", "shifted = logits - logits.max()"),
     ("shifted = logits - logits.max(axis=1, keepdims=True)", "shifted = logits")),
    ("ties double-counted", "maxpool_backward", "double-counted",
     ("routed = np.where(winner == k, dout, 0)",
      "routed = np.where(x_pad[:, p : p + SH * OH : SH, q : q + SW * OW : SW, :] == best, dout, "
      "0)"),
     ("better = window > best", "better = window >= best")),
    ("dropout inverted", "dropout", "mask is inverted",
     ("keep = rng.random(x.shape) >= rate", "keep = rng.random(x.shape) < rate"),
     ("mask = (keep / (1 - rate))", "mask = (keep * 1.0)")),
    ("dropout not rescaled", "dropout", "not rescaled",
     ("mask = (keep / (1 - rate))", "mask = (keep * 1.0)"),
     ("keep = rng.random(x.shape) >= rate", "keep = rng.random(x.shape) < rate")),
    ("wrong dtype", "dropout", "the mask is float64",
     ("mask = (keep / (1 - rate)).astype(x.dtype)", "mask = keep / (1 - rate)"),
     ("return x * mask, mask", "return x.astype(np.float64) * mask, mask")),
    ("the training flag", "capstone", "training=False",
     ("out = layer.forward(out, training=True)", "out = layer.forward(out, training=False)"),
     ("order = rng.permutation(len(x))", "order = np.arange(len(x))")),
    ("Adam's epsilon in the paper's place", "adam", "paper's form",
     ("return p - lr_t * m / (np.sqrt(v) + epsilon), m, v",
      "return p - learning_rate * (m / (1 - beta_1**t)) / (np.sqrt(v / (1 - beta_2**t)) "
      "+ epsilon), m, v"),
     ("lr_t = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)", "lr_t = learning_rate")),
    ("biased vs unbiased variance", "batchnorm", "unbiased variance",
     ("var = ((x - mean) ** 2).mean(axis=axes)  # (C,), biased",
      "var = ((x - mean) ** 2).sum(axis=axes) / (x.size // x.shape[-1] - 1)  # (C,), biased"),
     ("x_hat = (x - mean) / np.sqrt(var + epsilon)",
      "x_hat = (x - mean) / (np.sqrt(var) + epsilon)")),
    ("gradient check with one global norm", "gradient_check", "one global norm",
     ("return float(np.max(np.abs(analytic - numeric) / size))",
      "return float(np.linalg.norm(analytic - numeric) / max(np.linalg.norm(analytic) "
      "+ np.linalg.norm(numeric), 1e-12))"),
     ("return float(np.max(np.abs(analytic - numeric) / size))",
      "return float(np.max(np.abs(analytic - numeric)))")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mistake", "name", "hint", "made", "other"), FINGERPRINTS, ids=[f[0] for f in FINGERPRINTS]
)
def test_a_hint_is_given_for_its_mistake_and_only_for_it(
    capsys, references, tmp_path, mistake, name, hint, made, other
):
    (tmp_path / "made").mkdir()
    (tmp_path / "other").mkdir()
    status, out = run_cli(
        capsys, "check", name, planted(references, tmp_path / "made", name, *made)
    )
    assert status == 1 and re.search(r"hint: .*" + re.escape(hint), out), out
    status, out = run_cli(
        capsys, "check", name, planted(references, tmp_path / "other", name, *other)
    )
    assert status == 1 and "FAIL" in out, out  # the same symptom: a check fails
    assert hint not in out, out


def test_with_no_fingerprint_the_message_says_where_it_differs_and_guesses_nothing(
    capsys, references, tmp_path
):
    folder = planted(references, tmp_path, "maxpool_forward", "out = np.maximum(out, window)",
                     "out = np.maximum(out, window[:, ::-1])")  # fmt: skip
    status, out = run_cli(capsys, "check", "maxpool_forward", folder)
    assert status == 1 and "smallest failing case" in out
    assert re.search(r"\d+ of \d+ positions differ", out) and "at (" in out and "hint:" not in out


# --- the authoring helpers the checks share -----------------------------------------------------


def test_expect_array_returns_a_right_answer_and_says_what_came_instead_of_a_wrong_one():
    right = np.zeros((2, 3), np.float32)
    assert expect_array(right, "dx", (2, 3), np.float32, "x (2, 3)") is right
    wrong = [
        (np.zeros((2, 3)), "float64 of shape (2, 3)"),
        (np.zeros((3, 2), np.float32), "float32 of shape (3, 2)"),
        ([[0.0] * 3] * 2, "a list"),
    ]
    for got, came in wrong:
        with pytest.raises(CheckError) as failure:
            expect_array(got, "dx", (2, 3), np.float32, "x (2, 3)", hint="a hint")
        expected = "x (2, 3): dx should be a float32 ndarray of shape (2, 3), got "
        assert failure.value.message == expected + came and failure.value.hint == "a hint"


def test_gradients_match_passes_a_right_backward_and_names_the_input_for_a_wrong_one():
    rng = np.random.default_rng(0)
    params, x = {"w": rng.standard_normal((3, 2))}, rng.standard_normal((4, 3))
    gradients_match(
        lambda x, w: x @ w, lambda dout, x, w: (dout @ w.T, x.T @ dout), params, x, "x (4, 3)"
    )
    with pytest.raises(CheckError, match=r"^x \(4, 3\), w \(3, 2\):\n") as failure:
        gradients_match(
            lambda x, w: x @ w,
            lambda dout, x, w: (dout @ w.T, 2 * x.T @ dout),  # dw twice too large
            params,
            x,
            "x (4, 3), w (3, 2)",
        )
    worst = re.search(r"student/w +\(3, 2\) +([\d.e+-]+)", failure.value.message)
    assert worst and float(worst.group(1)) > 0.3  # |2a - a| / (|2a| + |a|) = 1/3


# --- the capstone -----------------------------------------------------------------------------

# A loop over every window position. On a fast machine such a loop still trains inside the
# capstone's 30 s budget (it did on CI), so the pause makes it slower than the budget on every
# machine (313 calls x 0.25 s) and the test does not depend on the speed of the machine.
LOOP_IM2COL = """    import time

    time.sleep(0.25)
    N, _, _, C = x.shape
    OH, OW = output_hw(x.shape, KH, KW, S, padding)
    x_pad = pad_input(x, KH, KW, S, padding)
    cols = np.empty((N * OH * OW, KH * KW * C), dtype=x.dtype)
    for n, i, j in np.ndindex(N, OH, OW):
        window = x_pad[n, S[0] * i : S[0] * i + KH, S[1] * j : S[1] * j + KW, :]
        cols[(n * OH + i) * OW + j] = window.ravel()
    return cols
"""


def test_capstone_reaches_its_accuracy_and_prints_progress(capsys, references):
    status, out = run_cli(capsys, "check", "capstone", references)
    assert status == 0, out
    accuracy = re.search(r"capstone: test accuracy ([\d.]+)% on 1000 images", out)
    assert accuracy and float(accuracy.group(1)) >= 88.0
    assert "capstone: step 50/313, loss" in out and "capstone: step 313/313" in out


def test_a_correct_but_slow_capstone_is_told_its_speed_and_what_is_slow(
    capsys, references, tmp_path
):
    text = (references / "im2col.py").read_text()
    body = re.search(r"### BEGIN SOLUTION\n(.*?)    ### END SOLUTION", text, re.S).group(1)
    folder = planted(references, tmp_path, "im2col", body, LOOP_IM2COL)
    status, out = run_cli(capsys, "check", "im2col", folder)
    assert status == 0, out  # a correct answer
    status, out = run_cli(capsys, "check", "capstone", folder)
    assert status == 1
    assert re.search(r"too slow to train here: \d+ of 313 batches in \d+ s \(\d+ images/s\)", out)
    assert re.search(r"time spent in your functions: im2col \d+%", out)
    assert "Slowest: im2col.py: loop over the KH*KW kernel offsets" in out


def test_the_teaching_guide_states_the_capstones_own_numbers():
    text = " ".join((Path(__file__).parents[2] / "docs/guides/teaching.md").read_text().split())
    trains = next(c.name for c in get_exercise("capstone").checks if "accuracy" in c.name)
    needed = re.search(r"(\d+)% test accuracy", trains).group(1)
    assert f"needs {needed}% accuracy on 1,000 test images" in text
    assert "printing the loss every 50 steps" in text and "for one epoch" in text


def test_the_graders_docstrings_cite_files_that_exist():
    root = Path(__file__).parents[2]
    cited = [
        (path.name, name)
        for path in (root / "tinycnn/teach/exercises").rglob("*.py")
        for name in re.findall(r"``((?:docs|tests|tinycnn|tutorials)/[\w./-]+)``", path.read_text())
    ]
    assert cited and all((root / name).exists() for _, name in cited), cited
