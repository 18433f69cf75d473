"""The grader a class can trust: every student file runs in a child process with limits, marks a
course can use, bad input refused one line at a time.

Each acceptance case is a student file written for it, graded in ONE batch with a correct
folder (``--jobs 2``): every bad one must fail with a one-line reason, and the correct folder
must still pass with full marks.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import shutil
import struct
import textwrap
from pathlib import Path

import pytest

from tinycnn.cli import main
from tinycnn.teach.exercises import get_exercise
from tinycnn.teach.exercises.wire import FrameReader, Unreadable, WireError, write_frame

pytestmark = pytest.mark.timeout(300)

RELU_BACKWARD = "def relu_backward(dout, x):\n    return dout * (x > 0)\n\n\n"
RIGHT = "    return np.maximum(x, 0)\n"


RELU_ANSWERS = '\n\nANSWERS = {"sum_dx": 5, "dead_unit": "a"}\n'  # relu's questions, right


def relu_file(body: str, top: str = "") -> str:
    """A relu.py whose relu_forward runs ``body`` (indented) and then answers right (its
    questions too)."""
    return (
        f"import numpy as np\n{top}\n\n{RELU_BACKWARD}def relu_forward(x):\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
        + RIGHT
        + RELU_ANSWERS
    )


RELU_POINTS = 3 + 2  # relu's three checks and two questions, one point each

# name: (relu.py text, what the one-line reason must say)
CASES = {
    "loop": (relu_file("while True:\n    pass\n"), "took longer than 3 s in check 1"),
    "sys_exit": (relu_file("sys.exit(0)\n", "import sys"), "exited with status 0 before returning"),
    "os_exit": (relu_file("os._exit(0)\n", "import os"), "exited with status 0 before returning"),
    "raise_exit": (relu_file("raise SystemExit\n"), "exited with status 0 before returning"),
    "interrupt": (relu_file("raise KeyboardInterrupt\n"), "raised KeyboardInterrupt"),
    "memory": (relu_file("big = np.ones(2**29)  # 4 GB\n"), "ran out of memory"),
    "signal": (relu_file("os.kill(os.getpid(), 9)\n", "import os"), "signal SIGKILL"),
    "kills_fork_server": (
        relu_file("os.kill(os.getppid(), 9)\nwhile True:\n    pass\n", "import os"),
        "took longer than 3 s in check 1",
    ),
    "patched_allclose": (
        "import numpy as np\n\nnp.allclose = lambda *a, **k: True\n"
        "np.isclose = lambda a, b, **k: np.ones(np.shape(a), bool)\n\n\n"
        f"{RELU_BACKWARD}def relu_forward(x):\n    return x * 1.0\n",
        "positions differ",
    ),
    "patched_grader": (
        relu_file(
            "",
            "exec('import tinycnn.teach.exercises.grading as g; g.compare = lambda *a, **k: None')",
        ),
        "importing tinycnn.teach.exercises.grading",
    ),
    "grader_by_gc": (
        relu_file(
            "for o in gc.get_objects():\n"
            "    if type(o).__name__ == 'Channel':\n"
            "        o.send = lambda message: None\n",
            "import gc",
        ),
        "took longer than 3 s in check 1",
    ),
    "deletes_parent_files": (
        relu_file(
            "for victim in (Path(__file__).resolve().parent.parent / 'good' / 'relu.py',\n"
            "               Path('..') / 'good' / 'relu.py', Path('../../good/relu.py')):\n"
            "    victim.unlink(missing_ok=True)\n"
            "for other in Path(__file__).resolve().parent.parent.iterdir():\n"
            "    if other.is_file():\n"
            "        other.unlink()\n"
            "raise ValueError('deleted what I could')\n",
            "from pathlib import Path",
        ),
        "ValueError: deleted what I could",
    ),
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Every case and a correct folder, graded in one command; (status, JSON, folder)."""
    root = tmp_path_factory.mktemp("class")
    (root / "good").mkdir()
    assert main(["exercises", "start", "relu", str(root / "good"), "--solution"]) == 0
    (root / "notes.txt").write_text("the teacher's notes\n")
    for name, (text, _) in CASES.items():
        (root / name).mkdir()
        (root / name / "relu.py").write_text(text)
    report = root / "report.json"
    folders = [str(root / name) for name in CASES] + [str(root / "good")]
    argv = ["check", "relu", *folders, "--timeout", "3", "--memory", "1024", "--jobs", "2"]
    status = main(["exercises", *argv, "--json", str(report)])
    return status, json.loads(report.read_text()), root


@pytest.mark.parametrize("name", CASES)
def test_bad_student_code_fails_with_one_line(batch, name):
    status, document, root = batch
    result = next(r for r in document["results"] if Path(r["path"]).parent.name == name)
    assert result["status"] == "failed" and result["points"] < result["max_points"] == RELU_POINTS
    message = result["message"]
    assert CASES[name][1] in message, message
    if name not in ("patched_allclose", "deletes_parent_files"):  # these show the student's lines
        assert len(message.splitlines()) <= 3 and "tinycnn/" not in message, message
    assert status == 1


def test_other_folders_in_the_batch_are_unaffected(batch):
    _, document, root = batch
    good = next(r for r in document["results"] if Path(r["path"]).parent.name == "good")
    assert good["status"] == "passed" and good["points"] == good["max_points"] == RELU_POINTS
    assert (root / "good" / "relu.py").is_file() and (root / "notes.txt").is_file()
    assert (root / "deletes_parent_files" / "relu.py").is_file()


def test_jobs_hand_out_the_capstone_first_and_report_in_folder_order(tmp_path):
    from tinycnn.teach.exercises import check_all

    folders = [tmp_path / name for name in ("ada", "bob", "cy")]
    for folder in folders:  # handouts as given: "not started", no child needed
        for name in ("relu", "capstone"):
            assert main(["exercises", "start", name, str(folder)]) == 0
    done: list = []
    reports = check_all(["relu", "capstone"], folders, jobs=2, progress=done.append)
    graded = [(r.exercise, r.path.parent.name) for r in reports]
    assert graded == [(e, f.name) for f in folders for e in ("relu", "capstone")]
    assert {r.status for r in reports} == {"not started"} and len(done) == 6
    assert [r.exercise for r in done[:2]] == ["capstone", "capstone"]


def test_borrowed_answers_fail_naming_the_import(capsys, tmp_path):
    for name, text in {
        "im2col": "from tinycnn.kernels.im2col import im2col\n",
        "softmax_cross_entropy": (
            "from tinycnn.teach.exercises.reference import softmax_cross_entropy\n"
        ),
        "relu": "import importlib\nrelu_forward = importlib.import_module('tinycnn').relu\n",
    }.items():
        (tmp_path / f"{name}.py").write_text(text)
        assert main(["exercises", "check", name, str(tmp_path)]) == 1
        out = capsys.readouterr().out
        assert "FAIL  no borrowed answers" in out, out
        imported = text.split("import ")[1].split()[0].split("\n")[0]
        assert imported.split(".")[0] in out and "line 1" in out


def test_allowed_imports_are_the_handouts_own():
    from tinycnn.teach.exercises import handout
    from tinycnn.teach.exercises.imports import allowed_imports, borrowed_imports

    allowed = allowed_imports(handout("conv2d_forward"))
    assert "im2col" in allowed["tinycnn.kernels.im2col"]
    ok = (
        "from tinycnn.kernels.geometry import output_hw\n"
        "from tinycnn.kernels.im2col import im2col\n"
    )
    assert borrowed_imports(ok, allowed, "conv2d_forward.py") == []
    bad = "from tinycnn.layers.conv2d import Conv2D\nimport sys\nsys.modules\n"
    problems = borrowed_imports(bad, allowed, "conv2d_forward.py")
    assert len(problems) == 2 and "Conv2D from tinycnn.layers.conv2d" in problems[0]


def test_reference_answers_are_not_importable():
    with pytest.raises(ImportError):
        __import__("tinycnn.teach.exercises.reference")
    with pytest.raises(ImportError):
        __import__("tinycnn.teach.exercises.ex01_im2col")
    assert get_exercise("im2col").source.parent.name == "builtin.pack"


def test_bad_input_one_line_each_and_the_rest_graded(capsys, tmp_path, monkeypatch):
    good = tmp_path / "good"
    assert main(["exercises", "start", "relu", str(good), "--solution"]) == 0
    cases = {
        "missing": None,
        "not_a_folder": "file",
        "no_file": "empty",
        "binary": b"\x00\x01\x02 relu",
        "latin1": "def relu_forward(x):\n    return x  # caf\xe9\n".encode("latin-1"),
        "huge": "huge",
        "unreadable": "unreadable",
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content == "file":
            path.write_text("not a folder")
        elif content is not None:
            path.mkdir()
            if isinstance(content, bytes):
                (path / "relu.py").write_bytes(content)
            elif content == "huge":
                with open(path / "relu.py", "wb") as file:
                    file.truncate(50 * 2**20)
    twin = tmp_path / "elsewhere" / "good"
    twin.mkdir(parents=True)
    (twin / "relu.py").write_text((good / "relu.py").read_text())
    real_access = os.access
    monkeypatch.setattr(  # we run as root in CI: permissions would not stop us reading
        os, "access", lambda p, mode: "unreadable" not in str(p) and real_access(p, mode)
    )
    argv = [str(good), *(str(tmp_path / n) for n in cases), str(twin)]
    status = main(["exercises", "check", "relu", *argv])
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert status == 2
    assert len(errors) == len(cases) + 1, errors  # one line each, the twin too
    for word in ("no such folder", "got a file", "has no relu.py", "binary", "not UTF-8",
                 "50.0 MB", "cannot be read", "also named 'good'"):  # fmt: skip
        assert sum(word in line for line in errors) == 1, (word, errors)
    assert f"ok    {good / 'relu.py'}: passed" in captured.out


@pytest.mark.parametrize("name", ["../relu", "a/relu", "relu.py", ""])
def test_names_with_path_separators_are_refused(capsys, tmp_path, name):
    for action in (["start", name, str(tmp_path)], ["check", name, str(tmp_path)]):
        assert main(["exercises", *action]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "expected an exercise name" in err
    assert list(tmp_path.iterdir()) == []


def test_start_never_overwrites_nor_follows_a_link(capsys, tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    link = tmp_path / "relu.py"
    link.symlink_to(target)
    assert main(["exercises", "start", "relu", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err and target.read_text() == "keep me"
    assert main(["exercises", "start", "relu", str(tmp_path), "--force"]) == 0
    assert not link.is_symlink() and "def relu_forward" in link.read_text()
    assert target.read_text() == "keep me"


def test_marks_csv_and_gradescope_agree_with_the_json(capsys, tmp_path):
    ada, bob = tmp_path / "ada", tmp_path / "bob"
    for name in ("relu", "dropout"):
        assert main(["exercises", "start", name, str(ada), "--solution"]) == 0
        assert main(["exercises", "start", name, str(bob), "--solution"]) == 0
    text = (bob / "dropout.py").read_text()
    (bob / "dropout.py").write_text(text.replace("return dout if mask is None", "return dout #", 1))
    (bob / "relu.py").write_text(relu_file("").replace("np.maximum(x, 0)", "x"))
    out = tmp_path / "marks"
    out.mkdir()
    argv = ["check", "all", str(ada), str(bob), "--json", str(out / "r.json")]
    argv += ["--csv", str(out / "r.csv"), "--feedback", str(out)]
    status = main(["exercises", *argv, "--timeout", "30"])
    assert status in (1, 2)
    document = json.loads((out / "r.json").read_text())
    with open(out / "r.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["folder"] for row in rows] == [str(ada), str(bob)]
    for row in rows:
        folder = document["folders"][row["folder"]]
        assert float(row["total"]) == pytest.approx(folder["points"])
        assert float(row["max_points"]) == pytest.approx(folder["max_points"])
        own = [r for r in document["results"] if str(Path(r["path"]).parent) == row["folder"]]
        assert float(row["total"]) == pytest.approx(sum(r["points"] for r in own))
    bob_relu = next(r for r in document["results"] if r["path"] == str(bob / "relu.py"))
    assert 0 < bob_relu["points"] < bob_relu["max_points"]  # partial credit: shapes passed
    page = (out / "bob.md").read_text()
    assert "# Feedback for" in page and "## relu: worked example" in page
    capsys.readouterr()


GRADESCOPE_TOP = {
    "score", "execution_time", "output", "output_format", "test_output_format",
    "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard",
}  # fmt: skip
GRADESCOPE_TEST = {
    "score", "max_score", "status", "name", "name_format", "number", "output", "output_format",
    "tags", "visibility", "extra_data",
}  # fmt: skip
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def test_gradescope_results_use_the_documented_fields(capsys, tmp_path):
    """https://gradescope-autograders.readthedocs.io/en/latest/specs/ (Output format)."""
    (tmp_path / "relu.py").write_text(relu_file("").replace("np.maximum(x, 0)", "x"))
    results = tmp_path / "results.json"
    main(["exercises", "check", "relu", str(tmp_path), "--gradescope", str(results)])
    data = json.loads(results.read_text())
    assert set(data) <= GRADESCOPE_TOP and isinstance(data["tests"], list)
    assert data["visibility"] in VISIBILITY and data["stdout_visibility"] in VISIBILITY
    assert isinstance(data["execution_time"], int) and isinstance(data["output"], str)
    for test in data["tests"]:
        assert set(test) <= GRADESCOPE_TEST and {"name", "score", "max_score", "output"} <= set(
            test
        )
        assert test["status"] in ("passed", "failed") and test["visibility"] in VISIBILITY
        assert 0 <= test["score"] <= test["max_score"]
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"])) == 1 + 2
    statuses = ["passed", "failed", "failed", "passed", "passed"]  # 3 checks, 2 questions
    assert [t["status"] for t in data["tests"]] == statuses
    capsys.readouterr()


def test_wire_refuses_what_it_cannot_read_safely():
    import numpy as np

    read_end, write_end = os.pipe()
    try:
        message = {"a": np.arange(3.0), "t": (1, "x", None), "rng": np.random.default_rng(1)}
        message["objects"] = np.array([object()], dtype=object)
        message["f"] = len  # no callbacks list given: not sendable
        write_frame(write_end, message)
        got = FrameReader(read_end).read()
        assert got["a"].tolist() == [0.0, 1.0, 2.0] and got["t"] == (1, "x", None)
        assert got["rng"].random() == np.random.default_rng(1).random()
        assert isinstance(got["objects"], Unreadable) and isinstance(got["f"], Unreadable)
        evil = b'{"m": {"$evil": 1}, "blobs": []}'
        os.write(write_end, struct.pack("<I", len(evil)) + evil)
        with pytest.raises(WireError):
            FrameReader(read_end).read()
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.parametrize(
    "forged",
    [
        [0, "O", [1], "C"],  # Python objects
        [0, "i4,O", [1], "C"],  # fields holding one
        [0, "<f8", [2], "C"],  # 8 bytes for 2 float64
        [0, "<f8", [-1], "C"],
        [0, "<f8", [1], "X"],
        [3, "<f8", [1], "C"],  # a blob the message does not have
    ],
)
def test_wire_arrays_keep_dtype_shape_order_and_forged_ones_are_refused(forged):
    import numpy as np

    read_end, write_end = os.pipe()
    try:
        sent = {
            "f": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
            "view": np.arange(10, dtype=">i4")[::3],
            "empty": np.zeros((0, 3), np.float32),
            "fields": np.zeros(2, dtype=[("x", "<f4"), ("y", "<i8")]),
            "scalar": np.float32(2.5),
        }
        write_frame(write_end, sent)
        got = FrameReader(read_end).read()
        for key, value in sent.items():
            assert got[key].dtype == value.dtype and np.array_equal(got[key], value)
        assert got["f"].flags.f_contiguous and got["view"].flags.writeable
        assert isinstance(got["scalar"], np.float32)
        header = json.dumps({"m": {"$dict": [["x", {"$nd": forged}]]}, "blobs": [8]}).encode()
        os.write(write_end, struct.pack("<I", len(header)) + header + bytes(8))
        with pytest.raises(WireError):
            FrameReader(read_end).read()
    finally:
        os.close(read_end)
        os.close(write_end)


def test_exercise_files_use_only_the_public_authoring_api():
    for exercise in [get_exercise(n) for n in ("im2col", "capstone", "adam")]:
        tree = ast.parse(exercise.source.read_text())
        modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} - {
            None
        }
        teach = {m for m in modules if m and m.startswith("tinycnn.teach.exercises")}
        assert teach == {"tinycnn.teach.exercises.grading"}, teach


TEMPLATE = Path(__file__).parents[2] / "docs" / "guides" / "template_pack"


def test_a_teachers_pack_is_listed_started_checked_and_marked(capsys, tmp_path):
    pack = tmp_path / "pack"
    shutil.copytree(TEMPLATE, pack)
    option = ["--exercises", str(pack)]
    assert main(["exercises", "list", str(tmp_path), *option]) == 0
    assert "leaky_relu" in capsys.readouterr().out
    ada, bob, cy = tmp_path / "ada", tmp_path / "bob", tmp_path / "cy"
    assert main(["exercises", "start", "leaky_relu", str(ada), "--solution", *option]) == 0
    assert main(["exercises", "start", "leaky_relu", str(bob), "--solution", *option]) == 0
    assert main(["exercises", "start", "leaky_relu", str(cy), *option]) == 0
    text = (bob / "leaky_relu.py").read_text()
    (bob / "leaky_relu.py").write_text(text.replace("1.0, alpha)", "1.0, 0.0)"))
    marks = tmp_path / "marks.csv"
    argv = ["check", "leaky_relu", str(ada), str(bob), str(cy), "--csv", str(marks), *option]
    assert main(["exercises", *argv]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "backward" in out
    with open(marks, newline="") as file:
        totals = {row["folder"]: float(row["total"]) for row in csv.DictReader(file)}
    assert totals == {str(ada): 5.0, str(bob): 4.0, str(cy): 0.0}  # bob: half of 2 points


def test_the_template_pack_uses_only_the_public_authoring_api():
    for path in TEMPLATE.glob("*.py"):
        tree = ast.parse(path.read_text())
        modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        tinycnn_modules = {m for m in modules if m and m.startswith("tinycnn")}
        assert tinycnn_modules == {"tinycnn.teach.exercises.grading"}, tinycnn_modules


def test_a_notebook_is_handed_out_and_graded_like_a_py(capsys, tmp_path):
    stub, answer = tmp_path / "stub", tmp_path / "answer"
    assert main(["exercises", "start", "relu", str(stub), "--notebook"]) == 0
    assert main(["exercises", "start", "relu", str(answer), "--notebook", "--solution"]) == 0
    notebook = json.loads((answer / "relu.ipynb").read_text())
    solutions = [c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
    assert len(solutions) == 2 and all(
        "### BEGIN SOLUTION" in "".join(c["source"]) for c in solutions
    )
    assert main(["exercises", "check", "relu", str(stub), str(answer)]) == 1
    out = capsys.readouterr().out
    assert (
        f"{stub / 'relu.ipynb'}: not started" in out and f"{answer / 'relu.ipynb'}: passed" in out
    )


def test_nbgrader_generate_assignment_accepts_the_solution_notebook(capsys, tmp_path):
    """The classroom extra: nbgrader's own transform clears the answers of our notebook."""
    nbgrader_apps = pytest.importorskip("nbgrader.apps")
    from traitlets.config import Config

    source = tmp_path / "course" / "source" / "ps1"
    assert main(["exercises", "start", "relu", str(source), "--notebook", "--solution"]) == 0
    config = Config()
    config.CourseDirectory.root = str(tmp_path / "course")
    config.CourseDirectory.course_id = "tinycnn"
    config.CourseDirectory.db_url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    result = nbgrader_apps.NbGraderAPI(config=config).generate_assignment("ps1")
    assert result["success"], result["error"]
    released = tmp_path / "course" / "release" / "ps1"
    text = (released / "relu.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "YOUR CODE HERE" in text
    assert main(["exercises", "check", "relu", str(released)]) == 1
    assert "relu: not started" in capsys.readouterr().out
