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
Row f: the usual Python ROS YOLO node, for comparison with the DetectorNode (row d).

What most ROS 2 YOLO nodes do: one subscription callback converts the ``sensor_msgs/Image``,
calls the model's predict on it, builds a ``vision_msgs/Detection2DArray`` box by box and
publishes it, all in the executor's thread. The predict here is Ultralytics' (``YOLO(model)``
once, ``model.predict(frame, ...)`` per message) on the same weights, frames and thresholds as
row d: the ONNX model on the CPU, the PyTorch (or TorchScript) model on the GPU
(``--peer-model``), FP16 there when the node row runs FP16. Ultralytics (AGPL-3.0) is never a
dependency: the row runs only when it imports (bench/ULTRALYTICS.md).

It runs in the same harness as row d (bench/ros_harness.py): same camera node, same feed, same
sink; only the node under test differs.
"""

from __future__ import annotations

import os
import time
from typing import Callable, Dict, Optional, Sequence, Tuple

from bench.cpu_time import confine_threads
from bench.feed import FrameBank
from bench.results import p50, Row
from bench.ros_harness import NodeUnderTest, run_ros_row
import numpy as np

# predict(image_bgr) -> (boxes xyxy (N, 4), scores (N,), class ids (N,)) in image pixels.
Predict = Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray, np.ndarray]]

NAME = 'usual node (Ultralytics in the callback)'


def ultralytics_unavailable() -> Optional[str]:
    """Say why Ultralytics cannot run here (None when it imports)."""
    # Read by Ultralytics at import: no online checks, no pip install from inside the bench.
    os.environ.setdefault('YOLO_OFFLINE', '1')
    os.environ.setdefault('YOLO_AUTOINSTALL', '0')
    try:
        import ultralytics  # noqa: F401 - optional, never a dependency
    except ImportError:
        return 'ultralytics not installed'
    except Exception as e:  # noqa: BLE001 - e.g. a torchvision built for another torch
        return f'ultralytics does not import ({type(e).__name__}: {e})'
    return None


def ultralytics_predictor(args, imgsz: Sequence[int]) -> Tuple[Predict, Sequence[str], dict]:
    """Ultralytics' predict on ``--peer-model`` (default ``--model``) with the bench's settings."""
    from ultralytics import YOLO

    model_path = str(getattr(args, 'peer_model', None) or args.model)
    model = YOLO(model_path, task='detect')
    cuda = args.device not in ('cpu', 'auto') or (
        args.device == 'auto' and args.backend == 'torch'
    )
    device = 0 if cuda else 'cpu'
    half = bool(getattr(args, 'fp16', False)) and cuda
    options = {
        'imgsz': list(imgsz),
        'conf': float(args.conf),
        'iou': float(args.iou),
        'max_det': int(args.max_det),
        'device': device,
        'half': half,
        'verbose': False,
    }

    def predict(image: np.ndarray):
        res = model.predict(image, **options)[0]
        boxes = res.boxes
        return (
            boxes.xyxy.cpu().numpy(),
            boxes.conf.cpu().numpy(),
            boxes.cls.cpu().numpy().astype(np.int64),
        )

    names = model.names
    names = [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)
    import ultralytics

    info = {
        'predictor': f'ultralytics {ultralytics.__version__}',
        'peer_model': os.path.abspath(model_path),
        'device': str(device),
        'half': half,
    }
    return predict, names, info


class PeerNodeUnderTest(NodeUnderTest):
    """The usual node: predict and publish inside the image subscription callback."""

    def __init__(self, make_predict: Callable[[], Tuple[Predict, Sequence[str], dict]]) -> None:
        self.make_predict = make_predict
        self.node = None
        self.info: dict = {}
        self.received = 0
        self.published = 0
        self.failed = 0
        self.busy = False
        self.convert_ms: list = []
        self.predict_ms: list = []
        self.message_ms: list = []

    def create(self, ctx, namespace: str) -> None:
        """Create the node; the model is loaded and warmed up before the first frame."""
        from rclpy.node import Node
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

        predict, names, self.info = self.make_predict()
        # The first predict builds Ultralytics' predictor (seconds): not part of any frame.
        predict(np.full((64, 64, 3), 114, np.uint8))
        self.info['threads_moved_to_process_cpus'] = confine_threads()
        node = Node('usual_detector', namespace=namespace, context=ctx)
        pub = node.create_publisher(Detection2DArray, 'detections', 10)

        def on_image(msg) -> None:
            self.received += 1
            self.busy = True
            try:
                t0 = time.perf_counter()
                # cv_bridge's imgmsg_to_cv2 for bgr8: a view of the message's bytes.
                image = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.width, 3)
                t1 = time.perf_counter()
                boxes, scores, classes = predict(image)
                t2 = time.perf_counter()
                out = Detection2DArray()
                out.header = msg.header
                for box, score, cls in zip(boxes, scores, classes):
                    det = Detection2D()
                    det.header = msg.header
                    x0, y0, x1, y1 = (float(v) for v in box)
                    det.bbox.center.position.x = (x0 + x1) / 2.0
                    det.bbox.center.position.y = (y0 + y1) / 2.0
                    det.bbox.size_x = x1 - x0
                    det.bbox.size_y = y1 - y0
                    hyp = ObjectHypothesisWithPose()
                    c = int(cls)
                    hyp.hypothesis.class_id = names[c] if 0 <= c < len(names) else str(c)
                    hyp.hypothesis.score = float(score)
                    det.results.append(hyp)
                    out.detections.append(det)
                pub.publish(out)
                t3 = time.perf_counter()
                self.published += 1
                self.convert_ms.append((t1 - t0) * 1e3)
                self.predict_ms.append((t2 - t1) * 1e3)
                self.message_ms.append((t3 - t2) * 1e3)
            except Exception:  # noqa: BLE001 - counted: the accounting must still add up
                self.failed += 1
            finally:
                self.busy = False

        node.create_subscription(Image, 'image_raw', on_image, 10)
        self.node = node

    def in_flight(self) -> int:
        """Return 1 while a frame is inside the callback (queued messages are DDS's)."""
        return int(self.busy)

    def stages(self) -> Dict[str, float]:
        """p50 of the callback's conversion, predict and message build + publish."""
        return {
            'convert': p50(self.convert_ms),
            'infer': p50(self.predict_ms),
            'message': p50(self.message_ms),
        }

    def accounting(self) -> Dict[str, object]:
        """Frames the callback received, answered and failed."""
        return {
            'node_captured': self.received,
            'node_published': self.published,
            'node_dropped': {'failed': self.failed} if self.failed else {},
            'node_in_flight': int(self.busy),
            'node_accounting_ok': self.received == self.published + self.failed + int(self.busy),
            'peer': self.info,
        }


def run_peer_node(
    args,
    clip: str,
    key: str,
    name: str,
    n: int,
    warmup: int,
    rate: float,
    window: int,
    imgsz: Sequence[int],
    bank: Optional[FrameBank] = None,
    make_predict: Optional[Callable[[], Tuple[Predict, Sequence[str], dict]]] = None,
) -> Row:
    """Measure the usual node between camera and sink (row f); skipped without Ultralytics."""
    if make_predict is None:
        missing = ultralytics_unavailable()
        if missing:
            return Row(key, name, skipped=missing)

        def make_predict():
            return ultralytics_predictor(args, imgsz)

    try:
        row = run_ros_row(
            PeerNodeUnderTest(make_predict),
            clip,
            key,
            name,
            n,
            warmup,
            rate,
            window,
            bank,
            row_timeout=args.row_timeout,
            camera_publish=args.camera_publish,
            harness=getattr(args, 'harness', 'thread'),
        )
    except Exception as e:  # noqa: BLE001 - an optional row must not cost the others' results
        return Row(key, name, skipped=f'failed: {type(e).__name__}: {e}')
    row.notes = (
        'capture/publish: camera node; convert/infer/message: inside the callback '
        '(predict = ' + str(row.accounting.get('peer', {}).get('predictor', '?')) + ')'
    )
    return row
