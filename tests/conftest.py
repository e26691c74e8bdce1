"""Fixtures shared by our own tests."""

import os
import shutil

# Before anything imports torch: test_isolation forks children after torch is loaded.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import pytest

from grader.course import load_course
from samples.make_class import write_class
from tests.helpers import SEED, read_results, run_grader


@pytest.fixture(scope="session")
def course():
    return load_course()


@pytest.fixture(scope="session")
def sample_class(tmp_path_factory, course):
    """The sample class (reference, stubs, one student per mistake), graded once by `batch`."""
    folder = tmp_path_factory.mktemp("class")
    write_class(folder, course)
    out = tmp_path_factory.mktemp("class-out")
    done = run_grader("batch", str(folder), "--out", str(out), "--seed", str(SEED))
    assert done.returncode == 0, done.stderr
    return {"folder": folder, "out": out, "results": read_results(out), "stdout": done.stdout}


@pytest.fixture
def course_copy(tmp_path, course):
    """A writable copy of the course, to build into."""
    for name in ("course.yml", "solutions", "exercises"):
        source = course.root / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    return load_course(tmp_path)


# The fast loop (`make check`) leaves out what grades whole classes, installs environments,
# drives a browser or imports every module: the one list of what is slow (modules, or
# module::test).
SLOW = frozenset(
    {"test_hostile", "test_cluster", "test_cluster_session", "test_zygote_lost", "test_fair",
     "test_nbgrader", "test_handout", "test_kit", "test_bulky_submissions", "test_inert_text",
     "test_feedback", "test_gradescope", "test_grading", "test_malformed", "test_public_checks",
     "test_new_exercise",
     "test_isolation::test_every_module_the_host_imports_imports_in_the_child",
     "test_warm_up::test_a_deferred_module_is_there_when_something_needs_it",
     "test_reference_cache::test_a_cache_from_another_seed_changes_no_score",
     "test_carry_forward::test_proven_parts_are_used_as_they_are_and_a_failure_runs_again_with_stand_ins"}
)  # fmt: skip


def pytest_collection_modifyitems(items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if module in SLOW or f"{module}::{item.originalname}" in SLOW:
            item.add_marker(pytest.mark.slow)
