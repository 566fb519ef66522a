#!/usr/bin/env bash
# The real GPU path, on a CUDA machine that reaches no index: check (real NVML), a CUDA source
# build of mmcv 2.1.0, check again, smoke-test on the GPU. docs/gpu-run.md records what it gave.
#
# Wheels travel in $WHL (pure-Python ones, cp312 binaries, the mmcv sdist, an mmdoctor wheel):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 \
#     ... -d .whl addict yapf platformdirs termcolor terminaltables shapely pycocotools \
#     mmengine==0.10.7 mmdet==3.3.0 setuptools==80.9.0 ; pip wheel --no-deps -w .whl .
# and the mmcv-2.1.0.tar.gz sdist next to them. Everything lands in /tmp/site (PYTHONPATH), so
# the machine's own environment is not written to.
# LINE=onedl builds onedl-mmcv instead (its onedl_mmcv-*.tar.gz in $WHL, with onedl-mmengine and
# onedl-mmdetection wheels); on torch >= 2.14 its setup.py's -std=c++17 is raised to c++20, as
# `mmdoctor install` does. The arch list is the device's own compute capability.
set -u
OUT=${OUT:-gpu-out}
WHL=${WHL:-.whl}
PY=${PY:-python3}
BUILD_SECONDS=${BUILD_SECONDS:-420}
LINE=${LINE:-openmmlab}
mkdir -p "$OUT"
exec > >(tee "$OUT/run.log") 2>&1
now() { date +%s; }
start=$(now)

nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv
"$PY" -c "import sys, torch; print(sys.version.split()[0], torch.__version__, torch.version.cuda, \
torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0))"
nvcc --version | tail -n 2
gcc --version | head -n 1

"$PY" -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site "$WHL"/*.whl \
  || exit 1
export PYTHONPATH=/tmp/site
mmdoctor() { "$PY" -m mmdoctor "$@"; }

t=$(now); mmdoctor check --json >"$OUT/check-before.json"; echo "check (before) exit $? in $(($(now) - t)) s"
mmdoctor check -v
# What install would plan from this machine's real facts (probed: driver, GPUs, Python).
mmdoctor install --python "$(command -v "$PY")" --dry-run --line "$LINE" --json \
  >"$OUT/install-plan.json"
echo "install --dry-run --line $LINE exit $?"

arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d ' ')
if [ "$LINE" = onedl ]; then
  sdist=$(ls "$WHL"/onedl_mmcv-*.tar.gz | head -n 1)
  rm -rf /tmp/onedl-src && mkdir -p /tmp/onedl-src && tar -xzf "$sdist" -C /tmp/onedl-src
  src=$(ls -d /tmp/onedl-src/*/ | head -n 1)
  if "$PY" -c "import sys, torch; v = tuple(map(int, torch.__version__.split('.')[:2])); \
sys.exit(0 if v >= (2, 14) else 1)"; then
    sed -i.c++17 's/-std=c++17/-std=c++20/g' "$src/setup.py"
  fi
else
  src="$WHL"/mmcv-2.1.0.tar.gz
fi
t=$(now)
MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$arch" MAX_JOBS=16 timeout "$BUILD_SECONDS" \
  "$PY" -m pip wheel -v --no-deps --no-build-isolation --no-cache-dir -w /tmp/wheelhouse \
  "$src" >"$OUT/build.log" 2>&1
rc=$?
echo "mmcv build exit $rc in $(($(now) - t)) s"
gzip -f "$OUT/build.log"
# A wheel tagged none-any was built without torch's extension: no compiled ops.
ls /tmp/wheelhouse/*mmcv-*none-any.whl 2>/dev/null && rc=1
if [ "$rc" != 0 ]; then
  zgrep -n -E "error|Error" "$OUT/build.log.gz" | head -n 40
  exit 1
fi
ls -l /tmp/wheelhouse
"$PY" -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site /tmp/wheelhouse/*mmcv-*.whl

t=$(now); mmdoctor check --json >"$OUT/check-after.json"; echo "check (after) exit $? in $(($(now) - t)) s"
mmdoctor check -v

# Which import order or call kills the interpreter, if any (faulthandler names the frame).
for code in "import mmcv._ext" "import torch, mmcv._ext" "import torch, torchvision, mmcv._ext" \
  "import torch, torchvision; torchvision.extension._check_cuda_version(); import mmcv._ext" \
  "import torch, mmcv._ext as e; print(e.get_compiler_version())" \
  "import torch, mmcv._ext as e; print(e.get_compiling_cuda_version())" \
  "import torch, mmcv.ops; from mmcv.ops import get_compiling_cuda_version as v; print(v())"; do
  "$PY" -X faulthandler -c "$code" 2>&1 | tail -n 6
  echo "exit ${PIPESTATUS[0]}: $code"
done
[ "${SMOKE:-1}" = 1 ] || exit 0

for model in retinanet-r50 yolov3-mobilenetv2; do
  t=$(now)
  mmdoctor smoke-test --device cuda --weights none --model "$model" --json >"$OUT/smoke-$model.json"
  echo "smoke-test $model exit $? in $(($(now) - t)) s"
done
mmdoctor smoke-test --device cuda --weights none
echo "total $(($(now) - start)) s"
