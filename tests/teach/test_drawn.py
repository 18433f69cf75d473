"""Drawn cases replayed from one student to the next give what hypothesis's ``find`` gives."""

from __future__ import annotations

import random
from functools import partial

import numpy as np
import pytest
from hypothesis import HealthCheck, find, note, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from tinycnn.teach.exercises.drawn import find_smallest

SEARCH = settings(
    database=None,
    derandomize=True,
    deadline=None,
    max_examples=40,
    suppress_health_check=list(HealthCheck),
)
CASES = st.tuples(st.integers(0, 1000), st.lists(st.integers(-50, 50), max_size=6))


def _hypothesis(fails):
    try:
        return find(CASES, fails, settings=SEARCH)
    except NoSuchExample:
        return None


def test_a_right_answer_sees_the_cases_find_draws_in_its_order():
    def check(case, seen):  # one place in the code: every student's search keeps its cases
        seen.append((case[0], list(case[1])))
        case[1].append(999)  # a check that changes its case must not change the next student's
        return False

    by_find, first, second = [], [], []
    assert _hypothesis(lambda case: check(case, by_find)) is None
    for seen in (first, second):  # a partial of one function: one place in the code
        assert (
            find_smallest(CASES, partial(check, seen=seen), SEARCH, partial(check, seen=[])) is None
        )
    assert len(by_find) > 20 and first == by_find and second == by_find


@pytest.mark.parametrize("limit", [0, 300, 700, 5000])
def test_a_wrong_answer_gets_the_case_find_gives(limit):
    def check(case, calls):
        calls.append(case)
        return case[0] > limit or sum(case[1]) > limit // 10 + 40

    def right(case):
        return False

    find_smallest(CASES, right, SEARCH, check)  # the kept cases of a right answer
    calls: list = []
    by_find: list = []
    expected = _hypothesis(lambda case: check(case, by_find))
    assert find_smallest(CASES, lambda case: check(case, calls), SEARCH, check) == expected
    assert (expected is None) == (limit == 5000)
    assert calls == by_find  # the cases already run are not run again


def test_the_global_random_generators_are_seeded_as_find_seeds_them():
    def check(case, seen):
        seen.append((random.random(), np.random.random()))  # noqa: NPY002 (the legacy global)
        return False

    by_find, replayed = [], []
    assert _hypothesis(lambda case: check(case, by_find)) is None
    find_smallest(CASES, partial(check, seen=[]), SEARCH, check)
    assert find_smallest(CASES, partial(check, seen=replayed), SEARCH, check) is None
    assert replayed == by_find


def test_a_check_that_needs_finds_context_is_left_to_find():
    def check(case, calls):
        calls.append(case)
        note(f"case {case}")  # only inside find
        return case[0] > 500

    def right(case):
        note("right")
        return False

    find_smallest(CASES, right, SEARCH, check)  # kept, but cannot be replayed
    calls: list = []
    expected = _hypothesis(lambda case: check(case, []))
    for _ in range(2):
        assert find_smallest(CASES, partial(check, calls=calls), SEARCH, check) == expected


def test_strategies_that_differ_only_in_a_functions_captured_values_are_not_confused():
    def check(case, seen):
        seen.append(case)
        return False

    def scaled(k):  # the same repr for every k: "integers(0, 9).map(lambda x: x * k)"
        return st.integers(0, 9).map(lambda x: x * k)

    assert repr(scaled(1)) == repr(scaled(1000))
    ones: list = []
    assert find_smallest(scaled(1), partial(check, seen=ones), SEARCH, check) is None
    thousands: list = []
    assert find_smallest(scaled(1000), partial(check, seen=thousands), SEARCH, check) is None
    assert max(ones) <= 9 and thousands and all(x % 1000 == 0 for x in thousands)
    assert max(thousands) >= 1000  # its own cases, not the ones kept for k = 1
