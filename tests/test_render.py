"""Redaction, and the one subprocess wrapper."""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import pytest
from builders import SITE, env

from mmdoctor import shell
from mmdoctor.redact import redact_credentials, redact_report
from mmdoctor.render.facts import environment_rows
from mmdoctor.render.human import make_console


def test_credentials_in_urls_are_removed() -> None:
    text = (
        "pip install x --index-url https://alice:s3cr3t@pypi.example.com/simple -f http://tok@h/x"
    )
    out = redact_credentials(text)
    assert "alice" not in out and "s3cr3t" not in out and "tok@" not in out
    assert "https://***@pypi.example.com/simple" in out
    assert redact_credentials("https://download.pytorch.org/whl/cu126") == (
        "https://download.pytorch.org/whl/cu126"
    )


def test_a_password_holding_at_signs_is_removed_whole() -> None:
    # userinfo ends at the last "@" of the authority, as urllib.parse reads it
    for url in (
        "https://user:p@ss@host/simple",
        "https://user:p@ss@w@rd@host:8443/simple?x=1",
        "https://tok@en@host",
    ):
        out = redact_credentials(f"pip install -i {url} mmcv")
        assert "p@ss" not in out and "ss@" not in out and "rd@" not in out and "en@" not in out
        assert out.startswith("pip install -i https://***@host"), out
    assert redact_credentials("https://host/path?q=a@b") == "https://host/path?q=a@b"
    assert redact_credentials("mail alice@example.com") == "mail alice@example.com"


def test_report_redaction() -> None:
    text = "GPU 0: A100 (GPU-11111111-2222-3333-4444-555555555555) at /home/alice/venv/bin/python"
    out = redact_report(text, home="/home/alice")
    assert out == "GPU 0: A100 (GPU-<redacted>) at ~/venv/bin/python"
    assert redact_report("/home/alicebob/x", home="/home/alice") == "/home/alicebob/x"


def test_run_captures_and_times() -> None:
    result = shell.run(
        [sys.executable, "-c", "import sys; print('out'); sys.stderr.write('err')"], timeout=30
    )
    assert result.ok and result.stdout == "out\n" and result.stderr_tail == "err"


def test_run_kills_on_timeout_with_children() -> None:
    started = time.monotonic()
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    result = shell.run([sys.executable, "-c", code], timeout=1)
    assert result.timed_out and result.returncode is None
    assert time.monotonic() - started < 15


def test_run_kills_when_output_stops() -> None:
    code = (
        "import time\nfor i in range(3):\n    print(i, flush=True); time.sleep(0.2)\ntime.sleep(60)"
    )
    result = shell.run([sys.executable, "-c", code], timeout=60, idle_timeout=2)
    assert result.timed_out
    assert result.stdout.split() == ["0", "1", "2"]


def test_missing_program() -> None:
    with pytest.raises(shell.CommandNotFound, match="no such file"):
        shell.run(["/nonexistent/program"], timeout=5)


def test_a_shadowed_distribution_is_marked_as_such() -> None:
    # Seen on the H200 run: setuptools 80.9.0 on PYTHONPATH in front of the venv's 81.0.0.
    environment = env(dists=[("setuptools", "80.9.0"), ("setuptools", "81.0.0")])
    rows = [row for row in environment_rows(environment) if row[0] == "setuptools"]
    assert rows == [("setuptools", "80.9.0"), ("setuptools", f"81.0.0 (shadowed, in {SITE})")]


def test_a_failed_install_explains_matched_failures_from_the_knowledge_base(
    tmp_path: Path,
) -> None:
    from mmdoctor.install.execute import InstallOutcome
    from mmdoctor.knowledge import load_knowledge
    from mmdoctor.render.install_out import render_outcome

    outcome = InstallOutcome(
        job="install",
        status="rolled-back",
        steps=(),
        failure="step 3 failed (exit 1)",
        failure_lines=("ModuleNotFoundError: No module named 'pkg_resources'",),
        known_failures=("pkg-resources-removed-mmcv-build",),
        restore=None,
        log_path=tmp_path / "install.log",
        snapshot_path=tmp_path / "snapshot",
        check_status=None,
    )
    out = io.StringIO()
    render_outcome(outcome, make_console(out), "/venv/bin/python")
    entry = load_knowledge().get("pkg-resources-removed-mmcv-build")
    assert entry is not None
    text = out.getvalue()
    assert f"Known failure pkg-resources-removed-mmcv-build: {entry.title}" in text
    assert f"Fix: {entry.fix_text}" in text
