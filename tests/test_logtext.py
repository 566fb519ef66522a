"""Normalising a pasted log before matching (logtext.py): each step on real text, the line count
kept (evidence line numbers are the pasted log's), and no step changing logs that need none."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from conftest import REPO

from mmdoctor.diagnose import CONFIDENT, match_log
from mmdoctor.knowledge import load_knowledge
from mmdoctor.logtext import REWRAP_MAX_CHARS, normalise

LOGS = REPO / "tests" / "data" / "logs"
PROSE = REPO / "tests" / "data" / "prose"
SAMPLES = sorted(LOGS.glob("*.log"))


def top(text: str) -> tuple[str, tuple[int, ...]]:
    """The first confident match of a text and the line numbers of its evidence."""
    found = [m for m in match_log(text, load_knowledge()) if m.confidence >= CONFIDENT]
    assert found, "nothing confident"
    return found[0].failure.id, tuple(n for n, _ in found[0].evidence)


def raw(path: Path) -> str:
    return path.read_text(encoding="utf-8").replace("\r\n", "\n")


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_every_step_keeps_the_number_of_lines(path: Path) -> None:
    text = raw(path)
    assert normalise(text).text.count("\n") == text.count("\n")


def test_no_shipped_sample_is_re_wrapped() -> None:
    """Joining lines is for messages a client broke; a program's own log has none of those."""
    for path in SAMPLES:
        assert "re-wrapped lines" not in normalise(raw(path)).applied, path.name


SAMPLE = LOGS / "libgl-missing.log"  # a traceback with quotes, <module> and a shell prompt


def test_html_entities_as_a_web_page_or_an_export_writes_them() -> None:
    text = raw(SAMPLE)
    escaped = html.escape(text, quote=True)
    assert "&#x27;" in escaped and "&lt;module&gt;" in escaped
    done = normalise(escaped)
    assert done.applied == ("HTML entities",)
    assert done.text == text
    assert top(escaped) == top(text)


def test_quote_markers_as_a_reply_or_an_e_mail_quotes_a_log() -> None:
    text = raw(SAMPLE)
    quoted = "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))
    done = normalise(quoted)
    assert done.applied == ("quote markers",)
    assert top(quoted) == top(text)


def ids(text: str) -> list[str]:
    return [m.failure.id for m in match_log(text, load_knowledge()) if m.confidence >= CONFIDENT]


@pytest.mark.parametrize(
    ("sample", "paste"),
    [
        # `pip list` lines are matched where they start a line: behind "> " they did not
        (
            "mmcv-and-mmcv-full-coinstalled.log",
            lambda text: "\n".join(f"> {line}" for line in text.split("\n")),
        ),
        # an HTML page or e-mail writes the quotes of No module named 'mmcv._ext' as &#39;
        ("mmcv-ext-missing.log", lambda text: text.replace("'", "&#39;")),
    ],
)
def test_pasted_forms_that_hid_a_known_failure_before(sample: str, paste) -> None:
    text = raw(LOGS / sample)
    pasted = paste(text)
    expected = sample.split(".")[0]
    assert expected not in ids(pasted)  # the patterns alone, on the text as pasted
    assert ids(normalise(pasted).text)[0] == expected


def test_a_code_fence_glued_to_the_first_line() -> None:
    text = raw(SAMPLE)
    first, rest = text.split("\n", 1)
    fenced = f"I get this:\n```{first}\n{rest}```\n"
    done = normalise(fenced)
    assert done.applied == ("Markdown code fences",)
    assert done.text.split("\n")[1] == first
    assert top(fenced)[0] == top(text)[0]


def test_jupyter_gutters_and_ipython_frames() -> None:
    text = raw(LOGS / "numpy2-abi.log")
    done = normalise(text)
    assert "Jupyter gutters" in done.applied
    lines = done.text.split("\n")
    assert (
        'File "~/miniconda3/envs/segman/lib/python3.10/site-packages/mmcv/ops/__init__.py", '
        "line 2, in <module>"
    ) in lines
    assert not any(line.startswith("---->") for line in lines)


def test_a_line_a_chat_client_wrapped_is_joined_and_its_rest_left_empty() -> None:
    text = raw(PROSE / "cuda-forward-compat-unsupported.taskmatrix-379.txt")
    done = normalise(text)
    assert done.applied == ("re-wrapped lines",)
    before, after = text.split("\n"), done.text.split("\n")
    at = next(i for i, line in enumerate(before) if line.endswith("that might have "))
    assert after[at].endswith("might have already set an error? Error 804: forward compatibility "
                              "was attempted on non supported HW")  # fmt: skip
    assert after[at + 1] == ""


def test_a_hanging_indent_is_joined_but_a_compiler_s_next_line_is_not() -> None:
    kohya = normalise(raw(PROSE / "cudnn-version-mismatch.kohya-ss-1096.txt")).text
    assert "One option to resolving this error" in kohya
    gcc = "c++: fatal error: Killed signal terminated program cc1plus\ncompilation terminated.\n"
    assert normalise(gcc).text == gcc


def test_a_big_log_is_not_split_into_lines() -> None:
    """Above REWRAP_MAX_CHARS a log is a program's output: the join is not even tried."""
    wrapped = (
        "RuntimeError: CUDA error: an illegal memory access was encountered in this \nkernel\n"
    )
    assert normalise(wrapped).applied == ("re-wrapped lines",)
    big = wrapped * (REWRAP_MAX_CHARS // len(wrapped) + 1)
    assert normalise(big).applied == ()
