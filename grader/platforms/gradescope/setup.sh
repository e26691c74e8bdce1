#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu 22.04);
# the bundle is already unpacked in /autograder/source. Safe to run again: every step
# either checks first or is a no-op the second time.
set -euo pipefail

SOURCE=/autograder/source
VENV=/opt/course-venv # outside $SOURCE, which becomes readable only by root below
PIP=("$VENV/bin/python" -m pip install --no-cache-dir --disable-pip-version-check)

export DEBIAN_FRONTEND=noninteractive
apt-get update
# libseccomp2 for the sandbox's seccomp layer (usually there already; now certainly).
apt-get install -y python3.11 python3.11-venv libseccomp2

if [ ! -x "$VENV/bin/python" ]; then
    python3.11 -m venv "$VENV"
fi

# PyTorch's CPU build first, from its own index: a plain PyPI torch is a multi-GB CUDA build.
"${PIP[@]}" --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# Editable on purpose: the grader package, its hidden checks (grader/checks/) and the
# reference solutions stay under /autograder/source, which is made readable only by root
# below, instead of being copied into the venv's site-packages, which the sandboxed student
# code must be able to read (it imports torch from there).
"${PIP[@]}" -c "$SOURCE/constraints.txt" -e "$SOURCE"

# Fail the image build now rather than every submission later.
"$VENV/bin/python" -c 'import grader.grading.session, grader.sandbox.confine.apply'

chmod -R go-rwx "$SOURCE"
