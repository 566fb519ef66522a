"""`mmdoctor smoke-test`: a real detection in the target, stage by stage."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mmdoctor.commands.interaction import Interaction
from mmdoctor.errors import ExitCode
from mmdoctor.planning.matrix import load_matrix
from mmdoctor.result import Result
from mmdoctor.smoke.run import SmokeOptions, run_smoke


@dataclass(frozen=True)
class SmokeTestOptions(SmokeOptions):
    matrix: Path | None = None


def run(options: SmokeTestOptions, ui: Interaction) -> Result:

    loaded = load_matrix(str(options.matrix) if options.matrix else None)
    report = ui.busy(lambda: run_smoke(options, loaded, os.environ))
    status, code = ("passed", ExitCode.OK) if report.passed else ("failed", ExitCode.PROBLEMS)
    return Result("smoke-test", status, code, report)
