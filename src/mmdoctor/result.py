"""The one thing every command returns: what it did, in one word and one exit code, and the
data the renderers show (render/emit.py: rich for people, the JSON envelope for tools)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from mmdoctor.errors import Declined, ExitCode, describe, is_internal

SCHEMA = "mmdoctor/result/v1"


class Body(Protocol):
    """What a command found or did: it knows its own JSON keys (`verbose`: the runners-up and
    rejections too, where a body has them)."""

    def to_dict(self, verbose: bool = False) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Failed:
    """The body of a command that could not do its job: one line, said on stderr. `kind`:
    "error" (expected: bad input, could not run, Ctrl-C), "internal" (a bug: --debug shows its
    traceback) or "declined" (the question was answered no)."""

    message: str
    kind: str = "error"

    def to_dict(self, verbose: bool = False) -> dict[str, Any]:
        return {}  # the envelope's `errors` says it


@dataclass(frozen=True)
class Result:
    command: str  # "check", "install", ... as typed on the command line
    status: str  # the one word a script reads: "healthy", "planned", "rolled-back", "error", ...
    exit_code: ExitCode
    body: Body  # what the command found or did; render/emit.py renders each kind
    errors: tuple[Any, ...] = ()  # the JSON envelope's `errors`

    @classmethod
    def failure(
        cls, command: str, exit_code: ExitCode, message: str, kind: str = "error"
    ) -> Result:
        """Bad input (exit 2) or mmdoctor could not run (exit 4), and why."""
        error = {"code": int(exit_code), "message": message}
        return cls(command, "error", exit_code, Failed(message, kind), (error,))

    @classmethod
    def of_exception(cls, command: str, exc: BaseException) -> Result:
        """What ended a command early, as its Result: a declined question is no error."""
        code, message = describe(exc)
        if isinstance(exc, Declined):
            return cls(command, "declined", code, Failed(message, "declined"))
        return cls.failure(command, code, message, "internal" if is_internal(exc) else "error")
