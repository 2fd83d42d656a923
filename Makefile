# yolo_trt_ros developer entry points for a machine WITHOUT a ROS install.
# (On a ROS 2 machine use rosdep + colcon as usual; see README.)
#
#   make setup   venv with real ROS 2 Jazzy wheels, vision_msgs built if needed, package installed
#   make test    the whole test suite (what CI runs)
#   make demo    detector on the bundled sample, publishing /detections
#
# Every step leaves a stamp file in .venv/, so a second `make setup` does nothing unless an input
# (requirements, interface definitions, packaging files) changed.

PYTHON  ?= python3
VENV    ?= .venv
VPY     := $(VENV)/bin/python
PIP     := $(VPY) -m pip --no-input --disable-pip-version-check
# Progress bars only add noise to CI logs.
export PIP_PROGRESS_BAR := off
STAMPS  := $(VENV)/.stamps
DURATION ?= 60
PYTEST_ARGS ?=
DEMO_ARGS ?=
BENCH_ARGS ?=
SOAK_ARGS ?=
SAMPLE_ARGS ?=

REQUIREMENTS := requirements-ros.txt requirements.txt requirements-dev.txt
# What the interfaces are made of: a change here rebuilds vision_msgs.
VISION_MSGS_SRC := $(wildcard interfaces/vision_msgs/msg/*.msg) \
                   interfaces/vision_msgs/CMakeLists.txt interfaces/vision_msgs/package.xml
# Files setup.py copies into share/yolo_trt_ros: a change re-installs them into the venv.
SHARE_FILES := package.xml resource/yolo_trt_ros $(wildcard launch/*.py config/*.yaml config/*.xml \
               engines/*.onnx engines/*.txt)

.PHONY: setup test demo bench bench-cameras soak sample clean help

# help: list the targets.
help:
	@sed -n 's/^# \([a-z]*\): /  \1: /p' $(MAKEFILE_LIST)

# setup: create .venv and install everything (idempotent; seconds when nothing changed).
setup: $(STAMPS)/package

# The interpreter: any CPython 3.10-3.12 (`make setup PYTHON=python3.12`; `make clean` first
# to switch an existing venv to another version).
$(STAMPS)/venv:
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; \
	  sys.exit(0 if (3, 10) <= v <= (3, 12) else "need Python 3.10-3.12, $(PYTHON) is %d.%d" % v)'
	$(PYTHON) -m venv $(VENV)
	@mkdir -p $(STAMPS) && touch $@

# Pinned ROS 2 Jazzy wheels, runtime and test dependencies.
$(STAMPS)/deps: $(STAMPS)/venv $(REQUIREMENTS)
	$(PIP) install $(addprefix -r ,$(REQUIREMENTS))
	@touch $@

# vision_msgs is not on PyPI: build interfaces/vision_msgs into the venv unless it already
# imports and loads (a changed definition forces a rebuild).
$(STAMPS)/vision_msgs: $(STAMPS)/deps $(VISION_MSGS_SRC)
	scripts/build_vision_msgs.sh $(VENV) $(if $(wildcard $@),--force)
	@touch $@

# The package itself, editable; share files copied into the venv prefix (pip's editable
# install skips setup.py's data_files), AMENT_PREFIX_PATH hook for the venv's interpreter.
$(STAMPS)/package: $(STAMPS)/vision_msgs setup.py setup.cfg $(SHARE_FILES) scripts/install_venv_env.py
	$(PIP) install --no-deps --no-build-isolation -e .
	rm -rf $(VENV)/share/yolo_trt_ros
	PYTHONWARNINGS=ignore $(VPY) setup.py --quiet install_data --install-dir=$(VENV) --force
	$(VPY) scripts/install_venv_env.py
	@touch $@

# triton-server: a Triton Inference Server for the tests (tritonserver from the pinned
# nvidia-pytriton wheel, in its own venv because that wheel pins numpy < 2), with the Python
# backend's stub for that venv's Python put where the server looks for it.
TRITON_VENV ?= .triton-venv
TRITON_PY   := $(TRITON_VENV)/bin/python
$(TRITON_VENV)/.stamp: requirements-triton.txt
	$(PYTHON) -m venv $(TRITON_VENV)
	$(TRITON_PY) -m pip --no-input --disable-pip-version-check install -r requirements-triton.txt
	$(TRITON_PY) -c 'import pathlib, shutil, sys, pytriton; \
	  root = pathlib.Path(pytriton.__file__).parent / "tritonserver"; \
	  version = "%d.%d" % sys.version_info[:2]; \
	  shutil.copy(root / "python_backend_stubs" / version / "triton_python_backend_stub", \
	              root / "backends" / "python" / "triton_python_backend_stub")'
	@touch $@
triton-server: $(TRITON_VENV)/.stamp
.PHONY: triton-server

# test: run the whole suite in the venv (ROS tests must run there, not skip; the Triton tests
# run against the server from triton-server).
test: setup triton-server
	YOLO_TRT_ROS_REQUIRE_ROS=1 YOLO_TRT_ROS_REQUIRE_TRITON=1 YOLO_TRT_ROS_TRITON_VENV=$(abspath $(TRITON_VENV)) \
	  $(VPY) -m pytest test $(PYTEST_ARGS)

# demo: detector on the bundled sample with ONNX Runtime on CPU, publishing /detections.
demo: setup
	$(VENV)/bin/detector_demo $(DEMO_ARGS)

# sample: generate the demo's sample clip and its MCAP bag.
sample: setup
	$(VENV)/bin/make_sample $(SAMPLE_ARGS)

# bench: the detector against its limit and its peers (rows a-f: limit, sequential, pipeline,
# node, Ultralytics loop and usual node if installed) and the tracker alone (row t); table,
# PASS/FAIL lines, JSON, PNG in out/bench
# (`make bench BENCH_ARGS="--model m.onnx --frames 120"`; see bench/README.md).
bench: setup
	$(VPY) bench/run_bench.py --out out/bench $(BENCH_ARGS)

# bench-cameras: several cameras (1, 2, 4, 8 synthetic cameras at 30 fps): one batching node
# against one node per camera; table, PASS/FAIL lines and JSON in out/bench_cameras.
bench-cameras: setup
	$(VPY) -m bench --cameras 1,2,4,8 --out out/bench_cameras $(BENCH_ARGS)

# soak: the full node at maximum rate for DURATION seconds (default 60), with the report
# (JSON, also in bench/results/soak_<DURATION>s.json); fails when a criterion fails.
soak: setup
	$(VPY) dev/soak.py --duration $(DURATION) --out bench/results/soak_$(DURATION)s.json $(SOAK_ARGS)

# clean: remove the venv (with the vision_msgs build), build outputs and caches.
clean:
	rm -rf $(VENV) $(TRITON_VENV) build install log out .pytest_cache .hypothesis *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# model: train the default detector from scratch and export engines/arena_yolo.onnx (+ .txt); needs PyTorch, see dev/train/README.md.
.PHONY: model
MODEL_GPUS ?= $(shell $(PYTHON) -c 'import torch; print(max(1, torch.cuda.device_count()))' 2>/dev/null || echo 1)
model:
	$(PYTHON) -m dev.train.train --steps 4270 --batch 128 --lr 2e-3 --out out/model/stage1
	$(PYTHON) -m torch.distributed.run --standalone --nproc_per_node $(MODEL_GPUS) -m dev.train.train \
	  --steps 3196 --batch $$((512 / $(MODEL_GPUS))) --lr 2e-3 --init out/model/stage1/arena_yolo.pt \
	  --out out/model/stage2
	$(PYTHON) -m dev.train.train --steps 1084 --batch 512 --lr 2e-3 --p-affine 0.15 \
	  --init out/model/stage2/arena_yolo.pt --out out/model/stage3
	$(PYTHON) -m dev.train.train --steps 988 --batch 512 --lr 1e-3 --p-affine 0.15 --seed 600000 \
	  --init out/model/stage3/arena_yolo.pt --out out/model/stage4
	$(PYTHON) -m torch.distributed.run --standalone --nproc_per_node $(MODEL_GPUS) -m dev.train.train \
	  --steps 3146 --batch $$((512 / $(MODEL_GPUS))) --lr 1e-3 --p-affine 0.15 --seed 200000 \
	  --init out/model/stage4/arena_yolo.pt --out out/model/stage5 --onnx engines/arena_yolo.onnx
