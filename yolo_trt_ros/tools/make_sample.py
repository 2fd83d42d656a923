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
make_sample: the demo's sample clip, a rosbag2 (MCAP) of it, and its ground truth.

    make_sample                      # -> data/sample/ (12 s, 1280x720, 30 fps, seed 24)
    make_sample --out-dir /tmp/s --seconds 10

Writes, all from the synthetic arena generator (deterministic for a given seed and size):
  arena_sample.mp4        mp4v video (OpenCV headless writes and reads it back)
  arena_sample_bag/       rosbag2 directory, MCAP storage: sensor_msgs/msg/CompressedImage (JPEG)
                          on --topic, header.stamp = start + k / fps, header.frame_id = --frame-id,
                          record time = header stamp
  arena_sample_gt.json    per-frame ground truth: stamp_ns, boxes (xyxy pixels), class_ids,
                          track_ids (object identity across frames), plus
                          class names, fps, size, seed, topic (tests score the clip with it)

Objects move smoothly across frames so tracking-like behaviour is visible. The bag holds the
generator's frames JPEG-encoded (not the decoded mp4), so both carry the same scenes.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
import json
import os
from pathlib import Path
import shutil
import sys
from typing import Optional, Sequence

import cv2
import numpy as np

from yolo_trt_ros.synthetic.arena import ArenaClip, ArenaGenerator, CLASS_NAMES

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = REPO / 'data' / 'sample'
VIDEO_NAME = 'arena_sample.mp4'
BAG_NAME = 'arena_sample_bag'
GT_NAME = 'arena_sample_gt.json'
# Seed 24 with 10 objects: a bright tiled arena with a wall, all six classes (picked by eye).
DEFAULTS = {
    'seconds': 12.0,
    'fps': 30.0,
    'width': 1280,
    'height': 720,
    'seed': 24,
    'n_objects': 10,
    'topic': '/image_raw/compressed',
    'frame_id': 'camera',
    'jpeg_quality': 85,
    # 2026-01-01T00:00:00Z: fixed so bag stamps are reproducible.
    'start_ns': 1_767_225_600 * 1_000_000_000,
}
FORMAT_VERSION = 1


def stamp_ns(start_ns: int, k: int, fps: float) -> int:
    return int(start_ns + round(k * 1e9 / fps))


def make_sample(
    out_dir: Optional[str] = None,
    seconds: float = DEFAULTS['seconds'],
    fps: float = DEFAULTS['fps'],
    width: int = DEFAULTS['width'],
    height: int = DEFAULTS['height'],
    seed: int = DEFAULTS['seed'],
    topic: str = DEFAULTS['topic'],
    frame_id: str = DEFAULTS['frame_id'],
    jpeg_quality: int = DEFAULTS['jpeg_quality'],
    start_ns: int = DEFAULTS['start_ns'],
    bag: bool = True,
    threads: Optional[int] = None,
    n_objects: Optional[int] = DEFAULTS['n_objects'],
) -> dict:
    """Write the clip (+ bag, + ground truth) and return the ground-truth summary dict."""
    out = Path(out_dir) if out_dir else DEFAULT_OUT_DIR
    out.mkdir(parents=True, exist_ok=True)
    n_frames = int(round(seconds * fps))
    if n_frames < 1:
        raise ValueError(f'clip of {seconds} s at {fps} fps has no frames')
    video_path = out / VIDEO_NAME
    writer = cv2.VideoWriter(
        str(video_path), cv2.VideoWriter_fourcc(*'mp4v'), float(fps), (width, height)
    )
    if not writer.isOpened():
        raise OSError(
            f'cv2.VideoWriter cannot write {video_path} (mp4v, {width}x{height} @ {fps})'
        )
    bag_writer, conn, typestore, msg_types = None, None, None, None
    bag_path = out / BAG_NAME
    if bag:
        bag_writer, conn, typestore, msg_types = _open_bag(bag_path, topic)
    clip = ArenaClip(ArenaGenerator(seed), n_frames, width, height, n_objects=n_objects)
    frames = []
    quality = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]

    def render(k: int):
        scene = clip.frame(k)
        jpeg = None
        if bag:
            ok, enc = cv2.imencode('.jpg', scene.image_bgr, quality)
            if not ok:
                raise OSError(f'JPEG encoding of frame {k} failed')
            jpeg = enc.tobytes()
        return scene, jpeg

    workers = threads or min(4, os.cpu_count() or 1)
    try:
        with ThreadPoolExecutor(workers) as pool:
            # Chunks keep memory bounded (a 1280x720 frame is 2.7 MB) while frames render in
            # parallel; writing stays in frame order.
            for start in range(0, n_frames, 16):
                for k, (scene, jpeg) in zip(
                    range(start, min(start + 16, n_frames)),
                    pool.map(render, range(start, min(start + 16, n_frames))),
                ):
                    writer.write(scene.image_bgr)
                    t = stamp_ns(start_ns, k, fps)
                    if bag_writer is not None:
                        msg = _compressed_msg(msg_types, t, frame_id, jpeg)
                        bag_writer.write(
                            conn, t, typestore.serialize_cdr(msg, msg_types[0].__msgtype__)
                        )
                    frames.append(
                        {
                            'index': k,
                            'stamp_ns': t,
                            'boxes': np.round(scene.boxes, 3).tolist(),
                            'class_ids': scene.class_ids.tolist(),
                            'track_ids': scene.track_ids.tolist(),
                        }
                    )
    finally:
        writer.release()
        if bag_writer is not None:
            bag_writer.close()
    gt = {
        'format_version': FORMAT_VERSION,
        'video': VIDEO_NAME,
        'bag': BAG_NAME if bag else None,
        'topic': topic,
        'frame_id': frame_id,
        'fps': fps,
        'width': width,
        'height': height,
        'seed': seed,
        'n_objects': n_objects,
        'n_frames': n_frames,
        'start_ns': start_ns,
        'jpeg_quality': jpeg_quality,
        'class_names': list(CLASS_NAMES),
        'frames': frames,
    }
    (out / GT_NAME).write_text(json.dumps(gt, separators=(',', ':')))
    return gt


def _open_bag(bag_path: Path, topic: str):
    try:
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import get_typestore, Stores
    except ImportError as e:
        raise ImportError(
            "writing the MCAP bag needs 'rosbags' (pip install rosbags), or pass --no-bag"
        ) from e
    if bag_path.exists():
        # Only ever delete a previous output of ours: a rosbag2 directory with its metadata.
        if not (bag_path / 'metadata.yaml').exists():
            raise OSError(
                f'{bag_path} exists and is not a rosbag2 directory; refusing to overwrite it'
            )
        shutil.rmtree(bag_path)
    typestore = get_typestore(Stores.ROS2_JAZZY)
    types = (
        typestore.types['sensor_msgs/msg/CompressedImage'],
        typestore.types['std_msgs/msg/Header'],
        typestore.types['builtin_interfaces/msg/Time'],
    )
    writer = Writer(bag_path, version=9, storage_plugin=StoragePlugin.MCAP)
    writer.open()
    conn = writer.add_connection(topic, types[0].__msgtype__, typestore=typestore)
    return writer, conn, typestore, types


def _compressed_msg(types, t_ns: int, frame_id: str, jpeg: bytes):
    compressed, header, time_t = types
    stamp = time_t(sec=int(t_ns // 1_000_000_000), nanosec=int(t_ns % 1_000_000_000))
    return compressed(
        header=header(stamp=stamp, frame_id=frame_id),
        format='jpeg',
        data=np.frombuffer(jpeg, np.uint8),
    )


def load_ground_truth(out_dir: Optional[str] = None) -> dict:
    """Load the ground-truth dict written by make_sample (boxes as float32 arrays)."""
    path = (Path(out_dir) if out_dir else DEFAULT_OUT_DIR) / GT_NAME
    gt = json.loads(path.read_text())
    for f in gt['frames']:
        f['boxes'] = np.array(f['boxes'], np.float32).reshape(-1, 4)
        f['class_ids'] = np.array(f['class_ids'], np.int64)
        f['track_ids'] = np.array(f['track_ids'], np.int64)
    return gt


def ensure_sample_clip(out_dir: Optional[str] = None) -> str:
    """Path of the sample clip, generated (with bag and ground truth) when missing or stale."""
    out = Path(out_dir) if out_dir else DEFAULT_OUT_DIR
    video, gt_path = out / VIDEO_NAME, out / GT_NAME
    if video.is_file() and gt_path.is_file() and (out / BAG_NAME / 'metadata.yaml').is_file():
        try:
            gt = json.loads(gt_path.read_text())
            if (
                gt.get('format_version') == FORMAT_VERSION
                and gt.get('seed') == DEFAULTS['seed']
                and gt.get('n_frames') == int(round(DEFAULTS['seconds'] * DEFAULTS['fps']))
            ):
                return str(video)
        except (OSError, ValueError):
            pass  # unreadable ground truth: regenerate everything
    make_sample(str(out))
    return str(video)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='make_sample',
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        '--out-dir', default=str(DEFAULT_OUT_DIR), help='output folder (default: data/sample)'
    )
    p.add_argument('--seconds', type=float, default=DEFAULTS['seconds'])
    p.add_argument('--fps', type=float, default=DEFAULTS['fps'])
    p.add_argument('--width', type=int, default=DEFAULTS['width'])
    p.add_argument('--height', type=int, default=DEFAULTS['height'])
    p.add_argument('--seed', type=int, default=DEFAULTS['seed'])
    p.add_argument(
        '--objects', type=int, default=DEFAULTS['n_objects'], help='objects in the arena'
    )
    p.add_argument(
        '--topic', default=DEFAULTS['topic'], help='bag topic of the CompressedImage messages'
    )
    p.add_argument('--frame-id', default=DEFAULTS['frame_id'])
    p.add_argument('--jpeg-quality', type=int, default=DEFAULTS['jpeg_quality'])
    p.add_argument('--no-bag', action='store_true', help='skip the MCAP bag')
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    a = build_parser().parse_args(argv)
    try:
        gt = make_sample(
            a.out_dir,
            a.seconds,
            a.fps,
            a.width,
            a.height,
            a.seed,
            a.topic,
            a.frame_id,
            a.jpeg_quality,
            bag=not a.no_bag,
            n_objects=a.objects,
        )
    except (OSError, ValueError, ImportError) as e:
        print(f'make_sample: error: {e}', file=sys.stderr)
        return 2
    n_boxes = sum(len(f['class_ids']) for f in gt['frames'])
    print(
        f'wrote {Path(a.out_dir) / VIDEO_NAME} ({gt["n_frames"]} frames, {a.width}x{a.height} '
        f'@ {a.fps} fps), '
        f'{"" if a.no_bag else str(Path(a.out_dir) / BAG_NAME) + " (MCAP), "}'
        f'{Path(a.out_dir) / GT_NAME} ({n_boxes} boxes)'
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
