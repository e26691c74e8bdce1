"""Errors a user can fix: every one is a UserError, which the CLI prints as one line (what is
wrong and how to fix it) and exits with status 2."""


class UserError(Exception):
    """Something the user can fix; the message names it and says how."""


class UsageError(UserError, ValueError):
    """The command line names something that is not there; the message says what."""


class IsolationMissing(UserError):
    """--require-isolation was given and the host lacks a protection layer."""


class WorkerFailed(UserError):
    """A batch worker could not start (it printed why)."""
