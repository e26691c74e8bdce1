"""Workers keep reference results from one grading to the next, by seed, and only that."""

from grader.grading.session import ReferenceCache, grade_submissions, sandbox
from grader.grading.submission import load_submission
from tests.helpers import ROOT


def test_the_most_recent_seeds_are_kept():
    cache = ReferenceCache(seeds_kept=2)
    cache.results(1)["a"] = "from seed 1"
    cache.results(2)["a"] = "from seed 2"
    assert cache.results(1) == {"a": "from seed 1"}  # and seed 1 is now the most recent
    cache.results(3)
    assert list(cache.by_seed) == [1, 3]
    assert cache.results(2) == {}


def test_a_cache_from_another_seed_changes_no_score(course):
    ids = [exercise.id for exercise in course.exercises]
    solutions = load_submission(ROOT / "solutions", ids)
    cache = ReferenceCache()
    with sandbox(course) as zygote:
        [first] = grade_submissions(course, [solutions], 1, zygote, ["ex4_training"], cache=cache)
        [again] = grade_submissions(course, [solutions], 2, zygote, ["ex4_training"], cache=cache)
        [fresh] = grade_submissions(course, [solutions], 2, zygote, ["ex4_training"])
    assert len(cache.by_seed) == 2 and all(cache.by_seed.values())
    passed = [[c.check for c in g.checks if c.status == "passed"] for g in (first, again, fresh)]
    assert passed[0] == passed[1] == passed[2] and len(passed[0]) == len(again.checks)


def test_grading_no_submission_grades_nothing(course):
    # nothing to grade: no pytest session is even started (no zygote is needed)
    assert grade_submissions(course, [], 1, zygote=None) == []
