"""Students zip their whole project folder: a virtual environment inside costs nothing."""

import shutil
import zipfile
from pathlib import Path

from tests.helpers import ROOT, SEED, read_results, run_grader

VENV_FILES = 20_500  # over the folder limit of 20000 files, as a real .venv is (26,186)
ZIP_VENV_FILES = 6_000  # over the zip limit of 5000 members


def project_with_venv(folder: Path, files: int) -> Path:
    """The reference solutions in a project folder, next to a `.venv` of many tiny files."""
    shutil.copytree(ROOT / "solutions", folder / "course")
    venv = folder / ".venv"
    packages = venv / "lib" / "python3.11" / "site-packages"
    packages.mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n", encoding="utf-8")
    for i in range(files):
        (packages / f"m{i}.py").touch()
    (packages / "ex1_forward.py").write_text("raise SystemExit('installed copy')\n", "utf-8")
    return folder


def test_a_submission_with_a_venv_inside_gets_full_marks(tmp_path, course):
    submissions = tmp_path / "class"
    project_with_venv(submissions / "folder_student", VENV_FILES)
    zipped = project_with_venv(tmp_path / "zip_student", ZIP_VENV_FILES)
    with zipfile.ZipFile(submissions / "zip_student.zip", "w") as archive:
        for path in sorted(zipped.rglob("*")):
            archive.write(path, path.relative_to(tmp_path).as_posix())
    out = tmp_path / "out"
    done = run_grader("batch", str(submissions), "--out", str(out), "--seed", str(SEED))
    assert done.returncode == 0, done.stderr
    results = read_results(out)
    assert set(results) == {"folder_student", "zip_student"}
    expected_note = {
        "folder_student": "skipped without reading: .venv (virtual environment)",
        "zip_student": "skipped without reading: zip_student/.venv (virtual environment)",
    }
    for student, result in results.items():
        assert result["score"] == course.max_points, [t["output"] for t in result["tests"]]
        assert expected_note[student] in result["extra_data"]["notes"]
