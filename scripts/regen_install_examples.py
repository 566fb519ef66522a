"""Re-run every `$ mmdoctor ...` command in docs/install-examples.md and replace its output.

~/venvs/mm in the page stands for a bare venv; pass one: python scripts/regen_install_examples.py
VENV. Output is stdout then stderr, then `[exit code N]`, as the page shows it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "install-examples.md"
SHOWN = "~/venvs/mm"


def run(command: str, venv: str) -> str:
    argv = [a.replace(SHOWN, venv) for a in shlex.split(command)]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(
        [sys.executable, "-m", "mmdoctor", *argv[1:]], capture_output=True, text=True, env=env
    )
    text = (done.stdout + done.stderr).replace(venv, SHOWN)
    return f"{text.rstrip()}\n[exit code {done.returncode}]\n"


def main() -> None:
    venv = str(Path(sys.argv[1]).resolve())
    lines = PAGE.read_text().splitlines(keepends=True)
    out: list[str] = []
    in_block = False
    skipping = False
    for line in lines:
        if line.startswith("```"):
            in_block = not in_block
            skipping = False
            out.append(line)
            continue
        if in_block and re.match(r"^\$ mmdoctor ", line):
            out.append(line)
            out.append(run(line[2:].strip(), venv))
            skipping = True
            continue
        if not skipping:
            out.append(line)
    PAGE.write_text("".join(out))


if __name__ == "__main__":
    main()
