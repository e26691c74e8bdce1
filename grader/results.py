"""Results as data: what each check saw, and the one function that turns that into scores."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from grader.course import Check, Course, Exercise
from grader.escaping import markdown_code_block, markdown_text


@dataclass(frozen=True)
class Feedback:
    """What a student reads about a failed check. Never holds hidden inputs or check source."""

    summary: str  # what went wrong, in one sentence
    inputs: str = ""  # the kind of input the check used
    expected: str = ""
    got: str = ""
    hint: str = ""
    traceback: str = ""  # the student's own frames only
    output: str = ""  # what the submission printed meanwhile (truncated)
    error: str = ""  # what went wrong in the student's code: TypeError, timeout, crash...
    # For an end-to-end check: the failing functions it calls, to be fixed first.
    fix_first: str = ""

    def facts(self) -> list[tuple[str, str]]:
        """(label, value) of the one-line facts that are set."""
        labelled = (("input", self.inputs), ("expected", self.expected), ("got", self.got))
        facts = (*labelled, ("hint", self.hint), ("fix first", self.fix_first))
        return [(label, value) for label, value in facts if value]

    def blocks(self) -> list[tuple[str, str]]:
        """(label, text) of the multi-line texts that are set: the submission's own words."""
        blocks = (("your code's traceback", self.traceback), ("printed", self.output))
        return [(label, value) for label, value in blocks if value]

    def markdown(self) -> str:
        """Markdown (Gradescope's md format); the submission's own text stays in code blocks."""
        lines = [f"**{markdown_text(self.summary)}**", ""]
        lines += [f"- **{label}:** {markdown_text(value)}" for label, value in self.facts()]
        for label, value in self.blocks():
            lines += ["", f"{label}:", markdown_code_block(value)]
        return "\n".join(lines)

    def text(self) -> str:
        """Plain text, one fact per line."""
        lines = [self.summary, *(f"{label}: {value}" for label, value in self.facts())]
        lines += [f"{label}:\n{value.rstrip()}" for label, value in self.blocks()]
        return "\n".join(lines)


@dataclass(frozen=True)
class Outcome:
    """How one check went for one submission, before points are attached."""

    exercise: str
    check: str
    passed: bool
    feedback: Feedback | None = None
    internal_error: bool = False  # the check itself broke: a grader bug, not the student's
    seconds: float = 0.0
    # (function, the functions it calls that were made right for this check), per function
    carried_forward: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class ScoredCheck:
    exercise: str
    check: str
    title: str
    visibility: str
    score: float
    max_score: float
    status: str  # passed | failed | error
    feedback: Feedback | None
    seconds: float
    # (function, the functions it calls that were made right for this check), per function
    carried_forward: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def carried_note(self) -> str:
        """Says, when it is so, that the check ran with correct versions of what it calls."""
        if not self.carried_forward:
            return ""
        runs = "; ".join(
            f"{function} ran with a correct {_and(called)} in place of yours"
            for function, called in self.carried_forward
        )
        return f"{runs}, so that a mistake there costs points only where it is made"


@dataclass(frozen=True)
class ExerciseScore:
    exercise: str
    title: str
    score: float
    max_score: float


@dataclass(frozen=True)
class Grade:
    """A submission's scored result, plus what is needed to reproduce and trust it."""

    student: str
    checks: tuple[ScoredCheck, ...]
    exercises: tuple[ExerciseScore, ...]
    seed: int
    grader_version: str
    protections: tuple[dict[str, object], ...]
    seconds: float
    notes: tuple[str, ...] = ()
    isolation: str = ""  # the layers missing when it was graded, in one line ("" when none)
    extra: dict[str, object] = field(default_factory=dict, hash=False)

    @property
    def score(self) -> float:
        return sum(exercise.score for exercise in self.exercises)

    @property
    def max_score(self) -> float:
        return sum(exercise.max_score for exercise in self.exercises)


_NOT_RUN = Feedback(
    summary="this check did not run",
    hint="grading stopped before it was reached; ask your instructor to re-run the grader",
)


def score(
    course: Course,
    exercises: list[str],
    outcomes: list[Outcome],
    **grade_fields: object,
) -> Grade:
    """Attach points from course.yml: a check scores all its points or none.

    Every check of the graded ``exercises`` appears, in course order; one without an
    outcome counts as failed, so a crash in the grader can never award points.
    """
    seen = {(o.exercise, o.check): o for o in outcomes}
    checks, totals = [], []
    for exercise in course.exercises:
        if exercise.id not in exercises:
            continue
        outcome_of = {
            check.id: seen.get((exercise.id, check.id))
            or Outcome(exercise.id, check.id, passed=False, feedback=_NOT_RUN)
            for check in exercise.checks
        }
        scored = []
        for check in exercise.checks:
            outcome = outcome_of[check.id]
            status = "passed" if outcome.passed else "error" if outcome.internal_error else "failed"
            feedback = None if outcome.passed else outcome.feedback
            if feedback is not None and check.end_to_end:
                feedback = replace(feedback, fix_first=_fix_first(exercise, check, outcome_of))
            scored.append(
                ScoredCheck(
                    exercise=exercise.id,
                    check=check.id,
                    title=check.title,
                    visibility=check.visibility,
                    score=check.points if outcome.passed else 0.0,
                    max_score=check.points,
                    status=status,
                    feedback=feedback,
                    seconds=outcome.seconds,
                    carried_forward=outcome.carried_forward,
                )
            )
        checks += scored
        totals.append(
            ExerciseScore(
                exercise=exercise.id,
                title=exercise.title,
                score=sum(c.score for c in scored),
                max_score=exercise.max_points,
            )
        )
    return Grade(checks=tuple(checks), exercises=tuple(totals), **grade_fields)


def _fix_first(exercise: Exercise, check: Check, outcomes: dict[str, Outcome]) -> str:
    """For a failed end-to-end check: the functions it calls that fail their own checks."""
    failing: dict[str, list[str]] = {}
    own_ok = True
    for function in check.functions:
        own_ok &= all(
            outcomes[c.id].passed for c in exercise.checks_of(function) if not c.end_to_end
        )
        for called in exercise.dependencies(function):
            failed = [
                c.id
                for c in exercise.checks_of(called)
                if not c.end_to_end and c.functions == (called,) and not outcomes[c.id].passed
            ]
            if failed:
                failing[called] = failed
    if not failing:
        return ""
    judged, them = _and(check.functions), "it" if len(failing) == 1 else "them"
    causes = "; ".join(f"your {name} fails {_and(ids)}" for name, ids in failing.items())
    if own_ok:
        return f"{judged} is right when given a correct {_and(failing)}; {causes}: fix {them} first"
    return f"{causes}: fix {them} first, then {judged} itself, which fails checks of its own too"


def _and(names: Iterable[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
