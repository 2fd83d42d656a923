#!/usr/bin/env bash
# Several cameras on the GPU machine (issue 12's benchmark, no network): the ROS venv
# (device_bench.sh), Ultralytics from a carried wheel to build the YOLOv8n-size model, the GPU
# tests of the batched path, then `python -m bench --cameras` with the Torch backend (FP16,
# CUDA graph per batch size, GPU letterbox). A tarball of every result is rewritten after each
# step, so a run cut short still returns what finished.
#
# usage: dev/gpu/device_cams.sh <out-dir> [step ...]
#   steps: tests    pytest of the Torch backend and the GPU letterbox (the gpu-marked tests)
#          cams     bench --cameras $COUNTS (default 1,2,4,8), $CAM_SECONDS s per set-up; each
#                   synthetic camera is a process of its own, unsynchronised (random phase)
#          cams_sync  the same with --cameras-sync (hardware-synchronised cameras), in cams_sync/
#          <step>:<counts>  any cams step with its own camera counts (cams_own:1,4)
#          cams_own   the same with YOLO_TRT_ROS_CAMERA_INPUTS=own (a DDS participant per camera
#                   in the one node), in cams_own/
#          rows     bench rows $ROWS (default a,b,c) of the one-camera path, $FRAMES frames, twice
#                   in turn: --gpu-candidates 0 (the full output downloaded, rows_full) and the
#                   backend default (512 candidates kept on the GPU, rows_cand)
# Environment: WHEELS (default .whl), UL_WHEEL (default $WHEELS/ultralytics-*.whl),
#   COUNTS, CAM_SECONDS (default 10), ROWS, FRAMES (default 300), PACK (default <out>/results.tgz).
set -uo pipefail
out=$(mkdir -p "${1:?usage: device_cams.sh <out-dir> [step ...]}" && cd "$1" && pwd)
shift
steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(tests cams)
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
WHEELS=$(cd "${WHEELS:-$repo/.whl}" && pwd)
COUNTS=${COUNTS:-1,2,4,8}
CAM_SECONDS=${CAM_SECONDS:-10}
ROWS=${ROWS:-a,b,c}
FRAMES=${FRAMES:-300}
VENV=${VENV:-/tmp/ros_venv}
VPY="$VENV/bin/python"
MODEL=/tmp/yolov8n.torchscript
t0=$(date +%s)
step() { echo "=== [$(( $(date +%s) - t0 ))s] $*"; }
PACK=${PACK:-$out/results.tgz}
pack() { tar -czf "$PACK" -C "$out" --exclude results.tgz . 2>/dev/null || true; }
torch_args=(--backend torch --device cuda --fp16 --cuda-graph --model "$MODEL")

step "setup: ROS venv (device_bench.sh, no bench)"
BENCH_BACKEND=none WHEELS="$WHEELS" VENV="$VENV" dev/gpu/device_bench.sh "$out/setup" \
    >"$out/setup.log" 2>&1 || { tail -30 "$out/setup.log"; pack; exit 1; }
tail -2 "$out/setup.log"
ul=$(ls ${UL_WHEEL:-$WHEELS/ultralytics-*.whl} 2>/dev/null | head -1)
step "ultralytics (out of tree, --no-deps) from $ul into /tmp/ul_site"
"$VPY" -m pip install -q --no-index --no-deps --upgrade --target /tmp/ul_site "$ul"
export PYTHONPATH=/tmp/ul_site${PYTHONPATH:+:$PYTHONPATH}
export YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 YOLO_CONFIG_DIR=/tmp/ul_cfg PYTHONUNBUFFERED=1
export ROS_LOG_DIR=${ROS_LOG_DIR:-/tmp/ros_log}
grep -q 'UDPv4 only' "$out/setup/env.txt" 2>/dev/null && export FASTDDS_BUILTIN_TRANSPORTS=UDPv4

step "yolov8n.yaml -> $MODEL (TorchScript; its batch dimension is checked at batch 8)"
"$VPY" - <<'PY' 2>&1 | tail -8
from ultralytics import YOLO
YOLO('yolov8n.yaml').save('/tmp/yolov8n.pt')
print(YOLO('/tmp/yolov8n.pt').export(format='torchscript', imgsz=640))
from yolo_trt_ros.backends.torch_backend import TorchBackend
with TorchBackend('/tmp/yolov8n.torchscript', device='cuda', fp16=True, max_batch=8) as b:
    print('batch:', b.describe_batch(), 'device_batch:', b.device_batch,
          'outputs:', [s.shape for s in b.output_specs])
# The candidates kept on the GPU against the full output, batch 4, FP16 + CUDA graphs, at a
# threshold 20 anchors of each frame pass (random weights score low everywhere).
import numpy as np
from yolo_trt_ros.core.decode import decode
from yolo_trt_ros.core.detector import Detector, DetectorConfig
from yolo_trt_ros.synthetic.arena import ArenaGenerator
imgs = [ArenaGenerator(10_000_000 + i).scene(1280, 720).image_bgr for i in range(4)]
got = {}
for k in (0, 512):
    with TorchBackend('/tmp/yolov8n.torchscript', device='cuda', fp16=True, cuda_graph=True,
                      max_batch=8, gpu_candidates=k) as b:
        det = Detector(b, DetectorConfig(conf_threshold=0.0))
        if k == 0:
            outs, _ = det.infer_batch([det.prepare(im) for im in imgs])
            t = float(min(np.sort(o[4:].max(axis=0))[-20] for o in outs[0]))
        det.set_thresholds(conf_threshold=t)
        outs, _ = det.infer_batch([det.prepare(im) for im in imgs])
        got[k] = [decode(det.element_outputs(outs, i), det.family, det.num_classes, t)
                  for i in range(4)]
        print(f'gpu_candidates {k}: output {outs[0].shape}, full downloads',
              getattr(b, 'full_downloads', None), 'candidates', [len(c) for c in got[k]])
same = all(np.allclose(a.boxes, c.boxes, atol=1e-3) and np.array_equal(a.class_ids, c.class_ids)
           for a, c in zip(got[0], got[512]))
print('candidates on the GPU == full output:', same)
PY
nvidia-smi --query-gpu=name,memory.used,clocks.sm --format=csv,noheader | tee "$out/gpu.txt"
pack

for s in "${steps[@]}"; do
    # A step may name its own camera counts: cams_own:1,4 runs cams_own with COUNTS=1,4.
    counts=$COUNTS
    [[ $s == *:* ]] && { counts=${s#*:}; s=${s%%:*}; }
    # Variants as +suffixes (cams+si0.5+dds): si<ms> runs every process of the step with that
    # Python thread switch interval (dev/gpu/si/sitecustomize.py reads SI_MS), dds with the
    # Fast DDS large-images profile, own with a DDS participant per camera in the one node
    # (YOLO_TRT_ROS_CAMERA_INPUTS=own), exec with the node's images taken through the executor
    # (--image-take executor); the results go to the folder named by the whole step.
    name=$s
    step_env=()
    bench_extra=()
    if [[ $s == *+* ]]; then
        for v in $(tr '+' ' ' <<<"${s#*+}"); do
            case "$v" in
                si*) step_env+=(SI_MS="${v#si}" PYTHONPATH="$repo/dev/gpu/si:$PYTHONPATH") ;;
                dds) step_env+=(FASTRTPS_DEFAULT_PROFILES_FILE="$repo/config/fastdds_large_images.xml") ;;
                own) step_env+=(YOLO_TRT_ROS_CAMERA_INPUTS=own) ;;
                exec) bench_extra+=(--image-take executor) ;;
                *) echo "unknown variant '$v'" >&2 ;;
            esac
        done
        s=${s%%+*}
    fi
    case "$s" in
        tests)
            step "pytest (GPU tests of the Torch backend and the letterbox)"
            "$VPY" -m pytest -q -p no:cacheprovider test/test_torch_backend.py \
                test/test_gpu_preprocess.py 2>&1 | tail -15 | tee "$out/pytest_gpu.log"
            ;;
        cams|cams_sync|cams_own)
            sync=()
            [[ $s == cams_sync ]] && sync=(--cameras-sync)
            inputs=shared
            [[ $s == cams_own ]] && inputs=own
            step "bench --cameras $counts ${sync[*]} (camera inputs: $inputs) ${step_env[*]}"
            marker="$out/.$name.start"; : >"$marker"  # this step's set-up folders are newer
            env YOLO_TRT_ROS_CAMERA_INPUTS=$inputs "${step_env[@]}" \
                "$VPY" -m bench --cameras "$counts" "${torch_args[@]}" \
                --cameras-seconds "$CAM_SECONDS" "${sync[@]}" "${bench_extra[@]}" --out "$out/$name" \
                >"$out/$name.log" 2>&1
            echo "exit $?"
            cat "$out/$name/cameras.txt" 2>/dev/null || tail -30 "$out/$name.log"
            # the node and camera logs of each set-up (load lines, batch plan, errors)
            mkdir -p "$out/$name/nodes"
            for d in $(find /tmp -maxdepth 1 -name 'bench_cams_*' -newer "$marker"); do
                [[ -d "$d" ]] || continue
                tail -c 4000 "$d"/node0.log >"$out/$name/nodes/$(basename "$d").log" 2>/dev/null
                cat "$d"/camera*.log >"$out/$name/nodes/$(basename "$d").cameras.log" 2>/dev/null
            done
            ;;
        rows)
            # the sample clip the rows replay (no MCAP bag: rosbags is not on that machine)
            [[ -s data/sample/arena_sample.mp4 ]] \
                || "$VPY" -m yolo_trt_ros.tools.make_sample --no-bag 2>&1 | tail -1
            for variant in full cand; do
                extra=()
                [[ $variant == full ]] && extra=(--gpu-candidates 0)
                step "bench rows $ROWS ($variant) ${extra[*]}"
                "$VPY" -m bench --rows "$ROWS" "${torch_args[@]}" "${extra[@]}" --frames "$FRAMES" \
                    --warmup 30 --out "$out/rows_$variant" >"$out/rows_$variant.log" 2>&1
                echo "exit $?"
                cat "$out/rows_$variant/bench.txt" 2>/dev/null || tail -30 "$out/rows_$variant.log"
            done
            ;;
        *) echo "unknown step '$s'" >&2 ;;
    esac
    pack
done
step "done"
pack
