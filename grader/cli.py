"""The `grader` command: parse arguments, call a verb's main(), turn a UserError into one line.

Each verb is one entry of VERBS: its help, the shared options it takes, its own arguments and
the call it dispatches to (imported only when that verb runs, so `grader build` never loads
torch). Options several verbs share are declared once, below.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader import __version__
from grader.cluster.client import Connection, scheduler_address
from grader.errors import UserError
from grader.escaping import terminal_text


def _seed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed", type=int, default=None,
        help="seed of the hidden checks' random inputs (default: a new one, printed)",
    )  # fmt: skip


def _exercises(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--exercise", action="append", dest="exercises", metavar="ID",
        help="grade only this exercise (repeatable)",
    )  # fmt: skip


def _require_isolation(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--require-isolation", action="store_true",
        help="refuse to grade unless every sandbox layer is available",
    )  # fmt: skip


def _cluster(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "on a Dask cluster (README, 'A class bigger than one machine')"
    )
    where = group.add_mutually_exclusive_group()
    where.add_argument("--cluster", metavar="ADDRESS", help="the Dask scheduler, tls://HOST:PORT")
    where.add_argument("--scheduler-file", type=Path, metavar="PATH",
                       help="the file `dask scheduler --scheduler-file` wrote")  # fmt: skip
    group.add_argument("--insecure", action="store_true",
                       help="allow a plain tcp:// scheduler on another machine")  # fmt: skip
    group.add_argument("--tls-ca-file", type=Path, metavar="PEM", help="CA of the cluster")
    group.add_argument("--tls-cert", type=Path, metavar="PEM", help="this client's certificate")
    group.add_argument("--tls-key", type=Path, metavar="PEM", help="this client's private key")


def _connection(a: argparse.Namespace) -> Connection | None:
    if a.cluster is None and a.scheduler_file is None:
        return None
    connection = Connection(
        a.cluster, a.scheduler_file, a.insecure, a.tls_ca_file, a.tls_cert, a.tls_key
    )
    scheduler_address(connection)  # refuse an unsafe address before anything is read
    return connection


def _build(p: argparse.ArgumentParser) -> None:
    p.add_argument("--check", action="store_true", help="only check that exercises/ is up to date")


def _handout(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", type=Path, metavar="KIT.zip", help="the .zip to write")


def _grade(p: argparse.ArgumentParser) -> None:
    p.add_argument("submission", type=Path, help="a submission: a folder or a .zip")
    p.add_argument(
        "--results", type=Path, default=Path("results.json"), help="where to write results.json"
    )
    p.add_argument(
        "--feedback", type=Path, metavar="FEEDBACK.html", help="also write a feedback page there"
    )


def _batch(p: argparse.ArgumentParser) -> None:
    p.add_argument("submissions", type=Path, help="folder with one sub-folder or .zip per student")
    p.add_argument("--out", type=Path, required=True, help="folder for results and grades.csv")
    p.add_argument(
        "--jobs", type=int, default=None, help="parallel graders (default: one per usable core)"
    )
    p.add_argument(
        "--force", action="store_true", help="re-grade students that already have results"
    )
    p.add_argument("--feedback", action="store_true", help="also write OUT/<student>/feedback.html")


def _report(p: argparse.ArgumentParser) -> None:
    p.add_argument("outdir", type=Path, help="the --out folder of `grader batch`")


def _nbgrader(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", type=Path, help="where to write the nbgrader course")


def _gradescope(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", type=Path, metavar="OUT.zip", help="the .zip to write")


def _run_build(a: argparse.Namespace) -> int:
    from grader.authoring import build

    return build.main(a.course, check=a.check)


def _run_handout(a: argparse.Namespace) -> int:
    from grader.authoring import handout

    return handout.main(a.out, a.course)


def _run_grade(a: argparse.Namespace) -> int:
    if connection := _connection(a):
        from grader.cluster import run

        return run.grade(
            connection, a.submission, a.results, a.seed, a.exercises, a.course,
            a.require_isolation, a.feedback,
        )  # fmt: skip
    from grader.grading import grade

    return grade.main(
        a.submission, a.results, a.seed, a.exercises, a.course, a.require_isolation, a.feedback
    )


def _run_batch(a: argparse.Namespace) -> int:
    from grader.grading import batch

    return batch.main(
        a.submissions, a.out, jobs=a.jobs, force=a.force, seed=a.seed, exercises=a.exercises,
        course_root=a.course, require_isolation=a.require_isolation, feedback=a.feedback,
        elsewhere=_on_cluster(_connection(a)),
    )  # fmt: skip


def _on_cluster(connection: Connection | None) -> Callable[..., list[Path]] | None:
    if connection is None:
        return None
    from grader.cluster import run

    return functools.partial(run.batch, connection)


def _run_report(a: argparse.Namespace) -> int:
    from grader.reports import class_report

    return class_report.main(a.outdir)


def _run_nbgrader(a: argparse.Namespace) -> int:
    from grader.platforms import nbgrader

    return nbgrader.main(a.folder, a.course, a.seed)


def _run_gradescope(a: argparse.Namespace) -> int:
    from grader.platforms.gradescope import bundle

    return bundle.main(a.out, a.course, a.seed, a.require_isolation)


_Arguments = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Verb:
    help: str
    options: tuple[_Arguments, ...]  # shared options, declared once above
    arguments: _Arguments
    run: Callable[[argparse.Namespace], int]


VERBS = {
    "build": Verb("generate exercises/ from solutions/", (), _build, _run_build),
    "handout": Verb("pack exercises/ as the students' kit, one .zip", (), _handout, _run_handout),
    "grade": Verb(
        "grade one submission (a folder or a .zip)",
        (_seed, _exercises, _require_isolation, _cluster), _grade, _run_grade,
    ),
    "batch": Verb(
        "grade every submission in a folder",
        (_seed, _exercises, _require_isolation, _cluster), _batch, _run_batch,
    ),
    "report": Verb("write the class report of a batch's results", (), _report, _run_report),
    "nbgrader": Verb(
        "write an nbgrader course graded by the sandbox", (_seed,), _nbgrader, _run_nbgrader
    ),
    "gradescope": Verb(
        "build the autograder .zip to upload to a Gradescope assignment",
        (_seed, _require_isolation), _gradescope, _run_gradescope,
    ),
}  # fmt: skip


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="grader", description="Build the course and grade submissions in a sandbox."
    )
    top.add_argument("--version", action="version", version=f"grader {__version__}")
    top.add_argument(
        "--course", type=Path, default=None,
        help="course folder holding course.yml (default: the one the grader came with)",
    )  # fmt: skip
    verbs = top.add_subparsers(dest="verb", required=True)
    for name, verb in VERBS.items():
        sub = verbs.add_parser(name, help=verb.help, description=verb.help)
        for declare in (*verb.options, verb.arguments):
            declare(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return VERBS[args.verb].run(args)
    except UserError as error:
        print(terminal_text(f"grader: {error}"), file=sys.stderr)
        return 2
