"""Authoring: the solutions (one source, ``### BEGIN/END SOLUTION`` regions) become the student's
stubs, notebooks and kit. Never imports the sandbox or grading: making exercises runs no
student code."""
