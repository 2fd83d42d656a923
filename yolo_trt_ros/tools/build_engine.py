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

"""
build_engine: ONNX -> TensorRT engine, with the metadata sidecar the detector reads.

Usage:
  build_engine --onnx engines/arena_yolo.onnx --precision fp16
      -> an engine in the cache (~/.cache/yolo_trt_ros/engines, or $YOLO_TRT_ROS_ENGINE_CACHE)
         named by its cache key; prints the path. Re-running reuses it.
  build_engine --onnx model.onnx --output model.engine --precision int8 --calib-dir images/
  build_engine --onnx model.onnx --output model.engine --min-shapes images:1x3x320x320 \
      --opt-shapes images:1x3x640x640 --max-shapes images:1x3x1280x1280
  build_engine --onnx model.onnx --print-key      (the cache key fields, no build)

Exit status: 0 built or reused, 2 bad arguments, 3 missing dependency, 1 build failure.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import List, Optional


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='build_engine',
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    p.add_argument('--onnx', required=True, help='ONNX model to convert')
    p.add_argument(
        '--output',
        help='engine file to write; default: the engine cache path for this '
        'model, TensorRT version, GPU, precision and shapes',
    )
    p.add_argument(
        '--cache-dir', help='engine cache folder (default ~/.cache/yolo_trt_ros/engines)'
    )
    p.add_argument(
        '--precision',
        default='fp16',
        choices=('fp32', 'fp16', 'int8'),
        help='engine precision (int8: Q/DQ models are quantized explicitly, others are '
        'calibrated on --calib-dir)',
    )
    p.add_argument(
        '--imgsz',
        type=int,
        nargs='+',
        metavar='N',
        help="fixed input size H [W] for inputs with symbolic H/W (default: the model's imgsz "
        'metadata or 640)',
    )
    p.add_argument(
        '--min-shapes', help='dynamic shapes: NAME:1x3xHxW[,...] (also --opt-shapes, --max-shapes)'
    )
    p.add_argument('--opt-shapes')
    p.add_argument('--max-shapes')
    p.add_argument(
        '--workspace-mib', type=int, default=2048, help='builder workspace memory pool limit'
    )
    p.add_argument(
        '--timing-cache',
        help='timing cache file, read if present and written after the build '
        '(speeds up later builds on this GPU)',
    )
    p.add_argument(
        '--calib-dir', help='folder of representative images for INT8 entropy calibration'
    )
    p.add_argument('--calib-cache', help='calibration cache file (default: beside the engine)')
    p.add_argument('--calib-batch', type=int, default=8)
    p.add_argument('--calib-max-images', type=int, default=512)
    p.add_argument('--device', type=int, default=0, help='CUDA device index')
    p.add_argument(
        '--force', action='store_true', help='rebuild even when the cached engine exists'
    )
    p.add_argument(
        '--print-key', action='store_true', help='print the cache key fields and exit (no build)'
    )
    p.add_argument('-v', '--verbose', action='store_true')
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format='%(asctime)s %(levelname)s %(message)s',
    )
    log = logging.getLogger('build_engine')
    from yolo_trt_ros.backends import engine_cache as ec
    from yolo_trt_ros.backends.base import MissingDependencyError

    if not os.path.isfile(args.onnx):
        log.error("ONNX model '%s' does not exist", args.onnx)
        return 2
    try:
        from yolo_trt_ros.backends import engine_build as eb

        info = eb.inspect_onnx(args.onnx)
        if args.min_shapes or args.max_shapes or args.opt_shapes:
            shapes = ec.shape_ranges(args.min_shapes, args.opt_shapes, args.max_shapes)
        else:
            imgsz = None
            if args.imgsz:
                imgsz = (args.imgsz[0], args.imgsz[-1])
            shapes = eb.default_shapes(info, imgsz)
        onnx_hash = ec.file_sha256(args.onnx)
        if args.print_key:
            print(f'onnx_sha256 {onnx_hash}')
            print(f'precision   {args.precision}')
            print(f'shapes      { {n: s.as_json() for n, s in shapes.items()} }')
            print(f'qdq         {info.is_qdq}')
        trt = eb.import_tensorrt()
        from yolo_trt_ros.backends.cuda_utils import compute_capability

        cc = compute_capability(args.device)
        extra = {}
        if args.precision == 'int8' and args.calib_dir and not info.is_qdq:
            extra['calibration'] = eb.calibration_fingerprint(
                args.calib_dir, args.calib_max_images
            )
        key = ec.cache_key(onnx_hash, trt.__version__, cc, args.precision, shapes, extra)
        if args.print_key:
            print(f'tensorrt    {trt.__version__}\ncompute     {cc[0]}.{cc[1]}\nkey         {key}')
            return 0
        out = args.output or ec.engine_path_for(args.onnx, key, args.precision, args.cache_dir)
        if os.path.isfile(out) and not args.force:
            side = ec.load_sidecar(out)
            if side.get('cache_key') == key:
                log.info('engine %s is up to date (key %s); use --force to rebuild', out, key[:16])
                print(out)
                return 0
        log.info('building %s -> %s (%s); this takes minutes', args.onnx, out, args.precision)
        t0 = time.monotonic()
        eb.build_engine(
            args.onnx,
            out,
            precision=args.precision,
            shapes=shapes,
            workspace_mib=args.workspace_mib,
            timing_cache=args.timing_cache,
            calib_dir=args.calib_dir,
            calib_cache=args.calib_cache,
            calib_batch=args.calib_batch,
            calib_max_images=args.calib_max_images,
            onnx_info=info,
            cache_key_hex=key,
            device=args.device,
        )
        log.info('done in %.1f s', time.monotonic() - t0)
        print(out)
        return 0
    except MissingDependencyError as exc:
        log.error('%s', exc)
        return 3
    except (ValueError, FileNotFoundError) as exc:
        log.error('%s', exc)
        return 2
    except Exception as exc:  # noqa: BLE001 - a CLI reports and exits non-zero
        log.error('build failed: %s', exc)
        return 1


if __name__ == '__main__':
    sys.exit(main())
