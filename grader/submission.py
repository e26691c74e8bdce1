"""Find a submission's exercise files, in a folder or a .zip, as Python source text.

Students zip parent folders, add stray copies and hand in notebooks, so an exercise
file is found by name anywhere inside (``ex1_forward.py`` or ``ex1_forward.ipynb``, the
shallowest wins, .py before .ipynb). Reading is defensive: symbolic links are never
followed (a link to the solutions would otherwise leak them into the sandbox), zip
members are read in memory with a size cap (no extraction, so no path traversal and no
zip bomb), and a file that is not text or a notebook that is not JSON is reported, not
fatal.
"""

from __future__ import annotations

import ast
import json
import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ZIP_MEMBERS = 5000
MAX_WALK_FILES = 20000
SUFFIXES = (".py", ".ipynb")
SELF_CHECK_TAG = "selfcheck"  # notebook cells that run the self-checks, not part of the module


@dataclass(frozen=True)
class Submission:
    """One student's work: the source of each exercise found, and why others are missing."""

    student: str
    origin: Path
    sources: dict[str, str]  # exercise id -> Python source
    problems: dict[str, str]  # exercise id -> why there is no source for it
    notes: tuple[str, ...] = ()  # other things worth telling the student


def student_id(path: Path) -> str:
    """The student's id is the folder's name, or the zip's name without .zip."""
    return path.name[: -len(".zip")] if _is_zip(path) else path.name


def load_submission(path: Path, exercises: list[str]) -> Submission:
    """Read the exercise files of the submission at ``path`` (a folder or a .zip)."""
    candidates: dict[str, list[tuple[bool, int, int, str, Callable[[], bytes]]]] = {
        e: [] for e in exercises
    }
    problems: dict[str, str] = {}
    notes: list[str] = []
    try:
        for name, read in _members(path):
            parts = PurePosixPath(name).parts
            if any(_hidden(part) or part == "__MACOSX" for part in parts):
                continue
            stem, suffix = os.path.splitext(parts[-1])
            if stem in candidates and suffix in SUFFIXES:
                # Shallowest first, then .py before .ipynb, then by name; a name that climbs
                # out with ".." only when nothing else is there. Deterministic either way.
                climbs = ".." in parts
                candidates[stem].append((climbs, len(parts), SUFFIXES.index(suffix), name, read))
    except (OSError, zipfile.BadZipFile, ValueError, RecursionError) as error:
        reason = f"the submission could not be read ({type(error).__name__}: {error})"
        return Submission(student_id(path), path, {}, {e: reason for e in exercises})
    sources = {}
    for exercise, found in candidates.items():
        if not found:
            problems[exercise] = (
                f"no {exercise}.py (or {exercise}.ipynb) found in the submission; "
                f"hand in a file with exactly this name"
            )
            continue
        found.sort(key=lambda entry: entry[:4])
        *_, name, read = found[0]
        if len(found) > 1:
            others = ", ".join(entry[3] for entry in found[1:])
            notes.append(f"{exercise}: graded {name}; also found {others} (ignored)")
        try:
            sources[exercise] = _source(name, read())
        except (OSError, ValueError) as error:
            problems[exercise] = f"{name}: {error}"
    return Submission(student_id(path), path, sources, problems, tuple(notes))


def _members(path: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """(relative name, function that returns the bytes) for each regular file."""
    if path.is_dir():
        yield from _folder_members(path)
    elif _is_zip(path) and path.is_file():
        yield from _zip_members(path)
    else:
        raise ValueError(f"{path} is neither a folder nor a .zip file")


def _hidden(part: str) -> bool:
    """A hidden file or folder (".git", "._x" from macOS); ".." is only part of a path."""
    return part.startswith(".") and part not in (".", "..")


def _is_zip(path: Path) -> bool:
    return path.suffix.lower() == ".zip"


def _folder_members(root: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    count = 0
    for folder, subfolders, files in os.walk(root, followlinks=False):
        subfolders[:] = sorted(d for d in subfolders if not os.path.islink(os.path.join(folder, d)))
        for file in sorted(files):
            full = Path(folder, file)
            count += 1
            if count > MAX_WALK_FILES:
                raise ValueError(f"more than {MAX_WALK_FILES} files")
            if full.is_symlink() or not full.is_file():
                continue  # never follow links out of the submission
            yield full.relative_to(root).as_posix(), lambda full=full: _read_file(full)


def _read_file(path: Path) -> bytes:
    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // 1024 // 1024} MiB")
    return data


def _zip_members(path: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise ValueError(f"the zip holds more than {MAX_ZIP_MEMBERS} files")
        for info in infos:
            if not info.is_dir():
                yield (
                    info.filename.replace("\\", "/").lstrip("/"),
                    lambda i=info: _read_zip(path, i),
                )


def _read_zip(path: Path, info: zipfile.ZipInfo) -> bytes:
    if info.file_size > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // 1024 // 1024} MiB")
    try:
        with zipfile.ZipFile(path) as archive, archive.open(info) as member:
            data = member.read(MAX_FILE_BYTES + 1)  # the header's size may lie
    except Exception as error:  # corrupt deflate, lzma, bzip2 streams raise what they like
        raise ValueError(f"cannot be read from the zip ({type(error).__name__}: {error})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // 1024 // 1024} MiB once unpacked")
    return data


def _source(name: str, data: bytes) -> str:
    """Python source from a .py file's bytes or a notebook's code cells."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("is not UTF-8 text; save it as a plain Python file") from None
    if "\x00" in text:
        raise ValueError("contains NUL bytes; is it really a Python file?")
    return notebook_source(text) if name.endswith(".ipynb") else text


def notebook_source(text: str) -> str:
    """The code cells of a notebook, in order, as one module.

    IPython magics and shell escapes (``%matplotlib``, ``!pip``) become comments;
    nbgrader's autograder cells and the self-check cell (tests, not the student's code)
    are left out.
    """
    try:
        notebook = json.loads(text)
    except (ValueError, RecursionError):
        raise ValueError("is not a valid notebook (not JSON); re-save it from Jupyter") from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise ValueError("is not a valid notebook (no list of cells); re-save it from Jupyter")
    chunks = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        metadata = cell.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        nbgrader = metadata.get("nbgrader")
        if isinstance(nbgrader, dict) and nbgrader.get("grade") and not nbgrader.get("solution"):
            continue
        tags = metadata.get("tags")
        if isinstance(tags, list) and SELF_CHECK_TAG in tags:
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(part for part in source if isinstance(part, str))
        if isinstance(source, str):
            chunks.append(_without_magics(source))
    return "\n\n".join(chunks) + "\n"


def _without_magics(cell: str) -> str:
    """A cell with its IPython magic and shell lines commented out.

    A cell that is valid Python is left as it is (a continuation line may well start
    with ``!=``); otherwise lines that start with ``%`` or ``!`` are the magics.
    """
    lines = cell.splitlines()
    try:
        ast.parse(cell)
        return "\n".join(lines)
    except (SyntaxError, ValueError):
        pass
    return "\n".join(
        f"# {line}"
        if line.lstrip().startswith(("%", "!")) and not line.lstrip().startswith("!=")
        else line
        for line in lines
    )
