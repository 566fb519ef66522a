"""Build and configure the stand-in `libnvidia-ml.so.1` in `fake_nvml.c`.

The fake sits at the shared-library boundary only: the real `pynvml` loads it by name through
ctypes, so a subprocess whose LD_LIBRARY_PATH starts with the fake's directory sees a driver that
answers whatever the FAKE_NVML_* variables say.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SOURCE = Path(__file__).with_name("fake_nvml.c")
LIBRARY_NAME = "libnvidia-ml.so.1"
ENV_PREFIX = "FAKE_NVML_"

# Keyword accepted by fake_nvml_env -> the variable fake_nvml.c reads.
SETTINGS = {
    "init_error": "FAKE_NVML_INIT_ERROR",  # NVML return code of nvmlInit* (0 = success)
    "driver": "FAKE_NVML_DRIVER",  # driver version string
    "cuda": "FAKE_NVML_CUDA",  # int from nvmlSystemGetCudaDriverVersion(_v2), e.g. 12020
    "cuda_v2_error": "FAKE_NVML_CUDA_V2_ERROR",  # code nvmlSystemGetCudaDriverVersion_v2 fails with
    "gpus": "FAKE_NVML_GPUS",  # "name|8.0|memory_MiB|uuid" entries, ';'-joined (or a list)
    "gpu_lost": "FAKE_NVML_GPU_LOST",  # index whose handle lookup returns 15 (GPU is lost)
    "call_log": "FAKE_NVML_CALL_LOG",  # file that receives each called symbol's name
    "init_seconds": "FAKE_NVML_INIT_SECONDS",  # nvmlInit sleeps this long (a hung driver)
    "node_dir": "FAKE_NVML_NODE_DIR",  # folder of $SLURMD_NODENAME.env files: per-node settings
}


def write_node_file(node_dir: Path, node: str, **settings: object) -> Path:
    """The per-node settings a Slurm task on `node` reads (FAKE_NVML_NODE_DIR): one
    FAKE_NVML_X=value line per keyword of SETTINGS, as fake_nvml_env takes them."""
    lines = []
    for key, value in settings.items():
        if key not in SETTINGS or key == "node_dir":
            raise TypeError(f"not a per-node fake NVML setting: {key}")
        if key == "gpus" and isinstance(value, (list, tuple)):
            value = ";".join(value)
        lines.append(f"{SETTINGS[key]}={value}")
    node_dir.mkdir(parents=True, exist_ok=True)
    path = node_dir / f"{node}.env"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def build_fake_nvml(dest_dir: Path) -> Path:
    """Compile the fake into `dest_dir/libnvidia-ml.so.1` and return `dest_dir`."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise RuntimeError("gcc is needed to build the fake libnvidia-ml.so.1")
    dest_dir.mkdir(parents=True, exist_ok=True)
    argv = [gcc, "-shared", "-fPIC", "-O2", "-Wall", "-Werror"]
    argv += ["-o", str(dest_dir / LIBRARY_NAME), str(SOURCE)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"building the fake NVML failed:\n{done.stdout}{done.stderr}")
    return dest_dir


def fake_nvml_env(libdir: Path, **settings: object) -> dict[str, str]:
    """A copy of os.environ that makes a child process load the fake from `libdir`.

    Every FAKE_NVML_* variable already in the environment is dropped, then one is set per
    keyword in SETTINGS, as str(value) (None leaves it unset; `gpus` may be a list of entries).
    """
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise TypeError(f"unknown fake NVML settings: {sorted(unknown)}")
    env = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        part for part in (str(libdir), env.get("LD_LIBRARY_PATH", "")) if part
    )
    for key, value in settings.items():
        if value is None:
            continue
        if key == "gpus" and isinstance(value, (list, tuple)):
            value = ";".join(value)
        env[SETTINGS[key]] = str(value)
    return env
