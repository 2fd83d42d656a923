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
Packaging and environment checks (owned by the infra engineer).

- package.xml / setup.py / setup.cfg say what the ROS tooling needs (deps, build type, version,
  executables in lib/yolo_trt_ros);
- a colcon-style `setup.py install` into a temporary prefix lays out share/, the ament index
  marker and the executables where `ros2 run` / `ros2 launch` look for them;
- the venv made by `make setup` has the share files (same content as the repository) and the
  console scripts, and they point at the modules named in CONTRACTS.md;
- the vision_msgs interfaces have the field names and types of vision_msgs 4.1, and a
  Detection2DArray (and a transient-local LabelInfo) goes from one process to another over Fast
  DDS on loopback with every field intact.
"""

from __future__ import annotations

import configparser
import glob
import importlib
import json
import os
from pathlib import Path
import subprocess
import sys
import sysconfig
import textwrap
import time
import xml.etree.ElementTree as ET

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = 'yolo_trt_ros'

# The executables of CONTRACTS.md: name -> "module:function".
CONSOLE_SCRIPTS = {
    'detector_node': 'yolo_trt_ros.ros.node:main',
    'detector_lifecycle_node': 'yolo_trt_ros.ros.lifecycle:main',
    'detector_demo': 'yolo_trt_ros.ros.demo:main',
    'validate': 'yolo_trt_ros.tools.validate:main',
    'quantize': 'yolo_trt_ros.tools.quantize:main',
    'build_engine': 'yolo_trt_ros.tools.build_engine:main',
    'make_sample': 'yolo_trt_ros.tools.make_sample:main',
    'track_eval': 'yolo_trt_ros.tools.track_eval:main',
    'detect_bag': 'yolo_trt_ros.tools.detect_bag:main',
    'compare_bags': 'yolo_trt_ros.tools.compare_bags:main',
}
# Patterns setup.py installs into share/yolo_trt_ros/<dir>.
SHARE_PATTERNS = (
    'launch/*.py',
    'config/*.yaml',
    'config/*.xml',
    'engines/*.onnx',
    'engines/*.txt',
)

REQUIRE_ROS = os.environ.get('YOLO_TRT_ROS_REQUIRE_ROS') == '1'


def _installed_or_skip() -> None:
    """Require the installed package under `make test`; skip for a bare checkout."""
    from importlib import metadata

    try:
        metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        if REQUIRE_ROS:
            pytest.fail(
                f'{PACKAGE} is not installed in {sys.prefix}; `make setup` should have '
                'run `pip install -e .`'
            )
        pytest.skip(f'{PACKAGE} not installed in this interpreter (run `make setup`)')


def _repo_share_files() -> list[str]:
    return sorted(
        os.path.relpath(p, REPO) for pat in SHARE_PATTERNS for p in glob.glob(str(REPO / pat))
    )


# ---------------------------------------------------------------------------------------------
# Static metadata


def _package_xml() -> ET.Element:
    return ET.parse(REPO / 'package.xml').getroot()


def test_package_xml_is_format_3_ament_python_with_required_dependencies():
    root = _package_xml()
    assert root.tag == 'package'
    assert root.get('format') == '3'
    assert root.findtext('name') == PACKAGE

    def tags(tag: str) -> set[str]:
        return {(e.text or '').strip() for e in root.findall(tag)}

    assert {'rclpy', 'std_msgs', 'sensor_msgs', 'vision_msgs', 'diagnostic_msgs'} <= tags('depend')
    assert {'launch_ros', 'python3-numpy', 'python3-opencv', 'python3-onnxruntime-pip'} <= tags(
        'exec_depend'
    )
    assert {
        'ament_copyright',
        'ament_flake8',
        'ament_pep257',
        'python3-pytest',
        'python3-hypothesis',
    } <= tags('test_depend')
    assert root.findtext('export/build_type') == 'ament_python'
    assert root.findtext('license'), 'package.xml needs a license'
    assert root.find('maintainer') is not None and root.find('maintainer').get('email')


# Third-party modules the installed package imports -> the rosdep key (or ROS package) that
# provides them. Keys checked against ros/rosdistro rosdep/python.yaml and base.yaml: there is no
# 'python3-onnxruntime' key, rosdistro's is 'python3-onnxruntime-pip'; rosbags likewise.
ROSDEP_KEYS = {
    'numpy': 'python3-numpy',
    'cv2': 'python3-opencv',
    'onnxruntime': 'python3-onnxruntime-pip',
    'yaml': 'python3-yaml',
    'scipy': 'python3-scipy',
    'rosbags': 'python3-rosbags-pip',
    # no key for mcap itself: mcap-ros2-support (pip) depends on it
    'mcap': 'mcap-ros2-support',
    'rclpy': 'rclpy',
    'std_msgs': 'std_msgs',
    'sensor_msgs': 'sensor_msgs',
    'vision_msgs': 'vision_msgs',
    'diagnostic_msgs': 'diagnostic_msgs',
    'builtin_interfaces': 'builtin_interfaces',
    'rcl_interfaces': 'rcl_interfaces',
    'lifecycle_msgs': 'lifecycle_msgs',
    'ament_index_python': 'ament_index_python',
    'launch': 'launch',
    'launch_ros': 'launch_ros',
}
# Optional accelerators and developer tools, imported lazily where they are used and reported
# by name when missing: TensorRT / CUDA / PyTorch come with the NVIDIA stack, not rosdep; onnx
# (model surgery in tools/) has no rosdep key.
OPTIONAL_MODULES = {
    'tensorrt',
    'torch',
    'cupy',
    'onnx',
    'onnxconverter_common',
    # evaluation tools (validate, track_eval), imported where they run; no rosdep keys
    'pycocotools',
    'motmetrics',
    # compressed MCAP chunks in the bag tools (mcap-ros2-support pulls them in); no keys
    'zstandard',
    'lz4',
    # the Triton backend's client (backends/registry.py names the pip package when it is
    # missing) and the HTTP client's transport that comes with tritonclient[http]; rosdep
    # has no keys for them
    'tritonclient',
    'aiohttp',
}


def _third_party_imports():
    import ast

    found = {}
    for path in sorted((REPO / PACKAGE).rglob('*.py')):
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split('.')[0]
                if top not in sys.stdlib_module_names and top not in (PACKAGE, '__future__'):
                    found.setdefault(top, str(path.relative_to(REPO)))
    return found


def test_every_runtime_import_has_a_rosdep_key_in_package_xml():
    root = _package_xml()
    run_keys = {(e.text or '').strip() for t in ('depend', 'exec_depend') for e in root.findall(t)}
    for module, where in sorted(_third_party_imports().items()):
        if module in OPTIONAL_MODULES:
            continue
        assert module in ROSDEP_KEYS, f'{where} imports {module}: add its rosdep key here'
        assert ROSDEP_KEYS[module] in run_keys, (
            f'{where} imports {module}, but package.xml has no <exec_depend>'
            f'{ROSDEP_KEYS[module]}</exec_depend>: rosdep install would not provide it'
        )


def test_setup_py_makes_colcon_test_run_pytest_and_installs_only_the_package():
    import ast

    tree = ast.parse((REPO / 'setup.py').read_text(encoding='utf-8'))
    call = next(
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, 'id', '') == 'setup'
    )
    kw = {k.arg: k.value for k in call.keywords}
    # colcon's pytest step matches when pytest is in tests_require or extras_require['test'];
    # otherwise it falls back to unittest, which finds nothing ("NO TESTS RAN").
    assert 'pytest' in ast.literal_eval(kw['tests_require'])
    assert {'pytest', 'hypothesis'} <= set(ast.literal_eval(kw['extras_require'])['test'])
    from setuptools import find_packages

    include = [PACKAGE, PACKAGE + '.*']
    assert 'include=[package_name, package_name' in ast.unparse(kw['packages'])
    found = find_packages(str(REPO), include=include)
    assert found and all(p == PACKAGE or p.startswith(PACKAGE + '.') for p in found)
    # bench/ and tools/ are packages in the checkout (run with python -m), never installed
    assert (REPO / 'bench' / '__init__.py').is_file()


def test_versions_of_package_xml_setup_py_and_module_agree():
    xml_version = _package_xml().findtext('version')
    out = subprocess.run(
        [sys.executable, 'setup.py', '--version'],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.split()
    module_ns: dict = {}
    exec((REPO / PACKAGE / '__init__.py').read_text(encoding='utf-8'), module_ns)
    assert out[-1] == xml_version == module_ns['__version__']


def test_setup_cfg_sends_executables_to_lib_package():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / 'setup.cfg')
    assert cfg.get('develop', 'script_dir') == f'$base/lib/{PACKAGE}'
    assert cfg.get('install', 'install_scripts') == f'$base/lib/{PACKAGE}'


def test_resource_marker_exists_and_launch_and_config_are_shipped():
    assert (REPO / 'resource' / PACKAGE).is_file()
    files = _repo_share_files()
    assert 'launch/detector.launch.py' in files
    assert 'config/detector.yaml' in files
    assert 'config/fastdds_large_images.xml' in files


# ---------------------------------------------------------------------------------------------
# A colcon-style install (what `colcon build` does for an ament_python package)


@pytest.mark.slow
def test_colcon_style_install_layout(tmp_path):
    prefix = tmp_path / 'install'
    build = tmp_path / 'build'
    build.mkdir()
    # The command colcon's python build task runs (without --symlink-install), kept out of the
    # source tree with --egg-base / --build-base.
    cmd = [
        sys.executable,
        'setup.py',
        '--quiet',
        'egg_info',
        '--egg-base',
        str(build),
        'build',
        '--build-base',
        str(build / 'build'),
        'install',
        '--prefix',
        str(prefix),
        '--record',
        str(build / 'install.log'),
        '--single-version-externally-managed',
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    for name in CONSOLE_SCRIPTS:
        exe = prefix / 'lib' / PACKAGE / name
        assert exe.is_file(), f'{exe} missing: `ros2 run {PACKAGE} {name}` would not find it'
        assert os.access(exe, os.X_OK)
    assert not (prefix / 'bin' / 'detector_node').exists(), 'executables must not go to bin/'

    share = prefix / 'share' / PACKAGE
    assert (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / PACKAGE).is_file()
    assert (share / 'package.xml').read_bytes() == (REPO / 'package.xml').read_bytes()
    for rel in _repo_share_files():
        assert (share / rel).read_bytes() == (REPO / rel).read_bytes(), rel
    # Built engines are machine specific and never installed.
    assert not list(share.glob('engines/*.engine'))

    site = [Path(p) for p in glob.glob(str(prefix / 'lib' / 'python3*' / 'site-packages'))]
    assert len(site) == 1
    assert (site[0] / PACKAGE / '__init__.py').is_file()
    assert (site[0] / PACKAGE / 'core' / '__init__.py').is_file()
    # Only the package is installed: no top-level test, dev, tools or bench package leaks out.
    assert sorted(p.name for p in site[0].iterdir() if not p.name.endswith('-info')) == [
        PACKAGE
    ], sorted(p.name for p in site[0].iterdir())


# ---------------------------------------------------------------------------------------------
# The venv made by `make setup`


def test_console_scripts_match_contract():
    _installed_or_skip()
    from importlib import metadata

    eps = {
        ep.name: ep.value
        for ep in metadata.distribution(PACKAGE).entry_points
        if ep.group == 'console_scripts'
    }
    assert eps == CONSOLE_SCRIPTS


@pytest.mark.parametrize('name', sorted(CONSOLE_SCRIPTS))
def test_console_script_is_installed_and_its_target_is_callable(name):
    _installed_or_skip()
    scripts_dir = Path(sysconfig.get_path('scripts'))
    exe = scripts_dir / name
    assert exe.is_file() and os.access(exe, os.X_OK), f'{exe} missing'
    module_name, func = CONSOLE_SCRIPTS[name].split(':')
    module = importlib.import_module(module_name)
    assert callable(getattr(module, func, None)), f'{module_name} has no callable {func}()'


def test_installed_share_files_match_the_repository():
    _installed_or_skip()
    ament = pytest.importorskip('ament_index_python.packages')
    share = Path(ament.get_package_share_directory(PACKAGE))
    files = _repo_share_files()
    assert files, 'nothing to install?'
    for rel in files:
        installed = share / rel
        assert installed.is_file(), f'{installed} missing (re-run `make setup`)'
        assert installed.read_bytes() == (REPO / rel).read_bytes(), f'{installed} is stale'
    assert (share / 'package.xml').is_file()


def test_makefile_reinstalls_the_venv_share_files_when_any_of_them_changes():
    """`make setup` re-copies the share files into the venv when one in SHARE_FILES changed."""
    text = (REPO / 'Makefile').read_text(encoding='utf-8').replace('\\\n', ' ')
    line = next(ln for ln in text.splitlines() if ln.startswith('SHARE_FILES :='))
    listed = set(line.split(':=', 1)[1].replace('$(wildcard', ' ').replace(')', ' ').split())
    missing = [pat for pat in SHARE_PATTERNS if pat not in listed]
    assert not missing, (
        f'Makefile SHARE_FILES lacks {missing}: a change would leave the venv stale'
    )


# ---------------------------------------------------------------------------------------------
# vision_msgs

# Field name -> type as rosidl reports it, for every vision_msgs 4.1 message. Jazzy's type hash
# is computed from exactly these (names, types, order), so they must not drift.
VISION_MSGS_FIELDS = {
    'Point2D': {'x': 'double', 'y': 'double'},
    'Pose2D': {'position': 'vision_msgs/Point2D', 'theta': 'double'},
    'BoundingBox2D': {'center': 'vision_msgs/Pose2D', 'size_x': 'double', 'size_y': 'double'},
    'BoundingBox2DArray': {
        'header': 'std_msgs/Header',
        'boxes': 'sequence<vision_msgs/BoundingBox2D>',
    },
    'BoundingBox3D': {'center': 'geometry_msgs/Pose', 'size': 'geometry_msgs/Vector3'},
    'BoundingBox3DArray': {
        'header': 'std_msgs/Header',
        'boxes': 'sequence<vision_msgs/BoundingBox3D>',
    },
    'ObjectHypothesis': {'class_id': 'string', 'score': 'double'},
    'ObjectHypothesisWithPose': {
        'hypothesis': 'vision_msgs/ObjectHypothesis',
        'pose': 'geometry_msgs/PoseWithCovariance',
    },
    'Classification': {
        'header': 'std_msgs/Header',
        'results': 'sequence<vision_msgs/ObjectHypothesis>',
    },
    'Detection2D': {
        'header': 'std_msgs/Header',
        'results': 'sequence<vision_msgs/ObjectHypothesisWithPose>',
        'bbox': 'vision_msgs/BoundingBox2D',
        'id': 'string',
    },
    'Detection2DArray': {
        'header': 'std_msgs/Header',
        'detections': 'sequence<vision_msgs/Detection2D>',
    },
    'Detection3D': {
        'header': 'std_msgs/Header',
        'results': 'sequence<vision_msgs/ObjectHypothesisWithPose>',
        'bbox': 'vision_msgs/BoundingBox3D',
        'id': 'string',
    },
    'Detection3DArray': {
        'header': 'std_msgs/Header',
        'detections': 'sequence<vision_msgs/Detection3D>',
    },
    'VisionClass': {'class_id': 'uint16', 'class_name': 'string'},
    'LabelInfo': {
        'header': 'std_msgs/Header',
        'class_map': 'sequence<vision_msgs/VisionClass>',
        'threshold': 'float',
    },
    'VisionInfo': {
        'header': 'std_msgs/Header',
        'method': 'string',
        'database_location': 'string',
        'database_version': 'int32',
    },
}


@pytest.mark.ros
def test_vision_msgs_definitions_match_4_1():
    msg = pytest.importorskip('vision_msgs.msg')
    for name, fields in VISION_MSGS_FIELDS.items():
        cls = getattr(msg, name, None)
        assert cls is not None, f'vision_msgs/{name} missing'
        got = cls.get_fields_and_field_types()
        assert list(got.items()) == list(fields.items()), name


# The publisher process: builds the messages from a JSON description and publishes the
# LabelInfo once (transient local) and the Detection2DArray at 20 Hz until killed.
_PUBLISHER = textwrap.dedent("""
    import json, sys, time
    import rclpy
    from rclpy.qos import QoSProfile, DurabilityPolicy, ReliabilityPolicy, HistoryPolicy
    from vision_msgs.msg import (Detection2D, Detection2DArray, LabelInfo,
                                 ObjectHypothesisWithPose, VisionClass)

    spec = json.loads(sys.argv[1])
    rclpy.init()
    node = rclpy.create_node('packaging_test_publisher')
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                         reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
    info = LabelInfo()
    info.header.frame_id = spec['frame_id']
    info.class_map = [VisionClass(class_id=i, class_name=n) for i, n in enumerate(spec['names'])]
    info.threshold = spec['threshold']
    node.create_publisher(LabelInfo, spec['topic'] + '/label_info', latched).publish(info)

    pub = node.create_publisher(Detection2DArray, spec['topic'], 10)
    arr = Detection2DArray()
    arr.header.stamp.sec, arr.header.stamp.nanosec = spec['stamp']
    arr.header.frame_id = spec['frame_id']
    for d in spec['detections']:
        det = Detection2D()
        det.header = arr.header
        det.id = d['id']
        det.bbox.center.position.x, det.bbox.center.position.y = d['center']
        det.bbox.center.theta = d['theta']
        det.bbox.size_x, det.bbox.size_y = d['size']
        hyp = ObjectHypothesisWithPose()
        hyp.hypothesis.class_id = d['class_id']
        hyp.hypothesis.score = d['score']
        hyp.pose.pose.position.x = d['center'][0]
        hyp.pose.covariance[0] = d['cov0']
        det.results.append(hyp)
        arr.detections.append(det)
    print('publishing', flush=True)
    try:
        while rclpy.ok():
            pub.publish(arr)
            rclpy.spin_once(node, timeout_sec=0.05)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
""")


@pytest.mark.ros
def test_detection2d_array_round_trip_between_processes(tmp_path, ros_domain_id):
    rclpy = pytest.importorskip('rclpy')
    msg = pytest.importorskip('vision_msgs.msg')
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    assert os.environ['ROS_DOMAIN_ID'] == str(ros_domain_id)
    spec = {
        'topic': f'packaging_test_{os.getpid()}',
        'frame_id': 'camera_optical_frame',
        'stamp': [1718000000, 123456789],
        'names': ['red_block', 'blue_block', 'UNLABELED'],
        'threshold': 0.25,
        'detections': [
            {
                'id': 'a',
                'center': [640.5, 360.25],
                'theta': 0.0,
                'size': [100.0, 50.5],
                'class_id': 'red_block',
                'score': 0.875,
                'cov0': 0.5,
            },
            {
                'id': '',
                'center': [0.0, 719.0],
                'theta': 0.125,
                'size': [1.0, 2.0],
                'class_id': '1',
                'score': 0.25,
                'cov0': 0.0,
            },
        ],
    }
    log = open(tmp_path / 'publisher.log', 'w+')
    proc = subprocess.Popen(
        [sys.executable, '-c', _PUBLISHER, json.dumps(spec)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ),
    )
    context = rclpy.Context()
    rclpy.init(context=context, args=[])
    node = None
    try:
        node = rclpy.create_node('packaging_test_subscriber', context=context)
        got_arrays: list = []
        got_info: list = []
        node.create_subscription(msg.Detection2DArray, spec['topic'], got_arrays.append, 10)
        latched = QoSProfile(
            depth=1,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
            reliability=ReliabilityPolicy.RELIABLE,
        )
        node.create_subscription(
            msg.LabelInfo, spec['topic'] + '/label_info', got_info.append, latched
        )
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        deadline = time.monotonic() + 30.0
        while (not got_arrays or not got_info) and time.monotonic() < deadline:
            assert proc.poll() is None, (
                'publisher died: ' + (tmp_path / 'publisher.log').read_text()
            )
            executor.spin_once(timeout_sec=0.1)
        executor.shutdown()
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown(context=context)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
    publisher_log = (tmp_path / 'publisher.log').read_text()
    assert got_arrays, 'no Detection2DArray within 30 s; publisher log:\n' + publisher_log
    assert got_info, 'no transient-local LabelInfo within 30 s; publisher log:\n' + publisher_log

    arr = got_arrays[0]
    assert (arr.header.stamp.sec, arr.header.stamp.nanosec) == tuple(spec['stamp'])
    assert arr.header.frame_id == spec['frame_id']
    assert len(arr.detections) == len(spec['detections'])
    for det, want in zip(arr.detections, spec['detections']):
        assert det.header.frame_id == spec['frame_id']
        assert det.id == want['id']
        assert (det.bbox.center.position.x, det.bbox.center.position.y) == tuple(want['center'])
        assert det.bbox.center.theta == want['theta']
        assert (det.bbox.size_x, det.bbox.size_y) == tuple(want['size'])
        assert len(det.results) == 1
        assert det.results[0].hypothesis.class_id == want['class_id']
        assert det.results[0].hypothesis.score == want['score']
        assert det.results[0].pose.pose.position.x == want['center'][0]
        assert len(det.results[0].pose.covariance) == 36
        assert det.results[0].pose.covariance[0] == want['cov0']

    info = got_info[0]
    assert [(c.class_id, c.class_name) for c in info.class_map] == list(enumerate(spec['names']))
    assert info.threshold == pytest.approx(spec['threshold'])
    assert info.header.frame_id == spec['frame_id']


@pytest.mark.ros
def test_package_logging_lines_carry_the_node_name(tmp_path):
    """Python logging of backends / engine builds goes out through the node's rclpy logger."""
    pytest.importorskip('rclpy')
    code = textwrap.dedent(
        """
        import logging, rclpy, rclpy.logging
        from yolo_trt_ros.ros.log_bridge import bridge_package_logging
        rclpy.init()
        bridge_package_logging(rclpy.logging.get_logger('cam_ns.my_detector'))
        logging.getLogger('yolo_trt_ros.backends.engine_build').info('engine build at 50 percent')
        logging.getLogger('yolo_trt_ros.backends.tensorrt').warning('fp16 not supported')
        logging.getLogger('other_library').warning('not ours')
        rclpy.shutdown()
        """
    )
    from ros_harness import _env

    out = subprocess.run(
        [sys.executable, '-c', code], capture_output=True, text=True, env=_env(), timeout=60
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    assert '[INFO]' in text and '[cam_ns.my_detector]: engine build at 50 percent' in text, text
    assert '[WARN]' in text and '[cam_ns.my_detector]: fp16 not supported' in text, text
    assert '[cam_ns.my_detector]: not ours' not in text  # only the package's own loggers
