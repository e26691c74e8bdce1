"""Find a submission's exercise files, in a folder or a .zip, as Python source text.

Students zip parent folders, add stray copies and hand in notebooks, so an exercise
file is found by name anywhere inside (``<id>.py`` or ``<id>.ipynb``, the
shallowest wins, .py before .ipynb). Reading is defensive: symbolic links are never
followed (a link to the solutions would otherwise leak them into the sandbox), zip
members are read in memory with a size cap (no extraction, so no path traversal and no
zip bomb), and a file that is not text or a notebook that is not JSON is reported, not
fatal. Folders that are never a submission (virtual environments, ``.git``,
``node_modules``, caches, notebook checkpoints, other hidden folders) are skipped without
being read, and the file limits count only what is left.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.authoring.notebooks import notebook_source

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ZIP_MEMBERS = 5000
MAX_WALK_FILES = 20000
SUFFIXES = (".py", ".ipynb")
# Reading a zip's directory costs memory per member even when the member is skipped.
MAX_ZIP_ENTRIES = 200_000
VENV_MARKER = "pyvenv.cfg"
NEVER_SUBMITTED = {  # folder name -> what it is, for the note in results.json
    ".git": "git history",
    "node_modules": "JavaScript packages",
    "__pycache__": "Python cache",
    "__MACOSX": "macOS zip metadata",
    ".ipynb_checkpoints": "notebook backups",
    "site-packages": "installed packages",
}


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
    skipped: dict[str, str] = {}  # folder -> what it is
    notes: list[str] = []
    try:
        for name, read in _members(path, skipped):
            parts = PurePosixPath(name).parts
            if any(_hidden(part) for part in parts):
                continue  # a hidden file: ".DS_Store", "._x" from macOS
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
    if skipped:
        listed = ", ".join(f"{folder} ({kind})" for folder, kind in sorted(skipped.items()))
        notes.append(f"skipped without reading: {listed}")
    return Submission(student_id(path), path, sources, problems, tuple(notes))


def _members(path: Path, skipped: dict[str, str]) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """(relative name, function that returns the bytes) for each regular file.

    Folders that are never a submission are left out unread and recorded in ``skipped``.
    """
    if path.is_dir():
        yield from _folder_members(path, skipped)
    elif _is_zip(path) and path.is_file():
        yield from _zip_members(path, skipped)
    else:
        raise ValueError(f"{path} is neither a folder nor a .zip file")


def _hidden(part: str) -> bool:
    """A hidden file or folder (".git", "._x" from macOS); ".." is only part of a path."""
    return part.startswith(".") and part not in (".", "..")


def _is_zip(path: Path) -> bool:
    return path.suffix.lower() == ".zip"


def _never_submitted(name: str, has_venv_marker: Callable[[], bool]) -> str | None:
    """What a folder is when it is never part of a submission, else None."""
    if name in NEVER_SUBMITTED:
        return NEVER_SUBMITTED[name]
    if has_venv_marker():
        return "virtual environment"
    return "hidden folder" if _hidden(name) else None


def _folder_members(
    root: Path, skipped: dict[str, str]
) -> Iterator[tuple[str, Callable[[], bytes]]]:
    count = 0
    counts: dict[str, int] = {}  # relative folder -> files kept in it, for the refusal
    for folder, subfolders, files in os.walk(root, followlinks=False):
        kept = []
        for name in sorted(subfolders):
            full = os.path.join(folder, name)
            if os.path.islink(full):
                continue
            kind = _never_submitted(
                name, lambda f=full: os.path.isfile(os.path.join(f, VENV_MARKER))
            )
            if kind:
                skipped[Path(full).relative_to(root).as_posix()] = kind
            else:
                kept.append(name)
        subfolders[:] = kept  # os.walk does not enter what is pruned here
        relative = Path(folder).relative_to(root).as_posix()
        for file in sorted(files):
            full = Path(folder, file)
            count += 1
            counts[relative] = counts.get(relative, 0) + 1
            if count > 10 * MAX_WALK_FILES:
                break  # enough to name the largest folders
            if count > MAX_WALK_FILES:
                continue  # only counted, so that the refusal can name the largest folders
            if full.is_symlink() or not full.is_file():
                continue  # never follow links out of the submission
            yield full.relative_to(root).as_posix(), lambda full=full: _read_file(full)
        if count > 10 * MAX_WALK_FILES:
            break
    if count > MAX_WALK_FILES:
        raise ValueError(_too_many(f"more than {MAX_WALK_FILES} files", counts))


def _too_many(what: str, counts: dict[str, int]) -> str:
    """The refusal, naming the largest folders below the wrapper folders students zip."""
    totals: dict[str, int] = {}
    for folder, n in counts.items():
        parts = PurePosixPath(folder).parts if folder != "." else ()
        for depth in range(len(parts) + 1):
            key = "/".join(parts[:depth]) or "."
            totals[key] = totals.get(key, 0) + n
    top = "."
    while True:  # descend through folders that hold everything ("project/", "project/src/")
        children = [f for f in totals if f != top and _parent(f) == top]
        whole = [f for f in children if totals[f] == totals[top]]
        if len(whole) != 1:
            break
        top = whole[0]
    children = sorted(
        (f for f in totals if f != top and _parent(f) == top), key=lambda f: (-totals[f], f)
    )[:3]
    if not children:
        return f"{what}; hand in only your exercise files"
    largest = ", ".join(f"{f}/ ({totals[f]} files)" for f in children)
    return (
        f"{what}; the largest folders are {largest}: remove them, hand in only your exercise files"
    )


def _parent(folder: str) -> str:
    return PurePosixPath(folder).parent.as_posix()


def _read_file(path: Path) -> bytes:
    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // 1024 // 1024} MiB")
    return data


def _zip_members(path: Path, skipped: dict[str, str]) -> Iterator[tuple[str, Callable[[], bytes]]]:
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise ValueError(f"the zip holds more than {MAX_ZIP_ENTRIES} entries")
        named = [(info.filename.replace("\\", "/").lstrip("/"), info) for info in infos]
        venvs = {
            PurePosixPath(name).parent.as_posix()
            for name, _ in named
            if PurePosixPath(name).name == VENV_MARKER
        }
        kept = []
        counts: dict[str, int] = {}
        for name, info in named:
            folders = PurePosixPath(name).parts[: -1 if not info.is_dir() else None]
            prune = _pruned_prefix(folders, venvs)
            if prune:
                skipped[prune[0]] = prune[1]
            elif not info.is_dir():
                kept.append((name, info))
                folder = "/".join(folders) or "."
                counts[folder] = counts.get(folder, 0) + 1
        if len(kept) > MAX_ZIP_MEMBERS:
            raise ValueError(_too_many(f"the zip holds more than {MAX_ZIP_MEMBERS} files", counts))
        for name, info in kept:
            yield name, lambda i=info: _read_zip(path, i)


def _pruned_prefix(folders: tuple[str, ...], venvs: set[str]) -> tuple[str, str] | None:
    """(folder, what it is) for the first enclosing folder never submitted, else None."""
    for depth, name in enumerate(folders, start=1):
        prefix = "/".join(folders[:depth])
        kind = _never_submitted(name, lambda p=prefix: p in venvs)
        if kind:
            return prefix, kind
    return None


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
