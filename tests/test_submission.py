"""Finding a student's exercise files in a folder or a .zip, defensively.

Every load here goes through ``load``, which also checks that the result accounts for each
exercise exactly once and that nothing was written anywhere under tmp_path (the working
directory is inside it too, so a relative extraction would be caught).
"""

import json
import os
import random
import stat
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest

import grader.grading.submission as submission_module
from grader.grading.submission import (
    MAX_FILE_BYTES,
    Submission,
    load_submission,
    notebook_source,
    student_id,
)

EXERCISES = ["ex1_forward", "ex2_backward"]
SECRET = "TOP-SECRET-SOLUTION-8c1f"  # must never reach a Submission


# ---- helpers ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def cwd_inside_tmp(tmp_path, monkeypatch):
    """Run each test from inside tmp_path, so a relative write would be seen by ``load``."""
    cwd = tmp_path / "cwd" / "a" / "b"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)


def snapshot(root: Path) -> dict[str, Any]:
    """Every path under root (links not followed), with its mode, size and mtime."""
    seen = {}
    for folder, subfolders, files in os.walk(root):
        for name in subfolders + files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            seen[os.path.relpath(path, root)] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return seen


def load(path: Path, exercises: list[str] = EXERCISES, *, watch: Path | None = None) -> Submission:
    """load_submission, checking it wrote nothing and accounted for every exercise."""
    watch = watch or path.parent
    before = snapshot(watch)
    result = load_submission(path, exercises)
    assert snapshot(watch) == before, "loading a submission must not create or change files"
    assert set(result.sources) | set(result.problems) == set(exercises)
    assert not set(result.sources) & set(result.problems)
    assert result.origin == path
    assert all(isinstance(source, str) for source in result.sources.values())
    assert all(isinstance(reason, str) and reason for reason in result.problems.values())
    return result


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def make_zip(
    path: Path, members: dict[str, str | bytes], method: int = zipfile.ZIP_DEFLATED
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, content in members.items():
            archive.writestr(zipfile.ZipInfo(name), content, compress_type=method)
    return path


def patch_central_directory(path: Path, offset: int, fmt: str, value: int) -> None:
    """Overwrite a field of the (first) central directory entry, as a forger would."""
    data = bytearray(path.read_bytes())
    entry = data.index(b"PK\x01\x02")
    struct.pack_into(fmt, data, entry + offset, value)
    path.write_bytes(bytes(data))


def code(source: str | list[str], **nbgrader: Any) -> dict[str, Any]:
    metadata = {"nbgrader": nbgrader} if nbgrader else {}
    return {"cell_type": "code", "metadata": metadata, "source": source, "outputs": []}


def markdown(source: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def notebook(*cells: dict[str, Any]) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": list(cells)})


# ---- folders -----------------------------------------------------------------------------


def test_files_at_the_top_of_a_folder(tmp_path):
    folder = write(
        tmp_path / "alice",
        {"ex1_forward.py": "def f():\n    return 1\n", "ex2_backward.py": "x = 2\n"},
    )
    result = load(folder)
    assert result.student == "alice"
    assert result.sources == {"ex1_forward": "def f():\n    return 1\n", "ex2_backward": "x = 2\n"}
    assert result.problems == {} and result.notes == ()


def test_files_nested_deep_inside_are_found(tmp_path):
    folder = write(
        tmp_path / "bob",
        {
            "Users/bob/Downloads/course/hw1/ex1_forward.py": "one = 1\n",
            "Users/bob/Downloads/course/hw2/ex2_backward.py": "two = 2\n",
            "Users/bob/Downloads/course/README.md": "hello",
        },
    )
    result = load(folder)
    assert result.sources == {"ex1_forward": "one = 1\n", "ex2_backward": "two = 2\n"}
    assert result.problems == {} and result.notes == ()


def test_the_shallowest_copy_wins_and_the_others_are_named_in_a_note(tmp_path):
    folder = write(
        tmp_path / "carol",
        {
            "work/old/ex1_forward.py": "old = True\n",
            "work/ex1_forward.py": "graded = True\n",
            "work/backup/deeper/ex1_forward.ipynb": notebook(code("nb = True")),
            "ex2_backward.py": "x = 2\n",
        },
    )
    result = load(folder)
    assert result.sources["ex1_forward"] == "graded = True\n"
    assert len(result.notes) == 1
    note = result.notes[0]
    assert "ex1_forward" in note and "work/ex1_forward.py" in note
    assert "work/old/ex1_forward.py" in note
    assert "work/backup/deeper/ex1_forward.ipynb" in note
    assert note.index("graded work/ex1_forward.py") < note.index("work/old/ex1_forward.py")


def test_a_py_file_beats_a_notebook_at_the_same_depth(tmp_path):
    folder = write(
        tmp_path / "dan",
        {
            "hw/ex1_forward.ipynb": notebook(code("from_notebook = 1")),
            "hw/ex1_forward.py": "from_py = 1\n",
            "ex2_backward.ipynb": notebook(code("only_notebook = 2")),
        },
    )
    result = load(folder)
    assert result.sources["ex1_forward"] == "from_py = 1\n"
    assert result.sources["ex2_backward"] == "only_notebook = 2\n"
    assert result.notes == (
        "ex1_forward: graded hw/ex1_forward.py; also found hw/ex1_forward.ipynb (ignored)",
    )


def test_depth_comes_before_the_py_preference(tmp_path):
    folder = write(
        tmp_path / "erin",
        {"ex1_forward.ipynb": notebook(code("top = 1")), "deep/ex1_forward.py": "deep = 1\n"},
    )
    assert load(folder, ["ex1_forward"]).sources["ex1_forward"] == "top = 1\n"


def test_copies_at_the_same_depth_are_chosen_by_name(tmp_path):
    folder = write(
        tmp_path / "fay",
        {"b/ex1_forward.py": "b = 1\n", "a/ex1_forward.py": "a = 1\n", "c/ex1_forward.py": "c\n"},
    )
    result = load(folder, ["ex1_forward"])
    assert result.sources["ex1_forward"] == "a = 1\n"
    assert "b/ex1_forward.py" in result.notes[0] and "c/ex1_forward.py" in result.notes[0]


def test_macosx_and_hidden_entries_are_ignored(tmp_path):
    folder = write(
        tmp_path / "gus",
        {
            "__MACOSX/ex1_forward.py": "resource fork\n",
            "__MACOSX/hw/ex1_forward.py": "resource fork\n",
            "hw/__MACOSX/ex1_forward.py": "resource fork\n",
            ".ipynb_checkpoints/ex1_forward.ipynb": notebook(code("checkpoint = 1")),
            ".git/ex1_forward.py": "git object\n",
            ".hidden/deep/ex2_backward.py": "hidden\n",
            "._ex1_forward.py": b"\x00\x05\x16\x07AppleDouble",
            "hw/deeper/ex1_forward.py": "real = 1\n",
        },
    )
    result = load(folder)
    assert result.sources == {"ex1_forward": "real = 1\n"}
    assert result.notes == (
        "skipped without reading: .git (git history), .hidden (hidden folder), "
        ".ipynb_checkpoints (notebook backups), __MACOSX (macOS zip metadata), "
        "hw/__MACOSX (macOS zip metadata)",
    )
    assert "ex2_backward" in result.problems


def test_a_missing_exercise_names_the_expected_files(tmp_path):
    folder = write(
        tmp_path / "hal",
        {
            "ex1_forward.py": "x = 1\n",
            "ex2_backward_v2.py": "close, but no\n",
            "ex2_backward (1).py": "close, but no\n",
            "ex2_backward.py.txt": "close, but no\n",
            "ex2_backward.txt": "close, but no\n",
        },
    )
    result = load(folder)
    assert list(result.sources) == ["ex1_forward"]
    problem = result.problems["ex2_backward"]
    assert "ex2_backward.py" in problem and "ex2_backward.ipynb" in problem


def test_an_empty_folder_misses_every_exercise(tmp_path):
    (tmp_path / "ivy").mkdir()
    result = load(tmp_path / "ivy")
    assert result.sources == {}
    assert set(result.problems) == set(EXERCISES)


def test_an_empty_file_is_an_empty_source(tmp_path):
    folder = write(tmp_path / "jan", {"ex1_forward.py": "", "ex2_backward.py": b"\xef\xbb\xbf"})
    result = load(folder)
    assert result.sources == {"ex1_forward": "", "ex2_backward": ""}
    assert result.problems == {}


def test_a_utf8_byte_order_mark_is_dropped(tmp_path):
    folder = write(tmp_path / "kim", {"ex1_forward.py": "\ufeffπ = 3.14\n".encode()})
    assert load(folder, ["ex1_forward"]).sources == {"ex1_forward": "π = 3.14\n"}


@pytest.mark.parametrize(
    "data",
    [b"x = '\xe9t\xe9'\n", "x = 1\n".encode("utf-16"), b"\xff\xfe\xfd"],
    ids=["latin-1", "utf-16", "garbage"],
)
def test_a_file_that_is_not_utf8_is_a_problem(tmp_path, data):
    folder = write(tmp_path / "lee", {"sub/ex1_forward.py": data, "ex2_backward.py": "ok = 1\n"})
    result = load(folder)
    assert result.sources == {"ex2_backward": "ok = 1\n"}
    problem = result.problems["ex1_forward"]
    assert "UTF-8" in problem and "sub/ex1_forward.py" in problem


def test_a_file_with_nul_bytes_is_a_problem(tmp_path):
    folder = write(tmp_path / "max", {"ex1_forward.py": b"x = 1\n\x00\x00\x00"})
    problem = load(folder, ["ex1_forward"]).problems["ex1_forward"]
    assert "NUL" in problem and "ex1_forward.py" in problem


def test_a_notebook_with_nul_bytes_is_a_problem(tmp_path):
    folder = write(tmp_path / "nan", {"ex1_forward.ipynb": b'{"cells": []}\x00'})
    assert "NUL" in load(folder, ["ex1_forward"]).problems["ex1_forward"]


def test_a_file_over_the_size_limit_is_a_problem(tmp_path):
    folder = write(
        tmp_path / "ola",
        {"ex1_forward.py": b"#" * (MAX_FILE_BYTES + 1), "ex2_backward.py": b"#" * MAX_FILE_BYTES},
    )
    result = load(folder)
    assert "larger than" in result.problems["ex1_forward"]
    assert result.sources["ex2_backward"] == "#" * MAX_FILE_BYTES  # the limit itself is fine


def test_the_size_limit_is_read_when_loading(tmp_path, monkeypatch):
    monkeypatch.setattr(submission_module, "MAX_FILE_BYTES", 10)
    folder = write(tmp_path / "pam", {"ex1_forward.py": "x = 12345\n", "ex2_backward.py": "y" * 11})
    result = load(folder)
    assert result.sources == {"ex1_forward": "x = 12345\n"}
    assert "larger than" in result.problems["ex2_backward"]


def test_a_symlink_to_a_secret_file_is_not_followed(tmp_path):
    secret = tmp_path / "solutions" / "ex1_forward.py"
    write(tmp_path / "solutions", {"ex1_forward.py": SECRET})
    folder = write(tmp_path / "quinn", {"ex2_backward.py": "y = 2\n"})
    (folder / "ex1_forward.py").symlink_to(secret)
    (folder / "hw").mkdir()
    (folder / "hw" / "ex2_backward.py").symlink_to(secret)
    (folder / "ex2_backward.ipynb").symlink_to(secret)
    result = load(folder, watch=tmp_path)
    assert SECRET not in repr(result)
    assert result.sources == {"ex2_backward": "y = 2\n"}
    assert "ex1_forward" in result.problems
    assert result.notes == ()  # the links are not even candidates


def test_a_symlink_is_ignored_in_favour_of_a_real_deeper_copy(tmp_path):
    write(tmp_path, {"secret.py": SECRET})
    folder = write(tmp_path / "rae", {"deep/er/ex1_forward.py": "mine = 1\n"})
    (folder / "ex1_forward.py").symlink_to(tmp_path / "secret.py")
    result = load(folder, ["ex1_forward"], watch=tmp_path)
    assert result.sources == {"ex1_forward": "mine = 1\n"}
    assert SECRET not in repr(result)


def test_a_relative_symlink_inside_the_submission_is_not_followed_either(tmp_path):
    folder = write(tmp_path / "sam", {"notes.txt": SECRET})
    (folder / "ex1_forward.py").symlink_to("notes.txt")
    result = load(folder, ["ex1_forward"])
    assert "ex1_forward" in result.problems and SECRET not in repr(result)


def test_a_symlinked_directory_is_not_followed(tmp_path):
    write(tmp_path / "outside", {"ex1_forward.py": SECRET, "deep/ex2_backward.py": SECRET})
    folder = tmp_path / "tia"
    folder.mkdir()
    (folder / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    (folder / "root").symlink_to("/", target_is_directory=True)
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    result = load(folder, watch=tmp_path)
    assert result.sources == {}
    assert set(result.problems) == set(EXERCISES)
    assert SECRET not in repr(result)


def test_dangling_links_and_special_files_are_skipped(tmp_path):
    folder = tmp_path / "uma"
    folder.mkdir()
    (folder / "ex1_forward.py").symlink_to(tmp_path / "does-not-exist.py")
    os.mkfifo(folder / "ex2_backward.py")  # opening it would block forever
    result = load(folder)
    assert result.sources == {}
    assert set(result.problems) == set(EXERCISES)


def test_a_folder_with_too_many_files_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(submission_module, "MAX_WALK_FILES", 5)
    folder = write(tmp_path / "vic", {f"junk/{i}.txt": "" for i in range(6)})
    write(folder, {"ex1_forward.py": "x = 1\n"})
    result = load(folder)
    assert result.sources == {}
    assert all("more than 5 files" in reason for reason in result.problems.values())


def test_an_unreadable_file_is_a_problem(tmp_path, monkeypatch):
    # Permissions cannot stop root, so the refusal is simulated where the file is opened.
    folder = write(tmp_path / "vera", {"ex1_forward.py": "x = 1\n", "ex2_backward.py": "y\n"})
    real_open = Path.open

    def refuse(self, *args, **kwargs):
        if self.name == "ex1_forward.py":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    result = load(folder)
    assert "ex1_forward" in result.problems and result.sources == {"ex2_backward": "y\n"}


def test_a_path_that_is_neither_a_folder_nor_a_zip_is_a_problem(tmp_path):
    for path in (tmp_path / "missing", write(tmp_path, {"wen.tar": b"tar"}) / "wen.tar"):
        result = load(path)
        assert result.sources == {}
        assert set(result.problems) == set(EXERCISES)
        assert all("could not be read" in reason for reason in result.problems.values())


# ---- zip files ---------------------------------------------------------------------------


def test_a_zip_with_files_at_the_top(tmp_path):
    archive = make_zip(
        tmp_path / "xena.zip", {"ex1_forward.py": "a = 1\n", "ex2_backward.py": "b = 2\n"}
    )
    result = load(archive)
    assert result.student == "xena"
    assert result.sources == {"ex1_forward": "a = 1\n", "ex2_backward": "b = 2\n"}
    assert result.problems == {} and result.notes == ()


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2])
def test_a_zip_with_nested_files_and_folder_entries(tmp_path, method):
    archive = tmp_path / "yuri.zip"
    with zipfile.ZipFile(archive, "w", method) as zipped:
        zipped.writestr("yuri/", "")
        zipped.writestr("yuri/hw/", "")
        zipped.writestr("yuri/hw/ex1_forward.py", "nested = 1\n")
        zipped.writestr("yuri/ex1_forward.py", "top = 1\n")
        zipped.writestr("__MACOSX/yuri/ex2_backward.py", "fork")
        zipped.writestr("yuri/.ipynb_checkpoints/ex2_backward.ipynb", notebook(code("c = 1")))
        zipped.writestr("yuri/a/b/c/ex2_backward.ipynb", notebook(code("deep = 2")))
    result = load(archive)
    assert result.sources == {"ex1_forward": "top = 1\n", "ex2_backward": "deep = 2\n"}
    assert result.notes == (
        "ex1_forward: graded yuri/ex1_forward.py; also found yuri/hw/ex1_forward.py (ignored)",
        "skipped without reading: __MACOSX (macOS zip metadata), "
        "yuri/.ipynb_checkpoints (notebook backups)",
    )


def test_a_zip_with_windows_backslash_names(tmp_path):
    archive = make_zip(
        tmp_path / "zoe.zip",
        {
            "zoe\\hw\\ex1_forward.py": "win = 1\n",
            "zoe\\ex2_backward.py": "win = 2\n",
            "zoe\\deeper\\still\\ex2_backward.py": "ignored\n",
            "__MACOSX\\ex1_forward.py": "fork",
        },
    )
    result = load(archive)
    assert result.sources == {"ex1_forward": "win = 1\n", "ex2_backward": "win = 2\n"}
    assert result.notes == (
        "ex2_backward: graded zoe/ex2_backward.py; also found zoe/deeper/still/ex2_backward.py "
        "(ignored)",
        "skipped without reading: __MACOSX (macOS zip metadata)",
    )


def test_a_zip_with_absolute_names_is_read_in_memory(tmp_path):
    archive = make_zip(tmp_path / "abe.zip", {"/ex1_forward.py": "abs = 1\n"})
    assert load(archive, ["ex1_forward"], watch=tmp_path).sources == {"ex1_forward": "abs = 1\n"}


@pytest.mark.parametrize(
    "names",
    [
        ["../../evil/ex1_forward.py"],
        ["..\\..\\evil\\ex1_forward.py"],
        ["deep/../../../evil/ex1_forward.py"],
        ["../ex1_forward.py", "../../../ex2_backward.py"],
    ],
    ids=["dotdot", "backslash-dotdot", "inner-dotdot", "both"],
)
def test_path_traversal_names_write_nothing(tmp_path, names):
    archive = make_zip(
        tmp_path / "one" / "two" / "three" / "eve.zip",
        {name: "evil = 1\n" for name in names},
    )
    result = load(archive, watch=tmp_path)  # ../../evil would land inside tmp_path
    assert not (tmp_path / "one" / "evil").exists() and not (tmp_path / "evil").exists()
    for exercise in EXERCISES:  # never used from outside the submission's tree
        assert exercise in result.problems or result.sources[exercise] == "evil = 1\n"


def test_a_traversal_name_does_not_shadow_the_real_file(tmp_path):
    archive = make_zip(
        tmp_path / "fin.zip",
        {"../ex1_forward.py": "evil = 1\n", "fin/hw/ex1_forward.py": "mine = 1\n"},
    )
    result = load(archive, ["ex1_forward"], watch=tmp_path)
    assert result.sources == {"ex1_forward": "mine = 1\n"}


def test_a_zip_symlink_member_is_not_followed(tmp_path):
    write(tmp_path, {"secret.py": SECRET})
    archive = tmp_path / "gil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        link = zipfile.ZipInfo("ex1_forward.py")
        link.create_system = 3  # unix
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zipped.writestr(link, str(tmp_path / "secret.py"))
    result = load(archive, ["ex1_forward"], watch=tmp_path)
    assert SECRET not in repr(result)
    assert result.sources.get("ex1_forward") in (None, str(tmp_path / "secret.py"))


def test_a_zip_member_over_the_size_limit_is_a_problem(tmp_path):
    zeros = bytes(3 * 1024 * 1024)  # compresses to a few KiB
    archive = make_zip(tmp_path / "hub.zip", {"ex1_forward.py": zeros, "ex2_backward.py": "ok\n"})
    assert archive.stat().st_size < 100_000
    result = load(archive)
    assert "larger than" in result.problems["ex1_forward"]
    assert result.sources == {"ex2_backward": "ok\n"}


def test_a_zip_member_over_a_small_limit_is_a_problem(tmp_path, monkeypatch):
    monkeypatch.setattr(submission_module, "MAX_FILE_BYTES", 1024)
    archive = make_zip(
        tmp_path / "ian.zip", {"ex1_forward.py": bytes(3 * 1024 * 1024), "ex2_backward.py": "ok\n"}
    )
    result = load(archive)
    assert "larger than" in result.problems["ex1_forward"]
    assert result.sources == {"ex2_backward": "ok\n"}


def test_a_zip_member_whose_declared_size_lies_is_a_problem(tmp_path, monkeypatch):
    monkeypatch.setattr(submission_module, "MAX_FILE_BYTES", 1024)
    archive = make_zip(tmp_path / "jay.zip", {"ex1_forward.py": b"#" * (3 * 1024 * 1024)})
    patch_central_directory(archive, 24, "<I", 10)  # "uncompressed size: 10 bytes"
    with zipfile.ZipFile(archive) as zipped:
        assert zipped.getinfo("ex1_forward.py").file_size == 10
    result = load(archive, ["ex1_forward"])
    assert "ex1_forward" in result.problems and result.sources == {}


def test_an_encrypted_zip_member_is_a_problem(tmp_path):
    archive = make_zip(tmp_path / "kay.zip", {"ex1_forward.py": "x = 1\n"})
    patch_central_directory(archive, 8, "<H", 0x1)  # "encrypted"
    result = load(archive, ["ex1_forward"])
    assert "cannot be read from the zip" in result.problems["ex1_forward"]


def test_an_unsupported_compression_method_is_a_problem(tmp_path):
    archive = make_zip(tmp_path / "lou.zip", {"ex1_forward.py": "x = 1\n" * 100})
    patch_central_directory(archive, 10, "<H", 9)  # Deflate64, as Windows and 7-Zip write
    result = load(archive, ["ex1_forward"])
    assert "cannot be read from the zip" in result.problems["ex1_forward"]


def test_a_bad_crc_is_a_problem(tmp_path):
    archive = make_zip(
        tmp_path / "mo.zip", {"ex1_forward.py": "x = 1\n", "ex2_backward.py": "y = 2\n"}
    )
    patch_central_directory(archive, 16, "<I", 0xDEADBEEF)  # the first member's CRC-32
    result = load(archive)
    assert "cannot be read from the zip" in result.problems["ex1_forward"]
    assert result.sources == {"ex2_backward": "y = 2\n"}


def test_a_corrupt_deflate_stream_is_a_problem(tmp_path):
    archive = make_zip(tmp_path / "ned.zip", {"ex1_forward.py": "x = 1\n" * 1000})
    data = bytearray(archive.read_bytes())
    start = 30 + len("ex1_forward.py")  # the member's compressed bytes
    data[start : start + 20] = bytes(b ^ 0xFF for b in data[start : start + 20])
    archive.write_bytes(bytes(data))
    result = load(archive, ["ex1_forward"])
    assert "ex1_forward" in result.problems


@pytest.mark.parametrize(
    "data",
    [
        random.Random(0).randbytes(4096),
        b"",
        b"PK\x03\x04" + bytes(100),
        b"PK\x05\x06" + bytes(18),  # an empty archive's end record only
    ],
    ids=["random", "empty", "local-header-only", "end-record-only"],
)
def test_a_corrupt_zip_is_a_problem_for_every_exercise(tmp_path, data):
    archive = tmp_path / "oz.zip"
    archive.write_bytes(data)
    result = load(archive)
    assert result.student == "oz"
    assert result.sources == {}
    assert set(result.problems) == set(EXERCISES)


def test_a_truncated_zip_is_a_problem_for_every_exercise(tmp_path):
    archive = make_zip(tmp_path / "pia.zip", {"ex1_forward.py": "x = 1\n" * 100})
    archive.write_bytes(archive.read_bytes()[:-30])
    result = load(archive)
    assert result.sources == {} and set(result.problems) == set(EXERCISES)


def test_a_zip_with_too_many_members_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(submission_module, "MAX_ZIP_MEMBERS", 3)
    many = make_zip(
        tmp_path / "quo.zip", {f"junk{i}.txt": "" for i in range(3)} | {"ex1_forward.py": ""}
    )
    result = load(many)
    assert result.sources == {}
    assert all("more than 3 files" in reason for reason in result.problems.values())
    enough = make_zip(tmp_path / "ray.zip", {"a.txt": "", "ex1_forward.py": "x\n", "b.txt": ""})
    assert load(enough).sources == {"ex1_forward": "x\n"}


def test_a_folder_named_like_a_zip_is_read_as_a_folder(tmp_path):
    folder = write(tmp_path / "sue.zip", {"ex1_forward.py": "x = 1\n"})
    result = load(folder, ["ex1_forward"])
    assert result.student == "sue" and result.sources == {"ex1_forward": "x = 1\n"}


# ---- notebooks ---------------------------------------------------------------------------


def test_notebook_code_cells_are_joined_in_order():
    text = notebook(
        markdown("# Exercise 1\nWrite `f`."),
        code("import torch"),
        {"cell_type": "raw", "metadata": {}, "source": "raw text"},
        code(["def f(x):\n", "    return x + 1\n"]),
        markdown("done?"),
        code("y = f(1)\n"),
    )
    assert notebook_source(text) == "import torch\n\ndef f(x):\n    return x + 1\n\ny = f(1)\n"


def test_notebook_magics_and_shell_escapes_become_comments():
    text = notebook(
        code(["%matplotlib inline\n", "import torch\n", "!pip install numpy\n"]),
        code("%%time\nx = 1\n  !ls -l\nif x:\n    %timeit f()\n    y = 'a % b'\nz = x != 2"),
    )
    assert notebook_source(text) == (
        "# %matplotlib inline\nimport torch\n# !pip install numpy\n\n"
        "# %%time\nx = 1\n#   !ls -l\nif x:\n#     %timeit f()\n    y = 'a % b'\nz = x != 2\n"
    )


def test_a_continuation_line_starting_with_an_operator_is_kept():
    source = "ok = (1\n      != 2)\nrest = (7\n        % 4)\n"
    assert notebook_source(notebook(code(source))) == source


def test_nbgrader_autograder_cells_are_left_out():
    text = notebook(
        code("solution = 1", grade=False, solution=True),
        code("assert solution == 1", grade=True, solution=False),
        code("both = 1", grade=True, solution=True),
        code("readonly = 1", grade=False, solution=False, locked=True),
        code("assert hidden", grade=True),
        code("plain = 1"),
    )
    assert notebook_source(text) == "solution = 1\n\nboth = 1\n\nreadonly = 1\n\nplain = 1\n"


def test_notebook_source_may_be_a_string_or_a_list():
    as_string = notebook(code("a = 1\nb = 2\n"))
    as_list = notebook(code(["a = 1\n", "b = 2\n"]))
    assert notebook_source(as_string) == notebook_source(as_list) == "a = 1\nb = 2\n"


def test_odd_but_valid_cells_are_skipped_quietly():
    text = json.dumps(
        {
            "cells": [
                "not a cell",
                None,
                {"cell_type": "code"},  # no source
                {"cell_type": "code", "source": 42},
                {"cell_type": "code", "source": ["x = 1\n", None, 7, "y = 2"]},
                {"cell_type": "code", "metadata": {"nbgrader": "odd"}, "source": "z = 3"},
            ]
        }
    )
    assert notebook_source(text) == "\n\nx = 1\ny = 2\n\nz = 3\n"


def test_an_empty_notebook_is_an_empty_module():
    assert notebook_source(notebook()).strip() == ""
    assert notebook_source(notebook(markdown("only prose"))).strip() == ""


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "not json at all",
        "[" * 100_000,
        '{"nbformat": 4}',
        '{"cells": {"0": {}}}',
        '{"cells": null}',
        "[]",
        '"cells"',
    ],
    ids=[
        "empty",
        "unclosed",
        "prose",
        "deep",
        "no-cells",
        "cells-dict",
        "cells-null",
        "list",
        "str",
    ],
)
def test_a_notebook_that_is_not_a_notebook_is_a_problem(tmp_path, text):
    with pytest.raises(ValueError, match="not a valid notebook"):
        notebook_source(text)
    folder = write(tmp_path / "tom", {"ex1_forward.ipynb": text})
    problem = load(folder, ["ex1_forward"]).problems["ex1_forward"]
    assert "not a valid notebook" in problem and "ex1_forward.ipynb" in problem


@pytest.mark.parametrize("metadata", [None, [], "x"], ids=["null", "list", "str"])
def test_a_cell_with_odd_metadata_does_not_crash(tmp_path, metadata):
    text = json.dumps({"cells": [{"cell_type": "code", "metadata": metadata, "source": "x = 1"}]})
    folder = write(tmp_path / "una", {"ex1_forward.ipynb": text})
    result = load(folder, ["ex1_forward"])
    assert result.sources.get("ex1_forward", "x = 1\n") == "x = 1\n"


def test_notebooks_in_a_zip_and_a_folder_give_the_same_source(tmp_path):
    text = notebook(markdown("hi"), code("%pip install x"), code(["def f():\n", "    return 1"]))
    expected = "# %pip install x\n\ndef f():\n    return 1\n"
    folder = write(tmp_path / "val", {"hw/ex1_forward.ipynb": text})
    archive = make_zip(tmp_path / "val.zip", {"val/hw/ex1_forward.ipynb": text})
    assert load(folder, ["ex1_forward"]).sources == {"ex1_forward": expected}
    assert load(archive, ["ex1_forward"]).sources == {"ex1_forward": expected}


# ---- student ids ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("class/alice", "alice"),
        ("class/bob.zip", "bob"),
        ("class/carol.smith.zip", "carol.smith"),
        ("class/dave.tar.gz", "dave.tar.gz"),
        ("class/erin.zip.zip", "erin.zip"),
        ("/abs/path/to/frank", "frank"),
    ],
)
def test_student_id(path, expected):
    assert student_id(Path(path)) == expected


def test_the_submission_carries_the_student_id(tmp_path):
    folder = write(tmp_path / "walt", {"ex1_forward.py": ""})
    archive = make_zip(tmp_path / "walt2.zip", {"ex1_forward.py": ""})
    assert load(folder).student == "walt"
    assert load(archive).student == "walt2"


# ---- folders that are never a submission --------------------------------------------------


NEVER_SUBMITTED = {
    "env/pyvenv.cfg": "home = /usr/bin\n",  # a virtual environment under any name
    "env/ex1_forward.py": "venv copy\n",  # shallower than the real one: must not win
    "hw/lib/site-packages/ex2_backward.py": "installed\n",
    "node_modules/ex1_forward.py": "js\n",
    "__pycache__/ex2_backward.py": "cache\n",
} | {f"env/lib/junk{i}.py": "" for i in range(10)}


def test_never_submitted_folders_are_skipped_unread_and_noted(tmp_path, monkeypatch):
    monkeypatch.setattr(submission_module, "MAX_WALK_FILES", 5)  # the 14 skipped files don't count
    folder = write(
        tmp_path / "ada",
        NEVER_SUBMITTED | {"hw/sub/ex1_forward.py": "real = 1\n", "hw/ex2_backward.py": "r = 2\n"},
    )
    result = load(folder)
    assert result.sources == {"ex1_forward": "real = 1\n", "ex2_backward": "r = 2\n"}
    assert result.notes == (
        "skipped without reading: __pycache__ (Python cache), env (virtual environment), "
        "hw/lib/site-packages (installed packages), node_modules (JavaScript packages)",
    )


def test_a_zip_skips_never_submitted_folders_before_counting(tmp_path, monkeypatch):
    monkeypatch.setattr(submission_module, "MAX_ZIP_MEMBERS", 3)
    archive = make_zip(
        tmp_path / "bea.zip",
        {f"bea/{name}": content for name, content in NEVER_SUBMITTED.items()}
        | {"bea/hw/sub/ex1_forward.py": "real = 1\n", "bea/hw/ex2_backward.py": "r = 2\n"},
    )
    result = load(archive)
    assert result.sources == {"ex1_forward": "real = 1\n", "ex2_backward": "r = 2\n"}
    assert result.notes == (
        "skipped without reading: bea/__pycache__ (Python cache), bea/env (virtual environment), "
        "bea/hw/lib/site-packages (installed packages), bea/node_modules (JavaScript packages)",
    )


def test_a_folder_still_too_big_names_its_largest_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(submission_module, "MAX_WALK_FILES", 10)
    files = {f"cy/data/{i}.csv": "" for i in range(8)} | {f"cy/runs/{i}.log": "" for i in range(4)}
    files |= {
        "cy/figs/a.png": "",
        "cy/figs/b.png": "",
        "cy/notes/n.txt": "",
        "cy/ex1_forward.py": "",
    }
    result = load(write(tmp_path / "cal", files))
    assert result.sources == {}
    assert result.problems["ex1_forward"] == (
        "the submission could not be read (ValueError: more than 10 files; the largest folders "
        "are cy/data/ (8 files), cy/runs/ (4 files), cy/figs/ (2 files): remove them, hand in "
        "only your exercise files)"
    )


def test_a_zip_still_too_big_names_its_largest_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(submission_module, "MAX_ZIP_MEMBERS", 10)
    files = {f"data/{i}.csv": "" for i in range(8)} | {f"runs/{i}.log": "" for i in range(4)}
    result = load(make_zip(tmp_path / "dee.zip", files | {"ex1_forward.py": ""}))
    assert result.problems["ex1_forward"] == (
        "the submission could not be read (ValueError: the zip holds more than 10 files; the "
        "largest folders are data/ (8 files), runs/ (4 files): remove them, hand in only your "
        "exercise files)"
    )
