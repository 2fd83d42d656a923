"""Inference backends behind one small interface (see base.Backend).

Each runtime is imported lazily inside its module's constructor, so importing this package never
requires onnxruntime, tensorrt, cuda-python or torch.
"""
