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
Triton Python-backend model: the TorchScript model beside this file, run by torch on the GPU.

For Triton builds without the PyTorch or ONNX Runtime GPU backends (the ``tritonserver`` that
the nvidia-pytriton wheel bundles ships only the Python backend), so that the model runs on the
server's GPU, the case CUDA shared memory exists for. make_repository.py writes the config with
``FORCE_CPU_ONLY_INPUT_TENSORS: no``: an input in CUDA memory (a client's CUDA shared memory
region) reaches ``execute`` as a GPU tensor, taken with DLPack and not copied; an input in host
memory is uploaded here. The outputs go back as host arrays: the detector decodes on its CPU.

Config parameters: ``torchscript_batch`` ``1`` (a model traced with batch 1, as
dev/gpu/onnx_to_torch.py traces: the frames of a dynamic batch run one after another within the
call) or ``dynamic`` (one forward per batch). The instance's GPU is the one the instance group
gives (``KIND_GPU``). The first request of each kind (input on the GPU, input in host memory)
is logged once, so the server log says which path the frames took.
"""

import json
import os

import torch
import torch.utils.dlpack
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    """The TorchScript module on this instance's GPU and the tensor names from the config."""

    def initialize(self, args):
        """Load model.torchscript of this version onto the instance's GPU."""
        config = json.loads(args['model_config'])
        path = os.path.join(args['model_repository'], args['model_version'], 'model.torchscript')
        params = config.get('parameters', {})
        batch = params.get('torchscript_batch', {}).get('string_value', '1')
        if batch not in ('1', 'dynamic'):
            raise pb_utils.TritonModelException(
                f"torchscript_batch '{batch}': expected '1' or 'dynamic'"
            )
        self.one_by_one = batch == '1'
        if not torch.cuda.is_available():
            raise pb_utils.TritonModelException('model_torch.py needs a GPU that torch can use')
        self.device = torch.device('cuda', int(args.get('model_instance_device_id', 0) or 0))
        self.module = torch.jit.load(path, map_location=self.device).eval()
        self.input = config['input'][0]['name']
        self.outputs = [o['name'] for o in config['output']]
        self.logger = pb_utils.Logger
        self.seen = set()  # 'gpu' / 'host': the input paths logged so far

    def _frames(self, request) -> torch.Tensor:
        tensor = pb_utils.get_input_tensor_by_name(request, self.input)
        if tensor.is_cpu():
            kind, frames = 'host', torch.from_numpy(tensor.as_numpy()).to(self.device)
        else:
            kind = 'gpu'
            frames = torch.utils.dlpack.from_dlpack(tensor.to_dlpack())
            if frames.device != self.device:
                frames = frames.to(self.device)
        if kind not in self.seen:
            self.seen.add(kind)
            self.logger.log_info(
                f'model_torch: input {self.input} in {kind} memory, run on {self.device}'
            )
        return frames

    def execute(self, requests):
        """Run all requests of one dynamic batch on the GPU; answer each with its rows."""
        parts = [self._frames(r) for r in requests]
        batch = torch.cat(parts) if len(parts) > 1 else parts[0]
        with torch.inference_mode():
            if self.one_by_one:
                runs = [self._forward(f[None]) for f in batch]
                results = [torch.cat(tensors) for tensors in zip(*runs)]
            else:
                results = self._forward(batch)
            host = [r.float().cpu().numpy() for r in results]
        # Each request gets its own rows back, as in model.py: the two files stay apart since
        # the server loads each as the only file of its model version.
        responses, start = [], 0
        for part in parts:
            rows = slice(start, start + len(part))
            tensors = [pb_utils.Tensor(n, r[rows]) for n, r in zip(self.outputs, host)]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start += len(part)
        return responses

    def _forward(self, frames: torch.Tensor):
        out = self.module(frames)
        return list(out) if isinstance(out, (list, tuple)) else [out]
