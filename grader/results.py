"""Results as data: what each check saw, and the one function that turns that into scores."""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.course import Course
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

    def facts(self) -> list[tuple[str, str]]:
        """(label, value) of the one-line facts that are set."""
        labelled = (("input", self.inputs), ("expected", self.expected), ("got", self.got))
        return [(label, value) for label, value in (*labelled, ("hint", self.hint)) if value]

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
        scored = []
        for check in exercise.checks:
            outcome = seen.get((exercise.id, check.id))
            if outcome is None:
                outcome = Outcome(exercise.id, check.id, passed=False, feedback=_NOT_RUN)
            status = "passed" if outcome.passed else "error" if outcome.internal_error else "failed"
            scored.append(
                ScoredCheck(
                    exercise=exercise.id,
                    check=check.id,
                    title=check.title,
                    visibility=check.visibility,
                    score=check.points if outcome.passed else 0.0,
                    max_score=check.points,
                    status=status,
                    feedback=None if outcome.passed else outcome.feedback,
                    seconds=outcome.seconds,
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
