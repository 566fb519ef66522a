"""The option groups several commands share, declared once: the stack wishes, the package
sources and the what-if machine. A command's options inherit the groups it takes (install
takes all three; fix, matrix, fleet plan and fleet install some), so each group is read by one
function whatever the command (`StackOptions.wishes`, `SourceOptions.sources`,
`WhatIfOptions.what_if`), and spelled back as flags by one (`argv_of`) where a command must hand
them to another mmdoctor (a fleet node's install). Each flag is named once, in flags.py, which
cli_support.py declares for Typer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from mmdoctor.flags import FLAGS, flag
from mmdoctor.planning.machine import WhatIf
from mmdoctor.planning.matrix import Matrix
from mmdoctor.planning.sources import DEFAULT_INSTALLER, Sources, make_sources
from mmdoctor.planning.wishes import Wishes, make_wishes


@dataclass(frozen=True)
class StackOptions:
    """What the plan is to be: --cuda, --cpu, --torch, --mmdet, --line, --torch-source,
    --allow-source-build/--no-source-build."""

    cuda: str | None = None
    cpu: bool = False
    torch: str | None = None
    mmdet: str | None = None
    line: str | None = None
    torch_source: str = "pytorch"
    allow_source_build: bool = True

    def wishes(self, matrix: Matrix) -> Wishes:
        """The wishes, checked against the matrix (exit 2 for one it does not have)."""
        return make_wishes(
            matrix,
            cuda=self.cuda,
            cpu=self.cpu,
            torch=self.torch,
            mmdet=self.mmdet,
            allow_source_build=self.allow_source_build,
            line=self.line,
            torch_source=self.torch_source,
        )


@dataclass(frozen=True)
class SourceOptions:
    """Where packages come from: --installer, --index-url, --torch-index-url,
    --mmcv-base-url, --find-links."""

    installer: str = DEFAULT_INSTALLER
    index_url: str | None = None
    torch_index_url: str | None = None
    mmcv_base_url: str | None = None
    find_links: Sequence[str] = ()

    def sources(self) -> Sources:
        """The sources, checked (exit 2 for a bad installer or URL)."""
        return make_sources(
            installer=self.installer,
            index_url=self.index_url,
            torch_index_url=self.torch_index_url,
            mmcv_base_url=self.mmcv_base_url,
            find_links=self.find_links,
        )


@dataclass(frozen=True)
class WhatIfOptions:
    """Another machine than this one: --driver, --gpu-cc, --python-version, --os, --arch."""

    driver: str | None = None
    gpu_cc: Sequence[str] = ()
    python_version: str | None = None
    os_name: str | None = None
    arch: str | None = None

    def given(self) -> list[str]:
        """The flags of the what-if values given: they describe a machine other than this."""
        return [flag(f.name) for f in fields(WhatIfOptions) if getattr(self, f.name)]

    def what_if(self, matrix: Matrix, *, elsewhere: bool) -> WhatIf:
        """The values, checked (exit 2 for a bad one)."""
        return WhatIf.parse(
            matrix,
            driver=self.driver,
            gpu_cc=self.gpu_cc,
            python_version=self.python_version,
            os_name=self.os_name,
            arch=self.arch,
            elsewhere=elsewhere,
        )


def argv_of(options: object, group: type) -> list[str]:
    """The flags that give `options` the values it has of `group`'s fields (defaults left
    out), for another mmdoctor to parse back the same."""
    out: list[str] = []
    for f in fields(group):
        value, spelled = getattr(options, f.name), FLAGS[f.name]
        if isinstance(spelled, tuple):  # a pair: say it only where it is not the default
            if value != f.default:
                out.append(spelled[0] if value else spelled[1])
        elif isinstance(value, bool):
            out += [spelled] if value else []
        elif isinstance(value, (list, tuple)):
            out += [part for item in value for part in (spelled, str(item))]
        elif value is not None and value != f.default:
            out += [spelled, str(value)]
    return out
