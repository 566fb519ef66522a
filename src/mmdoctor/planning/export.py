"""A plan as a pip requirements file (`install --export FILE`): the same stack without
mmdoctor, with the plan's own build steps where mmcv is built from source."""

from __future__ import annotations

from collections.abc import Mapping

from mmdoctor.planning.matrix import Matrix
from mmdoctor.planning.plan import Plan
from mmdoctor.shell import command_line


def _command_line(argv: tuple[str, ...], env: Mapping[str, str]) -> str:
    """A step for a file that may be read in another environment: its `python` there."""
    return command_line(("python", *argv[1:]) if argv[0].endswith("python") else argv, env)


def _export_how(plan: Plan) -> list[str]:
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
        *(f"#   {_command_line(s.argv, s.env)}" for s in build_steps),
        f"#   python -m pip install {plan.line.mmdet}=={plan.mmdet_version}",
    ]


def export_requirements(plan: Plan, matrix: Matrix, version: str) -> str:
    """A pip requirements file that installs the same stack without mmdoctor."""
    lines = [
        f"# Written by mmdoctor {version}: {plan.line.mmdet} {plan.mmdet_version} + "
        f"{plan.mmcv_name} {plan.mmcv_version} + torch {plan.torch_version} ({plan.variant}), "
        f"Python {plan.python}, {plan.os}.",
        *_export_how(plan),
    ]
    source_build = not plan.mmcv_prebuilt
    if plan.torch_index_url:
        lines.append(f"--extra-index-url {plan.torch_index_url}")
    if plan.torch_find_links:
        lines.append(f"--find-links {plan.torch_find_links}")
    if not source_build:
        lines.append(f"--find-links {plan.mmcv_find_links}")
        if plan.line.name == "onedl":  # never the ops-less sdist
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
