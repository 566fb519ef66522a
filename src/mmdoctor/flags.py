"""The flags of the options several commands share, named once: cli_support.py declares them
for Typer, options.py spells option values back as them. No imports: `mmdoctor --help` reads
this."""

from __future__ import annotations

# field -> flag (a flag pair: on/off); the one place each shared option's name is written
FLAGS: dict[str, str | tuple[str, str]] = {
    "cuda": "--cuda",
    "cpu": "--cpu",
    "torch": "--torch",
    "mmdet": "--mmdet",
    "line": "--line",
    "torch_source": "--torch-source",
    "allow_source_build": ("--allow-source-build", "--no-source-build"),
    "installer": "--installer",
    "index_url": "--index-url",
    "torch_index_url": "--torch-index-url",
    "mmcv_base_url": "--mmcv-base-url",
    "find_links": "--find-links",
    "driver": "--driver",
    "gpu_cc": "--gpu-cc",
    "python_version": "--python-version",
    "os_name": "--os",
    "arch": "--arch",
}


def flag(name: str) -> str:
    """The flag of a shared option (the first of a pair)."""
    spelled = FLAGS[name]
    return spelled if isinstance(spelled, str) else spelled[0]


def toggle(name: str) -> str:
    """A shared on/off pair as Typer declares it: "--allow-source-build/--no-source-build"."""
    spelled = FLAGS[name]
    assert isinstance(spelled, tuple), f"{name} is not an on/off pair"
    return "/".join(spelled)
