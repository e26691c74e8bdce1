"""Expectations, table-driven: what a failure says, and that a hidden check's feedback never
shows the values of its inputs or of the expected result."""

from __future__ import annotations

import pytest
import torch

from grader.course import Tolerance
from grader.grading.expect import Expect
from grader.grading.student import CheckFailure

TOLERANCES = {
    "float32": Tolerance(rtol=1e-4, atol=1e-6),
    "float64": Tolerance(rtol=1e-7, atol=1e-10),
    "training": Tolerance(rtol=1e-3, atol=1e-6),
}
SECRET = torch.tensor([0.123456, -7.654321], dtype=torch.float64)  # an input of the check
WANT = torch.tensor([0.987654, 3.141593], dtype=torch.float64)  # its expected result
SECRET_TEXTS = ("0.1235", "0.123456", "-7.654", "0.9877", "0.987654", "3.142", "3.14159")


def _failure(visible: bool, failing) -> str:
    expect = Expect(visible, TOLERANCES)
    about = expect.describe(x=SECRET, n=17)
    with pytest.raises(CheckFailure) as failed:
        failing(expect, about)
    return failed.value.feedback.text()


CASES = {
    "wrong values": lambda e, about: e.close(
        WANT + 1, WANT, what="f(x)", about=about, hint="h"
    ),
    "not finite": lambda e, about: e.finite_and_close(
        torch.full_like(WANT, float("nan")), WANT, what="f(x)", about=about, hint="h"
    ),
    "wrong shape": lambda e, about: e.close(
        WANT.reshape(2, 1), WANT, what="f(x)", about=about, hint="h"
    ),
    "wrong dtype": lambda e, about: e.close(WANT.float(), WANT, what="f(x)", about=about, hint="h"),
    "not a tensor": lambda e, about: e.close(
        [0.987654, 3.141593], WANT, what="f(x)", about=about, hint="h"
    ),
    "trajectory": lambda e, about: e.trajectory(
        [0.987654, 4.0], [0.987654, 3.141593], what="losses", about=about, hint="h",
        tolerance="training",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_a_hidden_checks_failure_shows_no_value(case):
    text = _failure(False, CASES[case])
    assert not [secret for secret in SECRET_TEXTS if secret in text], text
    assert "x: float64, shape (2,)" in text and "n = (hidden)" in text


@pytest.mark.parametrize("case", CASES)
def test_a_visible_checks_failure_says_what_was_tested_and_a_hint(case):
    text = _failure(True, CASES[case])
    assert "x = " in text and "n = 17" in text  # the inputs, with their values
    assert "hint: " in text


def test_a_visible_wrong_value_shows_expected_and_got():
    text = _failure(True, CASES["wrong values"])
    assert "expected: " in text and "got: " in text and "0.987654" in text and "1.98765" in text


def test_values_within_tolerance_pass():
    expect = Expect(True, TOLERANCES)
    expect.close(WANT * (1 + 1e-9), WANT, what="f(x)", about="", hint="h")
    expect.trajectory([1.0, 2.0], [1.0, 2.0 + 1e-5], what="l", about="", hint="h",
                      tolerance="training")  # fmt: skip
