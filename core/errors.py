"""The one exception type users see: a problem and how to fix it, on one line."""

from __future__ import annotations


class MdesignError(Exception):
    """A user-facing failure.

    ``str(err)`` is a single line naming what went wrong and, after ``" - "``, the fix.
    The CLI prints it as ``mdesign: error: ...`` and exits with status 2.
    """

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem.rstrip(".")
        self.fix = fix
        super().__init__(self.problem + (f" - {fix}" if fix else ""))


class ServerError(MdesignError):
    """The knowledge-base server is missing, dead, unreachable or refuses us."""


class InputError(MdesignError):
    """A file, a design space, a choice or a parameter that cannot be used as given."""
