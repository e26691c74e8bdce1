"""Grading end to end: the reference scores full marks, stubs zero, each mistake exactly
the checks it should, and `batch` agrees with `grade`."""

import csv
import io
import json

import pytest

from samples.mistakes import MISTAKES
from tests.golden import GOLDEN, essentials
from tests.helpers import SEED, failed_checks, read_results, run_grader


def test_reference_scores_full_marks(sample_class, course):
    result = sample_class["results"]["reference"]
    assert failed_checks(result) == set()
    assert result["score"] == course.max_points == 100


def test_untouched_stubs_score_zero_with_a_clear_message(sample_class, course):
    result = sample_class["results"]["untouched_stubs"]
    assert result["score"] == 0
    assert len(result["tests"]) == sum(len(e.checks) for e in course.exercises)
    for test in result["tests"]:
        assert "is not implemented yet" in test["output"], test


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.student for m in MISTAKES])
def test_each_mistake_fails_exactly_its_checks(sample_class, mistake):
    result = sample_class["results"][mistake.student]
    assert failed_checks(result, mistake.exercise) == mistake.fails
    assert {c for c in failed_checks(result) if not c.startswith(mistake.exercise)} == set()
    for test in result["tests"]:
        if test["status"] == "failed":
            assert test["output"].strip(), f"{test['name']} failed without saying why"
            assert "hint:" in test["output"], test["output"]


def test_results_follow_gradescope_format(sample_class, course):
    result = sample_class["results"]["sigmoid_naive"]
    assert {"score", "execution_time", "output", "tests", "extra_data", "visibility"} <= set(result)
    extra = result["extra_data"]
    assert extra["seed"] == SEED and extra["grader_version"] and extra["student"] == "sigmoid_naive"
    assert {layer["name"] for layer in extra["protections"]} >= {
        "uid",
        "landlock",
        "seccomp",
        "netns",
    }
    for test in result["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility", "tags"}
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("visible", "hidden", "after_due_date")
        exercise = course.exercise(test["tags"][0])
        assert test["max_score"] == exercise.check(test["tags"][1]).points
    assert result["score"] == sum(test["score"] for test in result["tests"])


def test_grades_csv_has_one_row_per_student(sample_class, course):
    rows = list(csv.DictReader(io.StringIO((sample_class["out"] / "grades.csv").read_text())))
    assert [row["student"] for row in rows] == sorted(sample_class["results"])
    assert list(rows[0]) == ["student", *(e.id for e in course.exercises), "total"]
    by_student = {row["student"]: row for row in rows}
    assert by_student["reference"]["total"] == "100"
    assert by_student["untouched_stubs"]["total"] == "0"
    assert by_student["mse_sum"]["ex1_forward"] == "17"


def test_batch_gives_the_same_checks_as_grade(sample_class, tmp_path):
    for student in ("reference", "backward_no_mean", "train_no_zero_grad"):
        results = tmp_path / f"{student}.json"
        done = run_grader(
            "grade",
            str(sample_class["folder"] / student),
            "--results",
            str(results),
            "--seed",
            str(SEED),
        )
        assert done.returncode == 0, done.stderr
        single = json.loads(results.read_text())
        batch = sample_class["results"][student]
        assert [(t["name"], t["score"], t["output"]) for t in single["tests"]] == [
            (t["name"], t["score"], t["output"]) for t in batch["tests"]
        ]
        assert f"seed {SEED}" in done.stdout and "total" in done.stdout


def test_batch_skips_graded_students_unless_forced(sample_class, tmp_path):
    folder = sample_class["folder"]
    out = tmp_path / "out"
    out.mkdir()
    (out / "reference").mkdir()
    (out / "reference" / "results.json").write_text(
        json.dumps(sample_class["results"]["reference"])
    )
    single = tmp_path / "one"
    single.mkdir()
    (single / "reference").symlink_to(folder / "reference")
    done = run_grader("batch", str(single), "--out", str(out), "--seed", "1")
    assert done.returncode == 0, done.stderr
    assert "1 already graded, 0 to grade" in done.stdout
    assert read_results(out)["reference"]["extra_data"]["seed"] == SEED  # untouched
    done = run_grader(
        "batch",
        str(single),
        "--out",
        str(out),
        "--seed",
        "1",
        "--force",
        "--exercise",
        "ex3_module",
    )
    assert done.returncode == 0, done.stderr
    regraded = read_results(out)["reference"]
    assert regraded["extra_data"]["seed"] == 1
    assert {t["tags"][0] for t in regraded["tests"]} == {"ex3_module"}


def test_batch_says_which_results_it_cannot_read(sample_class, tmp_path):
    single, out = tmp_path / "one", tmp_path / "out"
    single.mkdir()
    (single / "reference").symlink_to(sample_class["folder"] / "reference")
    (out / "reference").mkdir(parents=True)
    (out / "reference" / "results.json").write_text('{"tests": [{"name": "x"}]}')  # truncated
    done = run_grader("batch", str(single), "--out", str(out), "--seed", "1")
    assert done.returncode == 0, done.stderr
    assert "reference: its results.json cannot be read" in done.stdout and "--force" in done.stdout
    assert (out / "grades.csv").read_text().count("\n") == 1  # the header alone


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["grade", "no/such/folder"], "no such folder"),
        (["grade", "solutions", "--exercise", "ex9_nothing"], "no such exercise"),
        (["batch", "no/such/folder", "--out", "/tmp/x"], "not a folder"),
        (["--course", "no/such/course", "grade", "solutions"], "course.yml"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, message):
    done = run_grader(*args)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_sample_class_grades_as_the_golden_file_says(sample_class):
    """Byte-identical grades.csv and the same scores and messages as when the golden files
    were written (python -m tests.golden OUT regenerates them, on purpose only)."""
    assert (sample_class["out"] / "grades.csv").read_bytes() == (GOLDEN / "grades.csv").read_bytes()
    golden = json.loads((GOLDEN / "sample-class.json").read_text(encoding="utf-8"))
    graded = essentials(sample_class["results"])
    assert graded.keys() == golden.keys()
    for student in golden:
        assert graded[student] == golden[student], student
