"""What README, docs and tutorials say about the code, checked against the code.

- The README's dependency and extras sentences, and the getting-started page's package list and
  extras table, against ``pyproject.toml``.
- Every ``tinycnn ...`` command quoted in a code block or a figure caption of README, docs or a
  tutorial: parsed by the command line's own parser (a typo, an unknown option or a missing
  argument fails), then *run* in a temporary folder, unless it is in ``PARSE_ONLY`` (commands
  that train for minutes or serve until stopped; each entry says why). Runs use the embedded
  MNIST subset (no full data, no download) and a freshly initialised seed CNN as ``model.npz``.
- Every "N exercises", "N tutorials" or "N plot kinds" figure in README, docs, tutorials and the
  command line's help, against the exercise registry, ``tutorials/*.py`` and the plot command's
  kinds (counted, never hard-coded: other branches add exercises and tutorials).
- No internal labels ("phase 3", "session 4", "run 12", "issue 18") in docs or tutorials: a
  reader cannot look them up; measurements are labelled by date.
- Every tutorial 00-10 asks the reader to predict before a cell prints the answer, and every
  tutorial ends with a "Your turn" section whose exercises exist (docs/guides/teaching.md says so).
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from tinycnn.cli import build_parser, main

README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
TUTORIALS = sorted((REPO_ROOT / "tutorials").glob("[0-9][0-9]_*.py"))
NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty twenty-one twenty-two twenty-three "
    "twenty-four twenty-five twenty-six twenty-seven twenty-eight twenty-nine thirty"
).split()


def flat(text: str) -> str:
    return " ".join(text.split())


def docs_pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if not {"_static", "_build"} & set(p.parts))


def tutorial_prose(path: Path) -> str:
    """A tutorial's markdown cells as markdown (comment markers removed), code cells blank."""
    lines, markdown = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            markdown = "[markdown]" in line
            lines.append("")
        elif markdown and (line.startswith("# ") or line == "#"):
            lines.append(line[2:])
        else:
            lines.append("")
    return "\n".join(lines)


def sources() -> list[tuple[Path, str]]:
    """README, every docs page and every tutorial's prose, as markdown."""
    pages = [(README, README.read_text(encoding="utf-8"))]
    pages += [(page, page.read_text(encoding="utf-8")) for page in docs_pages()]
    return pages + [(path, tutorial_prose(path)) for path in TUTORIALS]


# -- dependencies and extras ------------------------------------------------------------------
def pyproject() -> dict:
    import tomllib  # Python >= 3.11, as CI uses

    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]


def package_names(specs: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[ ;]", spec, maxsplit=1)[0].strip().lower() for spec in specs}


def listed(text: str) -> set[str]:
    """The names of "a, b, c and d"."""
    return {name.strip("` ").lower() for name in re.split(r",\s*|\s+and\s+", text) if name}


def test_readme_dependency_sentence_names_the_core_dependencies():
    text = flat(README.read_text())
    match = re.search(r"The core needs only ([\w, ]+?) \(", text)
    assert match, "the README's dependency sentence changed"
    assert listed(match.group(1)) == package_names(pyproject()["dependencies"])
    version = re.search(r"Python (\d+\.\d+) or newer", text)
    assert version and pyproject()["requires-python"] == f">={version.group(1)}"


def test_readme_names_every_optional_extra():
    text = flat(README.read_text())
    paragraph = text.split("The optional extras are", 1)[1].split("## ", 1)[0]
    named = set(re.findall(r"`([a-z]+)` \(", paragraph))
    assert named == set(pyproject()["optional-dependencies"])


def test_getting_started_lists_each_dependency_and_each_extras_packages():
    text = (DOCS / "getting_started.md").read_text()
    sentence = re.search(r"and (\w+) packages: (.*?) \(the last", flat(text))
    assert sentence, "getting started's dependency sentence changed"
    core = package_names(pyproject()["dependencies"])
    assert listed(sentence.group(2)) == core
    assert NUMBERS.index(sentence.group(1)) == len(core)
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| ([^|]+) \|$", text, re.M)
    extras = pyproject()["optional-dependencies"]
    assert {extra for extra, _ in rows} == set(extras)
    for extra, packages in rows:
        assert set(re.findall(r"`([\w-]+)`", packages)) == package_names(extras[extra]), extra


# -- quoted commands --------------------------------------------------------------------------
FENCE = re.compile(r"^\s*(```|~~~)(.*)$")
# Not run, only parsed: (words the command starts with, why)
PARSE_ONLY = (
    (("train",), "trains for minutes (10 epochs by default)"),
    (("serve",), "serves pages until stopped"),
    (("doctor",), "trains copies of the model for hundreds of steps"),
    (("bench",), "times several systems for minutes"),
    (("experiment",), "trains a grid of models"),
    (("gradcheck", "--layer", "my_layers:AvgPool2D"), "needs the guide's my_layers.py"),
    (("exercises", "check", "all", "submissions/*"), "a shell glob over students' folders"),
    (("exercises", "check", "leaky_relu", "submissions/*"), "a shell glob over students' folders"),
)
# Exit status 1 means "a check failed" for these (docs/cli.md); only 2 and 3 are errors
CHECKING = (("exercises", "check"), ("gradcheck",), ("doctor",))


def quoted_commands(text: str) -> list[str]:
    """``tinycnn ...`` lines of fenced code blocks and ``tinycnn ...`` quoted in figure captions."""
    commands, fence, lines = [], None, text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        opening = FENCE.match(line)
        if opening:
            fence = None if fence is not None else opening.group(2).strip()
        elif fence is not None:
            command = line.strip()
            while command.endswith("\\") and index + 1 < len(lines):  # continued line
                index += 1
                command = command[:-1].rstrip() + " " + lines[index].strip()
            command = command.removeprefix("$ ")
            if fence.startswith("{figure}"):
                commands += re.findall(r"`(tinycnn(?: [^`]*)?)`", command)
            elif re.match(r"^(\w+=\S+ )*tinycnn( |$)", command):
                commands.append(command)
        index += 1
    return commands


def argv(command: str) -> list[str]:
    """The command's arguments after ``tinycnn``: comments and environment assignments dropped."""
    words = shlex.split(command, comments=True)
    while words and re.match(r"^\w+=", words[0]):
        words.pop(0)
    assert words[0] == "tinycnn", command
    return words[1:]


def starts_with(words: list[str], prefix: tuple[str, ...]) -> bool:
    return tuple(words[: len(prefix)]) == prefix


COMMAND_PAGES = [(path, cmds) for path, text in sources() if (cmds := quoted_commands(text))]


def test_the_command_finder_sees_blocks_captions_and_continued_lines():
    text = (
        "```console\n$ tinycnn train --epochs 1 \\\n    --seed 0   # note\n$ ls\n```\n"
        "```{figure} f.png\nDrawn by `tinycnn plot maxpool` and `numpy`.\n```\n"
        "Prose `tinycnn summary` is not a code block.\n"
    )
    assert quoted_commands(text) == [
        "tinycnn train --epochs 1 --seed 0   # note",
        "tinycnn plot maxpool",
    ]
    assert argv("TINYCNN_THREADS=1 tinycnn train --seed 0  # two") == ["train", "--seed", "0"]
    found = {cmd for _, cmds in COMMAND_PAGES for cmd in cmds}
    assert any(cmd.startswith("tinycnn plot") for cmd in found)  # captions
    assert any(cmd.startswith("tinycnn exercises start") for cmd in found)  # tutorials


@pytest.mark.parametrize(
    ("page", "commands"),
    COMMAND_PAGES,
    ids=[str(path.relative_to(REPO_ROOT)) for path, _ in COMMAND_PAGES],
)
def test_every_quoted_command_parses_and_runs(page, commands, tmp_path, monkeypatch, capsys):
    """Each page's commands run in order in one folder (``start`` before ``check``)."""
    from tinycnn.data import download
    from tinycnn.zoo import seed_cnn

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TINYCNN_DATA_DIR", raising=False)  # the embedded subset, quickly
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(download, "MIRRORS", ())  # and no download
    seed_cnn(seed=0).save(tmp_path / "model.npz")
    # the teaching guide's pack commands: "my_pack/" is a teacher's folder, here its template
    shutil.copytree(DOCS / "guides" / "template_pack", tmp_path / "my_pack")
    parser = build_parser()
    for command in commands:
        words = argv(command)
        try:
            parser.parse_args(words)
        except SystemExit as stop:
            pytest.fail(f"{page.name}: `{command}` does not parse (exit {stop.code})")
        if any(starts_with(words, prefix) for prefix, _why in PARSE_ONLY):
            continue
        status = main(words)
        allowed = {0, 1} if any(starts_with(words, p) for p in CHECKING) else {0}
        output = capsys.readouterr()
        assert status in allowed, f"{page.name}: `{command}` exited {status}:\n{output.err[-2000:]}"


# -- counts -----------------------------------------------------------------------------------
def counted_things() -> dict[str, int]:
    from tinycnn.cli.plot import CONCEPT_KINDS, KINDS
    from tinycnn.teach.exercises import exercises

    return {
        "exercises": len(exercises()),
        "tutorials": len(TUTORIALS),
        "kinds": len(KINDS) + len(CONCEPT_KINDS),
    }


COUNT = re.compile(
    r"\b(\d+|" + "|".join(NUMBERS) + r")\s+((?:graded |numbered |runnable |plot |picture )?)"
    r"(exercises|tutorials|kinds)\b",
    re.I,
)


def count_claims(text: str) -> list[tuple[int, str, str]]:
    """(number, what, the words) for each "N [graded] exercises/tutorials/plot kinds"."""
    claims = []
    for match in COUNT.finditer(flat(text)):
        number, adjective, what = match.groups()
        if what.lower() == "kinds" and adjective.strip() not in ("plot", "picture"):
            continue  # "two kinds of mistakes" is not about the plot command
        value = int(number) if number.isdigit() else NUMBERS.index(number.lower())
        claims.append((value, what.lower(), match.group(0)))
    return claims


def test_count_finder_reads_digits_and_words():
    text = "14 graded exercises, fourteen exercises,\ntwelve tutorials, 3 plot kinds, two kinds"
    assert [(n, w) for n, w, _ in count_claims(text)] == [
        (14, "exercises"),
        (14, "exercises"),
        (12, "tutorials"),
        (3, "kinds"),
    ]


def test_every_count_of_exercises_tutorials_and_plot_kinds_is_the_codes():
    import importlib

    from tinycnn.cli import COMMANDS

    texts = [(str(path.relative_to(REPO_ROOT)), text) for path, text in sources()]
    texts += [
        (f"tinycnn {name} --help", importlib.import_module(f"tinycnn.cli.{name}").HELP)
        for name in COMMANDS
    ]
    truth = counted_things()
    wrong = [
        f"{where}: '{words}' but the code has {truth[what]}"
        for where, text in texts
        if "changelog" not in where  # the history keeps what was true on its date
        for number, what, words in count_claims(text)
        if number != truth[what]
    ]
    assert not wrong, "\n".join(wrong)
    assert counted_things()["tutorials"] >= 11 and counted_things()["exercises"] >= 14


# -- internal labels --------------------------------------------------------------------------
INTERNAL = re.compile(r"\b(phase|session|run|issue)s?\s+#?\d+", re.I)


def test_no_internal_labels_in_docs_and_tutorials():
    found = [
        f"{path.relative_to(REPO_ROOT)}: {match.group(0)!r}"
        for path, text in sources()
        for match in INTERNAL.finditer(text)
    ]
    found += [
        f"{path.relative_to(REPO_ROOT)}: {match.group(0)!r}"
        for path in TUTORIALS
        for match in INTERNAL.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not found, "label runs by date, not by internal numbers:\n" + "\n".join(
        sorted(set(found))
    )


def test_internal_label_finder():
    hits = INTERNAL.findall("session 4's run; Run 12; runs 9, 10; Issue 18; phase 2; run it")
    assert [h.lower() for h in hits] == ["session", "run", "run", "issue", "phase"]


# -- tutorials: predict, then run; your turn --------------------------------------------------
def cells(path: Path) -> list[tuple[str, str]]:
    """(kind, text) of each jupytext cell: "markdown" or "code"."""
    parts = re.split(r"^# %%(.*)$", path.read_text(encoding="utf-8"), flags=re.M)
    return [
        ("markdown" if "[markdown]" in header else "code", body)
        for header, body in zip(parts[1::2], parts[2::2], strict=True)
    ]


GUESS = re.compile(r"^my_guess\w*(?:, my_guess\w*)* = ", re.M)


@pytest.mark.parametrize(
    "path", [p for p in TUTORIALS if int(p.name[:2]) <= 10], ids=lambda p: p.stem
)
def test_tutorial_asks_for_a_prediction_before_printing_the_answer(path):
    found = 0
    pairs = zip(cells(path)[:-1], cells(path)[1:], strict=True)
    for (kind, text), (next_kind, code) in pairs:
        if kind == "markdown" and "**Predict, then run.**" in text:
            assert next_kind == "code" and GUESS.search(code), f"{path.name}: no guess line after"
            names = GUESS.search(code).group(0).rstrip(" =").split(", ")
            assert all(
                re.search(rf"print\(.*\{{{n}\}}|print\(.*\b{n}\b", code, re.S) for n in names
            )
            found += 1
    assert found >= 1, f"{path.name} has no 'Predict, then run' prompt"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_ends_with_your_turn_naming_existing_exercises(path):
    from tinycnn.teach.exercises import exercises

    headings = re.findall(r"^## (.+)$", tutorial_prose(path), re.M)
    assert headings and headings[-1] == "Your turn", (path.name, headings[-3:])
    last_code = [text for kind, text in cells(path) if kind == "code"][-1]
    loop = re.search(r"for name in \[(.*?)\]", last_code, re.S)
    assert loop, f"{path.name}: the last cell does not check the exercises"
    names = re.findall(r"\"(\w+)\"", loop.group(1))
    assert names and set(names) <= {exercise.name for exercise in exercises()}


# -- the landing example ----------------------------------------------------------------------
@pytest.mark.slow
def test_the_docs_landing_example_runs_offline(tmp_path):
    """docs/index.md's first example, with no MNIST files, an empty cache and no network."""
    import os
    import subprocess
    import sys

    (code,) = re.findall(
        r"```\{code-block\} python\n(.*?)```", (DOCS / "index.md").read_text(), re.S
    )
    env = {k: v for k, v in os.environ.items() if k != "TINYCNN_DATA_DIR"}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(REPO_ROOT))
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[proxy] = "http://127.0.0.1:9"  # a download would fail at once
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    loss, accuracy = (float(v) for v in re.findall(r"[\d.]+", done.stdout.strip().splitlines()[-1]))
    assert 0 < loss < 1 and 0.9 < accuracy <= 1  # one epoch on the embedded subset


def test_tutorial_10s_full_protocol_table_is_the_benchmarks():
    """Each row's per-seed accuracies are the ones recorded on docs/benchmarks.md."""
    text = (REPO_ROOT / "tutorials" / "10_beyond_99.py").read_text()
    table = text.split("## The full protocol", 1)[1].split("## How the results", 1)[0]
    rows = re.findall(
        r"^# \| (.+?) \| (\d+) \| ([\d., ]+?)(?: \(2 seeds\))? \| (\S+) \|$", table, re.M
    )
    assert len(rows) == 4, table
    benchmarks = (DOCS / "benchmarks.md").read_text()
    for name, _epochs, seeds, median in rows:
        assert seeds in benchmarks, (name, seeds)
        values = [float(v) for v in seeds.split(",")]
        if median != "-":
            assert median == f"{sorted(values)[len(values) // 2]:.2f}%", (name, median)
