#!/usr/bin/env bash
# The benchmark (python -m bench, rows a-f) on the GPU machine with the GPU path, the ROS node
# row (d) included: a machine with Python 3.12, torch/CUDA, numpy, OpenCV, ONNX Runtime, onnx and
# matplotlib, but no ROS and no network.
#
# usage: dev/gpu/device_bench.sh <out-dir> [more run_bench.py arguments]
#
# Steps (each logged; the first failure stops the script):
#   1. a venv ($VENV, default /tmp/ros_venv) from $PYTHON (default python3) with
#      --system-site-packages, plus a .pth naming $PYTHON's own site-packages: the machine's
#      python3 is itself a venv (/opt/torch/.venv), whose packages a venv made from it does not
#      see otherwise (venv links to the *base* interpreter). The venv is the ROS prefix.
#   2. the ROS 2 Jazzy wheels of requirements-ros.txt (and setuptools 69.5.1 from
#      requirements-dev.txt, for `pip install -e .` with ament's setup.cfg) from $WHEELS
#      (default .whl, made by `pip download` on a machine with network; see the report of
#      issue 5) with --no-index: numpy, OpenCV, ONNX Runtime and matplotlib are the machine's own.
#   3. vision_msgs built with scripts/build_vision_msgs.sh (its requirements-build.txt install
#      also reads $WHEELS: PIP_NO_INDEX / PIP_FIND_LINKS).
#   4. the package installed the way the Makefile's $(STAMPS)/package step does.
#   5. a Fast DDS smoke test (publish/subscribe in one process); when it fails, the shared-memory
#      transport is left out (FASTDDS_BUILTIN_TRANSPORTS=UDPv4) and the test repeated.
#   6. BENCH_BACKEND=torch (default): engines/arena_yolo.onnx -> TorchScript on CUDA
#      (dev/gpu/onnx_to_torch.py), then run_bench.py --backend torch --device cuda --fp16
#      --cuda-graph (GPU letterbox: the Torch backend's default on CUDA), i.e. the node's
#      torch_fp16 / torch_cuda_graph in rows a-d alike. BENCH_BACKEND=onnxruntime: the shipped
#      ONNX model with ONNX Runtime on the CPU (a rehearsal on a machine without a GPU).
#      ONNX=<file> picks another ONNX model than engines/arena_yolo.onnx. BENCH_BACKEND=none:
#      stop after the smoke test (the venv for other runs, e.g. dev/gpu/device_runs.sh).
# Writes <out>/env.txt (machine, tools, packages, DDS transport) and <out>/bench/bench.{json,txt,png}.
set -euo pipefail

out=$(mkdir -p "${1:?usage: device_bench.sh <out-dir> [run_bench args]}" && cd "$1" && pwd)
shift
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
PYTHON=${PYTHON:-python3}
VENV=${VENV:-/tmp/ros_venv}
WHEELS=$(cd "${WHEELS:-$repo/.whl}" && pwd)
BENCH_BACKEND=${BENCH_BACKEND:-torch}
TORCHSCRIPT=${TORCHSCRIPT:-/tmp/arena_yolo.torchscript}
ONNX=${ONNX:-engines/arena_yolo.onnx}
env_txt="$out/env.txt"
t0=$(date +%s)
step() { echo "=== [$(( $(date +%s) - t0 ))s] $*"; }

step "machine"
{
    echo "date: $(date -u +%FT%TZ)"
    echo "uname: $(uname -a)"
    echo "nproc: $(nproc)"
    echo "model: $ONNX sha256 $(sha256sum "$ONNX" | cut -d' ' -f1)"
    nvidia-smi -L 2>&1 || true
    echo "python: $(command -v "$PYTHON") -> $("$PYTHON" -c 'import sys; print(sys.version.split()[0], sys.prefix, sys.base_prefix)')"
    for t in cmake make ninja gcc g++ cc c++ nvcc; do echo "$t: $(command -v $t || echo MISSING)"; done
    "$PYTHON" - <<'EOF'
import importlib
for m in ("numpy", "cv2", "onnxruntime", "onnx", "torch", "matplotlib", "yaml", "setuptools", "pip",
          "cuda.bindings", "cupy"):
    try:
        mod = importlib.import_module(m)
        print(f"{m}: {getattr(mod, '__version__', '?')}")
    except Exception as e:  # noqa: BLE001
        print(f"{m}: not importable ({type(e).__name__}: {e})")
EOF
} 2>&1 | tee "$env_txt"

# Build tools build_vision_msgs.sh checks for; fall back where the image lacks one.
shims="$VENV.shims"
mkdir -p "$shims"
if ! command -v make >/dev/null && command -v ninja >/dev/null; then
    # cmake --build drives the build; the script only checks that a build tool exists.
    export CMAKE_GENERATOR=Ninja
    printf '#!/bin/sh\nexec ninja "$@"\n' >"$shims/make" && chmod +x "$shims/make"
    echo "no make: CMake generator Ninja" | tee -a "$env_txt"
fi
export PATH="$shims:$PATH"
py_inc=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
if [[ ! -f "$py_inc/Python.h" && -f "$WHEELS/python3.12-include.tar.gz" ]]; then
    # Python 3.12 headers (CPython 3.12.1's; the C API is stable within 3.12) for the
    # interface build's Python extension, where the image has no python3-dev.
    mkdir -p "$py_inc"
    tar -xzf "$WHEELS/python3.12-include.tar.gz" -C "$py_inc" --strip-components=1
    echo "no Python.h: carried CPython 3.12.1 headers put in $py_inc" | tee -a "$env_txt"
fi

step "venv $VENV from $PYTHON (system site packages + $PYTHON's own)"
rm -rf "$VENV"
"$PYTHON" -m venv --without-pip --system-site-packages "$VENV"
VPY="$VENV/bin/python"
purelib=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$PYTHON" -c 'import sysconfig; p = sysconfig.get_paths(); print(p["purelib"]); print(p["platlib"])' \
    | sort -u >"$purelib/zz_base_interpreter_site.pth"
echo "base site-packages for the venv: $(tr '\n' ' ' <"$purelib/zz_base_interpreter_site.pth")" | tee -a "$env_txt"
# pip comes from $PYTHON's site-packages; bootstrap one into the venv where there is none.
"$VPY" -m pip --version || "$VPY" -m ensurepip --default-pip
export PIP_NO_INDEX=1 PIP_FIND_LINKS="$WHEELS" PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
PIP=("$VPY" -m pip --no-input)

step "ROS 2 Jazzy wheels (requirements-ros.txt) + setuptools==69.5.1, offline from $WHEELS"
"${PIP[@]}" install -q -r requirements-ros.txt "setuptools==$(sed -n 's/^setuptools==\([0-9.]*\).*/\1/p' requirements-dev.txt)"

step "vision_msgs (scripts/build_vision_msgs.sh)"
if ! scripts/build_vision_msgs.sh "$VENV"; then
    cat "$VENV"/build/vision_msgs.*.log >"$out/vision_msgs_build.log" 2>/dev/null || true
    exit 1
fi

step "yolo_trt_ros (as the Makefile's package step)"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e .
rm -rf "$VENV/share/yolo_trt_ros"
PYTHONWARNINGS=ignore "$VPY" setup.py --quiet install_data --install-dir="$VENV" --force
"$VPY" scripts/install_venv_env.py
{ echo "--- venv packages"; "${PIP[@]}" list 2>/dev/null | grep -iE '^(ros-jazzy-rclpy|ros-rclpy|rclpy|ros-fastrtps|empy|catkin|lark|setuptools|numpy|opencv|onnxruntime|torch|yolo)' || true; } >>"$env_txt"

export ROS_LOG_DIR=${ROS_LOG_DIR:-/tmp/ros_log}
dds_smoke() {
    timeout 60 "$VPY" - <<'EOF'
import time

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import String

ctx = Context()
rclpy.init(context=ctx, args=[])
node = rclpy.create_node("dds_smoke", context=ctx)
got = []
node.create_subscription(String, "dds_smoke", lambda m: got.append(m.data), 10)
pub = node.create_publisher(String, "dds_smoke", 10)
ex = SingleThreadedExecutor(context=ctx)
ex.add_node(node)
t_end = time.monotonic() + 15.0
while time.monotonic() < t_end and not got:
    pub.publish(String(data="ping"))
    ex.spin_once(timeout_sec=0.2)
ex.shutdown()
node.destroy_node()
rclpy.try_shutdown(context=ctx)
print("dds smoke:", "received" if got else "NOTHING received")
raise SystemExit(0 if got else 1)
EOF
}
step "Fast DDS smoke test"
if dds_smoke; then
    echo "dds: default transports (shared memory + UDP) work" | tee -a "$env_txt"
else
    export FASTDDS_BUILTIN_TRANSPORTS=UDPv4
    echo "dds: default transports FAILED; retrying with FASTDDS_BUILTIN_TRANSPORTS=UDPv4" | tee -a "$env_txt"
    dds_smoke
    echo "dds: UDPv4 only (shared memory left out) works; the bench runs with it" | tee -a "$env_txt"
fi

case "$BENCH_BACKEND" in
    none)
        step "done (BENCH_BACKEND=none: the venv only)"
        exit 0
        ;;
    torch)
        step "$ONNX -> $TORCHSCRIPT (traced on cuda)"
        "$VPY" dev/gpu/onnx_to_torch.py "$ONNX" "$TORCHSCRIPT" --device cuda
        model_args=(--backend torch --device cuda --fp16 --cuda-graph --model "$TORCHSCRIPT")
        ;;
    onnxruntime)
        model_args=(--backend onnxruntime --device cpu --model "$ONNX")
        ;;
    *) echo "BENCH_BACKEND must be torch or onnxruntime, not '$BENCH_BACKEND'" >&2; exit 2 ;;
esac

step "bench: run_bench.py ${model_args[*]} $*"
PYTHONUNBUFFERED=1 "$VPY" bench/run_bench.py "${model_args[@]}" --out "$out/bench" "$@"
step "done"
