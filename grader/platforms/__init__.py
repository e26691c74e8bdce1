"""Platforms: grading where a class already is (nbgrader, Gradescope), with the same sandbox and
checks as ``grader grade``."""
