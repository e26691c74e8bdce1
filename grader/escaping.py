"""One escaping function per output format: text from a submission enters a format only here.

A submission controls much of what the grader writes: file and folder names, exception
messages and class names, printed output. Each writer passes such text through the function
of the format it writes, so that the text stays text: markdown (Gradescope's md outputs,
nbgrader's feedback), CSV cells (spreadsheets run formulas), the terminal (escape sequences).
HTML pages escape through ``html.escape`` in their one renderer each.
"""

from __future__ import annotations

import re

# CommonMark lets any ASCII punctuation be backslash-escaped into a literal character. Only
# the marks that can start a construct are escaped, so that the raw text stays readable:
# inline ones anywhere (code, emphasis, links and images, raw HTML, entities, strikethrough,
# tables, hard breaks), "_" where it can delimit emphasis (not inside a word), the colon of
# "scheme://" and the dot of "www." (GFM's bare autolinks), and at the start of a line what
# starts a block (headings, lists, quotes, setext underlines).
_MARKDOWN_INLINE = re.compile(
    r"[\\`*\[\]<&~|]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|:(?=//)|(?<=www)\.", re.IGNORECASE
)
_MARKDOWN_LINE_START = re.compile(r"^( *)([#+\-=>]|\d+[.)])", re.MULTILINE)
# C0 and C1 controls (but newline and tab), DEL, and the bidirectional overrides that make
# a terminal show text in another order than it is ("Trojan source").
_TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def markdown_text(text: str) -> str:
    """``text`` as literal markdown: every character shows as itself, nothing is markup."""
    text = terminal_text(text.replace("\r\n", "\n"))
    text = _MARKDOWN_INLINE.sub(lambda m: "\\" + m.group(), text)
    text = _MARKDOWN_LINE_START.sub(
        lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], text
    )
    return text.replace("\n", "  \n")


def markdown_code_block(text: str, info: str = "text") -> str:
    """``text`` in a fenced code block that nothing inside it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{terminal_text(text).rstrip()}\n{fence}"


def csv_cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: one that could start a formula gets a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def terminal_text(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``), never obeyed."""
    return _TERMINAL_CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
