"""The decisive-line fallback (decisive.py) on real logs no known failure matches: one held-out
set per area (tests/data/fallback, from threads no entry uses), and real logs that show no install
failure, which must stay silent (tests/data/silent, and the unrelated samples of data/logs/none).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import REPO

from mmdoctor.decisive import CONFIDENCE, find_decisive
from mmdoctor.diagnose import CONFIDENT, decode_log, match_log
from mmdoctor.knowledge import load_knowledge

DATA = REPO / "tests" / "data"
FALLBACK = yaml.safe_load((DATA / "fallback" / "sources.yaml").read_text(encoding="utf-8"))
SILENT = yaml.safe_load((DATA / "silent" / "sources.yaml").read_text(encoding="utf-8"))
NONE = sorted(p for p in (DATA / "logs" / "none").glob("*.log") if p.stat().st_size)
AREAS = {
    "missing-module",
    "native-library",
    "resolver",
    "environment-refused",
    "gpu-runtime",
    "compiler",
    "build",
    "killed",
}
USED = {source for f in load_knowledge().failures for source in f.sources}


def text_of(path: Path) -> str:
    return decode_log(path.read_bytes(), path.name)


def test_each_set_is_what_its_manifest_says_from_threads_no_entry_uses() -> None:
    for folder, manifest in (("fallback", FALLBACK), ("silent", SILENT)):
        files = {p.name for p in (DATA / folder).glob("*.log")}
        assert files == set(manifest), folder
        for name, row in manifest.items():
            assert row["thread"] not in USED, f"{name}: {row['thread']} is an entry's source"
            owner_repo, number = row["thread"].split("#")
            assert row["source"] == f"https://github.com/{owner_repo}/issues/{number}", name
    assert {name.split(".")[0] for name in FALLBACK} == AREAS, "one log per area at least"


@pytest.mark.parametrize("name", sorted(FALLBACK))
def test_a_log_of_each_area_is_found_with_its_subject(name: str) -> None:
    text = text_of(DATA / "fallback" / name)
    assert not [m.failure.id for m in match_log(text, load_knowledge()) if m.confidence >= 0.5]
    found = find_decisive(text)
    assert found is not None
    assert (found.area, found.subject) == (name.split(".")[0], FALLBACK[name]["subject"])
    assert found.title.startswith("Not a known failure: ")
    assert found.confidence == CONFIDENCE < CONFIDENT
    assert found.lines and found.checks
    numbered = text.split("\n")
    for number, line in found.lines:  # the lines shown are the log's own, by number
        assert numbered[number - 1].strip()[:300] == line


@pytest.mark.parametrize(
    "path",
    [DATA / "silent" / name for name in sorted(SILENT)] + NONE,
    ids=lambda p: p.name,
)
def test_a_log_with_no_install_failure_stays_silent(path: Path) -> None:
    text = text_of(path)
    assert not [m for m in match_log(text, load_knowledge()) if m.confidence >= CONFIDENT]
    assert find_decisive(text) is None


def test_the_lines_shown_are_the_frame_and_the_exception() -> None:
    found = find_decisive(text_of(DATA / "fallback" / "native-library.gaitgraph2-8.log"))
    assert found is not None
    assert [n for n, _ in found.lines] == [15, 17]
    assert found.lines[0][1].startswith('File "/usr/lib/python3.8/ctypes/__init__.py"')
    assert found.lines[1][1].startswith("OSError: ")


def test_a_build_names_the_package_and_the_error_inside_its_output() -> None:
    """uv says `Failed to build` before the build's output, pip after it: either way the build
    is the area, and the exception its output ends in is shown."""
    found = find_decisive(text_of(DATA / "fallback" / "build.dlta-ai-83.log"))
    assert found is not None and found.area == "build"
    shown = " ".join(line for _, line in found.lines)
    assert "No module named 'numpy'" in shown and "build backend returned an error" in shown


def test_the_distribution_of_a_missing_module_is_named() -> None:
    found = find_decisive("ImportError: No module named 'cv2'\n")
    assert found is not None
    assert found.title == (
        "Not a known failure: a Python module is missing "
        "(cv2, from opencv-python (or opencv-python-headless))"
    )
    assert any("pip show opencv-python" in check for check in found.checks)
    submodule = find_decisive("ModuleNotFoundError: No module named 'torch_npu.contrib'\n")
    assert submodule is not None
    assert any(c.startswith("torch_npu.contrib is part of torch_npu") for c in submodule.checks)


def test_a_compile_error_is_the_first_one_even_after_pip_s_summary() -> None:
    """pip's build summary comes last; the first compiler error says why. (A constructed log:
    the real ones are in tests/data/fallback.)"""
    log = (
        "  Building wheel for dcn (setup.py) ... error\n"
        '  src/dcn_cuda.cu(12): error: identifier "THCState" is undefined\n'
        '  src/dcn_cuda.cu(40): error: identifier "THCudaCheck" is undefined\n'
        "  error: command '/usr/local/cuda/bin/nvcc' failed with exit code 1\n"
        "  ERROR: Failed building wheel for dcn\n"
    )
    found = find_decisive(log)
    assert found is not None
    assert (found.area, found.subject) == ("compiler", "src/dcn_cuda.cu")
    assert [n for n, _ in found.lines] == [2, 5]


def test_an_exception_of_the_user_s_own_after_the_last_marker_is_silence() -> None:
    log = (
        "UserWarning: No module named 'tensorboard', logging to text only\n"
        "Traceback (most recent call last):\n"
        '  File "train.py", line 3, in <module>\n'
        "KeyError: 'bbox'\n"
    )
    assert find_decisive(log) is None


# ------------------------------------------------------------------- the CLI


def test_cli_says_not_a_known_failure_and_stays_exit_1(mmdoctor) -> None:
    log = DATA / "fallback" / "resolver.ming-univision-2.log"
    run = mmdoctor("diagnose", str(log))
    assert run.returncode == 1
    assert (
        "Not a known failure: the installer found no versions that fit (mmgw-python) "
        "(resolver, 30%)"
    ) in run.stdout
    assert "  line 5: × No solution found when resolving dependencies:" in run.stdout
    assert "First checks:" in run.stdout and "Nothing known matched." in run.stdout
    doc = mmdoctor("diagnose", str(log), "--json").json()
    assert (doc["status"], doc["exit_code"]) == ("unknown", 1)
    assert doc["decisive"]["area"] == "resolver" and doc["decisive"]["confidence"] == 0.3
    assert doc["decisive"]["lines"][0] == {
        "line": 5,
        "text": "× No solution found when resolving dependencies:",
    }
    assert doc["hint"]


def test_cli_is_silent_on_a_log_with_no_install_failure(mmdoctor) -> None:
    log = DATA / "silent" / "user-keyerror.softteacher-105.log"
    run = mmdoctor("diagnose", str(log))
    assert run.returncode == 1 and "Not a known failure" not in run.stdout
    assert mmdoctor("diagnose", str(log), "--json").json()["decisive"] is None


def test_cli_v_says_what_was_normalised(mmdoctor) -> None:
    log = DATA / "fallback" / "gpu-runtime.genefacepp-192.log"
    assert (
        "Normalised before matching: quote markers" in mmdoctor("diagnose", str(log), "-v").stdout
    )
    assert "Normalised" not in mmdoctor("diagnose", str(log)).stdout
    assert mmdoctor("diagnose", str(log), "--json").json()["normalised"] == ["quote markers"]
