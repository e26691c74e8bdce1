"""Grading, in the trusted process: load a submission, run the hidden checks as a pytest session
(plugin.py), talk to the student's code only through the sandbox's host side (student.py),
score outcomes into a Grade, and do it for one submission or a whole class."""
