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
detect_bag: a bag in, a bag of detections out; every frame answered with its exact header.

Real bags (make_sample's MCAP, sqlite3 copies, bags written here with rosbags), the shipped
model through ONNX Runtime, the output read back with plain rosbags (its embedded definitions)
and, where rclpy and vision_msgs are installed, with the real ROS message classes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import bag_helpers as H
import numpy as np
import pytest

pytest.importorskip('rosbags')
pytest.importorskip('onnxruntime')
cv2 = pytest.importorskip('cv2')

from yolo_trt_ros.core import topics  # noqa: E402
from yolo_trt_ros.tools import bag_io, detect_bag  # noqa: E402

DET = 'vision_msgs/msg/Detection2DArray'


@pytest.fixture(scope='module')
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp('sample')
    bag, gt_path, gt = H.make_sample_bag(out)
    assert gt['n_frames'] == 10
    return bag, gt_path


@pytest.fixture(scope='module')
def replayed(sample, tmp_path_factory):
    """Replay the sample with annotated images and a copy of the inputs."""
    out = tmp_path_factory.mktemp('replay') / 'out'
    code, summary = H.detect(sample[0], out, '--annotated', '--copy-inputs')
    return code, summary, out


# ------------------------------------------------------------------------------------------
# the topic rule


@pytest.mark.parametrize(
    'image_topic, compressed, expected',
    [
        ('image_raw', False, 'detections'),
        ('front/image_raw', False, 'front/detections'),
        ('/robot/front/image_rect', False, '/robot/front/detections'),
        ('/image_raw', False, '/detections'),
        ('/image_raw/compressed', True, '/detections'),
        ('/cam/image/compressed', True, '/cam/detections'),
        ('image_raw/compressed', True, 'detections'),
        ('/cam/compressed', False, '/cam/detections'),  # a raw topic keeps its last name
        ('~/image_raw', False, '~/detections'),
    ],
)
def test_detections_topic_rule(image_topic, compressed, expected):
    assert topics.detections_topic(image_topic, compressed) == expected
    assert topics.annotated_topic(image_topic, compressed) == expected + '/image'


@pytest.mark.parametrize('bad', ['', '/', 'a//b', 'front/'])
def test_topic_rule_rejects_unusable_names(bad):
    with pytest.raises(ValueError, match='not a usable topic name'):
        topics.detections_topic(bad)


# ------------------------------------------------------------------------------------------
# the sample bag


def test_sample_bag_every_frame_answered_with_exact_header(sample, replayed):
    code, summary, out = replayed
    assert code == 0, summary
    inputs = [m for m in H.read_all(sample[0]) if m[1] == bag_io.COMPRESSED_TYPE]
    assert len(inputs) == 10
    got = H.read_all(out)
    dets = [m for m in got if m[0] == '/detections']
    assert [m[1] for m in dets] == [DET] * 10
    # One Detection2DArray per input message, in order, with the input's header and log time.
    assert [H.header(m[4]) for m in dets] == [H.header(m[4]) for m in inputs]
    assert [m[2] for m in dets] == [m[2] for m in inputs]
    for m in dets:
        for d in m[4].detections:
            assert H.header(d) == H.header(m[4])
            assert 0 < d.bbox.size_x <= 320 and 0 < d.bbox.size_y <= 240
            assert 0.25 <= d.results[0].hypothesis.score <= 1.0
    n_boxes = sum(len(m[4].detections) for m in dets)
    assert n_boxes == summary['detections'] > 20  # the arena scenes hold ~10 objects each
    assert sum(summary['detections_per_class'].values()) == n_boxes
    # Annotated images: same header, the input's size; copies: the input bytes unchanged.
    images = [m for m in got if m[0] == '/detections/image']
    assert [H.header(m[4]) for m in images] == [H.header(m[4]) for m in inputs]
    assert {(m[4].width, m[4].height, m[4].encoding) for m in images} == {(320, 240, 'bgr8')}
    copies = [m for m in got if m[0] == '/image_raw/compressed']
    assert [m[3] for m in copies] == [m[3] for m in inputs]
    assert summary['frames'] == summary['answered'] == 10
    assert summary['drops'] == 0 and summary['bad_frames'] == 0 and summary['complete']
    assert summary['topics']['/image_raw/compressed']['detections_topic'] == '/detections'
    assert summary['fps'] > 0


def test_two_runs_write_identical_detections(sample, replayed, tmp_path):
    code, _ = H.detect(sample[0], tmp_path / 'again')
    assert code == 0
    first = [m[3] for m in H.read_all(replayed[2]) if m[0] == '/detections']
    second = [m[3] for m in H.read_all(tmp_path / 'again') if m[0] == '/detections']
    assert first == second  # byte for byte: backpressure, no drops, deterministic


def test_detections_are_the_node_message_read_by_ros(sample, replayed):
    """
    Check the replay's message equals the node's, read with the real vision_msgs classes.

    Field by field: rclpy leaves CDR padding bytes undefined, so raw bytes may differ there.
    """
    pytest.importorskip('rclpy')
    pytest.importorskip('vision_msgs.msg')
    from rclpy.serialization import deserialize_message, serialize_message
    from vision_msgs.msg import Detection2DArray

    from yolo_trt_ros.ros import conversions as conv

    cfg = detect_bag.node_config(detect_bag.build_parser().parse_args(['x', '--out', 'y']))
    det = detect_bag.make_detector(cfg)
    try:
        inputs = [m for m in H.read_all(sample[0]) if m[1] == bag_io.COMPRESSED_TYPE][:3]
        outputs = [m for m in H.read_all(replayed[2]) if m[0] == '/detections'][:3]
        for (_, _, _, _, img), (_, _, _, raw, _) in zip(inputs, outputs):
            found, _ = det.detect(conv.compressed_to_bgr(img))
            node_msg = conv.detections_to_msg(
                found,
                conv.stamp_to_ns(img.header.stamp),
                img.header.frame_id,
                det.names,
                'label',
            )
            ros_msg = deserialize_message(raw, Detection2DArray)
            assert ros_msg == node_msg
            assert deserialize_message(serialize_message(node_msg), Detection2DArray) == ros_msg
            assert ros_msg.header.frame_id == img.header.frame_id
            assert len(ros_msg.detections) == len(found) > 0
    finally:
        det.close()


def test_vision_msgs_type_hashes_are_the_installed_packages(replayed):
    """Output bag types carry upstream vision_msgs' RIHS01 hashes (those of the ROS build)."""
    share = None
    for folder in bag_io.vision_msgs_definition_dirs()[1:]:
        if (folder / 'Detection2DArray.json').is_file():
            share = folder
            break
    if share is None:
        pytest.skip('no installed vision_msgs with type descriptions (ROS build) found')
    store = bag_io.make_typestore()
    names = sorted(p.stem for p in share.glob('*.msg'))
    assert len(names) == 16
    for name in names:
        desc = json.loads((share / f'{name}.json').read_text())
        full = f'vision_msgs/msg/{name}'
        want = [h['hash_string'] for h in desc['type_hashes'] if h['type_name'] == full]
        assert store.hash_rihs01(full) == want[0], full
    meta = (replayed[2] / 'metadata.yaml').read_text()
    det_json = json.loads((share / 'Detection2DArray.json').read_text())
    assert det_json['type_hashes'][0]['hash_string'] in meta


def test_works_without_ros(sample, tmp_path):
    """No rclpy, no ROS message packages, no ament index: same output bytes."""
    code = (
        'import sys\n'
        "for m in ('rclpy', 'rosidl_runtime_py', 'ament_index_python', 'sensor_msgs', "
        "'std_msgs', 'builtin_interfaces', 'vision_msgs', 'rosidl_parser'):\n"
        '    sys.modules[m] = None  # import m now raises ImportError\n'
        'from yolo_trt_ros.tools import detect_bag\n'
        f"rc = detect_bag.main([{str(sample[0])!r}, '--out', {str(tmp_path / 'noros')!r}, "
        "'--quiet'])\n"
        'assert all(sys.modules[m] is None for m in '
        "('rclpy', 'sensor_msgs', 'vision_msgs', 'ament_index_python'))\n"
        'sys.exit(rc)\n'
    )
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in (str(H.REPO), env.get('PYTHONPATH', '')) if p)
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=300
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'frames 10, answered 10' in r.stdout
    ref, _ = H.detect(sample[0], tmp_path / 'ref')
    assert ref == 0
    a = [m[3] for m in H.read_all(tmp_path / 'noros') if m[1] == DET]
    b = [m[3] for m in H.read_all(tmp_path / 'ref') if m[1] == DET]
    assert len(a) == 10 and a == b


def test_console_entry_point_runs(sample, tmp_path):
    r = H.run_tool('detect_bag', [sample[0], '--out', tmp_path / 'cli', '--storage', 'sqlite3'])
    assert r.returncode == 0, r.stderr
    assert 'complete: every frame answered' in r.stdout
    assert list((tmp_path / 'cli').glob('*.db3'))
    assert len([m for m in H.read_all(tmp_path / 'cli') if m[1] == DET]) == 10


# ------------------------------------------------------------------------------------------
# other bags


def _sample_frames(sample):
    """(header (sec, nsec, frame_id), log time, JPEG bytes, BGR image) of the sample bag."""
    out = []
    for _, _, t, _, msg in H.read_all(sample[0]):
        jpeg = bytes(np.asarray(msg.data, np.uint8))
        out.append((H.header(msg), t, jpeg, cv2.imdecode(np.frombuffer(jpeg, np.uint8), 1)))
    return out


def test_two_cameras_and_an_unsupported_topic(sample, tmp_path, capsys):
    store = bag_io.make_typestore()
    imu = store.types['sensor_msgs/msg/Imu']
    entries = []
    for k, ((sec, nsec, _), t, jpeg, image) in enumerate(_sample_frames(sample)[:6]):
        # front: raw bgr8 Images; rear: JPEGs 5 ms later, another frame_id; an IMU in between.
        entries.append(
            (
                '/front/image_raw',
                bag_io.IMAGE_TYPE,
                t,
                H.raw_image(store, image, sec, nsec, 'front'),
            )
        )
        entries.append(
            (
                '/imu',
                'sensor_msgs/msg/Imu',
                t + 1,
                imu(
                    header=bag_io.make_header(store, sec, nsec, 'imu'),
                    orientation=store.types['geometry_msgs/msg/Quaternion'](
                        x=0.0, y=0.0, z=0.0, w=1.0
                    ),
                    orientation_covariance=np.zeros(9),
                    angular_velocity=store.types['geometry_msgs/msg/Vector3'](x=0.0, y=0.0, z=0.0),
                    angular_velocity_covariance=np.zeros(9),
                    linear_acceleration=store.types['geometry_msgs/msg/Vector3'](
                        x=0.0, y=0.0, z=9.8
                    ),
                    linear_acceleration_covariance=np.zeros(9),
                ),
            )
        )
        entries.append(
            (
                '/rear/image/compressed',
                bag_io.COMPRESSED_TYPE,
                t + 5_000_000,
                H.compressed_image(store, jpeg, sec, nsec + 5_000_000, 'rear'),
            )
        )
    bag = H.write_bag(tmp_path / 'two_cams', entries)
    code, summary = H.detect(bag, tmp_path / 'out')
    err = capsys.readouterr().err
    assert code == 0, summary
    assert 'skipping /imu (sensor_msgs/msg/Imu): not sensor_msgs/msg/Image' in err
    assert summary['skipped_topics'] == {'/imu': 'sensor_msgs/msg/Imu'}
    got = H.read_all(tmp_path / 'out')
    assert {m[0] for m in got} == {'/front/detections', '/rear/detections'}
    for cam, topic in (('front', '/front/image_raw'), ('rear', '/rear/image/compressed')):
        want = [H.header(m[3]) for m in entries if m[0] == topic]
        have = [H.header(m[4]) for m in got if m[0] == f'/{cam}/detections']
        assert have == want and len(have) == 6
        assert summary['topics'][topic]['answered'] == 6
    # The same scene raw and as JPEG: close detections on both cameras.
    front = [len(m[4].detections) for m in got if m[0] == '/front/detections']
    rear = [len(m[4].detections) for m in got if m[0] == '/rear/detections']
    assert sum(front) > 10 and abs(sum(front) - sum(rear)) <= max(2, sum(front) // 10)


def test_topics_option_selects_and_refuses(sample, tmp_path, capsys):
    store = bag_io.make_typestore()
    frames = _sample_frames(sample)[:3]
    entries = []
    for (sec, nsec, fid), t, jpeg, image in frames:
        entries.append(
            ('/a/image_raw', bag_io.IMAGE_TYPE, t, H.raw_image(store, image, sec, nsec, fid))
        )
        entries.append(
            ('/b/image_raw', bag_io.IMAGE_TYPE, t + 1, H.raw_image(store, image, sec, nsec, fid))
        )
        entries.append(
            (
                '/status',
                'std_msgs/msg/String',
                t + 2,
                store.types['std_msgs/msg/String'](data='ok'),
            )
        )
    bag = H.write_bag(tmp_path / 'bag', entries)
    code, summary = H.detect(bag, tmp_path / 'only_b', '--topics', '/b/image_raw')
    assert code == 0 and list(summary['topics']) == ['/b/image_raw']
    assert {m[0] for m in H.read_all(tmp_path / 'only_b')} == {'/b/detections'}
    capsys.readouterr()
    assert detect_bag.main([str(bag), '--out', str(tmp_path / 'x'), '--topics', '/status']) == 2
    assert 'cannot replay /status (std_msgs/msg/String)' in capsys.readouterr().err
    assert detect_bag.main([str(bag), '--out', str(tmp_path / 'y'), '--topics', '/nope']) == 2
    err = capsys.readouterr().err
    assert 'not in the bag' in err and '/a/image_raw, /b/image_raw' in err
    assert not (tmp_path / 'x').exists() and not (tmp_path / 'y').exists()


def test_sqlite3_input_gives_the_same_detections(sample, replayed, tmp_path):
    entries = [(m[0], m[1], m[2], m[3]) for m in H.read_all(sample[0])]
    bag = H.write_bag(tmp_path / 'db', entries, storage='sqlite3')
    assert list(bag.glob('*.db3'))
    code, summary = H.detect(bag, tmp_path / 'out')
    assert code == 0 and summary['input_storage'] == 'sqlite3'
    a = [m[3] for m in H.read_all(tmp_path / 'out') if m[1] == DET]
    b = [m[3] for m in H.read_all(replayed[2]) if m[1] == DET]
    assert a == b


def test_bad_frames_are_counted_and_the_rest_answered(sample, tmp_path, capsys):
    store = bag_io.make_typestore()
    entries = []
    for k, ((sec, nsec, fid), t, jpeg, _) in enumerate(_sample_frames(sample)[:4]):
        data = jpeg[: len(jpeg) // 2] if k == 1 else jpeg  # frame 1: a cut JPEG
        entries.append(
            (
                '/image_raw/compressed',
                bag_io.COMPRESSED_TYPE,
                t,
                H.compressed_image(store, data, sec, nsec, fid),
            )
        )
    bag = H.write_bag(tmp_path / 'bad', entries)
    code, summary = H.detect(bag, tmp_path / 'out')
    assert code == 1  # not every frame answered
    assert summary['frames'] == 4 and summary['answered'] == 3 and summary['bad_frames'] == 1
    assert summary['dropped'] == {'bad_compressed': 1}
    assert 'skipped (bad_compressed): JPEG image' in capsys.readouterr().err
    have = [H.header(m[4]) for m in H.read_all(tmp_path / 'out')]
    assert have == [H.header(e[3]) for k, e in enumerate(entries) if k != 1]


def test_stamps_going_back_are_counted_not_fatal(sample, tmp_path):
    """A looped recording: the same frames twice; every message answered, the jump counted."""
    entries = [(m[0], m[1], m[2], m[3]) for m in H.read_all(sample[0])][:4]
    last = entries[-1][2]
    looped = entries + [(t, ty, last + 1 + k, raw) for k, (t, ty, _, raw) in enumerate(entries)]
    bag = H.write_bag(tmp_path / 'loop', looped)
    code, summary = H.detect(bag, tmp_path / 'out')
    assert code == 0
    assert summary['answered'] == 8 and summary['time_jump_back'] == 1
    stamps = [m[4].header.stamp.nanosec for m in H.read_all(tmp_path / 'out')]
    assert stamps == [m[4].header.stamp.nanosec for m in H.read_all(bag)]


def _raw_bag(sample, path: Path, n: int = 12, storage: str = 'mcap', zstd=False) -> list:
    """
    Write a bag of n raw 320x240 bgr8 Images.

    230 kB each: rosbags closes an MCAP chunk every 1 MiB, so a cut keeps the complete chunks
    before it.
    """
    store = bag_io.make_typestore()
    frames = _sample_frames(sample)
    entries = []
    for k in range(n):
        (sec, nsec, fid), t, _, image = frames[k % len(frames)]
        entries.append(
            (
                '/cam/image_raw',
                bag_io.IMAGE_TYPE,
                t + k * 100_000_000,
                H.raw_image(store, image, sec + k, nsec, fid),
            )
        )
    H.write_bag(path, entries, storage=storage, zstd=zstd)
    return entries


def _cut_point(path: Path, storage: str) -> int:
    """Where to cut: inside the second MCAP chunk (from the file's own summary), else at 70 %."""
    size = path.stat().st_size
    if storage != 'mcap':
        return int(size * 0.7)
    from mcap.reader import make_reader

    with open(path, 'rb') as f:
        chunks = sorted(
            make_reader(f).get_summary().chunk_indexes, key=lambda c: c.chunk_start_offset
        )
    assert len(chunks) >= 3, 'the test bag must span several chunks'
    return chunks[1].chunk_start_offset + int(chunks[1].chunk_length * 0.6)


@pytest.mark.parametrize(
    'storage, zstd, keep_metadata',
    [
        ('mcap', False, True),
        ('mcap', False, False),
        ('mcap', True, True),
        ('sqlite3', False, True),
    ],
)
def test_truncated_bag_keeps_what_was_read(sample, tmp_path, capsys, storage, zstd, keep_metadata):
    pytest.importorskip('mcap')
    bag = tmp_path / 'cut'
    entries = _raw_bag(sample, bag, storage=storage, zstd=zstd)
    data_file = next(bag.glob('*.mcap' if storage == 'mcap' else '*.db3'))
    cut = _cut_point(data_file, storage)
    before = data_file.read_bytes()[:cut]
    with open(data_file, 'r+b') as f:
        f.truncate(cut)  # the recorder was killed: no summary, no footer
    if not keep_metadata:
        (bag / 'metadata.yaml').unlink()
    code, summary = H.detect(bag, tmp_path / 'out')
    err = capsys.readouterr().err
    assert code == 1
    assert summary['recovered'] is True and summary['input_storage'] == storage
    error = summary['read_error']
    assert 'ends early or is damaged' in error and str(data_file) in error
    assert 'reading it front to back' in err
    kept = summary['answered']
    assert summary['frames'] == kept < len(entries)
    if storage == 'mcap':
        # The chunk the file ends in still gives its complete messages: more than the first
        # chunk's 5 frames; uncompressed, exactly those whose bytes are all in the file.
        assert kept > 5
        if not zstd:
            store = bag_io.make_typestore()
            whole = [store.serialize_cdr(e[3], e[1]) in before for e in entries]
            assert kept == whole.index(False)
    else:
        assert kept >= 4
    # The output bag is complete and readable up to where the input ended.
    have = [H.header(m[4]) for m in H.read_all(tmp_path / 'out')]
    assert have == [H.header(e[3]) for e in entries[:kept]]
    assert data_file.read_bytes() == before  # the damaged input is left as it was


def _split_sqlite3_bag(sample, bag: Path, keep_metadata: bool) -> list:
    """
    Write a split sqlite3 bag as rosbag2 records one (``bag_0.db3``, ``bag_1.db3``), 6 frames each.

    Written as two bags and put together, with a metadata.yaml that lists both files.
    """
    import yaml

    entries = _raw_bag(sample, bag.parent / 'whole', n=12)  # the frames, in order
    for k in (0, 1):
        part = [e for j, e in enumerate(entries) if j // 6 == k]
        H.write_bag(bag.parent / f'part{k}', part, storage='sqlite3')
    bag.mkdir()
    names = []
    for k in (0, 1):
        names.append(f'{bag.name}_{k}.db3')
        (bag.parent / f'part{k}' / f'part{k}.db3').rename(bag / names[-1])
    if keep_metadata:
        meta = yaml.safe_load((bag.parent / 'part0' / 'metadata.yaml').read_text())
        info = meta['rosbag2_bagfile_information']
        info['relative_file_paths'] = names
        info['message_count'] = 12
        info['duration'] = {'nanoseconds': entries[-1][2] - entries[0][2]}
        info['topics_with_message_count'][0]['message_count'] = 12
        first = info['files'][0]
        info['files'] = [
            dict(first, path=names[0]),
            dict(
                first,
                path=names[1],
                starting_time={'nanoseconds_since_epoch': entries[6][2]},
            ),
        ]
        (bag / 'metadata.yaml').write_text(yaml.safe_dump(meta))
    return entries


@pytest.mark.parametrize('keep_metadata', [True, False])
def test_split_sqlite3_bag_cut_in_its_last_file_keeps_what_was_read(
    sample, tmp_path, capsys, keep_metadata
):
    bag = tmp_path / 'split'
    entries = _split_sqlite3_bag(sample, bag, keep_metadata)
    # Complete, the split bag replays in full (through rosbags with its metadata, else read
    # file by file).
    code, summary = H.detect(bag, tmp_path / 'whole_out')
    assert summary['answered'] == 12 and summary['read_error'] is None, summary
    assert summary['recovered'] is (not keep_metadata)
    last = bag / f'{bag.name}_1.db3'
    first_bytes = (bag / f'{bag.name}_0.db3').read_bytes()
    with open(last, 'r+b') as f:
        f.truncate(int(last.stat().st_size * 0.7))  # the recorder killed in the second file
    cut_bytes = last.read_bytes()
    code, summary = H.detect(bag, tmp_path / 'out')
    assert 'reading it front to back' in capsys.readouterr().err
    assert code == 1 and summary['recovered'] is True
    error = summary['read_error']
    assert 'ends early or is damaged' in error and str(last) in error, error
    kept = summary['answered']
    assert 6 < kept < 12, summary  # the whole first file and the complete rows of the second
    have = [H.header(m[4]) for m in H.read_all(tmp_path / 'out')]
    assert have == [H.header(e[3]) for e in entries[:kept]]
    # only the cut file was copied; neither file was touched
    assert (bag / f'{bag.name}_0.db3').read_bytes() == first_bytes
    assert last.read_bytes() == cut_bytes


def test_split_file_order_is_numeric(tmp_path):
    names = ['bag_10.db3', 'bag_2.db3', 'bag_0.db3', 'bag_1.db3']
    ordered = sorted((Path(n) for n in names), key=bag_io._split_index)
    assert [p.name for p in ordered] == ['bag_0.db3', 'bag_1.db3', 'bag_2.db3', 'bag_10.db3']
    # MCAP files of a split bag without metadata.yaml are listed in the same order
    for name in names:
        (tmp_path / name.replace('.db3', '.mcap')).write_bytes(b'')
    listed = [p.name for p in bag_io._mcap_files(tmp_path)]
    assert listed == ['bag_0.mcap', 'bag_1.mcap', 'bag_2.mcap', 'bag_10.mcap']


def test_missing_or_unreadable_input_is_a_clear_error(tmp_path, capsys):
    assert detect_bag.main([str(tmp_path / 'none'), '--out', str(tmp_path / 'o')]) == 2
    assert 'no such bag' in capsys.readouterr().err
    (tmp_path / 'junk').mkdir()
    (tmp_path / 'junk' / 'metadata.yaml').write_text('not: a bag\n')
    assert detect_bag.main([str(tmp_path / 'junk'), '--out', str(tmp_path / 'o')]) == 2
    assert 'cannot read the bag' in capsys.readouterr().err


def test_bad_parameter_and_existing_output_exit_2(sample, replayed, tmp_path, capsys):
    args = [str(sample[0]), '--out', str(tmp_path / 'o')]
    assert detect_bag.main(args + ['--confidence-threshold', '1.5']) == 2
    assert "parameter 'confidence_threshold' = 1.5 is invalid" in capsys.readouterr().err
    assert detect_bag.main([str(sample[0]), '--out', str(replayed[2])]) == 2
    assert 'exists already' in capsys.readouterr().err
    assert detect_bag.main(args + ['--model', str(tmp_path / 'missing.onnx')]) == 2
    assert "parameter 'model_path'" in capsys.readouterr().err
    junk = tmp_path / 'junk.onnx'
    junk.write_bytes(b'not a model')
    assert detect_bag.main(args + ['--model', str(junk)]) == 2
    assert 'could not load the model' in capsys.readouterr().err
    assert not (tmp_path / 'o').exists()  # no empty output bag left behind


def test_tracker_gives_persistent_ids(sample, tmp_path):
    pytest.importorskip('scipy')
    code, summary = H.detect(
        sample[0], tmp_path / 'tracked', '--tracker', 'bytetrack', '--track-frame-rate', '10'
    )
    assert code == 0 and summary['tracker'] == 'bytetrack' and summary['answered'] == 10
    msgs = [m[4] for m in H.read_all(tmp_path / 'tracked')]
    assert len(msgs) == 10  # every frame answered, also before a track is confirmed
    seen = {}
    for k, m in enumerate(msgs):
        ids = [d.id for d in m.detections]
        assert all(i.isdigit() and int(i) >= 1 for i in ids) and len(set(ids)) == len(ids)
        for i in ids:
            seen.setdefault(i, []).append(k)
    assert sum(len(m.detections) for m in msgs[3:]) > 20  # confirmed after min_hits frames
    # The arena objects move smoothly: most ids last for the rest of the clip.
    long_lived = [i for i, frames in seen.items() if len(frames) >= 6]
    assert len(long_lived) >= 5 and len(seen) <= 2 * max(len(m.detections) for m in msgs)


def test_tracker_is_the_node_parameter_with_its_threshold(sample, tmp_path, capsys):
    """
    Check that --tracker is the node's `tracker` parameter, with the node's threshold rule.

    `-p tracker:=bytetrack` gives the same bag as `--tracker bytetrack`; with a tracker the
    detector keeps detections down to track_low_threshold, as the node does; an unknown tracker
    is a usage error naming the parameter.
    """
    pytest.importorskip('scipy')
    a = H.detect(sample[0], tmp_path / 'a', '--tracker', 'bytetrack')
    b = H.detect(sample[0], tmp_path / 'b', '-p', 'tracker:=bytetrack')
    assert a[0] == b[0] == 0 and a[1]['tracker'] == b[1]['tracker'] == 'bytetrack'
    ids = [
        [(d.id, d.bbox.center.position.x) for d in m[4].detections]
        for m in H.read_all(tmp_path / 'a')
    ]
    assert ids == [
        [(d.id, d.bbox.center.position.x) for d in m[4].detections]
        for m in H.read_all(tmp_path / 'b')
    ]
    from yolo_trt_ros.tools import detect_bag

    args = detect_bag.build_parser().parse_args(
        [str(sample[0]), '--out', 'x', '--tracker', 'bytetrack']
    )
    cfg = detect_bag.node_config(args)
    assert cfg.detection_confidence == cfg.track_low_threshold < cfg.confidence_threshold
    code, _ = H.detect(sample[0], tmp_path / 'c', '-p', 'tracker:=nope')
    assert code == 2 and "'tracker'" in capsys.readouterr().err


def test_stamp_watch_counts_per_stream():
    from yolo_trt_ros.core.stamps import StampWatch

    w = StampWatch()
    results = [w.observe('a', t) for t in (1, 2, 2, 5, 3, 4)] + [w.observe('b', 1)]
    assert results == [None, None, 'duplicate_stamp', None, 'time_jump_back', None, None]
    assert w.time_jump_back('a') == 1 and w.duplicate_stamps('a') == 1
    assert w.time_jump_back('b') == 0 and w.time_jump_back() == 1
