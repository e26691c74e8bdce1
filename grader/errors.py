"""Errors a user can fix; the CLI prints them as one line and exits with status 2."""


class UsageError(ValueError):
    """The command line names something that is not there; the message says what."""


class IsolationMissing(RuntimeError):
    """--require-isolation was given and the host lacks a protection layer."""


class WorkerFailed(RuntimeError):
    """A batch worker could not start (it printed why)."""
