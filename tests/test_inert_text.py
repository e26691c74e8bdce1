"""Text from a submission stays text in every output the grader writes.

Submissions whose folder names, file names, exception messages, exception class names and
printed output carry HTML, markdown, spreadsheet formulas and terminal escape sequences are
graded; then each output is read the way its consumer reads it: results.json's markdown
rendered (raw HTML passed through, as GitHub-flavoured renderers do), grades.csv as a
spreadsheet sees cells, the terminal's bytes, both HTML pages parsed, nbgrader's cell text.
"""

import csv
import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import mistune
import pytest

from grader.escaping import markdown_code_block, markdown_text
from samples.make_class import with_answer, write_submission
from tests.helpers import SEED, run_grader

PAYLOAD = (
    "![pixel](https://evil.example/p.png) [your grade](javascript:alert(1)) "
    "<img src=x onerror=alert(1)> <script>alert(2)</script> **bold** `code` "
    "\x1b[2J\x1b]8;;https://evil.example\x07link\x1b]8;;\x07 \u202egnp.exe"
)
FORMULA = '=HYPERLINK("https://evil.example","click")'
# Folder names may not hold "/": the payloads without it.
NAMES = {
    "img": "<img src=x onerror=alert(1)>",
    "formula": "=1+1",
    "escape": "\x1b[31mred\x1b[0m",
    "markdown": "![x](x.png)",
}
TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _hostile(dest: Path, course) -> None:
    write_submission(dest, course)
    ex1 = dest / "ex1_forward.py"
    source = ex1.read_text(encoding="utf-8")
    source = with_answer(
        source,
        "sigmoid",
        f"print({PAYLOAD!r} * 3)\nraise type({PAYLOAD!r}, (Exception,), {{}})({PAYLOAD!r})",
        "ex1_forward.py",
    )
    ex1.write_text(source, encoding="utf-8")
    ex2 = dest / "ex2_backward.py"
    ex2.write_text(
        with_answer(
            ex2.read_text(), "sgd_step", f"raise ValueError({FORMULA!r})", "ex2_backward.py"
        )
    )
    copy = dest / NAMES["img"]  # a second copy of a file, whose folder name a note quotes
    copy.mkdir()
    (copy / "ex2_backward.py").write_text("x = 1\n")


@pytest.fixture(scope="module")
def graded(tmp_path_factory, course):
    folder = tmp_path_factory.mktemp("inert-class")
    for key, name in NAMES.items():
        _hostile(folder / f"{name}-{key}", course)
    out = tmp_path_factory.mktemp("inert-out")
    done = run_grader("batch", str(folder), "--out", str(out), "--seed", str(SEED), "--feedback")
    assert done.returncode == 0, done.stderr
    report = run_grader("report", str(out))
    assert report.returncode == 0, report.stderr
    return {"out": out, "terminal": done.stdout + done.stderr + report.stdout + report.stderr}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def _elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.elements


_render = mistune.create_markdown(escape=False, plugins=["url", "strikethrough", "table"])
MARKDOWN_TAGS = {"p", "strong", "em", "ul", "li", "code", "pre", "br"}


def _assert_inert_markdown(text: str) -> None:
    for tag, attrs in _elements(_render(text)):
        assert tag in MARKDOWN_TAGS, (tag, attrs, text[:500])
        assert set(attrs) <= {"class"}, (tag, attrs)


def test_markdown_outputs_render_as_text(graded):
    results = sorted(graded["out"].glob("*/results.json"))
    assert len(results) == len(NAMES)
    for path in results:
        result = json.loads(path.read_text(encoding="utf-8"))
        assert result["output_format"] == "md"
        _assert_inert_markdown(result["output"])
        for test in result["tests"]:
            assert test["output_format"] == "md"
            _assert_inert_markdown(test["output"])
    failed = [t["output"] for t in result["tests"] if t["status"] != "passed"]
    assert any("onerror" in output for output in failed), "the payload was not quoted at all"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""

    def handle_data(self, data):
        self.text += data


def test_markdown_escaping_shows_every_character() -> None:
    plain = (
        PAYLOAD.split("\x1b")[0] + "\n# heading\n1. item\n2) item\n- item\n+ item\n> quote\n"
        "===\n    indented\n_em_ __strong__ ~~strike~~ a|b &amp; &#60; <https://x.example> "
        "www.example.com ex2_backward.py x\\\ny"
    )
    rendered = _render(markdown_text(plain))
    assert {tag for tag, _ in _elements(rendered)} <= {"p", "br", "pre", "code"}, rendered
    shown = _Text()
    shown.feed(rendered)
    assert shown.text.split() == plain.split(), rendered  # markdown may fold white space only
    block = markdown_code_block("```\n</code></pre><img src=x onerror=a>\n````")
    assert [tag for tag, _ in _elements(_render(block))] == ["pre", "code"]


def test_grades_csv_has_no_formula(graded):
    rows = list(csv.reader((graded["out"] / "grades.csv").open(encoding="utf-8")))
    assert len(rows) == 1 + len(NAMES)
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), row
            assert not (cell.startswith("-") and not re.fullmatch(r"-[\d.]+", cell)), row
    assert any(cell.startswith("'=") for row in rows for cell in row)


def test_terminal_output_obeys_no_control_sequence(graded):
    terminal = graded["terminal"]
    assert not TERMINAL_CONTROLS.findall(terminal.replace("\r", "")), terminal[-2000:]
    assert "\\x1b" in terminal  # shown, not obeyed


def test_an_internal_error_names_the_student_as_inert_text(course, capsys, monkeypatch):
    """A check that breaks (a grader bug) is reported on stderr with the student's name."""
    from grader.grading.expect import Expect
    from grader.grading.session import grade_submissions, sandbox
    from grader.grading.submission import load_submission

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in a check")

    solutions = load_submission(course.root / "solutions", ["ex1_forward"])
    named = dataclasses.replace(solutions, student=NAMES["escape"])
    monkeypatch.setattr(Expect, "close", broken)
    with sandbox(course) as zygote:
        [grade] = grade_submissions(course, [named], SEED, zygote, ["ex1_forward"])
    assert any(check.status == "error" for check in grade.checks)
    stderr = capsys.readouterr().err
    assert "internal error in a check" in stderr and "\\x1b[31mred" in stderr
    assert not TERMINAL_CONTROLS.findall(stderr), stderr[-2000:]


def test_html_pages_hold_no_active_content(graded):
    pages = [*graded["out"].glob("*/feedback.html"), graded["out"] / "class-report.html"]
    assert len(pages) == len(NAMES) + 1
    for page in pages:
        for tag, attrs in _elements(page.read_text(encoding="utf-8")):
            assert not any(name.startswith("on") for name in attrs), (page, tag, attrs)
            assert tag not in ("iframe", "object", "embed", "a", "link"), (page, tag, attrs)
            if tag == "img":
                assert (attrs.get("src") or "").startswith("data:image/png;base64,"), attrs
            if tag == "script":
                assert "src" not in attrs and page.name == "class-report.html", (page, attrs)


def test_nbgrader_feedback_cells_obey_no_control_sequence():
    from grader.platforms.nbgrader import _outputs
    from grader.results import Feedback, ScoredCheck

    check = ScoredCheck("ex1_forward", "sigmoid_values", "t", "visible", 0.0, 3.0, "failed",
                        Feedback(summary=PAYLOAD, output=PAYLOAD), 0.0)  # fmt: skip
    [stream, _] = _outputs(check)
    assert not TERMINAL_CONTROLS.findall(stream.text)
