# Runs inside an interpreter a bare `mmdoctor check` found (probe/discover.py), as
# `python -E -c <this file> NAME,NAME,...`: its version, where it lives, and the versions the
# metadata folders on its sys.path give for those distributions, the first of each name (the
# one an import finds). It imports nothing of the stack, and runs on any Python from 2.7 on
# (standard library only, no newer syntax), so an old interpreter is still named with its
# version. One JSON line on stdout.
import sys

# `-c` puts the working folder first on sys.path: a json.py there must not stand in for json
sys.path[:] = [entry for entry in sys.path if entry not in ("", ".")]

import json  # noqa: E402
import os  # noqa: E402

MYPY = False
if MYPY:  # typing is not imported at run time: Python 2.7 has none
    from typing import Dict, Optional, Set  # noqa: F401


def normal(name):
    # type: (str) -> str
    return name.lower().replace("_", "-").replace(".", "-")


def egg_version(path):
    # type: (str) -> Optional[str]
    """An .egg-info without the version in its name (a develop install): its PKG-INFO's."""
    info = os.path.join(path, "PKG-INFO") if os.path.isdir(path) else path
    try:
        with open(info) as handle:
            for line in handle:
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
    except (IOError, OSError):
        pass
    return None


def versions(wanted):
    # type: (Set[str]) -> Dict[str, Optional[str]]
    found = {}  # type: Dict[str, Optional[str]]
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        try:
            names = os.listdir(entry)
        except OSError:
            continue
        for name in names:
            stem, _, kind = name.rpartition(".")
            if kind not in ("dist-info", "egg-info"):
                continue
            dist, _, rest = stem.partition("-")
            dist = normal(dist)
            if dist not in wanted or dist in found:
                continue
            version = rest.split("-")[0] if rest else egg_version(os.path.join(entry, name))
            found[dist] = version
    return found


def main():
    # type: () -> None
    wanted = set(sys.argv[1].split(",")) if len(sys.argv) > 1 else set()
    base = getattr(sys, "base_prefix", getattr(sys, "real_prefix", sys.prefix))
    record = {
        "version": "%d.%d.%d" % tuple(sys.version_info[:3]),
        "prefix": sys.prefix,
        "venv": base != sys.prefix or hasattr(sys, "real_prefix"),
        "conda": os.path.isdir(os.path.join(sys.prefix, "conda-meta")),
        "packages": versions(wanted),
    }
    sys.stdout.write(json.dumps(record) + "\n")


main()
