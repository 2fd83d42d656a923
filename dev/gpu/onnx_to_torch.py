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
ONNX detector -> equivalent torch module -> TorchScript (development tool, not used at run time).

``OnnxModule`` executes an ONNX graph node by node with torch operators (weights become
parameters/buffers). Tracing it with ``torch.jit.trace`` flattens that interpretation into a
static TorchScript graph of plain aten ops, so the saved ``.torchscript`` runs with no ONNX or
Python interpreter logic - which is how the shipped engines/arena_yolo.onnx is run through the
Torch backend on a machine without TensorRT. The graph's metadata_props are stored in the
TorchScript file's ``config.txt`` (JSON), as YOLO TorchScript exports do.

Only the operators that YOLO-style detectors and this repository's test models use are covered;
an unknown operator raises NotImplementedError naming it. Shapes are fixed at trace time, and so
is the device of tensors created inside the graph: trace on the device the model will run on
(``--device cuda``); weights and constants follow ``map_location`` either way.

    python dev/gpu/onnx_to_torch.py engines/arena_yolo.onnx /tmp/arena_yolo.torchscript
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from typing import Dict, List

import numpy as np
import torch
import torch.nn.functional as F


def _attrs(node) -> Dict[str, object]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _ints(t) -> List[int]:
    return [int(v) for v in t.reshape(-1).tolist()]


class OnnxModule(torch.nn.Module):
    """The ONNX graph run node by node with torch operators."""

    def __init__(self, model) -> None:
        super().__init__()
        from onnx import numpy_helper

        g = model.graph
        self.graph = g
        self.consts: Dict[str, torch.Tensor] = {}
        self.params = torch.nn.ParameterList()
        for init in g.initializer:
            arr = numpy_helper.to_array(init).copy()
            t = torch.from_numpy(arr)
            if t.is_floating_point():
                p = torch.nn.Parameter(t, requires_grad=False)
                self.params.append(p)
                self.consts[init.name] = p
            else:
                self.consts[init.name] = t
        init_names = {i.name for i in g.initializer}
        self.input_names = [i.name for i in g.input if i.name not in init_names]
        self.output_names = [o.name for o in g.output]

    def forward(self, x):
        # Integer initializers and Constant/Shape outputs are plain tensors (not parameters that
        # .to() moves): put them on the input's device, so tracing on CUDA records CUDA tensors.
        self._device = x.device
        env: Dict[str, torch.Tensor] = {
            k: (v if isinstance(v, torch.nn.Parameter) else v.to(x.device))
            for k, v in self.consts.items()
        }
        env[self.input_names[0]] = x
        for node in self.graph.node:
            args = [env[n] if n else None for n in node.input]
            outs = self._op(node, args, _attrs(node))
            if not isinstance(outs, (list, tuple)):
                outs = [outs]
            for name, value in zip(node.output, outs):
                env[name] = value
        results = [env[n] for n in self.output_names]
        return results[0] if len(results) == 1 else tuple(results)

    def _op(self, node, a, at):  # noqa: C901 - one dispatch table
        op = node.op_type
        if op == 'Conv':
            pads = list(at.get('pads', [0, 0, 0, 0]))
            if pads[:2] != pads[2:]:
                a[0] = F.pad(a[0], [pads[1], pads[3], pads[0], pads[2]])
                pads = [0, 0, 0, 0]
            return F.conv2d(
                a[0],
                a[1],
                a[2] if len(a) > 2 else None,
                list(at.get('strides', [1, 1])),
                pads[:2],
                list(at.get('dilations', [1, 1])),
                int(at.get('group', 1)),
            )
        if op == 'ConvTranspose':
            pads = list(at.get('pads', [0, 0, 0, 0]))
            return F.conv_transpose2d(
                a[0],
                a[1],
                a[2] if len(a) > 2 else None,
                list(at.get('strides', [1, 1])),
                pads[:2],
                group=int(at.get('group', 1)),
            )
        if op == 'BatchNormalization':
            return F.batch_norm(
                a[0], a[3], a[4], a[1], a[2], False, 0.0, float(at.get('epsilon', 1e-5))
            )
        unary = {
            'Relu': torch.relu,
            'Sigmoid': torch.sigmoid,
            'Exp': torch.exp,
            'Sqrt': torch.sqrt,
            'Tanh': torch.tanh,
            'Neg': torch.neg,
            'Abs': torch.abs,
            'Floor': torch.floor,
            'Ceil': torch.ceil,
            'Log': torch.log,
            'Identity': lambda t: t,
            'Erf': torch.erf,
            'Reciprocal': torch.reciprocal,
        }
        if op in unary:
            return unary[op](a[0])
        if op == 'HardSigmoid':
            return torch.clamp(
                a[0] * float(at.get('alpha', 0.2)) + float(at.get('beta', 0.5)), 0, 1
            )
        if op == 'HardSwish':
            return F.hardswish(a[0])
        if op == 'LeakyRelu':
            return F.leaky_relu(a[0], float(at.get('alpha', 0.01)))
        binary = {
            'Add': torch.add,
            'Sub': torch.sub,
            'Mul': torch.mul,
            'Div': torch.div,
            'Pow': torch.pow,
            'Equal': torch.eq,
            'Greater': torch.gt,
            'Less': torch.lt,
            'Max': torch.maximum,
            'Min': torch.minimum,
        }
        if op in binary:
            x, y = a[0], a[1]
            if op == 'Div' and not x.is_floating_point() and not y.is_floating_point():
                return torch.div(x, y, rounding_mode='floor')
            return binary[op](x, y)
        if op == 'Where':
            return torch.where(a[0].bool(), a[1], a[2])
        if op == 'Clip':
            lo = a[1] if len(a) > 1 and a[1] is not None else at.get('min')
            hi = a[2] if len(a) > 2 and a[2] is not None else at.get('max')
            # Python floats, so the traced graph holds no device-bound tensor for the bounds.
            lo = float(lo) if lo is not None else None
            hi = float(hi) if hi is not None else None
            return torch.clamp(a[0], lo, hi)
        if op == 'Concat':
            return torch.cat(
                [t for t in a if t is not None and t.numel() > 0] or a, int(at['axis'])
            )
        if op == 'Split':
            axis = int(at.get('axis', 0))
            if len(a) > 1 and a[1] is not None:
                sizes = _ints(a[1])
            elif 'split' in at:
                sizes = list(at['split'])
            else:
                n = len(node.output)
                sizes = [a[0].shape[axis] // n] * n
            return list(torch.split(a[0], sizes, axis))
        if op == 'Slice':
            x = a[0]
            starts, ends = _ints(a[1]), _ints(a[2])
            axes = _ints(a[3]) if len(a) > 3 and a[3] is not None else list(range(len(starts)))
            steps = _ints(a[4]) if len(a) > 4 and a[4] is not None else [1] * len(starts)
            idx = [slice(None)] * x.dim()
            for s, e, ax, st in zip(starts, ends, axes, steps):
                size = x.shape[ax]
                s = max(0, min(size, s + size if s < 0 else s))
                e = max(0, min(size, e + size if e < 0 else e))
                idx[ax] = slice(s, e, st)
            return x[tuple(idx)]
        if op in ('MaxPool', 'AveragePool'):
            k = list(at['kernel_shape'])
            s = list(at.get('strides', [1, 1]))
            pads = list(at.get('pads', [0, 0, 0, 0]))
            fn = F.max_pool2d if op == 'MaxPool' else F.avg_pool2d
            if pads[:2] != pads[2:]:
                raise NotImplementedError(f'{op} with asymmetric pads {pads}')
            if op == 'MaxPool':
                return fn(a[0], k, s, pads[:2], ceil_mode=bool(at.get('ceil_mode', 0)))
            return fn(
                a[0],
                k,
                s,
                pads[:2],
                ceil_mode=bool(at.get('ceil_mode', 0)),
                count_include_pad=bool(at.get('count_include_pad', 0)),
            )
        if op == 'GlobalAveragePool':
            return a[0].mean(dim=(2, 3), keepdim=True)
        if op in ('Resize', 'Upsample'):
            x = a[0]
            mode = at.get('mode', b'nearest')
            mode = mode.decode() if isinstance(mode, bytes) else mode
            size = None
            scales = None
            if op == 'Resize':
                if len(a) > 3 and a[3] is not None and a[3].numel():
                    size = _ints(a[3])[2:]
                elif len(a) > 2 and a[2] is not None and a[2].numel():
                    scales = [float(v) for v in a[2].tolist()][2:]
            else:
                scales = [float(v) for v in a[1].tolist()][2:]
            if mode == 'nearest':
                return F.interpolate(x, size=size, scale_factor=scales, mode='nearest')
            ct = at.get('coordinate_transformation_mode', b'half_pixel')
            ct = ct.decode() if isinstance(ct, bytes) else ct
            return F.interpolate(
                x,
                size=size,
                scale_factor=scales,
                mode='bilinear',
                align_corners=(ct == 'align_corners'),
            )
        if op == 'Reshape':
            shape = _ints(a[1])
            shape = [a[0].shape[i] if d == 0 else d for i, d in enumerate(shape)]
            return a[0].reshape(shape)
        if op == 'Flatten':
            axis = int(at.get('axis', 1))
            return a[0].reshape(int(np.prod(a[0].shape[:axis])) if axis else 1, -1)
        if op == 'Transpose':
            perm = list(at.get('perm', list(reversed(range(a[0].dim())))))
            return a[0].permute(perm)
        if op == 'Softmax':
            return torch.softmax(a[0], int(at.get('axis', -1)))
        if op == 'Constant':
            from onnx import numpy_helper

            return torch.from_numpy(numpy_helper.to_array(at['value']).copy()).to(self._device)
        if op == 'Shape':
            return torch.tensor(list(a[0].shape), dtype=torch.int64, device=self._device)
        if op == 'Gather':
            axis = int(at.get('axis', 0))
            idx = a[1].long()
            return torch.index_select(a[0], axis, idx.reshape(-1)).reshape(
                list(a[0].shape[:axis]) + list(idx.shape) + list(a[0].shape[axis:])[1:]
            )
        if op == 'Unsqueeze':
            axes = _ints(a[1]) if len(a) > 1 else list(at['axes'])
            x = a[0]
            for ax in sorted(axes):
                x = x.unsqueeze(ax)
            return x
        if op == 'Squeeze':
            axes = _ints(a[1]) if len(a) > 1 and a[1] is not None else list(at.get('axes', []))
            x = a[0]
            for ax in sorted(axes, reverse=True):
                x = x.squeeze(ax)
            return x if axes else x.squeeze()
        if op == 'Cast':
            from onnx import helper

            np_type = helper.tensor_dtype_to_np_dtype(int(at['to']))
            return a[0].to(
                {
                    np.dtype(np.float32): torch.float32,
                    np.dtype(np.float16): torch.float16,
                    np.dtype(np.int64): torch.int64,
                    np.dtype(np.int32): torch.int32,
                    np.dtype(np.bool_): torch.bool,
                }[np.dtype(np_type)]
            )
        if op in ('ReduceMax', 'ReduceMean', 'ReduceSum'):
            axes = _ints(a[1]) if len(a) > 1 and a[1] is not None else list(at.get('axes', []))
            keep = bool(at.get('keepdims', 1))
            x = a[0]
            if op == 'ReduceMax':
                for ax in sorted(axes, reverse=True):
                    x = x.amax(dim=ax, keepdim=keep)
                return x
            fn = torch.mean if op == 'ReduceMean' else torch.sum
            return fn(x, dim=axes, keepdim=keep)
        if op in ('ArgMax',):
            return torch.argmax(a[0], int(at.get('axis', 0)), keepdim=bool(at.get('keepdims', 1)))
        if op == 'TopK':
            k = _ints(a[1])[0]
            v, i = torch.topk(
                a[0],
                k,
                int(at.get('axis', -1)),
                largest=bool(at.get('largest', 1)),
                sorted=bool(at.get('sorted', 1)),
            )
            return [v, i]
        if op == 'MatMul':
            return torch.matmul(a[0], a[1])
        if op == 'Gemm':
            x, w = a[0], a[1]
            if at.get('transA', 0):
                x = x.t()
            if at.get('transB', 0):
                w = w.t()
            y = float(at.get('alpha', 1.0)) * (x @ w)
            if len(a) > 2 and a[2] is not None:
                y = y + float(at.get('beta', 1.0)) * a[2]
            return y
        if op == 'Expand':
            return a[0].expand(torch.broadcast_shapes(tuple(a[0].shape), tuple(_ints(a[1]))))
        if op == 'Tile':
            return a[0].repeat(_ints(a[1]))
        if op == 'ConstantOfShape':
            from onnx import numpy_helper

            value = (
                numpy_helper.to_array(at['value']) if 'value' in at else np.zeros(1, np.float32)
            )
            return torch.full(
                _ints(a[0]),
                float(value.reshape(-1)[0]),
                dtype=torch.from_numpy(value).dtype,
                device=self._device,
            )
        if op == 'Range':
            return torch.arange(
                a[0].item(), a[1].item(), a[2].item(), dtype=a[0].dtype, device=self._device
            )
        raise NotImplementedError(
            f"ONNX operator {op} (node '{node.name}') is not supported by onnx_to_torch"
        )


def load(path: str):
    import onnx

    model = onnx.load(path)
    return OnnxModule(model).eval(), {p.key: p.value for p in model.metadata_props}


def example_input(model, meta) -> torch.Tensor:
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    if any(d <= 0 for d in dims):
        h, w = ast.literal_eval(meta['imgsz']) if meta.get('imgsz') else (640, 640)
        dims = [1, 3, h, w]
    return torch.rand(*dims)


def export_torchscript(onnx_path: str, out_path: str, device: str = 'cpu') -> dict:
    """Trace the ONNX graph into TorchScript at ``out_path``; returns the metadata stored."""
    import warnings

    module, meta = load(onnx_path)
    module = module.to(device)
    x = example_input(module, meta).to(device)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # TracerWarnings about shape constants are expected
        traced = torch.jit.trace(module, x, check_trace=False)
    cfg = {}
    for k, v in meta.items():
        try:
            cfg[k] = ast.literal_eval(v) if k in ('names', 'imgsz', 'stride') else v
        except (ValueError, SyntaxError):
            cfg[k] = v
    if isinstance(cfg.get('names'), dict):
        cfg['names'] = {str(k): v for k, v in cfg['names'].items()}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.jit.save(traced, out_path, _extra_files={'config.txt': json.dumps(cfg)})
    return cfg


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('onnx')
    p.add_argument('output')
    p.add_argument('--device', default='cpu', help='trace on this device (the one it will run on)')
    args = p.parse_args(argv)
    cfg = export_torchscript(args.onnx, args.output, args.device)
    print(f'wrote {args.output} (metadata keys: {sorted(cfg)})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
