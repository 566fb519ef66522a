"""`mmdoctor rollback`: put an environment back as the last install or fix found it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mmdoctor.commands.interaction import Interaction
from mmdoctor.errors import ExitCode
from mmdoctor.install import execute
from mmdoctor.install.outcome import RolledBack
from mmdoctor.install.state import EnvState
from mmdoctor.probe.collect import read_target
from mmdoctor.result import Result
from mmdoctor.target import choose_interpreter


@dataclass(frozen=True)
class RollbackOptions:
    python: str | None = None
    venv: Path | None = None
    system: bool = False
    index_url: str | None = None
    find_links: Sequence[str] = ()


def run(options: RollbackOptions, ui: Interaction) -> Result:
    choice = choose_interpreter(
        python=options.python, venv=options.venv, environ=os.environ, writes=True
    )
    target = read_target(choice, environ=os.environ, timeout=60.0)
    target.require_writable(system=options.system)
    restored, folder, log = execute.rollback(
        target,
        EnvState(target.prefix),
        ui.progress(),
        source_options=execute.source_options(options.index_url, options.find_links),
    )
    status, code = (
        ("restored", ExitCode.OK) if restored.ok else ("not-restored", ExitCode.CANNOT_RUN)
    )
    return Result("rollback", status, code, RolledBack(restored, target.executable, folder, log))
