"""The one error type the command line shows to users."""

from __future__ import annotations


class CcendpointError(Exception):
    """A problem the user can act on: what went wrong, and how to fix it.

    ``exit_code`` follows the command line's convention: 2 for a bad name or option given by the
    user, 1 for a problem found in the environment (files, ports, network).
    """

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n{self.hint}"
        return self.message


class UsageError(CcendpointError):
    """A name or option the user gave that does not exist (exit code 2)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, exit_code=2)


class CatalogError(CcendpointError):
    """A catalog file that cannot be loaded: names the file and the path inside it."""

    def __init__(self, source: str, path: str, problem: str) -> None:
        where = f"{source}: {path}: " if path else f"{source}: "
        super().__init__(
            where + problem,
            hint="Fix the catalog file, or remove it to fall back to the bundled catalog.",
            exit_code=1,
        )
        self.source = source
        self.path = path
        self.problem = problem
