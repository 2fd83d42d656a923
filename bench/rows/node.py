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

"""Row d: the real DetectorNode (topic source) between the harness's camera and sink nodes."""

from __future__ import annotations

from typing import Dict, Optional

from bench.cpu_time import renice_threads
from bench.feed import FrameBank
from bench.results import num, Row
from bench.ros_harness import NodeUnderTest, run_ros_row


def node_parameters(args, image_topic: str = 'image_raw') -> list:
    """Return the DetectorNode parameters for the bench's options (same model, thresholds)."""
    from rclpy.parameter import Parameter

    return [
        Parameter('model_path', value=str(args.model)),
        Parameter('backend', value=args.backend),
        Parameter('device', value=args.device),
        Parameter('ort_intra_op_threads', value=int(args.threads)),
        Parameter('ort_allow_spinning', value=not getattr(args, 'ort_no_spin', False)),
        Parameter('torch_fp16', value=bool(getattr(args, 'fp16', False))),
        Parameter('torch_cuda_graph', value=bool(getattr(args, 'cuda_graph', False))),
        Parameter('confidence_threshold', value=float(args.conf)),
        Parameter('iou_threshold', value=float(args.iou)),
        Parameter('max_detections', value=int(args.max_det)),
        Parameter('source', value='topic'),
        Parameter('input_type', value='raw'),
        Parameter('image_topic', value=image_topic),
        Parameter('capture_queue_size', value=int(args.capture_queue)),
        Parameter('result_queue_size', value=int(args.result_queue)),
        Parameter('publish_annotated', value=False),
        Parameter('image_take', value=getattr(args, 'image_take', 'thread')),
    ]


class DetectorNodeUnderTest(NodeUnderTest):
    """The package's DetectorNode, built with real parameters as its entry point builds it."""

    def __init__(self, args) -> None:
        self.args = args
        self.node = None
        self.reniced: list = []

    def create(self, ctx, namespace: str) -> None:
        """Create the DetectorNode; its pipeline threads start here."""
        from yolo_trt_ros.ros.node import DetectorNode

        self.node = DetectorNode(
            'detector',
            namespace=namespace,
            context=ctx,
            parameter_overrides=node_parameters(self.args),
        )
        self.reniced = renice_threads(('capture', 'postprocess'), self.args.helper_nice)

    def in_flight(self) -> int:
        """Frames in the node's pipeline."""
        return int(self.node.snapshot().in_flight)

    def stages(self) -> Dict[str, float]:
        """Return the node's own preprocess / infer / postprocess p50."""
        snap = self.node.snapshot()
        self._fps = snap.fps
        return {k: snap.stage_ms[k]['p50'] for k in ('preprocess', 'infer', 'postprocess')}

    def accounting(self) -> Dict[str, object]:
        """Return the pipeline's exact accounting after the stop."""
        final = self.node.snapshot()
        return {
            'node_captured': final.captured,
            'node_published': final.published,
            'node_dropped': {k: v for k, v in final.dropped.items() if v},
            'node_in_flight': final.in_flight,
            'node_accounting_ok': final.accounting_ok(),
            'node_fps_diag': num(getattr(self, '_fps', None)),
            'reniced_threads': self.reniced,
        }

    def stop(self) -> None:
        """Stop the node's pipeline (idempotent)."""
        if self.node is not None:
            self.node.stop()


def run_node(
    args,
    clip: str,
    key: str,
    name: str,
    n: int,
    warmup: int,
    rate: float,
    window: int,
    bank: Optional[FrameBank] = None,
    trace=None,
) -> Row:
    """Measure the DetectorNode between camera and sink (row d), optionally traced per stage."""
    row = run_ros_row(
        DetectorNodeUnderTest(args),
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
        trace=trace,
    )
    row.notes = "capture/publish: camera node; pre/infer/post: node's own p50"
    return row
