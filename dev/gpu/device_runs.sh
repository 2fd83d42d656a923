#!/usr/bin/env bash
# The benchmark runs behind the README's GPU and CPU tables, on the GPU machine (no network):
# the ROS venv (device_bench.sh), Ultralytics from a carried wheel for the peer rows (e, f),
# then each run below; a tarball of every result is rewritten after each run, so a run cut
# short still returns what finished.
#
# usage: dev/gpu/device_runs.sh <out-dir> [run ...]
#   runs: gpu_yolov8n  YOLOv8n-size model (Ultralytics' yolov8n.yaml, random weights) as
#                      TorchScript through the Torch backend (FP16, CUDA graph, GPU letterbox)
#                      against Ultralytics predict on the same weights (.pt, FP16), rows a-f
#         gpu_yolov8n_rect  rows a-f as gpu_yolov8n with the TorchScript exported at 384x640,
#                      the letterbox of a 16:9 frame (the peer's predict already runs 384x640)
#         gpu_yolov8n_message  rows d, f as gpu_yolov8n, the camera building a Python Image per
#                      frame (--camera-publish message); after gpu_yolov8n
#         gpu_yolov8n_window  rows d, f as gpu_yolov8n with $WINDOWS (default "3 4") frames in
#                      flight in the max-rate feed (--node-window)
#         gpu_arena    the shipped model, same GPU path, rows a-f (peer on its TorchScript)
#         cpu_2core    shipped model on 2 pinned cores, ONNX Runtime, rows a-f, --profile
#         cpu_square   the square-letterbox (static) model on 2 cores, rows a, b: the time
#                      rectangular inference saves ($STATIC_ONNX)
#         refactor     rows b, c before/after the benchmark became a package ($OLD_BENCH)
#   A run named <run>@process runs with the camera and the sink of rows d and f in a process
#   of their own (--harness process, bench/harness_process.py) into <out>/<run>_process;
#   <run>@thread (the default) keeps them in a thread of the node's process.
# Environment: WHEELS (default .whl), UL_WHEEL (ultralytics wheel, default $WHEELS/ultralytics-*),
#   FRAMES (default 300), CPU_FRAMES (default 240), PACK (the tarball, default <out>/results.tgz),
#   BENCH_EXTRA (options added to every bench run, e.g. "--image-take executor").
set -uo pipefail
out=$(mkdir -p "${1:?usage: device_runs.sh <out-dir> [run ...]}" && cd "$1" && pwd)
shift
runs=("$@")
[[ ${#runs[@]} -gt 0 ]] || runs=(gpu_yolov8n cpu_2core cpu_square refactor gpu_arena)
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
WHEELS=$(cd "${WHEELS:-$repo/.whl}" && pwd)
FRAMES=${FRAMES:-300}
CPU_FRAMES=${CPU_FRAMES:-240}
VENV=${VENV:-/tmp/ros_venv}
VPY="$VENV/bin/python"
t0=$(date +%s)
step() { echo "=== [$(( $(date +%s) - t0 ))s] $*"; }
PACK=${PACK:-$out/results.tgz}
pack() { tar -czf "$PACK" -C "$out" --exclude results.tgz . 2>/dev/null || true; }

step "setup: ROS venv (device_bench.sh, no bench)"
BENCH_BACKEND=none WHEELS="$WHEELS" VENV="$VENV" dev/gpu/device_bench.sh "$out/setup" \
    >"$out/setup.log" 2>&1 || { tail -30 "$out/setup.log"; pack; exit 1; }
tail -3 "$out/setup.log"
ul=$(ls ${UL_WHEEL:-$WHEELS/ultralytics-*.whl} 2>/dev/null | head -1)
if [[ -n "$ul" ]]; then
    step "ultralytics (out of tree, --no-deps) from $ul into /tmp/ul_site"
    "$VPY" -m pip install -q --no-index --no-deps --target /tmp/ul_site "$ul"
    export PYTHONPATH=/tmp/ul_site${PYTHONPATH:+:$PYTHONPATH}
fi
export YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 YOLO_CONFIG_DIR=/tmp/ul_cfg PYTHONUNBUFFERED=1
# The sample clip (no MCAP bag: rosbags is not on that machine).
[[ -s data/sample/arena_sample.mp4 ]] || "$VPY" -m yolo_trt_ros.tools.make_sample --no-bag 2>&1 | tail -2
pin2=()
command -v taskset >/dev/null && pin2=(taskset -c 0,1)

bench() {  # bench <name> <args...>: one benchmark run into $out/<name>
    local name=$1
    shift
    step "bench $name: $*"
    [[ $harness == process ]] && name=${name}_process
    step "  harness: $harness"
    # shellcheck disable=SC2086 - BENCH_EXTRA is a list of options
    "${pin[@]}" "$VPY" -m bench --out "$out/$name" --harness "$harness" ${BENCH_EXTRA:-} "$@" \
        >"$out/$name.log" 2>&1
    echo "exit $?"
    cat "$out/$name/bench.txt" 2>/dev/null || tail -20 "$out/$name.log"
    pack
}

make_yolov8n() {  # Ultralytics' yolov8n.yaml (random weights) -> .pt and TorchScript, once
    [[ -s /tmp/yolov8n.torchscript && -s /tmp/yolov8n.pt ]] && return 0
    step "yolov8n.yaml -> /tmp/yolov8n.pt -> /tmp/yolov8n.torchscript"
    "$VPY" - <<'PY' 2>&1 | tail -3
from ultralytics import YOLO
YOLO('yolov8n.yaml').save('/tmp/yolov8n.pt')
print(YOLO('/tmp/yolov8n.pt').export(format='torchscript', imgsz=640))
PY
}

for run in "${runs[@]}"; do
    harness=thread
    if [[ $run == *@* ]]; then
        harness=${run#*@}
        run=${run%@*}
    fi
    case "$run" in
        gpu_yolov8n)
            make_yolov8n
            pin=()
            bench gpu_yolov8n --backend torch --device cuda --fp16 --cuda-graph \
                --model /tmp/yolov8n.torchscript --peer-model /tmp/yolov8n.pt \
                --frames "$FRAMES" --warmup 30 --profile --tag 'H200 YOLOv8n-size FP16+CUDA graph'
            ;;
        gpu_yolov8n_rect)
            # Rectangular inference on the GPU: a TorchScript has fixed input dims, so it is
            # exported at the 16:9 letterbox (384x640); Ultralytics' predict on the .pt letterboxes
            # 1280x720 to 384x640 itself (auto padding), so both then infer the same pixels.
            make_yolov8n
            [[ -s /tmp/yolov8n_384x640.torchscript ]] || "$VPY" - <<'PY' 2>&1 | tail -2
import shutil
from ultralytics import YOLO
# a copy of the weights, so that the export does not overwrite /tmp/yolov8n.torchscript
shutil.copy('/tmp/yolov8n.pt', '/tmp/yolov8n_384x640.pt')
print(YOLO('/tmp/yolov8n_384x640.pt').export(format='torchscript', imgsz=[384, 640]))
PY
            pin=()
            bench gpu_yolov8n_rect --backend torch --device cuda --fp16 --cuda-graph \
                --model /tmp/yolov8n_384x640.torchscript --peer-model /tmp/yolov8n.pt \
                --frames "$FRAMES" --warmup 30 --profile \
                --tag 'H200 YOLOv8n-size FP16+CUDA graph, exported at 384x640'
            ;;
        gpu_yolov8n_message)
            # Rows d and f again with the camera building a Python Image per frame (the
            # harness before --camera-publish serialized): the camera's share of the latency.
            [[ -s /tmp/yolov8n.torchscript ]] || { echo "run gpu_yolov8n first" >&2; continue; }
            pin=()
            bench gpu_yolov8n_message --backend torch --device cuda --fp16 --cuda-graph \
                --model /tmp/yolov8n.torchscript --peer-model /tmp/yolov8n.pt --rows d,f \
                --camera-publish message --frames "$FRAMES" --warmup 30 \
                --tag 'H200 YOLOv8n-size, camera builds a Python Image per frame'
            ;;
        gpu_yolov8n_window)
            # Rows d and f again with $WINDOWS frames in flight in the max-rate feed instead of
            # two: a camera does not wait for results, and two in flight bound row d's rate at
            # about 2 / its latency, most of which is the image's way through DDS.
            make_yolov8n
            pin=()
            for w in ${WINDOWS:-3 4}; do
                bench "gpu_yolov8n_window$w" --backend torch --device cuda --fp16 --cuda-graph \
                    --model /tmp/yolov8n.torchscript --peer-model /tmp/yolov8n.pt --rows d,f \
                    --node-window "$w" --frames "$FRAMES" --warmup 30 \
                    --tag "H200 YOLOv8n-size, $w frames in flight at max rate"
            done
            ;;
        gpu_arena)
            "$VPY" dev/gpu/onnx_to_torch.py engines/arena_yolo.onnx /tmp/arena.torchscript --device cuda
            pin=()
            bench gpu_arena --backend torch --device cuda --fp16 --cuda-graph \
                --model /tmp/arena.torchscript --peer-model /tmp/arena.torchscript \
                --frames "$FRAMES" --warmup 30 --tag 'H200 shipped model FP16+CUDA graph'
            ;;
        cpu_2core)
            pin=("${pin2[@]}")
            bench cpu_2core --device cpu --threads 2 --frames "$CPU_FRAMES" --profile \
                --tag '2 pinned cores of the H200 host, shipped model (rectangular)'
            ;;
        cpu_square)
            pin=("${pin2[@]}")
            bench cpu_square --device cpu --threads 2 --rows a,b --rounds 3 --frames 120 \
                --model "${STATIC_ONNX:?}" --tag '2 cores, square letterbox (static model)'
            bench cpu_rect --device cpu --threads 2 --rows a,b --rounds 3 --frames 120 \
                --tag '2 cores, rectangular letterbox (shipped model)'
            ;;
        refactor)
            pin=("${pin2[@]}")
            step "bench before the package (${OLD_BENCH:?}): rows b, c"
            "${pin[@]}" "$VPY" "$OLD_BENCH" --out "$out/refactor_before" --rows b,c --rounds 1 \
                --frames 120 --model "${STATIC_ONNX:?}" --device cpu --threads 2 2>&1 \
                | tee "$out/refactor_before.log" | tail -12
            bench refactor_after --rows b,c --rounds 1 --frames 120 --model "$STATIC_ONNX" \
                --device cpu --threads 2
            ;;
        *) echo "unknown run '$run'" >&2 ;;
    esac
done
step "done"
pack
