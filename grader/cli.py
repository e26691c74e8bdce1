"""The `grader` command: parse arguments, call a verb's main(), turn errors into one line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader import __version__
from grader.authoring.regions import MarkerError
from grader.course import CourseError
from grader.errors import IsolationMissing, UsageError, WorkerFailed
from grader.escaping import terminal_text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grader", description="Build the course and grade submissions in a sandbox."
    )
    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    parser.add_argument(
        "--course",
        type=Path,
        default=None,
        help="course folder holding course.yml (default: the one the grader came with)",
    )
    verbs = parser.add_subparsers(dest="verb", required=True)

    build = verbs.add_parser("build", help="generate exercises/ from solutions/")
    build.add_argument(
        "--check", action="store_true", help="only check that exercises/ is up to date"
    )

    handout = verbs.add_parser("handout", help="pack exercises/ as the students' kit, one .zip")
    handout.add_argument("out", type=Path, metavar="KIT.zip", help="the .zip to write")

    grading = argparse.ArgumentParser(add_help=False)
    grading.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the random inputs (default: a new one, printed)",
    )
    grading.add_argument(
        "--exercise",
        action="append",
        dest="exercises",
        metavar="ID",
        help="grade only this exercise (repeatable)",
    )
    grading.add_argument(
        "--require-isolation",
        action="store_true",
        help="refuse to grade unless every sandbox layer is available",
    )

    grade = verbs.add_parser(
        "grade", parents=[grading], help="grade one submission (a folder or a .zip)"
    )
    grade.add_argument("submission", type=Path)
    grade.add_argument(
        "--results", type=Path, default=Path("results.json"), help="where to write results.json"
    )
    grade.add_argument(
        "--feedback", type=Path, metavar="FEEDBACK.html", help="also write a feedback page there"
    )

    batch = verbs.add_parser("batch", parents=[grading], help="grade every submission in a folder")
    batch.add_argument(
        "submissions", type=Path, help="folder with one sub-folder or .zip per student"
    )
    batch.add_argument("--out", type=Path, required=True, help="folder for results and grades.csv")
    batch.add_argument(
        "--jobs", type=int, default=None, help="parallel graders (default: one per core)"
    )
    batch.add_argument(
        "--force", action="store_true", help="re-grade students that already have results"
    )
    batch.add_argument(
        "--feedback", action="store_true", help="also write OUT/<student>/feedback.html"
    )

    report = verbs.add_parser("report", help="write the class report of a batch's results")
    report.add_argument("outdir", type=Path, help="the --out folder of `grader batch`")

    nbgrader = verbs.add_parser("nbgrader", help="write an nbgrader course graded by the sandbox")
    nbgrader.add_argument("folder", type=Path, help="where to write the nbgrader course")
    nbgrader.add_argument(
        "--seed", type=int, default=None, help="seed of the hidden checks' inputs"
    )

    gradescope = verbs.add_parser(
        "gradescope", help="build the autograder .zip to upload to a Gradescope assignment"
    )
    gradescope.add_argument("out", type=Path, metavar="OUT.zip", help="the .zip to write")
    gradescope.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the hidden checks' random inputs for every student (default: a new one)",
    )
    gradescope.add_argument(
        "--require-isolation",
        action="store_true",
        help="refuse to grade on Gradescope if the platform lacks a sandbox layer",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.verb == "build":
            from grader.authoring import build

            return build.main(args.course, check=args.check)
        if args.verb == "handout":
            from grader.authoring import handout

            return handout.main(args.out, args.course)
        if args.verb == "grade":
            from grader.grading import grade

            return grade.main(
                args.submission,
                args.results,
                args.seed,
                args.exercises,
                args.course,
                args.require_isolation,
                args.feedback,
            )
        if args.verb == "batch":
            from grader.grading import batch

            return batch.main(
                args.submissions,
                args.out,
                jobs=args.jobs,
                force=args.force,
                seed=args.seed,
                exercises=args.exercises,
                course_root=args.course,
                require_isolation=args.require_isolation,
                feedback=args.feedback,
            )
        if args.verb == "report":
            from grader.reports import class_report

            return class_report.main(args.outdir)
        if args.verb == "nbgrader":
            from grader.platforms import nbgrader

            return nbgrader.main(args.folder, args.course, args.seed)
        if args.verb == "gradescope":
            from grader.platforms.gradescope import bundle

            return bundle.main(args.out, args.course, args.seed, args.require_isolation)
    except (CourseError, MarkerError, UsageError, IsolationMissing, WorkerFailed) as error:
        print(terminal_text(f"grader: {error}"), file=sys.stderr)
        return 2
    raise AssertionError(f"unhandled verb {args.verb}")
