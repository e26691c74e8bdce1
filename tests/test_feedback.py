"""Feedback pages and the class report: figure data from the sandbox, pages in a browser."""

import functools
import html
import json
from pathlib import Path

import pytest

from grader.checks.drawing import draw
from grader.checks.figures import collect
from grader.grading.plugin import load_reference
from grader.grading.session import sandbox
from grader.grading.submission import load_submission
from grader.reports.pages import render_feedback
from grader.reports.statistics import summarize
from grader.reports.writers import read_results_json
from grader.sandbox.host.client import SubmissionSandbox
from samples.make_class import write_submission
from samples.mistakes import MISTAKES
from tests.browser import CHROMIUM, open_page
from tests.helpers import ROOT, SEED, run_grader

ARTIFACTS = ROOT / "artifacts"  # screenshots the browser tests keep (not committed)
MISTAKE = {m.student: m for m in MISTAKES}


@pytest.fixture(scope="module")
def zygote(course):
    with sandbox(course) as running:
        yield running


def _figures(zygote, course, folder):
    submission = load_submission(folder, [e.id for e in course.exercises])
    references = functools.cache(functools.partial(load_reference, course))
    runner = SubmissionSandbox(zygote, submission.sources, None, submission.problems)
    try:
        return collect(runner, course, references, [e.id for e in course.exercises])
    finally:
        runner.close()


@pytest.fixture(scope="module")
def figure_data(tmp_path_factory, course, zygote):
    root = tmp_path_factory.mktemp("figures")
    write_submission(root / "overflows", course, MISTAKE["sigmoid_overflows"])
    write_submission(root / "reference", course)
    (root / "empty").mkdir()
    (root / "empty" / "ex1_forward.py").write_text("import torch\n")
    return {
        name: _figures(zygote, course, root / name) for name in ("overflows", "reference", "empty")
    }


def _by_id(figures):
    return {figure["id"]: figure for exercise in figures.values() for figure in exercise}


def test_the_reference_draws_every_figure_on_the_true_curves(figure_data):
    figures = _by_id(figure_data["reference"])
    assert set(figures) == {
        "sigmoid_curve", "gradients_scatter", "fit_curve", "module_curve",
        "training_losses", "split", "predictions",
    }  # fmt: skip
    assert all("data" in figure for figure in figures.values())
    sigmoid = figures["sigmoid_curve"]["data"]
    assert sigmoid["yours"] == pytest.approx(sigmoid["true"]) and sigmoid["not_finite_at"] == []
    scatter = figures["gradients_scatter"]["data"]
    assert len(scatter["yours"]) == 60 and scatter["yours"] == pytest.approx(scatter["autograd"])
    for name in ("fit_curve", "training_losses"):
        assert figures[name]["data"]["yours"] == pytest.approx(
            figures[name]["data"]["reference"], rel=1e-4
        )
    module = figures["module_curve"]["data"]
    assert module["yours"] == pytest.approx(module["reference"], abs=1e-6)
    split = figures["split"]["data"]
    assert (len(split["x_train"]), len(split["x_test"])) == (70, 30)


def test_a_broken_sigmoid_shows_where_it_breaks(figure_data):
    sigmoid = _by_id(figure_data["overflows"])["sigmoid_curve"]["data"]
    assert sigmoid["not_finite_at"], "e^z/(1+e^z) overflows in float32 beyond z ≈ 88"
    assert min(sigmoid["not_finite_at"]) > 80  # only on the positive side
    png, alt = draw(_by_id(figure_data["overflows"])["sigmoid_curve"])
    assert png.startswith(b"\x89PNG") and "not finite" in alt


def test_a_figure_without_data_says_why(figure_data):
    figures = figure_data["empty"]
    assert (
        figures["ex1_forward"][0]["missing"]
        == "sigmoid raised MissingFunction: ex1_forward.py defines no sigmoid"
    )
    assert all("missing" in figure for figure in figures["ex4_training"])
    assert "no ex2_backward.py" in figures["ex2_backward"][0]["missing"]


def test_every_figure_draws_with_alt_text(figure_data):
    for figure in _by_id(figure_data["reference"]).values():
        png, alt = draw(figure)
        assert png.startswith(b"\x89PNG") and len(alt) > 40


def test_the_page_escapes_what_the_submission_wrote():
    results = {
        "score": 0,
        "tests": [
            {
                "name": "ex1_forward: sigmoid values",
                "score": 0,
                "max_score": 3,
                "status": "failed",
                "output": "",
                "tags": ["ex1_forward", "sigmoid_values"],
                "extra_data": {
                    "feedback": {
                        "summary": "sigmoid raised ValueError: <script>alert(1)</script>",
                        "traceback": "line 1\n    <img src=x onerror=alert(1)>",
                    }
                },
            }
        ],
        "extra_data": {"student": "<b>eve</b>", "max_score": 3, "figures": {}},
    }
    page = render_feedback(read_results_json(results))
    assert "<script>" not in page and "<img src=x" not in page and "<b>eve</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_summarize_counts_students_not_checks():
    def result(student, failures):
        tests = [
            {
                "name": f"ex1: {c}",
                "score": 0 if c in failures else 1,
                "max_score": 1,
                "tags": ["ex1", c],
                "status": "failed" if c in failures else "passed",
                "extra_data": {"feedback": {"summary": "x", "error": failures.get(c, "")}},
            }
            for c in ("a", "b", "c")
        ]
        return read_results_json(
            {
                "score": sum(t["score"] for t in tests),
                "tests": tests,
                "extra_data": {"student": student},
            }
        )

    summary = summarize([
        result("ann", {}),
        result("bob", {"a": "TypeError", "b": "TypeError"}),
        result("cid", {"a": "timeout"}),
    ])  # fmt: skip
    assert summary.exercises == (("ex1", 3),)
    assert [s[0] for s in summary.students] == ["ann", "cid", "bob"]
    assert summary.failed_checks == (("ex1: a", 2), ("ex1: b", 1))
    assert dict(summary.errors["ex1"]) == {"TypeError": 1, "timeout": 1}


@pytest.fixture(scope="module")
def pages(tmp_path_factory, course):
    """A student's feedback page and a class report, written by the commands."""
    root = tmp_path_factory.mktemp("pages")
    for name in ("sigmoid_overflows", "train_no_zero_grad", "backward_no_mean"):
        write_submission(root / "class" / name, course, MISTAKE[name])
    write_submission(root / "class" / "reference", course)
    done = run_grader(
        "batch", str(root / "class"), "--out", str(root / "out"), "--seed", str(SEED), "--feedback"
    )
    assert done.returncode == 0, done.stderr
    done = run_grader("report", str(root / "out"))
    assert done.returncode == 0, done.stderr
    return root / "out"


def test_batch_writes_a_feedback_page_per_student(pages):
    for student in ("sigmoid_overflows", "train_no_zero_grad", "backward_no_mean", "reference"):
        page = (pages / student / "feedback.html").read_text()
        assert page.count("<img ") == 7 and "http" not in page.replace("http-equiv", "")
        results = json.loads((pages / student / "results.json").read_text())
        assert set(results["extra_data"]["figures"]) == {
            e for e in ("ex1_forward", "ex2_backward", "ex3_module", "ex4_training")
        }
    assert "not finite at z = 100 … 1e+04" in _alts(pages / "sigmoid_overflows" / "feedback.html")


def test_the_page_says_what_ran_with_correct_parts_and_what_to_fix_first(pages):
    page = html.unescape((pages / "backward_no_mean" / "feedback.html").read_text())
    # sgd_step passed its own checks, so fit_by_hand ran with it: only backward was stood in for
    assert "fit_by_hand ran with a correct backward in place of yours" in page
    assert (
        "fit_by_hand is right when given a correct backward; your backward fails "
        "backward_matches_autograd, backward_matches_finite_differences, "
        "backward_with_other_bias and backward_without_autograd: fix it first"
    ) in page


def _alts(page: Path) -> str:
    return " ".join(part.split('"')[0] for part in page.read_text().split('alt="')[1:])


def test_the_class_report_and_its_pngs(pages):
    assert (pages / "score-distribution.png").read_bytes().startswith(b"\x89PNG")
    assert (pages / "failed-checks.png").read_bytes().startswith(b"\x89PNG")
    report = (pages / "class-report.html").read_text()
    for words in (
        "Checks most often failed",
        "Most common errors",
        "train follows the reference Adam",
    ):
        assert words in report


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)"
)
@pytest.mark.parametrize(
    "page", ["reference/feedback.html", "sigmoid_overflows/feedback.html", "class-report.html"]
)
def test_pages_load_cleanly_in_chromium(pages, page):
    report = open_page(pages / page)
    assert report.errors == []
    assert report.images, "the page has figures"
    for image in report.images:
        assert image["decoded"] and image["width"] > 0
        assert image["alt"] and len(image["alt"]) > 20
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / (page.replace("/", "-").removesuffix(".html") + ".png")
    shot.write_bytes(report.screenshot)
    assert report.screenshot.startswith(b"\x89PNG")


def test_gradescope_output_is_markdown_with_the_same_messages(pages):
    results = json.loads((pages / "backward_no_mean" / "results.json").read_text())
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    assert failed and all(
        t["output_format"] == "md" and t["output"].startswith("**") for t in failed
    )
    for test in failed:
        assert test["extra_data"]["feedback"]["summary"] in test["output"]


def test_a_figure_that_cannot_be_drawn_becomes_a_sentence():
    """E.g. train_test_split returning scikit-learn's order: x_test where y_train should be."""
    figure = {
        "id": "split",
        "title": "Your data and your train/test split",
        "data": {"x_train": [0.0, 1.0], "y_train": [1.0], "x_test": [2.0], "y_test": [5.0]},
    }
    test = {
        "name": "ex4_training: split",
        "score": 2,
        "max_score": 2,
        "status": "passed",
        "output": "",
        "tags": ["ex4_training", "split_sizes"],
    }
    results = {
        "score": 2,
        "tests": [test],
        "extra_data": {"student": "sam", "max_score": 2, "figures": {"ex4_training": [figure]}},
    }
    page = render_feedback(read_results_json(results))
    assert "no figure, because its data could not be drawn" in page
