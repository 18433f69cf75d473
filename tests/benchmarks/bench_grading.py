"""Grading throughput: a class of folders x every exercise, each in its own child process.

Makes ``--folders`` student folders from the reference answers and the planted bugs of
``tests/teach/test_exercises.py`` (``MUTANTS``), mixed the way a class hands work in:

- 2 in 5 folders: every exercise right (their capstone trains all its steps);
- 2 in 5: two exercises wrong (a planted bug each, chosen by the folder's number);
- 1 in 5: the last five exercises left as handed out (not started).

then grades them all with ``check_all(..., jobs=N)`` (isolation on: a fork server per job, a fresh
process per exercise and folder) and prints the wall-clock time, the reports per status, and
the median, maximum and summed time of one (exercise, folder) for each exercise (fork, load,
checks, verdict), and
the CPU time the grading used (all its processes, the students' included), which tells how much
of the machine it had when other work shares it.

Usage::

    TINYCNN_DATA_DIR=/path/to/mnist python tests/benchmarks/bench_grading.py --folders 100 --jobs 2

Not collected by pytest (no timed tests).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from tinycnn.teach.exercises import check_all, exercises, start


def _mutants() -> list[tuple]:
    path = Path(__file__).resolve().parent.parent / "teach" / "test_exercises.py"
    spec = importlib.util.spec_from_file_location("_test_exercises", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MUTANTS


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its children that have ended."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _load(averages: tuple[float, float, float]) -> str:
    return " ".join(f"{a:.2f}" for a in averages)


def make_class(root: Path, count: int) -> list[Path]:
    """``count`` folders of answers: right, two planted bugs, or the last five not started."""
    names = [e.name for e in exercises()]
    mutants: dict[str, list[tuple]] = {}
    for mutant in _mutants():
        mutants.setdefault(mutant[0], []).append(mutant)
    folders = []
    for number in range(count):
        folder = root / f"student{number:03d}"
        kind = number % 5
        for name in names:
            stub = kind == 4 and name in names[-5:]
            start(name, folder, solution=not stub)
        if kind in (2, 3):
            for k in (number, number * 7 + 3):
                name = names[k % len(names)]
                _, old, new, *_ = mutants[name][k % len(mutants[name])]
                path = folder / f"{name}.py"
                text = path.read_text(encoding="utf-8")
                begin = text.index("### BEGIN SOLUTION")
                path.write_text(text[:begin] + text[begin:].replace(old, new, 1), encoding="utf-8")
        folders.append(folder)
    return folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folders", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    names = [e.name for e in exercises()]
    with tempfile.TemporaryDirectory() as tmp:
        folders = make_class(Path(tmp), args.folders)
        started = time.monotonic()
        done = []

        def progress(report) -> None:
            done.append(report)
            if len(done) % 100 == 0:
                print(f"  {len(done)} graded, {time.monotonic() - started:.0f} s", flush=True)

        load_before = os.getloadavg()
        cpu_before = _cpu_seconds()
        reports = check_all(names, folders, jobs=args.jobs, progress=progress)
        seconds = time.monotonic() - started
        cpu = _cpu_seconds() - cpu_before
        load_after = os.getloadavg()
    statuses = Counter(r.status for r in reports)
    print(f"load average (1, 5, 15 min) before: {_load(load_before)}, after: {_load(load_after)}")
    print(
        f"{args.folders} folders x {len(names)} exercises = {len(reports)} gradings, "
        f"{args.jobs} jobs: {seconds:.0f} s ({seconds / 60:.1f} min)"
    )
    print(
        f"CPU time of the grading (this process, the workers, their fork servers and every "
        f"student's process): {cpu:.0f} s ({cpu / seconds:.2f} cores busy on average)"
    )
    print("reports: " + ", ".join(f"{count} {status}" for status, count in statuses.items()))
    for report in [r for r in reports if r.status == "error"][:5]:
        print(f"  error: {report.message}")
    trained = [r for r in reports if r.exercise == "capstone" and r.ok]
    print(f"capstones trained to the end: {len(trained)}")
    spent = sum(r.seconds for r in reports)
    print(f"time of the gradings, summed over the {args.jobs} jobs: {spent:.0f} s")
    print(f"{'exercise':<22} {'median s':>9} {'max s':>7} {'sum s':>7} {'share':>6}")
    for name in names:
        times = [r.seconds for r in reports if r.exercise == name]
        print(
            f"{name:<22} {statistics.median(times):>9.2f} {max(times):>7.2f} "
            f"{sum(times):>7.1f} {sum(times) / spent:>6.1%}"
        )
    ran = [r.seconds for r in reports if r.exercise != "capstone" and r.status != "not started"]
    print(f"median of every graded non-capstone (exercise, folder): {statistics.median(ran):.2f} s")


if __name__ == "__main__":
    main()
