# Runs INSIDE the target interpreter (python -c), so: standard library only, Python 3.7+ syntax.
# It is never imported by mmdoctor itself; mmdoctor reads this file and hands it to `python -c`.
#
# Protocol: argv[1:] are step names, run in order. For each step it prints, flushed,
#   @@MMDOCTOR {"begin": STEP}
#   @@MMDOCTOR {"step": STEP, "ok": true|false, "data": {...}, "error": "...", "stderr": "..."}
# so that when a step kills or hangs the process, the caller knows which one did, keeps the
# finished steps, and runs the rest again without it. Libraries may print to stdout: only lines
# with the marker count.
import io
import json
import os
import re
import sys
import time
import traceback

MYPY = False
if MYPY:  # typing is not imported at run time: the probe stays tiny and 3.7-safe
    from typing import Any, Callable, Dict, List, Optional, Tuple  # noqa: F401

MARKER = "@@MMDOCTOR "

try:  # a step that kills the interpreter (SIGSEGV in a compiled extension) then says where
    import faulthandler

    faulthandler.enable(sys.__stderr__ or sys.stderr)
except Exception:  # no usable stderr: the crash is still reported, without the place
    pass


def emit(obj):
    # type: (Dict[str, Any]) -> None
    out = sys.__stdout__ or sys.stdout  # the real stdout, even if a library swapped sys.stdout
    out.write(MARKER + json.dumps(obj, sort_keys=True, default=str) + "\n")
    out.flush()


def short_error(exc):
    # type: (BaseException) -> str
    text = "%s: %s" % (type(exc).__name__, exc)
    return text.strip()[:2000]


def last_traceback_lines(limit=12):
    # type: (int) -> str
    lines = traceback.format_exc().strip().splitlines()
    return "\n".join(lines[-limit:])


# ---------------------------------------------------------------- distributions (no imports)


def _normalize(name):
    # type: (str) -> str
    return re.sub(r"[-_.]+", "-", name).lower()


_REQUIRED_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _read_metadata(path):
    # type: (str) -> Tuple[Optional[str], Optional[str], List[str]]
    """Name, version and the names it always requires (Requires-Dist without an extra)."""
    name = version = None
    requires = []  # type: List[str]
    try:
        with io.open(path, "r", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    break  # headers end at the first blank line
                if line.startswith("Name:") and name is None:
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("Version:") and version is None:
                    version = line.split(":", 1)[1].strip()
                elif line.startswith("Requires-Dist:") and "extra ==" not in line:
                    match = _REQUIRED_NAME.match(line.split(":", 1)[1])
                    if match:
                        requires.append(_normalize(match.group(1)))
    except (OSError, IOError):
        return None, None, []
    return name, version, requires


def scan_distributions():
    # type: () -> List[Dict[str, Any]]
    """Every installed distribution on sys.path, duplicates included (importlib.metadata hides
    none of them either, but it is missing on Python 3.7)."""
    found = []
    seen_dirs = set()
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        real = os.path.realpath(entry)
        if real in seen_dirs:
            continue
        seen_dirs.add(real)
        try:
            names = os.listdir(entry)
        except OSError:
            continue
        for item in names:
            full = os.path.join(entry, item)
            if item.endswith(".dist-info"):
                meta = os.path.join(full, "METADATA")
            elif item.endswith(".egg-info"):
                meta = os.path.join(full, "PKG-INFO") if os.path.isdir(full) else full
            else:
                continue
            name, version, requires = _read_metadata(meta)
            if name:
                found.append(
                    {
                        "name": name,
                        "key": _normalize(name),
                        "version": version,
                        "location": entry,
                        "requires": requires,
                    }
                )
    return found


# ---------------------------------------------------------------- steps


def step_python():
    # type: () -> Dict[str, Any]
    import platform
    import sysconfig

    prefix = sys.prefix
    base_prefix = getattr(sys, "base_prefix", getattr(sys, "real_prefix", sys.prefix))
    stdlib = sysconfig.get_paths().get("stdlib", "")
    include = sysconfig.get_paths().get("include") or ""  # Python.h: what a C build includes
    in_venv = prefix != base_prefix
    config = pip_config()
    return {
        "version": "%d.%d.%d" % sys.version_info[:3],
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "prefix": prefix,
        "base_prefix": base_prefix,
        "in_venv": in_venv,
        "is_conda": os.path.isdir(os.path.join(prefix, "conda-meta")),
        # PEP 668: the marker sits in the stdlib dir; a venv is never externally managed.
        "externally_managed": (not in_venv)
        and os.path.isfile(os.path.join(stdlib, "EXTERNALLY-MANAGED")),
        "platform": sys.platform,
        "machine": platform.machine(),
        "purelib": sysconfig.get_paths().get("purelib"),
        "include": include,
        "has_python_h": bool(include) and os.path.isfile(os.path.join(include, "Python.h")),
        "scripts": sysconfig.get_paths().get("scripts"),
        "ninja": find_ninja(sysconfig.get_paths().get("scripts") or ""),
        "distributions": scan_distributions(),
        "bundled": ensurepip_wheels(),
        "pip_config": config,
        "constraints": pip_constraints(config or []),
    }


def ensurepip_wheels():
    # type: () -> Optional[str]
    """The folder of the wheels ensurepip installs (pip, setuptools): a fresh venv's own pip
    can be put back from there without an index."""
    try:
        import ensurepip

        bundled = os.path.join(os.path.dirname(ensurepip.__file__), "_bundled")
    except Exception:
        return None
    return bundled if os.path.isdir(bundled) else None


def pip_constraints(config):
    # type: (List[List[str]]) -> List[List[str]]
    """The requirement lines of the constraints files pip applies (PIP_CONSTRAINT over the
    [install] section over [global]), as [file, line]: what no plan may ask pip to break (an
    NGC container pins its torch this way). A file that cannot be read is one [file, ""]."""
    rank = {":env:": 3, "install": 2, "global": 1}
    best = (0, "")
    for key, value in config:
        section, _, name = key.partition(".")
        if name == "constraint" and rank.get(section, 0) > best[0]:
            best = (rank[section], value)
    found = []  # type: List[List[str]]
    for path in best[1].split():
        try:
            with io.open(path, "r", encoding="utf-8", errors="replace") as handle:
                lines = [line.split("#", 1)[0].strip() for line in handle]
        except (OSError, IOError):
            found.append([path, ""])
            continue
        found.extend([path, line] for line in lines if line and not line.startswith("-"))
    return found


def pip_config():
    # type: () -> Optional[List[List[str]]]
    """pip's configuration as `pip config list` prints it (files and PIP_* variables), read
    in this same run; None where this pip cannot say (no pip, or an internal API it lacks)."""
    without_files = pip_variables_only()
    if without_files is not None:
        return without_files
    try:
        from pip._internal.configuration import Configuration

        configuration = Configuration(isolated=False)
        configuration.load()
        return [[str(key), str(value)] for key, value in sorted(configuration.items())]
    except Exception:
        return None


def pip_variables_only():
    # type: () -> Optional[List[List[str]]]
    """pip's configuration where it has no file to read (most machines): its PIP_* variables
    alone, as pip's Configuration lists them, without importing that (about 0.15 s of pip's
    imports: rich, requests). None where a file is there, or pip's folders cannot be named:
    then pip itself reads it. The files are those pip's get_configuration_files and
    iter_config_files name; PIP_CONFIG_FILE set to os.devnull means none is read."""
    try:
        from pip._internal.utils import appdirs

        named = os.environ.get("PIP_CONFIG_FILE")
        if named != os.devnull:
            base = "pip.ini" if os.name == "nt" else "pip.conf"
            files = [os.path.join(path, base) for path in appdirs.site_config_dirs("pip")]
            files += [
                os.path.join(sys.prefix, base),
                os.path.join(os.path.expanduser("~"), "pip" if os.name == "nt" else ".pip", base),
                os.path.join(appdirs.user_config_dir("pip"), base),
            ]
            if named:
                files.append(named)
            if any(os.path.exists(path) for path in files):
                return None
    except Exception:
        return None
    found = {}
    for key, value in os.environ.items():
        name = key[4:].lower()
        if key.startswith("PIP_") and name not in ("version", "help"):
            name = name.replace("_", "-")
            found[":env:." + (name[2:] if name.startswith("--") else name)] = value
    return [[key, value] for key, value in sorted(found.items())]


def find_ninja(scripts):
    # type: (str) -> Optional[str]
    """ninja as a build in this environment finds it: its bin/ (pip's ninja), then PATH.
    (No shutil.which: the probe must run far enough on Python 2.7 to say it is too old.)"""
    folders = [scripts] + os.environ.get("PATH", "").split(os.pathsep)  # noqa: RUF005 (2.7 syntax)
    for folder in folders:
        for name in ("ninja", "ninja.exe"):
            candidate = os.path.join(folder, name) if folder else ""
            if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
    return None


def step_distutils():
    # type: () -> Dict[str, Any]
    # torch <= 1.10 does `from setuptools import distutils; distutils.version.LooseVersion`,
    # which breaks from setuptools 59.6 on. Must run before anything imports distutils.version.
    from setuptools import distutils

    distutils.version.LooseVersion  # noqa: B018
    return {"setuptools_distutils_version": True}


def step_setuptools():
    # type: () -> Dict[str, Any]
    import setuptools

    return {"version": getattr(setuptools, "__version__", None)}


def step_pkg_resources():
    # type: () -> Dict[str, Any]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pkg_resources  # noqa: F401
    return {}


def step_numpy():
    # type: () -> Dict[str, Any]
    import numpy

    return {"version": numpy.__version__}


def step_cv2():
    # type: () -> Dict[str, Any]
    import cv2

    return {"version": getattr(cv2, "__version__", None), "file": getattr(cv2, "__file__", None)}


def step_mim():
    # type: () -> Dict[str, Any]
    import mim

    return {"version": getattr(mim, "__version__", None)}


def step_torch():
    # type: () -> Dict[str, Any]
    import torch

    data = {
        "version": torch.__version__,
        "file": torch.__file__,
        "cuda": getattr(torch.version, "cuda", None),
        "hip": getattr(torch.version, "hip", None),
        "cxx11_abi": None,
        "arch_list": [],
        "cudnn": None,
        "cuda_available": None,
        "device_count": 0,
        "devices": [],
        "cuda_error": None,
    }
    try:
        data["cxx11_abi"] = bool(torch.compiled_with_cxx11_abi())
    except Exception:
        pass
    # get_arch_list() answers [] without a usable GPU; the compiled-in flags do not need one.
    arch_flags = getattr(torch._C, "_cuda_getArchFlags", None)
    if arch_flags is not None:
        flags = arch_flags()
        data["arch_list"] = flags.split() if flags else []
    try:
        data["cudnn"] = torch.backends.cudnn.version()
    except Exception:
        pass
    if data["cuda"] is None:
        data["cuda_available"] = False
        return data
    try:
        data["cuda_available"] = bool(torch.cuda.is_available())
        if data["cuda_available"]:
            data["device_count"] = torch.cuda.device_count()
            for index in range(data["device_count"]):
                major, minor = torch.cuda.get_device_capability(index)
                data["devices"].append(
                    {
                        "index": index,
                        "name": torch.cuda.get_device_name(index),
                        "capability": "%d.%d" % (major, minor),
                    }
                )
    except Exception as exc:
        data["cuda_error"] = short_error(exc)
    return data


def step_torchvision():
    # type: () -> Dict[str, Any]
    import torchvision

    data = {"version": torchvision.__version__, "cuda": None}
    try:
        data["cuda"] = torchvision.version.cuda
    except Exception:
        pass
    return data


def step_mmcv():
    # type: () -> Dict[str, Any]
    import mmcv

    return {"version": getattr(mmcv, "__version__", None), "file": mmcv.__file__}


def _load_ext():
    # type: () -> Any
    import importlib

    try:
        import torch  # noqa: F401  (the extension links against torch's libraries)
    except ImportError:
        pass  # then loading the extension says what is missing
    return importlib.import_module("mmcv._ext")


def step_mmcv_ext():
    # type: () -> Dict[str, Any]
    return {"file": getattr(_load_ext(), "__file__", None)}


def step_mmcv_ext_info():
    # type: () -> Dict[str, Any]
    # A step of its own: these two calls have killed interpreters whose ops work (mmcv#1292; an
    # mmcv 2.1.0 build against torch 2.11 + CUDA 13.0, docs/gpu-run.md). Asking the extension
    # costs far less than importing mmcv.ops for the same answer.
    ext = _load_ext()
    data = {"compiling_cuda": None, "compiler": None}  # type: Dict[str, Any]
    for key, name in (
        ("compiling_cuda", "get_compiling_cuda_version"),
        ("compiler", "get_compiler_version"),
    ):
        func = getattr(ext, name, None)
        if func is not None:
            data[key] = func()
    return data


def step_mmengine():
    # type: () -> Dict[str, Any]
    import mmengine

    return {"version": getattr(mmengine, "__version__", None)}


_BOUND = re.compile(
    r"^\s*(mmcv|mmengine)_(minimum|maximum)_version\s*=\s*['\"]([^'\"]+)['\"]", re.M
)
_MAX_OP = re.compile(r"(mmcv|mmengine)_version\s*(<=|<)\s*digit_version\(\s*\w+_maximum_version")


def step_mmdet_bounds():
    # type: () -> Dict[str, Any]
    # Read the bounds mmdet enforces from its __init__.py without importing it.
    import importlib.util

    spec = importlib.util.find_spec("mmdet")
    if spec is None or not spec.origin:
        raise ModuleNotFoundError("No module named 'mmdet'", name="mmdet")
    with io.open(spec.origin, "r", encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    bounds = {}  # type: Dict[str, Dict[str, Any]]
    for package, which, value in _BOUND.findall(text):
        bounds.setdefault(package, {})[which] = value
    for package, operator in _MAX_OP.findall(text):
        bounds.setdefault(package, {})["max_inclusive"] = operator == "<="
    return {"file": spec.origin, "bounds": bounds}


def step_mmdet():
    # type: () -> Dict[str, Any]
    # The real import runs mmdet's own version assertions: the ground truth for compatibility.
    import mmdet

    return {"version": getattr(mmdet, "__version__", None)}


STEPS = {  # type: Dict[str, Callable[[], Dict[str, Any]]]
    "python": step_python,
    "distutils": step_distutils,
    "setuptools": step_setuptools,
    "pkg_resources": step_pkg_resources,
    "numpy": step_numpy,
    "cv2": step_cv2,
    "mim": step_mim,
    "torch": step_torch,
    "torchvision": step_torchvision,
    "mmcv": step_mmcv,
    "mmcv_ext": step_mmcv_ext,
    "mmcv_ext_info": step_mmcv_ext_info,
    "mmengine": step_mmengine,
    "mmdet_bounds": step_mmdet_bounds,
    "mmdet": step_mmdet,
}


def run_step(name):
    # type: (str) -> None
    emit({"begin": name})
    captured = io.StringIO()
    started = time.time()
    old_stderr = sys.stderr
    sys.stderr = captured  # e.g. numpy's "compiled using NumPy 1.x" message is printed, not raised
    record = {"step": name, "ok": False, "data": None, "error": None}
    try:
        record["data"] = STEPS[name]()
        record["ok"] = True
    except ImportError as exc:
        record["error"] = short_error(exc)
        # "missing" means not installed at all, as opposed to installed but broken.
        record["missing"] = isinstance(exc, ModuleNotFoundError) and exc.name == _top_module(name)
        record["traceback"] = last_traceback_lines()
    except BaseException as exc:
        record["error"] = short_error(exc)
        record["traceback"] = last_traceback_lines()
    finally:
        sys.stderr = old_stderr
    record["stderr"] = captured.getvalue()[-4000:]
    record["seconds"] = round(time.time() - started, 3)
    emit(record)


def _top_module(step):
    # type: (str) -> str
    return {
        "distutils": "setuptools",
        "mmcv_ext": "mmcv",
        "mmcv_ext_info": "mmcv",
        "mmdet_bounds": "mmdet",
        "cv2": "cv2",
    }.get(step, step)


def main(argv):
    # type: (List[str]) -> None
    for name in argv:
        if name in STEPS:
            run_step(name)
        else:
            emit({"step": name, "ok": False, "error": "unknown probe step", "data": None})


main(sys.argv[1:])
