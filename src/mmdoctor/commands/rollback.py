"""`mmdoctor rollback`: put an environment back as the last install or fix found it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mmdoctor.commands.install import choose
from mmdoctor.commands.interaction import Interaction
from mmdoctor.errors import ExitCode, UsageError
from mmdoctor.result import Result

if TYPE_CHECKING:
    from mmdoctor.install.snapshot import Restore


@dataclass(frozen=True)
class RollbackOptions:
    python: str | None = None
    venv: Path | None = None
    system: bool = False
    index_url: str | None = None
    find_links: Sequence[str] = ()


@dataclass(frozen=True)
class RolledBack:
    restore: Restore
    executable: str
    snapshot: Path
    log: Path


def run(options: RollbackOptions, ui: Interaction) -> Result:
    from mmdoctor.install import execute
    from mmdoctor.install.state import EnvState

    if options.venv is not None and not options.venv.exists():
        raise UsageError(f"--venv {options.venv}: no such directory")
    destination = choose(options.python, options.venv, options.system, 60.0)
    restored, folder, log = execute.rollback(
        destination,
        EnvState(destination.prefix),
        ui.progress(),
        source_options=execute.source_options(options.index_url, options.find_links),
    )
    status, code = (
        ("restored", ExitCode.OK) if restored.ok else ("not-restored", ExitCode.CANNOT_RUN)
    )
    return Result(
        "rollback", status, code, RolledBack(restored, destination.executable, folder, log)
    )
