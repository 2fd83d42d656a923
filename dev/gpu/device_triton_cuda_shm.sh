#!/usr/bin/env bash
# CUDA shared memory of the Triton backend on a GPU machine without network: unpack the carried
# .triton-carry/ (dev/gpu/make_triton_carry.sh: tritonserver with the Python backend, the client
# packages, the model repository), run test/test_triton_cuda_shm.py against that server, then
# measure the latency at 30 fps with shared memory none / system / cuda (deploy/triton/measure.py).
# Then the same with the model on the server's GPU: the shipped model translated to TorchScript
# on the GPU (dev/gpu/onnx_to_torch.py) and served by the python-torch runtime
# (deploy/triton/model_torch.py): test/test_triton_gpu_model.py, and measure.py --torchscript
# (latency against the local Torch backend, throughput of 1, 2 and 4 clients per shared
# memory mode).
#
# usage: dev/gpu/device_triton_cuda_shm.sh <out-dir>
# Needs: Python 3.12 with onnxruntime and cuda-bindings (cuda-python), for the GPU model also
#   torch with CUDA and onnx, an NVIDIA driver (numpy 1.26 comes with the carry and is used
#   before the machine's own).
# Environment: PYTHON (default python3.12, else a python3 that is 3.12), WORK (where to unpack:
#   default a new folder under /tmp), FRAMES (latency frames per row, default 300), THREADS
#   (ONNX Runtime threads in the server and locally, default 4), SHARED_MEMORY (the modes
#   measured, default none,system,cuda), SKIP_TEST=1 (measure only), SKIP_MEASURE=1 (test
#   only), GPU_MODEL=0 (leave out the model on the server's GPU), ROUNDS (rounds of the
#   GPU-model measurement, default 2), SECONDS_PER_RATE (seconds per throughput run of it,
#   default 4), GPU_FRAMES (its latency frames per row, default 150).
# Writes under <out-dir>: device.log (everything), env.txt, test_cuda_shm.txt, measure.json
# (+ measure.err; measure_without_cuda.json when the run with cuda failed), measure_gpu_model.json
# (+ .err), server logs of the tests (triton_*.log). Exit status: 0 when the tests passed and
# the measurements ran.
set -euo pipefail
out=$(mkdir -p "${1:?usage: device_triton_cuda_shm.sh <out-dir>}" && cd "$1" && pwd)
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
exec > >(tee -a "$out/device.log") 2>&1
export PYTHONUNBUFFERED=1
step() { echo "=== [${SECONDS}s] $*"; }
FRAMES=${FRAMES:-300}
THREADS=${THREADS:-4}
SHARED_MEMORY=${SHARED_MEMORY:-none,system,cuda}
carry=$repo/.triton-carry/triton-carry.tar.xz

step "Python 3.12"
PY=${PYTHON:-}
if [[ -z $PY ]]; then
    if command -v python3.12 >/dev/null; then PY=python3.12; else PY=python3; fi
fi
PY=$(command -v "$PY")
version=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
echo "$PY is Python $version"
[[ $version == 3.12 ]] || { echo "need Python 3.12 (the carried Python backend stub is 3.12's)"; exit 2; }
[[ -s $carry ]] || { echo "no $carry: carry .triton-carry (dev/gpu/make_triton_carry.sh)"; exit 2; }

step "machine"
{
    nvidia-smi -L || echo 'nvidia-smi: not available'
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
    "$PY" - <<'EOF'
import numpy, onnxruntime
import cuda.bindings
from cuda.bindings import runtime as rt
err, count = rt.cudaGetDeviceCount()
print('numpy', numpy.__version__, 'onnxruntime', onnxruntime.__version__,
      'cuda-bindings', getattr(cuda.bindings, '__version__', '?'), 'GPUs', count, err)
EOF
} | tee "$out/env.txt"

work=${WORK:-$(mktemp -d /tmp/yolo_triton_cuda.XXXXXX)}
mkdir -p "$work"
step "unpack $carry into $work"
"$PY" - "$carry" "$work" <<'EOF'
import sys
import tarfile

with tarfile.open(sys.argv[1], 'r:xz') as archive:
    try:
        archive.extractall(sys.argv[2], filter='tar')  # keeps the executable bits
    except TypeError:  # a Python without extraction filters
        archive.extractall(sys.argv[2])
EOF
if command -v sha256sum >/dev/null; then
    if ! (cd "$work" && sha256sum --quiet -c MANIFEST.sha256); then
        echo 'the unpacked files do not match MANIFEST.sha256: carry .triton-carry again'
        exit 2
    fi
    echo 'checksums: OK'
fi

step "venv with the carried packages and the machine's own"
# test/triton_server.py looks for the server in a venv (YOLO_TRT_ROS_TRITON_VENV), whose
# bin/python3 the Python backend's stub finds on PATH and embeds: so the venv's site-packages
# are what the model.py in the server imports. It holds the carried server and client packages
# (with numpy 1.26, first on the path: this server's Python backend returns empty outputs with
# numpy 2), and a .pth file adds the site-packages of the machine's Python (onnxruntime,
# cuda-bindings), which may itself be a venv.
tree=$work/venv
if ! "$PY" -m venv --without-pip "$tree"; then
    echo 'python -m venv failed: making the venv by hand'
    base=$("$PY" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))')
    mkdir -p "$tree/bin" "$tree/lib/python3.12/site-packages"
    ln -sf "$base" "$tree/bin/python3"
    ln -sf "$base" "$tree/bin/python"
    printf 'home = %s\ninclude-system-site-packages = false\nversion = %s\n' "$(dirname "$base")" \
        "$("$PY" -c 'import platform; print(platform.python_version())')" > "$tree/pyvenv.cfg"
fi
vpy=$tree/bin/python3
site=$("$vpy" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cp -a "$work/site-packages/." "$site/"
"$PY" -c 'import site; print("\n".join(site.getsitepackages()))' > "$site/machine_packages.pth"
echo "venv $tree: $site, then:"
cat "$site/machine_packages.pth"
export PYTHONPATH=$repo

step "Python backend stub's libraries"
tritonroot=$site/pytriton/tritonserver
libs=$site/nvidia_pytriton.libs
stub=$tritonroot/backends/python/triton_python_backend_stub
missing=$(LD_LIBRARY_PATH=$libs ldd "$stub" | awk '/not found/ {print $1}' || true)
if [[ $missing == *libpython3.12* && -f $work/fallback/libpython3.12.so.1.0 ]]; then
    echo "no shared libpython3.12 on this machine: using the carried one"
    cp "$work/fallback/libpython3.12.so.1.0" "$libs/"
fi
LD_LIBRARY_PATH=$libs ldd "$stub" "$tritonroot/bin/tritonserver" | grep -E 'not found|libpython' || true
if LD_LIBRARY_PATH=$libs ldd "$stub" "$tritonroot/bin/tritonserver" | grep -q 'not found'; then
    echo 'a library of the server is missing (above)'
    exit 2
fi

step "client imports"
"$vpy" -c 'import tritonclient.grpc, tritonclient.utils.cuda_shared_memory, pytest, onnxruntime
print("tritonclient, cuda_shared_memory, pytest: OK")'
export YOLO_TRT_ROS_TRITON_VENV=$tree
export YOLO_TRT_ROS_TRITON_REPOSITORY=$work/models

step "test/test_triton_cuda_shm.py"
rc_test=0
if [[ ${SKIP_TEST:-0} == 1 ]]; then
    echo 'SKIP_TEST=1: not run' > "$out/test_cuda_shm.txt"
else
    tests=(test/test_triton_cuda_shm.py)
    [[ ${GPU_MODEL:-1} == 1 ]] && tests+=(test/test_triton_gpu_model.py)
    YOLO_TRT_ROS_REQUIRE_CUDA_SHM=1 timeout 400 "$vpy" -m pytest -p no:cacheprovider -v -rA \
        --basetemp="$work/pytest" "${tests[@]}" > "$out/test_cuda_shm.txt" 2>&1 \
        || rc_test=$?
fi
tail -40 "$out/test_cuda_shm.txt"
echo "test exit $rc_test"
find "$work/pytest" -name 'triton_*.log' -exec cp {} "$out/" \; 2>/dev/null || true

rc_measure=0
if [[ ${SKIP_MEASURE:-0} == 1 ]]; then
    step "done: test $rc_test, SKIP_MEASURE=1; files in $out"
    exit "$rc_test"
fi
protocols=grpc
if "$vpy" -c 'import tritonclient.http.aio' 2>/dev/null; then protocols=grpc,http; fi
step "latency at 30 fps: shared memory $SHARED_MEMORY over $protocols"
timeout 240 "$vpy" deploy/triton/measure.py --frames "$FRAMES" --threads "$THREADS" \
    --protocols "$protocols" --shared-memory "$SHARED_MEMORY" --clients '' \
    > "$out/measure.json" 2> "$out/measure.err" || rc_measure=$?
cat "$out/measure.json"
tail -5 "$out/measure.err"
echo "measure exit $rc_measure"
if [[ $rc_measure != 0 && $SHARED_MEMORY == *cuda* ]]; then
    step "latency again without cuda (the run with it failed)"
    timeout 200 "$vpy" deploy/triton/measure.py --frames "$FRAMES" --threads "$THREADS" \
        --protocols "$protocols" --shared-memory none,system --clients '' \
        > "$out/measure_without_cuda.json" 2> "$out/measure_without_cuda.err" || true
    cat "$out/measure_without_cuda.json"
fi

if [[ ${GPU_MODEL:-1} == 1 ]]; then
    step "model on the server's GPU: TorchScript of the shipped model, traced on the GPU"
    ts=$work/arena_yolo.torchscript
    "$vpy" dev/gpu/onnx_to_torch.py engines/arena_yolo.onnx "$ts" --device cuda || rc_measure=1
    step "latency at 30 fps against the local Torch backend, throughput of 1, 2 and 4 clients"
    timeout 300 "$vpy" deploy/triton/measure.py --torchscript "$ts" --frames "${GPU_FRAMES:-150}" \
        --protocols grpc --shared-memory "$SHARED_MEMORY" --throughput-shared-memory "$SHARED_MEMORY" \
        --clients 1,2,4 --seconds "${SECONDS_PER_RATE:-4}" --rounds "${ROUNDS:-2}" \
        > "$out/measure_gpu_model.json" 2> "$out/measure_gpu_model.err" || rc_measure=$?
    cat "$out/measure_gpu_model.json"
    tail -5 "$out/measure_gpu_model.err"
fi

step "done: test $rc_test, measure $rc_measure; files in $out"
ls -la "$out"
[[ $rc_test == 0 && $rc_measure == 0 ]]
