"""A plan as a pip requirements file (`install --export FILE`): the same stack without
mmdoctor, with the plan's own build steps where mmcv is built from source.

Credentials are never written: every URL of the file (the mirrors, the torch index, the mmcv
wheel page, find-links) carries `${VAR}` placeholders instead, which pip expands in a
requirements file (and a shell in the build commands quoted in its comments)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from mmdoctor.planning.matrix import Matrix
from mmdoctor.planning.plan import Plan
from mmdoctor.redact import redact_credentials, with_placeholders
from mmdoctor.shell import quote

# each URL the file may name -> (how it is written, the variables it needs)
Urls = Mapping[str, tuple[str, tuple[str, ...]]]


def _urls(plan: Plan) -> Urls:
    """The plan's URLs with their placeholders, named by the option each came from."""
    named = [
        ("INDEX_URL", plan.sources.index_url),
        ("TORCH_INDEX_URL", plan.torch_index_url),
        ("TORCH_FIND_LINKS", plan.torch_find_links),
        ("MMCV_BASE_URL", plan.mmcv_find_links),
        ("MMCV_BASE_URL", plan.sources.mmcv_base_url),
        *((f"FIND_LINKS_{n}", link) for n, link in enumerate(plan.sources.find_links, start=1)),
    ]
    return {url: with_placeholders(url, stem) for stem, url in named if url}


def export_variables(plan: Plan) -> tuple[str, ...]:
    """The variables the exported file needs set: one per credential it does not write."""
    names = (name for _, needed in _urls(plan).values() for name in needed)
    return tuple(dict.fromkeys(names))


def _written(text: str, urls: Urls) -> str:
    for url, (written, _) in sorted(urls.items(), key=lambda item: -len(item[0])):
        text = text.replace(url, written)
    return text


def _shell_word(word: str) -> str:
    """A word of a command to paste: a placeholder stays open to the shell ("..."), anything
    else is quoted as usual (and never carries a credential)."""
    if "${" in word and not re.search(r'["\\`]', word):
        return f'"{word}"'
    return quote(redact_credentials(word))


def _command_line(argv: tuple[str, ...], env: Mapping[str, str], urls: Urls) -> str:
    """A step for a file that may be read in another environment: its `python` there."""
    argv = ("python", *argv[1:]) if argv[0].endswith("python") else argv
    words = [f"{k}={_shell_word(_written(v, urls))}" for k, v in env.items()]
    return " ".join([*words, *(_shell_word(_written(a, urls)) for a in argv)])


def _export_how(plan: Plan, urls: Urls) -> list[str]:
    """How to use the file: in one pip run, or around the plan's own build steps."""
    if plan.mmcv_prebuilt:
        return ["# Install with: python -m pip install -r THIS_FILE"]
    at = next(i for i, s in enumerate(plan.steps) if s.kind == "build")
    build_steps = [s for s in plan.steps[:at] if s.unless_built] + list(plan.steps[at : at + 2])
    return [
        f"# No prebuilt {plan.mmcv_name} exists for this torch: it is built from source, which",
        "# pip cannot do in the same run that installs torch. Install this file first, then",
        "# run the plan's own build and install steps, then mmdet:",
        "#   python -m pip install -r THIS_FILE",
        *(f"#   {_command_line(s.argv, s.env, urls)}" for s in build_steps),
        f"#   python -m pip install {plan.line.mmdet}=={plan.mmdet_version}",
    ]


def _source_lines(plan: Plan, urls: Urls) -> list[str]:
    """Where the packages come from: every URL with its credentials as placeholders."""
    variables = export_variables(plan)
    lines = []
    if variables:
        lines += [
            "# Credentials are not written here: pip expands ${VAR} in this file, so set "
            + ", ".join(variables),
            "# (the user:password or token the URL had, %-encoded as in a URL) before using it.",
        ]
    options = [
        ("--index-url", plan.sources.index_url),
        ("--extra-index-url", plan.torch_index_url),
        ("--find-links", plan.torch_find_links),
        *(("--find-links", link) for link in plan.sources.find_links),
        ("--find-links", None if not plan.mmcv_prebuilt else plan.mmcv_find_links),
    ]
    return lines + [f"{option} {_written(url, urls)}" for option, url in options if url]


def export_requirements(plan: Plan, matrix: Matrix, version: str) -> str:
    """A pip requirements file that installs the same stack without mmdoctor."""
    urls = _urls(plan)
    lines = [
        f"# Written by mmdoctor {version}: {plan.line.mmdet} {plan.mmdet_version} + "
        f"{plan.mmcv_name} {plan.mmcv_version} + torch {plan.torch_version} ({plan.variant}), "
        f"Python {plan.python}, {plan.os}.",
        *_export_how(plan, urls),
    ]
    lines += _source_lines(plan, urls)
    source_build = not plan.mmcv_prebuilt
    if not source_build and plan.line.name == "onedl":  # never the ops-less sdist
        lines.append(f"--only-binary {plan.mmcv_name}")
    for pin in plan.pins:
        if pin.name == "setuptools":
            lines.append(f"{pin.requirement}  # {pin.reason}")
    lines.append("wheel")
    if source_build and matrix.source_builds is not None:  # what the build needs: ninja, psutil
        done = ("setuptools", "wheel")
        lines.extend(r for r in matrix.source_builds.requirements if not r.startswith(done))
    lines.append(plan.torch_requirement)
    lines.append(plan.torchvision_requirement)
    if plan.mmengine_version:
        lines.append(f"{plan.line.mmengine}=={plan.mmengine_version}")
    if not source_build:
        lines.append(f"{plan.mmcv_name}=={plan.mmcv_version}")
        lines.append(f"{plan.line.mmdet}=={plan.mmdet_version}")
    for pin in plan.pins:
        if pin.name != "setuptools":
            lines.append(f"{pin.requirement}  # {pin.reason}")
    return "\n".join(lines) + "\n"
