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
Triton Python-backend model: the ONNX model beside this file, run by ONNX Runtime on the CPU.

For Triton builds without the ONNX Runtime backend (the ``tritonserver`` that the
nvidia-pytriton wheel bundles ships only the Python backend). All requests of one dynamic batch
arrive in one ``execute`` call and run as one ONNX Runtime batch (a model exported with batch 1:
frame by frame within the call), so the server's dynamic batcher works as with the ONNX Runtime
backend. Config parameter ``intra_op_threads``
sets ONNX Runtime's threads (0: its default).
"""

import json
import os

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    """The model's ONNX Runtime session and the tensor names from the model config."""

    def initialize(self, args):
        """Open the ONNX model of this version with ONNX Runtime."""
        config = json.loads(args['model_config'])
        path = os.path.join(args['model_repository'], args['model_version'], 'model.onnx')
        params = config.get('parameters', {})
        options = ort.SessionOptions()
        threads = int(params.get('intra_op_threads', {}).get('string_value', '0') or 0)
        if threads > 0:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
        self.input = config['input'][0]['name']
        self.outputs = [o['name'] for o in config['output']]
        # A model exported with batch 1 runs the frames of a batch one at a time.
        declared = self.session.get_inputs()[0].shape[0]
        self.one_by_one = isinstance(declared, int) and declared == 1

    def execute(self, requests):
        """Run all requests of one dynamic batch as one ONNX Runtime batch."""
        arrays = [pb_utils.get_input_tensor_by_name(r, self.input).as_numpy() for r in requests]
        batch = np.concatenate(arrays)
        if self.one_by_one:
            runs = [self.session.run(self.outputs, {self.input: f[None]}) for f in batch]
            results = [np.concatenate(parts) for parts in zip(*runs)]
        else:
            results = self.session.run(self.outputs, {self.input: batch})
        responses, start = [], 0
        for array in arrays:
            rows = slice(start, start + len(array))
            tensors = [pb_utils.Tensor(n, r[rows]) for n, r in zip(self.outputs, results)]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start += len(array)
        return responses
