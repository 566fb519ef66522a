"""Run the commands of an install, fix or rollback: through shell.run, into the log, with each
line passed on to whoever shows progress."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

from mmdoctor import shell, signals
from mmdoctor.install.state import Log

STEP_TIMEOUT = 3 * 3600.0  # a CUDA build of mmcv on a small machine can take hours
IDLE_TIMEOUT = 1800.0  # but not half an hour without a line of output
# A step that is stopped gets SIGINT first, and this long to end as pip ends on Ctrl-C (its
# temporary files cleaned up, no half-written file) before what is left of it is killed.
STOP_GRACE = 20.0


class Runner:
    def __init__(
        self,
        log: Log,
        *,
        extra_env: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        self.log = log
        self.on_line = on_line
        # mmdoctor reads pip's output and shows its own progress; the user's PIP_* stay.
        self.env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONUNBUFFERED": "1"}
        self.env.update(extra_env or {})

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = STEP_TIMEOUT,
        quiet: bool = False,
    ) -> shell.CommandResult:
        """`quiet`: log the command and its outcome, not its output (pip freeze, pip inspect)."""
        self.log.write(f"$ {shell.command_line(argv, env)}")

        def line(text: str) -> None:
            self.log.write(text)
            if self.on_line is not None:
                self.on_line(text)

        try:
            result = shell.run(
                argv,
                timeout=timeout,
                idle_timeout=IDLE_TIMEOUT,
                env=self.env,
                extra_env=env,
                on_line=None if quiet else line,
                grace=STOP_GRACE,
            )
        except shell.CommandNotFound as exc:
            self.log.write(f"! {exc}")
            raise
        except KeyboardInterrupt as exc:
            stopped_by = signals.name(signals.signal_of(exc))
            self.log.write(f"! interrupted ({stopped_by}): the command was stopped")
            raise
        outcome = "timed out" if result.timed_out else f"exit {result.returncode}"
        self.log.write(f"= {outcome} after {result.seconds:.1f} s")
        return result
