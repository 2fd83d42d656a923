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
ament_python packaging for yolo_trt_ros.

Works both ways:
- on a ROS 2 machine: `colcon build` (setup.cfg sends executables to lib/yolo_trt_ros);
- without ROS: `pip install -e .` inside the venv made by `make setup` (data files land in the
  venv prefix, which is also the ROS prefix of the PyPI wheels, so ament_index finds the package).
"""

from glob import glob
import os

from setuptools import find_packages, setup

package_name = 'yolo_trt_ros'
here = os.path.dirname(os.path.abspath(__file__))


def _files(pattern):
    # Relative paths: setuptools requires them. Sorted: reproducible installs.
    return sorted(os.path.relpath(p, here) for p in glob(os.path.join(here, pattern)))


def _version():
    # One source of truth besides package.xml; test_packaging checks the two agree.
    with open(os.path.join(here, package_name, '__init__.py'), encoding='utf-8') as f:
        for line in f:
            if line.startswith('__version__'):
                return line.split('=', 1)[1].strip().strip('"\'')
    raise RuntimeError('yolo_trt_ros/__init__.py has no __version__')


setup(
    name=package_name,
    version=_version(),
    # Only yolo_trt_ros and its subpackages: dev/ (training, GPU scripts, soak), bench/ and test/
    # are run from the checkout and must not become top-level packages in site-packages.
    packages=find_packages(include=[package_name, package_name + '.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', _files('launch/*.py')),
        ('share/' + package_name + '/config', _files('config/*.yaml') + _files('config/*.xml')),
        # Shipped models and label files only; built .engine/.plan files stay local.
        ('share/' + package_name + '/engines', _files('engines/*.onnx') + _files('engines/*.txt')),
    ],
    # Run-time dependencies come from package.xml (rosdep) on a ROS machine and from
    # requirements*.txt in the venv; listing pip names here would fight rosdep.
    install_requires=['setuptools'],
    # colcon picks its pytest test step (not unittest, which finds no tests here) when pytest is
    # a test dependency of the setup data; `pip install .[test]` gets the same tools.
    tests_require=['pytest'],
    extras_require={'test': ['pytest', 'hypothesis']},
    zip_safe=True,
    maintainer='yolo_trt_ros maintainers',
    maintainer_email='yolo-trt-ros@example.com',
    description='Pipelined YOLO detector for ROS 2 with TensorRT and ONNX Runtime backends',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'detector_node = yolo_trt_ros.ros.node:main',
            'detector_lifecycle_node = yolo_trt_ros.ros.lifecycle:main',
            'detector_demo = yolo_trt_ros.ros.demo:main',
            'validate = yolo_trt_ros.tools.validate:main',
            'quantize = yolo_trt_ros.tools.quantize:main',
            'build_engine = yolo_trt_ros.tools.build_engine:main',
            'make_sample = yolo_trt_ros.tools.make_sample:main',
            'detect_bag = yolo_trt_ros.tools.detect_bag:main',
            'compare_bags = yolo_trt_ros.tools.compare_bags:main',
            'track_eval = yolo_trt_ros.tools.track_eval:main',
        ],
    },
)
