"""The one exception type users see: a problem and how to fix it, on one line."""

from __future__ import annotations

from collections.abc import Iterator


class MdesignError(Exception):
    """A user-facing failure.

    ``str(err)`` is a single line naming what went wrong and, after ``" - "``, the fix.
    The CLI prints it as ``mdesign: error: ...`` and exits with status 2.
    """

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = one_line(problem).rstrip(".")
        self.fix = None if fix is None else one_line(fix)
        super().__init__(self.problem + (f" - {self.fix}" if self.fix else ""))


def one_line(text: str) -> str:
    """``text`` with every non-printable character (a newline, NUL, ...) escaped, so that
    a message quoting an untrusted name stays on one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ServerError(MdesignError):
    """The knowledge-base server is missing, dead, unreachable or refuses us."""


class InputError(MdesignError):
    """A file, a design space, a choice or a parameter that cannot be used as given."""


def shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters, ``...`` marking the cut (names in messages)."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def exception_chain(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised while handling (``__context__``), in
    turn: an interruption hides behind the error it caused in the request in flight."""
    while exc is not None:
        yield exc
        exc = exc.__context__
