# Copyright 2026 yolo_trt_ros maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Command line of the benchmark: options, the rounds of rows, the report files."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import sys
import time
from typing import Dict, List, Optional, Sequence

from bench.detector import backend_options, DEFAULT_MODEL, make_detector_factory, REPO
from bench.feed import ClipReader, ensure_clip, FrameBank
from bench.report import format_table, machine_info, write_plot
from bench.results import fps_ratio, merge_rounds, num, Row
from bench.ros_harness import ros_unavailable
from bench.rows.limit import run_limit
from bench.rows.node import run_node
from bench.rows.peer_node import run_peer_node
from bench.rows.pipeline import run_pipeline
from bench.rows.sequential import run_sequential
from bench.rows.tracker import run_tracker
from bench.rows.ultralytics_loop import run_ultralytics
from bench.targets import evaluate_targets, evaluate_tracker_target, targets_for, verdict_lines

DEFAULT_OUT = REPO / 'out' / 'bench'
ROWS = 'abcdeft'


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='Rows, feeds and targets: bench/README.md.',
    )
    p.add_argument(
        '--model', default=str(DEFAULT_MODEL), help='model file (default: shipped ONNX)'
    )
    p.add_argument('--backend', default='auto', help='auto | onnxruntime | tensorrt | torch')
    p.add_argument('--device', default='cpu', help='cpu | cuda | auto')
    p.add_argument(
        '--threads',
        type=int,
        default=0,
        help='ONNX Runtime intra-op threads (0: all available cores)',
    )
    p.add_argument(
        '--ort-no-spin',
        action='store_true',
        help="ONNX Runtime worker threads do not spin (the node's "
        'ort_allow_spinning:=false), in every row',
    )
    p.add_argument(
        '--fp16',
        action='store_true',
        help="Torch backend: half precision (the node's torch_fp16; CUDA only)",
    )
    p.add_argument(
        '--cuda-graph',
        action='store_true',
        help="Torch backend: replay the forward as a CUDA graph (the node's "
        'torch_cuda_graph; CUDA only)',
    )
    p.add_argument(
        '--clip', default=None, help='video (default: the sample clip, made if missing)'
    )
    p.add_argument(
        '--frames', type=int, default=240, help='frames measured per row (in all rounds together)'
    )
    p.add_argument(
        '--rounds',
        type=int,
        default=3,
        help='run the rows this many times in turn (a, b, c, d, e, a, b, ...): '
        "fps targets are judged on the median of each round's ratio to its "
        "own a, so the machine's drift does not decide them (1: one pass)",
    )
    p.add_argument('--warmup', type=int, default=15, help='frames run before measuring')
    p.add_argument(
        '--rows',
        default='a,b,c,d,e,f,t',
        help='rows to run (comma list of a..f and t, the tracker alone)',
    )
    p.add_argument(
        '--tracker-frames',
        type=int,
        default=300,
        help='row t: simulated frames per tracker round (the first 10 %% left out)',
    )
    p.add_argument(
        '--tracker-rounds',
        type=int,
        default=5,
        help='row t: tracker rounds in each round of the benchmark (the target judges the '
        "median of all rounds' p50s)",
    )
    p.add_argument(
        '--peer-model',
        default=None,
        help='model Ultralytics loads in row f (default: --model; on the GPU the .pt or '
        '.torchscript of the same weights)',
    )
    p.add_argument('--pace-fps', type=float, default=30.0, help='camera rate of the paced runs')
    p.add_argument(
        '--pace-fraction',
        type=float,
        default=0.8,
        help='paced runs slower than --pace-fps: this fraction of the max-rate fps '
        '(the margin keeps jitter from queueing frames)',
    )
    p.add_argument(
        '--window', type=int, default=2, help='row c: frames in flight in the max-rate feed'
    )
    p.add_argument(
        '--node-window',
        type=int,
        default=4,
        help='rows d, f: frames in flight in the max-rate feed (4: enough to keep a pipelined '
        'node busy over DDS; with 2 its rate is bounded by about 2 / its latency)',
    )
    p.add_argument(
        '--camera-publish',
        choices=('serialized', 'message'),
        default='serialized',
        help='rows d, f: the camera publishes frames serialised once and re-stamped (as a C++ '
        "driver would) or builds and converts a Python Image per frame ('message')",
    )
    p.add_argument(
        '--harness',
        choices=('thread', 'process'),
        default='process',
        help="rows d, f: the camera and the sink in a thread of the node's process ('thread') or "
        "in a process of their own, as a camera driver is ('process'; bench/harness_process.py)",
    )
    p.add_argument(
        '--open-loop', action='store_true', help='also run c and d with an open-loop firehose feed'
    )
    p.add_argument(
        '--preload',
        type=int,
        default=64,
        help='frames decoded once into memory that feed rows c, d, e (cycled)',
    )
    p.add_argument(
        '--decode-in-loop',
        action='store_true',
        help='feed c, d and e from the video decoder instead of preloaded frames',
    )
    p.add_argument(
        '--helper-nice',
        type=int,
        default=0,
        help="raise the nice value of the pipeline's capture/postprocess threads "
        '(0: leave them alone)',
    )
    p.add_argument(
        '--no-limit-again',
        action='store_true',
        help='do not measure the limit (a) again at the end of the run',
    )
    p.add_argument('--capture-queue', type=int, default=2)
    p.add_argument('--result-queue', type=int, default=2)
    p.add_argument(
        '--image-take',
        choices=('thread', 'executor'),
        default='thread',
        help="the node's image_take (rows d and --cameras): its own thread per camera, or the "
        'executor',
    )
    p.add_argument('--conf', type=float, default=0.25)
    p.add_argument('--iou', type=float, default=0.45)
    p.add_argument('--max-det', type=int, default=100)
    p.add_argument('--row-timeout', type=float, default=300.0, help='seconds per row at most')
    p.add_argument('--out', default=str(DEFAULT_OUT), help='folder for bench.json/.png/.txt')
    p.add_argument('--tag', default='', help='label stored in the JSON and the plot title')
    p.add_argument('--strict', action='store_true', help='exit 1 when a target fails')
    p.add_argument(
        '--cameras',
        default='',
        help='several-camera mode instead of rows a-f: camera counts, e.g. 1,2,4,8 (one batching '
        'node against one node per camera; bench/multicam.py)',
    )
    p.add_argument(
        '--gpu-candidates',
        type=int,
        default=None,
        help='Torch backend: candidates kept on the GPU before the download (0: the full '
        'output; default: the backend default, 512)',
    )
    p.add_argument(
        '--no-side-stream',
        action='store_true',
        help='Torch backend: upload and letterbox each frame on the inference thread, on the '
        "model's stream, instead of in the producer thread on a second stream (before/after)",
    )
    p.add_argument('--camera-frames', type=int, default=16, help='scenes per synthetic camera')
    p.add_argument('--camera-size', default='1280x720', help='WxH of the synthetic cameras')
    p.add_argument('--cameras-seconds', type=float, default=10.0, help='measured seconds per run')
    p.add_argument('--cameras-warmup-s', type=float, default=3.0, help='seconds before measuring')
    p.add_argument(
        '--cameras-sync',
        action='store_true',
        help='several-camera mode: the cameras tick together (hardware-synchronised); default '
        'unsynchronised, each camera at a random phase',
    )
    p.add_argument(
        '--cameras-phase-seed', type=int, default=1, help="seed of the cameras' random phases"
    )
    p.add_argument(
        '--node-start-timeout', type=float, default=120.0, help='seconds for the nodes to come up'
    )
    p.add_argument(
        '--profile',
        action='store_true',
        help='also run the node paced with per-stage timestamps (image stamp -> receipt) and '
        'print where the time goes (bench/stage_trace.py)',
    )
    return p


def run_camera_mode(args) -> int:
    """Run the several-camera mode (bench/multicam.py) and write cameras.json / .txt."""
    from bench.multicam import run_cameras

    try:
        counts = [int(c) for c in str(args.cameras).split(',') if c.strip()]
    except ValueError:
        raise SystemExit(
            f'bench: --cameras takes camera counts like 1,2,4,8, got {args.cameras!r}'
        ) from None
    if not counts or min(counts) < 1:
        raise SystemExit(f'bench: --cameras takes positive camera counts, got {args.cameras!r}')
    missing = ros_unavailable()
    if missing:
        raise SystemExit(f'bench: the several-camera mode needs ROS: {missing}')
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 101 + 1))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = run_cameras(args, counts)
    lines = [report['table'], '', 'targets (cameras):'] + verdict_lines(report['targets'])
    text = '\n'.join(lines)
    print('\n' + text, flush=True)
    report['options'] = dict(vars(args))
    report['machine'] = machine_info()
    (out_dir / 'cameras.json').write_text(json.dumps(report, indent=1))
    (out_dir / 'cameras.txt').write_text(text + '\n')
    failed = [t for t in report['targets'] if t['pass'] is False]
    return 1 if (args.strict and failed) else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    wanted = {s.strip() for s in args.rows.split(',') if s.strip()}
    unknown = wanted - set(ROWS)
    if unknown:
        raise SystemExit(
            f'bench: unknown rows {sorted(unknown)}: expected a subset of {",".join(ROWS)}'
        )
    if 't' in wanted and (args.tracker_frames < 10 or args.tracker_rounds < 1):
        raise SystemExit(
            f'bench: row t needs --tracker-frames >= 10 and --tracker-rounds >= 1, got '
            f'{args.tracker_frames} and {args.tracker_rounds}'
        )
    if not os.path.isfile(args.model):
        hint = (
            ' (the shipped model is not there yet: pass --model)'
            if Path(args.model) == DEFAULT_MODEL
            else ''
        )
        raise SystemExit(f"bench: model file '{args.model}' does not exist{hint}")
    from yolo_trt_ros.backends.registry import backend_kind_for

    try:
        kind = backend_kind_for(args.model, args.backend)
    except ValueError as e:
        raise SystemExit(f'bench: {e}') from None
    if (args.fp16 or args.cuda_graph) and kind != 'torch':
        raise SystemExit(
            f'bench: --fp16/--cuda-graph are Torch backend options; backend '
            f"'{args.backend}' with {Path(args.model).name} resolves to {kind}"
        )
    if (args.fp16 or args.cuda_graph) and args.device == 'cpu':
        # As the node refuses torch_fp16/torch_cuda_graph with device 'cpu' (ros/params.py).
        raise SystemExit(
            'bench: --fp16/--cuda-graph need --device cuda (half precision and '
            'CUDA graphs need CUDA)'
        )
    if args.cameras:
        return run_camera_mode(args)
    if wanted & {'d', 'f'}:
        os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
        os.environ.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 101 + 1))
    clip = ensure_clip(args.clip)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    t_begin = time.time()

    factory = make_detector_factory(args)
    det = factory()
    first = ClipReader(clip)
    image = first.read()
    first.close()
    import hashlib

    with open(args.model, 'rb') as f:
        model_sha = hashlib.sha256(f.read()).hexdigest()
    info = {
        'model': os.path.abspath(args.model),
        'model_sha256': model_sha,
        'backend': type(det.backend).__name__,
        'device': args.device,
        'input_size': list(det.input_size),
        'family': str(det.family.value),
        'num_classes': det.num_classes,
        'clip': os.path.abspath(clip),
        'clip_size': [int(image.shape[1]), int(image.shape[0])],
        'intra_op_threads': getattr(det.backend, 'intra_op_threads', None),
        'providers': getattr(det.backend, 'providers', None),
        'device_preprocess': bool(det.device_preprocess),
        'backend_options': backend_options(
            kind, args.device, args.threads, args.fp16, args.cuda_graph, not args.ort_no_spin
        ),
    }
    if kind == 'torch':  # what the backend really did with the options
        info['torch_fp16'] = bool(args.fp16)
        info['torch_cuda_graph'] = bool(args.cuda_graph)
        info['cuda_graph_captured'] = bool(getattr(det.backend, 'cuda_graph', False))
        info['compute_dtype'] = str(getattr(det.backend, '_dtype', ''))
        info['side_stream'] = bool(getattr(det, 'device_staging', False))
    rows: Dict[str, Row] = {}
    order: List[Row] = []
    rounds = max(1, int(args.rounds))
    # Frames per row per round: the total per row stays --frames whatever the number of rounds.
    per_round = -(-args.frames // rounds)  # ceil

    def log(msg: str) -> None:
        print(f'[bench {time.time() - t_begin:6.1f}s] {msg}', flush=True)

    def report_row(row: Row, tag: str = '') -> None:
        if row.skipped:
            log(f'{tag}{row.key}: skipped: {row.skipped}')
        else:
            log(
                f'{tag}{row.key}: {row.fps:.2f} fps, p50 {row.pct(50):.1f} ms, '
                f'p99 {row.pct(99):.1f} ms'
            )

    imgsz = (det.input_size[1], det.input_size[0])
    det.close()  # each round makes its own detector for rows a and b
    bank = None
    if not args.decode_in_loop and wanted & {'c', 'd', 'e', 'f'}:
        bank = FrameBank(clip, min(args.preload, per_round + args.warmup))
        log(f'preloaded {len(bank.frames)} frames of {clip} for rows c-f')
    info['feed'] = 'decoder' if bank is None else f'{len(bank.frames)} preloaded frames'
    info['rounds'] = rounds
    info['frames_per_row_per_round'] = per_round
    paced: Dict[str, float] = {}  # fixed by the first round, so every round offers the same rate

    def paced_rate(key: str, max_row: Optional[Row]) -> float:
        if key not in paced:
            if max_row is None or not max_row.fps == max_row.fps:
                paced[key] = args.pace_fps
            else:
                sustained = args.pace_fraction * max_row.fps
                paced[key] = args.pace_fps if sustained >= args.pace_fps else round(sustained, 2)
        return paced[key]

    def one_round(tag: str) -> List[Row]:
        """Every wanted row once, in the fixed order a, b, c, d, e, f."""
        got: List[Row] = []

        def keep(row: Row) -> Row:
            got.append(row)
            report_row(row, tag)
            return row

        det_r = factory()
        try:
            # a runs always: every ratio is against it.
            keep(run_limit(det_r, image, per_round, args.warmup))
            if 'b' in wanted:
                keep(run_sequential(det_r, clip, per_round, args.warmup))
        finally:
            det_r.close()
        n = per_round
        if 'c' in wanted:
            c_max = keep(
                run_pipeline(
                    args,
                    clip,
                    'c_max',
                    'pipeline, max rate',
                    n,
                    args.warmup,
                    0.0,
                    args.window,
                    bank,
                )
            )
            keep(
                run_pipeline(
                    args,
                    clip,
                    'c_paced',
                    'pipeline, paced',
                    n,
                    args.warmup,
                    paced_rate('c', c_max),
                    0,
                    bank,
                )
            )
            if args.open_loop:
                keep(
                    run_pipeline(
                        args, clip, 'c_open', 'pipeline, open loop', n, args.warmup, 0.0, 0, bank
                    )
                )
        ros_missing = ros_unavailable() if wanted & {'d', 'f'} else None
        if 'd' in wanted and ros_missing:
            for key, name in (('d_max', 'node, max rate'), ('d_paced', 'node, paced')):
                keep(Row(key, name, skipped=ros_missing))
        elif 'd' in wanted:
            d_max = keep(
                run_node(
                    args,
                    clip,
                    'd_max',
                    'node, max rate',
                    n,
                    args.warmup,
                    0.0,
                    args.node_window,
                    bank,
                )
            )
            keep(
                run_node(
                    args,
                    clip,
                    'd_paced',
                    'node, paced',
                    n,
                    args.warmup,
                    paced_rate('d', d_max),
                    0,
                    bank,
                )
            )
            if args.open_loop:
                keep(
                    run_node(args, clip, 'd_open', 'node, open loop', n, args.warmup, 0.0, 0, bank)
                )
        if 'e' in wanted:
            row = run_ultralytics(args, clip, n, args.warmup, imgsz, bank)
            if row.skipped:
                print(f'e  ultralytics predict loop: skipped: {row.skipped}', flush=True)
            keep(row)
        if 'f' in wanted and ros_missing:
            for key, name in (('f_max', 'usual node, max rate'), ('f_paced', 'usual node, paced')):
                keep(Row(key, name, skipped=ros_missing))
        elif 'f' in wanted:
            f_max = keep(
                run_peer_node(
                    args,
                    clip,
                    'f_max',
                    'usual node, max rate',
                    n,
                    args.warmup,
                    0.0,
                    args.node_window,
                    imgsz,
                    bank,
                )
            )
            if not f_max.skipped:
                # The camera rate of the node row (d), so that the two compare at one rate.
                rate = paced['d'] if 'd' in paced else paced_rate('f', f_max)
                keep(
                    run_peer_node(
                        args,
                        clip,
                        'f_paced',
                        'usual node, paced',
                        n,
                        args.warmup,
                        rate,
                        0,
                        imgsz,
                        bank,
                    )
                )
            else:
                keep(Row('f_paced', 'usual node, paced', skipped=f_max.skipped))
        if 't' in wanted:
            keep(run_tracker(args.tracker_frames, args.tracker_rounds))
        return got

    # Rounds interleave the rows: on a shared machine the speed drifts by tens of percent
    # within a minute, so a row measured once, a minute after the limit, is compared with a
    # different machine. Each round's ratios use that round's own limit.
    per_round_rows: List[List[Row]] = []
    for r in range(rounds):
        per_round_rows.append(one_round(f'round {r + 1}/{rounds} ' if rounds > 1 else ''))
    for key in [row.key for row in per_round_rows[0]]:
        merged = merge_rounds([next(x for x in rr if x.key == key) for rr in per_round_rows])
        rows[key] = merged
        order.append(merged)
    round_ratios = {
        key: [
            fps_ratio(
                next((x for x in rr if x.key == key), None), next(x for x in rr if x.key == 'a')
            )
            for rr in per_round_rows
        ]
        for key in rows
        if key != 'a'
    }

    def keep(row: Row) -> None:
        rows[row.key] = row
        order.append(row)
        report_row(row)

    if wanted & {'c', 'd', 'e', 'f'} and not args.no_limit_again:
        # The limit once more at the end: on a shared machine one measurement can land in a
        # burst of someone else's load; the faster of the two is the reference (an upper bound
        # is what a limit is), and both rows are shown.
        det = factory()
        try:
            again = run_limit(det, image, per_round, args.warmup)
        finally:
            det.close()
        again.key, again.name = 'a_end', 'limit again (end of run)'
        keep(again)
    profile_text, profile_summary = '', None
    if args.profile and 'd' in wanted and not ros_unavailable():
        from bench.stage_trace import format_profile, StageTrace

        rate = paced.get('d', args.pace_fps)
        with StageTrace() as trace:
            traced = run_node(
                args,
                clip,
                'd_traced',
                'node, paced, traced',
                per_round,
                args.warmup,
                rate,
                0,
                bank,
                trace=trace,
            )
        profile_summary = trace.summary(skip=args.warmup)
        profile_text = format_profile(
            profile_summary,
            f'where the time goes: node paced at {rate:.1f} fps, image stamp -> receipt '
            f'(traced run: p50 {traced.pct(50):.2f} ms)',
        )
        log('traced run done')
    ref = max(
        (r for r in (rows.get('a'), rows.get('a_end')) if r is not None), key=lambda r: r.fps
    )
    limit = ref.fps
    table = format_table(order, limit)
    judged = dict(rows)
    judged['a'] = ref
    profile = 'cpu' if args.device == 'cpu' else 'gpu'
    per_round_dicts = [{x.key: x for x in rr} for rr in per_round_rows]
    targets = (
        evaluate_targets(judged, targets_for(args.device), per_round_dicts if rounds > 1 else None)
        if wanted & {'c', 'd', 'f'}
        else []
    )
    if 't' in wanted:
        targets.append(evaluate_tracker_target(rows))
    lines = [table, '', f'targets ({profile}):'] + verdict_lines(targets)
    if profile_text:
        lines += ['', profile_text]
    load_after = os.getloadavg()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    noisy = []
    if max(load_before[0], load_after[0]) > 1.5 * cpus:
        noisy.append(f'load average {load_before[0]:.1f} -> {load_after[0]:.1f} on {cpus} cpus')
    if 'a_end' in rows and 'a' in rows and min(rows['a'].fps, rows['a_end'].fps) > 0:
        spread = abs(rows['a'].fps - rows['a_end'].fps) / max(rows['a'].fps, rows['a_end'].fps)
        if spread > 0.10:
            noisy.append(
                f'the limit measured {rows["a"].fps:.1f} and {rows["a_end"].fps:.1f} fps '
                'at start and end'
            )
    if noisy:
        # Other processes took the cores at different moments of different rows: fps ratios
        # compare unlike conditions; CPU time per frame is barely affected by that.
        lines.append(
            f'WARNING  wall-clock ratios unreliable ({"; ".join(noisy)}): judge by the '
            'CPU-time ratios'
        )
    lines.append('')
    lines.append(
        f'model {Path(args.model).name} ({info["backend"]}, device {args.device}, '
        f'intra-op threads {info["intra_op_threads"]}'
        f'{", no spinning" if args.ort_no_spin else ""}), clip {info["clip_size"][0]}x'
        f'{info["clip_size"][1]}, {per_round * rounds} frames/row'
        f'{f" in {rounds} rounds of {per_round}" if rounds > 1 else ""} after '
        f'{args.warmup} warm-up{" each" if rounds > 1 else ""}, '
        f'load average {load_before[0]:.2f} -> {load_after[0]:.2f} on '
        f'{os.cpu_count()} cpus'
    )
    if kind == 'torch':
        lines.append(
            f'torch options (node: torch_fp16={str(args.fp16).lower()}, '
            f'torch_cuda_graph={str(args.cuda_graph).lower()}): compute '
            f'{info["compute_dtype"]}, CUDA graph '
            f'{"captured" if info["cuda_graph_captured"] else "off"}, letterbox on '
            f'{"GPU (fused kernel)" if info["device_preprocess"] else "CPU"}'
            f'{", staged on a side stream" if info["side_stream"] else ""}'
        )
    text = '\n'.join(lines)
    print('\n' + text, flush=True)

    report = {
        'tag': args.tag,
        'created_utc': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
        'command': ' '.join(
            [Path(sys.argv[0]).name] + list(argv if argv is not None else sys.argv[1:])
        ),
        'setup': info,
        'machine': machine_info(),
        'load_average': {'before': list(load_before), 'after': list(load_after)},
        'options': dict(vars(args)),
        'limit_fps': num(limit),
        'limit_row': ref.key,
        'rows': [r.to_json(limit) for r in order],
        'targets': targets,
        'target_profile': profile,
        'stage_profile': profile_summary,
        'round_ratios_to_a': {k: [num(x) for x in v] for k, v in round_ratios.items()},
        'noise_warnings': noisy,
        'table': text,
    }
    (out_dir / 'bench.json').write_text(json.dumps(report, indent=1))
    (out_dir / 'bench.txt').write_text(text + '\n')
    title = (
        f'{args.tag + ": " if args.tag else ""}{Path(args.model).name}, {info["backend"]} '
        f'{args.device}{" fp16" if args.fp16 else ""}'
        f'{" +CUDA graph" if args.cuda_graph else ""}, '
        f'{info["clip_size"][0]}x{info["clip_size"][1]}, {os.cpu_count()} cpus'
    )
    try:
        write_plot(order, limit, out_dir / 'bench.png', title)
        png = f', {out_dir / "bench.png"}'
    except ImportError as e:  # matplotlib is a dev dependency; the numbers matter more
        png = f' (no plot: {e})'
    print(f'wrote {out_dir / "bench.json"}, {out_dir / "bench.txt"}{png}')
    failed = [t for t in targets if t['pass'] is False]
    return 1 if (args.strict and failed) else 0
