"""Exit codes and the errors that carry them. The codes are part of mmdoctor's interface."""

from __future__ import annotations

from enum import IntEnum

from mmdoctor.signals import name, signal_of


class ExitCode(IntEnum):
    OK = 0  # healthy / the job was done
    PROBLEMS = 1  # checks found problems (or a smoke-test stage failed)
    USAGE = 2  # usage error or bad input
    ROLLED_BACK = 3  # an install or fix failed and the environment was restored
    CANNOT_RUN = 4  # mmdoctor could not do its job (probe timeout, internal error)
    DECLINED = 5  # the question before a change was answered no: nothing was changed
    HUNG_UP = 129  # SIGHUP, where nothing needed restoring (128 + the signal, as shells say)
    INTERRUPTED = 130  # Ctrl-C outside an install or fix (those roll back: 3), as shells say
    TERMINATED = 143  # SIGTERM (Slurm, CI, systemd, `timeout`), where nothing needed restoring


class MmdoctorError(Exception):
    """An expected failure: printed as one line, no traceback (unless --debug)."""

    exit_code: ExitCode = ExitCode.CANNOT_RUN


class UsageError(MmdoctorError):
    exit_code = ExitCode.USAGE


class Declined(MmdoctorError):
    """The person at the terminal said no (or nothing) to the change: not bad input."""

    exit_code = ExitCode.DECLINED


class BuildBlocked(MmdoctorError):
    """The plan builds mmcv from source, and this machine cannot (nvcc, gcc, Python.h, TMPDIR)."""

    exit_code = ExitCode.PROBLEMS


class ProbeError(MmdoctorError):
    """The target interpreter or the machine could not be probed at all."""

    exit_code = ExitCode.CANNOT_RUN


def is_internal(exc: BaseException) -> bool:
    """An exception mmdoctor did not expect: a bug, whose traceback --debug shows."""
    return not isinstance(exc, (MmdoctorError, KeyboardInterrupt))


def describe(exc: BaseException) -> tuple[ExitCode, str]:
    """The exit code and the one line for an exception that ended a command: its own for an
    MmdoctorError, 130 / 143 / 129 for Ctrl-C / SIGTERM / SIGHUP, 4 for anything unexpected
    (an internal error)."""
    if isinstance(exc, MmdoctorError):
        return exc.exit_code, str(exc)
    if isinstance(exc, KeyboardInterrupt):  # Ctrl-C, SIGTERM, SIGHUP: 128 + the signal
        signum = signal_of(exc)
        return ExitCode(128 + signum), f"interrupted ({name(signum)})"
    return ExitCode.CANNOT_RUN, f"internal error: {type(exc).__name__}: {exc}"
