"""When no known failure matches: the decisive lines of a log, and the area they point at.

A person reading a failed log points at one place: the last exception of the last traceback,
pip's, uv's or conda's error block, a compiler's first `error:`, `Killed`, a loader that cannot
open a library. `find_decisive` finds that place by the structure of the text, and names its
area only when the area is one an install or an environment causes:

- missing-module: a Python module is not there (and the distribution that provides it)
- native-library: a compiled library does not load (which one, and the symbol)
- resolver: pip, uv or conda found no set of versions (and the requirement)
- environment-refused: a tool refuses to write into the environment (PEP 668, permissions)
- gpu-runtime: the CUDA (or HIP) runtime refuses the GPU, the driver or the code
- compiler: a compiler failed (and the first file it failed on)
- build: a package's build failed, with no compiler error to show why
- killed: the system killed the process (memory)

Anything else (a KeyError in a user's dataset code, a config typo, a clean log, an environment
dump) gives None: diagnose stays silent rather than guess. What is found is "not a known
failure", at low confidence: exit 1 stays "nothing known".

Each marker is a regex run only where its needle (a literal it contains) is in the text: the last
needle of each is found from the end (str.rfind), and the regexes run over the last 256 KiB
before the last marker only, so a 100 MB log costs a few searches. (A build's first compiler
error more than that before its end is not seen; the first one within it is shown.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

CONFIDENCE = 0.3  # below knowledge.CONFIDENT: a place to look, not a known answer
TAIL_CHARS = 256 * 1024  # how far before the last marker the failure's context is looked for
_BEFORE_NEEDLE = 4096  # a marker's match starts at most this far before its needle
MAX_LINES = 4


@dataclass(frozen=True)
class Decisive:
    area: str
    title: str  # "Not a known failure: ..." with the subject in it
    subject: str  # the module, library, requirement, file or package ("" where none)
    lines: tuple[tuple[int, str], ...]  # (line number, line)
    checks: tuple[str, ...]  # the first things to check
    confidence: float = CONFIDENCE

    def to_dict(self) -> dict[str, object]:
        return {
            "area": self.area,
            "title": self.title,
            "subject": self.subject,
            "confidence": self.confidence,
            "lines": [{"line": number, "text": text} for number, text in self.lines],
            "checks": list(self.checks),
        }


_Found = tuple[re.Match[str], "_Marker"]


@dataclass(frozen=True)
class _Marker:
    area: str
    needles: tuple[str, ...]
    regex: re.Pattern[str]
    subject: Callable[[re.Match[str]], str]  # what it names, from the match


def _first_group(found: re.Match[str]) -> str:
    """A marker's subject: the first of its named groups that matched."""
    return next((g for g in found.groupdict().values() if g), "").strip("'\"`")


def _marker(area: str, needles: tuple[str, ...], pattern: str) -> _Marker:
    return _Marker(area, needles, re.compile(pattern), _first_group)


# Wherever it stands in a line: a sentence of an issue quotes the message as often as a log
# starts a line with it.
_MARKERS = (
    _marker(
        "missing-module", ("No module named",), r"No module named ['\"`]?(?P<s>[A-Za-z_][\w.]*)"
    ),
    _marker(
        "missing-module",
        ("cannot import name",),
        r"cannot import name ['\"`]?\w+['\"`]? from ['\"`]?(?P<s>[A-Za-z_][\w.]*)",
    ),
    _marker(
        "native-library",
        ("cannot open shared object file",),
        r"(?P<s>[\w.+-]+\.so(?:\.[\w.]+)?): cannot open shared object file",
    ),
    _marker(
        "native-library",
        ("undefined symbol",),
        r"(?P<s>[^\s:'\"]+\.so(?:\.[\d.]+)?)?:? ?undefined symbol: \S+",
    ),
    _marker(
        "native-library", ("DLL load failed",), r"DLL load failed(?: while importing (?P<s>\w+))?"
    ),
    _marker(
        "native-library",
        ("WinError 126", "WinError 127", "WinError 193"),
        r"\[WinError 1(?:26|27|93)\][^\n]{0,200}?(?:Error loading \"(?P<s>[^\"\n]{1,300})\")?",
    ),
    _marker(
        "gpu-runtime",
        ("CUDA error", "CUDA Runtime Error", "HIP error", "cudaError", "CUDA initialization"),
        r"(?:CUDA (?:error|Runtime Error)|HIP error|CUDA initialization): (?P<s>[^\n.]{1,200})"
        r"|(?P<t>cudaError\w+)",
    ),
    _marker("gpu-runtime", ("_STATUS_",), r"(?P<s>CU(?:BLAS|DNN|SPARSE|FFT)_STATUS_[A-Z_]+)"),
    _marker(
        "gpu-runtime",
        ("NCCL error", "ncclSystemError", "ncclInternalError", "ncclUnhandledCudaError"),
        r"(?P<s>NCCL error[^\n`'\"]{0,120}|nccl(?:System|Internal|UnhandledCuda)Error)",
    ),
    _marker(
        "resolver",
        ("ResolutionImpossible", "conflicting dependencies"),
        r"Cannot install (?P<s>[^\n]{1,200}?) because these package versions have conflicting"
        r"|ResolutionImpossible",
    ),
    _marker(
        "resolver",
        ("No matching distribution found for",),
        r"No matching distribution found for (?P<s>\S+)",
    ),
    _marker(
        "resolver",
        ("No solution found when resolving",),
        r"No solution found when resolving[^\n]*(?:\n[^\n]{0,40}?Because (?:the requested "
        r"|there is no version of |only )?(?P<s>[\w.\[\]-]+))?",
    ),
    _marker(
        "resolver",
        ("UnsatisfiableError", "PackagesNotFoundError"),
        r"(?:LibMamba)?UnsatisfiableError|PackagesNotFoundError",
    ),
    _marker(
        "environment-refused",
        ("NotWritableError", "externally-managed-environment", "is externally managed"),
        r"(?:Environment)?NotWritableError[^\n]*(?:\n[^\n]*environment location: (?P<s>\S+))?"
        r"|externally-managed-environment|is externally managed",
    ),
    _marker(
        "environment-refused",
        ("Can not perform a '--user' install", "No virtual environment found"),
        r"Can not perform a '--user' install|No virtual environment found",
    ),
    _marker(
        "environment-refused",
        ("[Errno 13] Permission denied",),
        r"Could not install packages due to an OSError: \[Errno 13\] Permission denied: "
        r"'(?P<s>[^'\n]+)'",
    ),
    _marker(
        "killed",
        ("Killed", "Out of memory: Kill"),
        r"(?m)Killed[ \t]*$|Out of memory: Kill(?:ed)? process \d+ \((?P<s>[^)\n]+)\)",
    ),
    _marker(
        "compiler",
        (": error", ": fatal error", "): error"),
        r"(?m)^[ \t]*(?P<s>(?:[A-Za-z]:)?[^\s:()'\"]+\.(?:c|cc|cpp|cxx|cu|cuh|h|hpp|hxx|inl))"
        r"(?::\d+(?::\d+)?:|\(\d+(?:,\d+)?\):) (?:fatal )?error(?: C\d+)?: [^\n]+",
    ),
    _marker(
        "build",
        ("Failed building wheel for", "Failed to build", "Could not build wheels for"),
        r"Failed building wheel for (?P<s>\S+)|Failed to build [`']?(?P<t>[\w.=-]+)"
        r"|Could not build wheels for (?P<u>[\w.-]+)",
    ),
    _marker(
        "build",
        (
            "subprocess-exited-with-error",
            "did not run successfully",
            "Error compiling objects for extension",
            "ninja: build stopped",
            "Build backend failed",
            "build backend returned an error",
            "returned non-zero exit status",
        ),
        r"error: subprocess-exited-with-error|did not run successfully"
        r"|Error compiling objects for extension|ninja: build stopped"
        r"|Build backend failed|build backend returned an error"
        r"|CalledProcessError: Command [^\n]{0,300}returned non-zero exit status",
    ),
)

# The exception line that ends a traceback (also mid-line, as in "... with: ValueError: x")
_EXCEPTION = re.compile(
    r"(?m)^[^\n]{0,200}?\b(?P<name>(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Missing"
    r"|Unavailable|Interrupt|Failure))(?::[ \t]*(?P<message>[^\n]*))?$"
)
_FRAME = re.compile(r"^\s*File \"[^\"\n]+\", line \d+")
_BUILD_START = re.compile(
    r"Building wheels? for|Getting requirements to build|Preparing metadata|Running setup\.py"
    r"|running build_ext|Building `|Compiling objects"
)

_AREA_TITLES = {
    "missing-module": "a Python module is missing",
    "native-library": "a native library does not load",
    "resolver": "the installer found no versions that fit",
    "environment-refused": "a tool refuses to change this environment",
    "gpu-runtime": "the GPU runtime refuses the GPU, driver or code",
    "compiler": "a compiler failed",
    "build": "a package's build failed",
    "killed": "the system killed the process",
}

# Import names whose distribution is named otherwise (the rest: the top-level name itself)
_DISTRIBUTIONS = {
    "cv2": "opencv-python (or opencv-python-headless)",
    "PIL": "Pillow",
    "yaml": "PyYAML",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "pkg_resources": "setuptools (below 82: 82 removed pkg_resources)",
    "distutils": "setuptools (Python 3.12 removed distutils from the standard library)",
    "setuptools": "setuptools",
    "mim": "openmim (or onedl-mim)",
    "mmcv": "mmcv (or onedl-mmcv)",
    "mmengine": "mmengine (or onedl-mmengine)",
    "mmdet": "mmdet (or onedl-mmdetection)",
    "attr": "attrs",
    "google.protobuf": "protobuf",
    "dateutil": "python-dateutil",
    "bs4": "beautifulsoup4",
    "Crypto": "pycryptodome",
}


def find_decisive(text: str) -> Decisive | None:
    """The decisive lines of a log no known failure matched, and their area; None when the log
    shows no install or environment failure (then diagnose says nothing of its own)."""
    ends = _last_marker_end(text)
    if ends is None:
        return None
    found = _markers(text, max(0, ends - TAIL_CHARS))  # the failure, and the build before it
    last = max(found, key=lambda m: m[0].start())
    if _ends_in_other_exception(text, last[0].end()):
        return None  # the log goes on to fail in code of its own (a KeyError, a config typo)
    floor = max(0, last[0].start() - TAIL_CHARS)
    builds = [f for f in found if f[1].area == "build" and f[0].start() >= floor]
    if builds or last[1].area in ("compiler", "killed"):
        return _build_failure(text, found, builds, floor)
    return _decisive(text, last[1].area, last[1].subject(last[0]), [last[0].start()])


def _last_marker_end(text: str) -> int | None:
    """Where the last marker of the log ends, found from each marker's last needle (str.rfind)
    so that a long log is not scanned marker by marker from its start."""
    ends = []
    for marker in _MARKERS:
        last_needle = max(text.rfind(needle) for needle in marker.needles)
        if last_needle >= 0:
            window = max(0, last_needle - _BEFORE_NEEDLE)
            hits = list(marker.regex.finditer(text, window))
            if hits:
                ends.append(hits[-1].end())
    return max(ends, default=None)


def _markers(text: str, start: int) -> list[_Found]:
    found: list[_Found] = []
    for marker in _MARKERS:
        if any(text.find(needle, start) >= 0 for needle in marker.needles):
            found += [(match, marker) for match in marker.regex.finditer(text, start)]
    return found


def _ends_in_other_exception(text: str, after: int) -> bool:
    """Whether an exception that is no marker of ours ends the log after the last marker."""
    exceptions = list(_EXCEPTION.finditer(text, max(after, len(text) - TAIL_CHARS)))
    if not exceptions:
        return False
    line = exceptions[-1].group(0)
    return not any(m.regex.search(line) for m in _MARKERS if any(n in line for n in m.needles))


def _build_failure(text: str, found: list[_Found], builds: list[_Found], floor: int) -> Decisive:
    """A build (or a step the system killed) that failed: the first compiler error of the last
    build says why; else the system killing a process; else the build itself, with the
    exception its output ends in. pip says a build failed after its output, uv before it."""
    ends = builds[-1][0].start() if builds else len(text)
    begun = [m.start() for m in _BUILD_START.finditer(text, floor, ends)]
    since = begun[-1] if begun else (builds[0][0].start() if builds else floor)
    inside = [f for f in found if f[0].start() >= since]
    for area in ("compiler", "killed"):
        hits = sorted((f for f in inside if f[1].area == area), key=lambda f: f[0].start())
        if hits:
            named = next((f for f in hits if f[1].subject(f[0])), hits[0])
            where = sorted({hits[0][0].start(), named[0].start()})
            where += [builds[-1][0].start()] if builds else []
            return _decisive(text, area, named[1].subject(named[0]), where)
    package = next((k.subject(m) for m, k in reversed(builds) if k.subject(m)), "")
    where = [builds[-1][0].start()] if builds else []
    inner = list(_EXCEPTION.finditer(text, since))
    if inner:
        where.insert(0, inner[-1].start())
    return _decisive(text, "build", package, where)


def _decisive(text: str, area: str, subject: str, starts: list[int]) -> Decisive:
    lines: list[tuple[int, str]] = []
    for start in sorted(starts):
        for line in _with_frame(text, start):
            if line not in lines:
                lines.append(line)
    subject = subject.strip().rstrip(".,;:")
    shown = _describe(area, subject)
    title = f"Not a known failure: {_AREA_TITLES[area]}" + (f" ({shown})" if shown else "")
    return Decisive(area, title, subject, tuple(lines[:MAX_LINES]), _checks(area, subject))


def _with_frame(text: str, start: int) -> list[tuple[int, str]]:
    """The line at `start`, after the traceback frame that raised it when one is just above."""
    begin = text.rfind("\n", 0, start) + 1
    end = text.find("\n", start)
    number = text.count("\n", 0, begin) + 1
    out = [(number, text[begin : len(text) if end < 0 else end].strip()[:300])]
    above = text[max(0, begin - 2000) : begin].split("\n")[-4:-1]  # up to three lines
    for back, previous in enumerate(reversed(above), start=1):
        if _FRAME.match(previous):
            out.insert(0, (number - back, previous.strip()[:300]))
            break
    return out


def _describe(area: str, subject: str) -> str:
    if area == "missing-module" and subject:
        return f"{subject}, from {_distribution(subject)}"
    return subject


def _distribution(module: str) -> str:
    """The distribution that provides an import name, as far as the name says."""
    top = module.split(".")[0]
    return _DISTRIBUTIONS.get(module) or _DISTRIBUTIONS.get(top) or top


def _checks(area: str, subject: str) -> tuple[str, ...]:
    name = subject or "it"
    if area == "missing-module":
        return _module_checks(subject)
    checks = {
        "native-library": (
            f"Which package ships {name}: the NVIDIA driver, a pip nvidia-* wheel, conda, apt; "
            "is that package installed, and at the version the loading library was built for?",
            "`ldd` on the library that failed to load (Windows: Dependencies) shows what is "
            "missing; LD_LIBRARY_PATH or PATH pointing at another copy is a common cause.",
            "An undefined symbol means two binaries from different builds: reinstall the one "
            "built against the other (an extension against the installed torch).",
        ),
        "resolver": (
            f"The requirement the installer could not satisfy ({name}): does a release exist "
            "for this Python version and platform (`pip index versions`)?",
            "Two packages pinning different versions of a third: install them in one command, "
            "or relax the pin that is stricter than it needs to be.",
            "`mmdoctor install --dry-run` plans versions of torch, mmcv and mmdet that fit "
            "each other.",
        ),
        "environment-refused": (
            "Do not force it (--break-system-packages, sudo): create a virtual environment or "
            "conda environment you own and install there.",
            "Check which interpreter and environment the command used, and that you own it.",
        ),
        "gpu-runtime": (
            "`nvidia-smi`: the driver version and the highest CUDA it supports; "
            '`python -c "import torch; print(torch.version.cuda, torch.cuda.get_arch_list())"`'
            ": what torch was built for.",
            "`mmdoctor check` compares the driver, the GPU's compute capability and the "
            "installed torch and mmcv builds.",
            "A library or extension built for another CUDA or GPU: rebuild it, or install the "
            "build for this one.",
        ),
        "compiler": (
            f"The first error is the cause; later ones follow from it: read it in {name}.",
            "A missing header: install the package that ships it (or point CPATH at it); "
            "an unknown identifier: the code is older or newer than the library it builds "
            "against (torch, CUDA).",
            "Check the compiler and CUDA versions the build used (`gcc --version`, "
            "`nvcc --version`) against what the package supports.",
        ),
        "build": (
            f"Scroll up to the first error in {name}'s build output: the installer's last "
            "lines are its summary, not the cause.",
            "A module missing in the build: pip and uv build in an isolated environment; "
            "install the build requirements and retry with --no-build-isolation.",
            "A prebuilt wheel for this Python, platform and torch avoids the build.",
        ),
        "killed": (
            "The kernel's OOM killer (`dmesg | grep -i kill`): too little memory for the step.",
            "For a build: fewer parallel jobs (MAX_JOBS=1); for pip: --no-cache-dir; or add "
            "memory or swap.",
        ),
    }
    return checks[area]


def _module_checks(module: str) -> tuple[str, ...]:
    distribution = _distribution(module).split()[0]
    checks = [
        "Run the failing command's own interpreter: `python -c \"import sys; "
        'print(sys.executable)"` (a second Python, a venv not activated, a notebook kernel '
        "elsewhere are the usual cause).",
        f"`python -m pip show {distribution}` in that interpreter: is it installed there, at "
        "which version?",
    ]
    if "." in module:
        checks.append(
            f"{module} is part of {module.split('.')[0]}: that package's version or build "
            "lacks it (a compiled extension, a module added or removed in another release)."
        )
    return tuple(checks)
