#!/usr/bin/env bash
# Side-stream staging before/after on the GPU machine (bench/results/h200_overlap): the GPU
# tests, the frame taken apart (overlap_probe.py), then rows a, b, c with the side stream, without
# it (--no-side-stream), from a baseline checkout (optional), and with the side stream again.
#
# usage: dev/gpu/device_overlap.sh <out-dir> [baseline-checkout]
# Environment: FRAMES (default 300), CLIP (default data/sample/arena_sample.mp4 of this checkout
#   or of the baseline), RUNS (default "side one base side2").
set -uo pipefail
out=$(mkdir -p "${1:?usage: device_overlap.sh <out-dir> [baseline-checkout]}" && cd "$1" && pwd)
base=${2:-}
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
export PYTHONUNBUFFERED=1
FRAMES=${FRAMES:-300}
RUNS=${RUNS:-side one base side2}
MODEL=/tmp/yolov8n_like.torchscript
step() { echo "=== [${SECONDS}s] $*"; }
clip=${CLIP:-}
for c in "$repo/data/sample/arena_sample.mp4" "${base:+$base/data/sample/arena_sample.mp4}"; do
    [[ -z "$clip" && -n "$c" && -s "$c" ]] && clip=$c
done
[[ -n "$clip" ]] || { echo "no sample clip: set CLIP" >&2; exit 2; }
pack() { tar -czf "$out/results.tgz" -C "$out" --exclude results.tgz --exclude '*.png' . 2>/dev/null; }

step "model: $MODEL"
PYTHONPATH=$repo python3 dev/gpu/yolov8n_like.py "$MODEL" --device cuda 2>&1 | tail -2
step "GPU tests"
PYTHONPATH=$repo python3 -m pytest -p no:cacheprovider -m gpu -q test/test_torch_backend.py \
    test/test_gpu_preprocess.py 2>&1 | tail -15 | tee "$out/tests_gpu.txt"
PYTHONPATH=$repo python3 -m pytest -p no:cacheprovider -q test/test_torch_backend.py \
    test/test_detector.py test/test_pipeline.py -k 'stag or device or batch' 2>&1 | tail -6 \
    | tee "$out/tests_cpu_on_gpu_machine.txt"
step "probe"
PYTHONPATH=$repo python3 dev/gpu/overlap_probe.py "$MODEL" --json "$out/probe.json" 2>&1 | tail -20
pack
common=(--rows a,b,c --backend torch --device cuda --fp16 --cuda-graph --model "$MODEL"
    --frames "$FRAMES" --rounds 3 --warmup 30 --clip "$clip")
for run in $RUNS; do
    case "$run" in
        side | side2) where=$repo extra=() ;;
        one) where=$repo extra=(--no-side-stream) ;;
        base) [[ -n "$base" ]] || continue; where=$base extra=() ;;
        *) echo "unknown run $run"; continue ;;
    esac
    step "bench $run (${where}) ${extra[*]}"
    (cd "$where" && PYTHONPATH=$where python3 -m bench "${common[@]}" "${extra[@]}" \
        --out "$out/$run" --tag "H200 YOLOv8n-size FP16+graph, $run") >"$out/$run.log" 2>&1
    echo "exit $?"
    cat "$out/$run/bench.txt" 2>/dev/null | sed -n '1,8p;/c_max fps/p' || tail -20 "$out/$run.log"
    pack
done
PYTHONPATH=$repo python3 dev/gpu/overlap_summary.py "$out" $RUNS | tee "$out/summary.txt"
pack
step done
