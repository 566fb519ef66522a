"""Re-run every `$ [VAR=value ...] mmdoctor ...` command of an examples page, rewrite its output.

    python scripts/regen_examples.py docs/install-examples.md --shown '~/venvs/mm=VENV'
    python scripts/regen_examples.py docs/check-examples.md --shown '~/envs=.cache/test-envs' \
        --shown '<stand-in libnvidia-ml>=NVML_DIR' --shown '~/mmdoctor-venv=DEV_VENV'

A `$ cat FILE` line shows a file that an earlier command wrote. Each --shown SHOWN=REAL pair:
the page says SHOWN where the command ran with REAL; commands run with REAL, and their output is
written back with SHOWN. The stand-in NVML library is built by tests/fakes/nvml.py. Output is
stdout then stderr, then `[exit code N]`.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

COMMAND = re.compile(r"^\$ (?:[A-Z_]+=.* )?mmdoctor ")
CAT = re.compile(r"^\$ cat (\S+)$")  # shows a file an earlier command wrote (--export)


def run(command: str, shown: list[tuple[str, str]]) -> str:
    for shown_text, real in shown:
        command = command.replace(shown_text, real)
    words = shlex.split(command)
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "110"}
    env.pop("VIRTUAL_ENV", None)
    while "=" in words[0] and words[0] != "mmdoctor":  # VAR=value prefixes, as a shell reads them
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    done = subprocess.run(
        [sys.executable, "-m", "mmdoctor", *words[1:]],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    text = done.stdout + done.stderr
    for shown_text, real in shown:
        text = text.replace(real, shown_text)
    return f"{text.rstrip()}\n[exit code {done.returncode}]\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("--shown", action="append", default=[], metavar="SHOWN=REAL")
    args = parser.parse_args()
    shown = []
    for pair in args.shown:
        text, real = pair.split("=", 1)
        shown.append((text, str(Path(real).resolve())))
    out: list[str] = []
    in_block = skipping = False
    for line in args.page.read_text().splitlines(keepends=True):
        if line.startswith("```"):
            in_block, skipping = not in_block, False
            out.append(line)
        elif in_block and COMMAND.match(line):
            out += [line, run(line[2:].strip(), shown)]
            skipping = True
        elif in_block and (cat := CAT.match(line.rstrip("\n"))):
            out += [line, Path(cat[1]).read_text()]
            skipping = True
        elif not skipping:
            out.append(line)
    args.page.write_text("".join(out))


if __name__ == "__main__":
    main()
