"""Two camera nodes over real DDS playing one synthetic recording pair: one time base, two names.

Each node is its own process, as `ros2 run` or a launch file starts it. Frames are identified by
their pixels (each recorded frame's depth image, with its own noise, is unique), so the test knows which recorded
instant a message carries without trusting its stamp.
"""

import hashlib
import re
import time

import numpy as np
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from dexmv_capture.frame_pairing import FramePairer
from dexmv_capture.recording import RecordingReader
from dexmv_capture.synthetic.synthesize import synthesize

FPS = 8.0
LEAD_S = 6.0  # start_time ahead of now: covers the nodes' start-up and discovery (a late node skips frames)


def _digest(data) -> str:
    return hashlib.sha1(bytes(data)).hexdigest()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    out = tmp_path_factory.mktemp("pair")
    result = synthesize("relocate-mug", 1.0, 3, out, fps=FPS, pace=False)
    index = {}
    for cam, path in result.recordings.items():
        with RecordingReader(path) as reader:
            index[cam] = {_digest(f.depth.tobytes()): k for k, f in enumerate(reader)}
        assert len(index[cam]) == result.frames  # every frame's image is unique
    return result, index


def _stamp_ns(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def test_one_recorded_instant_has_one_stamp_in_both_cameras(pair, run_node, ros_node, spin_until):
    result, index = pair
    got = {"camera1": [], "camera2": []}
    qos = QoSProfile(depth=30, reliability=ReliabilityPolicy.RELIABLE)

    def on_image(cam):
        return lambda msg: got[cam].append((index[cam][_digest(msg.data)], _stamp_ns(msg), time.time_ns()))

    colour = []
    for cam in got:
        ros_node.create_subscription(Image, f"/{cam}/{cam}/aligned_depth_to_color/image_raw", on_image(cam), qos)
        ros_node.create_subscription(Image, f"/{cam}/{cam}/color/image_raw", colour.append, qos, raw=True)
    start = time.time_ns() + round(LEAD_S * 1e9)
    nodes = {cam: run_node("dexmv_capture", "camera_node", params={
        "recording": str(path), "camera_name": cam, "camera_namespace": cam, "wait_for_subscribers": 1,
        "image_qos": "DEFAULT", "start_time": str(start), "time_origin_ms": 0.0, "exit_at_end": True})
        for cam, path in result.recordings.items()}
    # both nodes are up together under distinct names, each with its own parameter services
    assert spin_until(ros_node, lambda: {("camera1", "/camera1"), ("camera2", "/camera2")}
                      <= set(ros_node.get_node_names_and_namespaces()), timeout=20)
    services = {name for name, _ in ros_node.get_service_names_and_types()}
    assert {"/camera1/camera1/get_parameters", "/camera2/camera2/get_parameters"} <= services
    # exit_at_end: both end by themselves, cleanly
    for node in nodes.values():
        assert node.proc.wait(timeout=LEAD_S + 30) == 0, node.output()
        assert "end of recording: published" in node.output() and "Traceback" not in node.output()
        assert "latency (publish - stamp)" in node.output()
    published = {cam: int(re.search(r"published (\d+) frames", node.output()).group(1)) for cam, node in nodes.items()}
    spin_until(ros_node, lambda: all(len(got[c]) >= published[c] for c in got), timeout=10)
    assert {c: len(v) for c, v in got.items()} == published
    period_ns = round(1e9 / FPS)
    stamps = {cam: {k: s for k, s, _ in msgs} for cam, msgs in got.items()}
    common = sorted(set(stamps["camera1"]) & set(stamps["camera2"]))
    # every frame, also when a node came up after start_time (it then plays behind, stamps unchanged)
    assert common == list(range(result.frames)), {c: sorted(s) for c, s in stamps.items()}
    for k in common:
        # the same recorded instant: the same stamp in both cameras (well within 1 ms), start_time + k periods
        assert abs(stamps["camera1"][k] - stamps["camera2"][k]) < 1_000_000
        assert abs(stamps["camera1"][k] - (start + k * period_ns)) < 1_000
    # and pairing by stamp pairs exactly these frames
    pairer = FramePairer(fps=FPS)
    pairs = []
    for cam, msgs in got.items():
        for k, s, _ in msgs:
            pairs += pairer.push(cam, s / 1e9, k)
    pairs += pairer.flush()
    assert len(pairs) == len(common) and all(p.frames[0] == p.frames[1] for p in pairs)
    latency_ms = [(arrived - s) / 1e6 for msgs in got.values() for _, s, arrived in msgs]
    print(f"stamp -> arrival here over DDS: median {np.median(latency_ms):.1f} ms, max {max(latency_ms):.1f} ms")


def test_names_follow_remapping_as_realsense_ros(pair, run_node, ros_node, spin_until):
    result, _ = pair
    got = []
    ros_node.create_subscription(Image, "/remapped/colour", got.append, QoSProfile(depth=10))
    ros_node.create_subscription(Image, "/rig/left/aligned_depth_to_color/image_raw", lambda m: None, 10, raw=True)
    node = run_node("dexmv_capture", "camera_node", params={"recording": str(result.recordings["camera2"]),
                                                            "wait_for_subscribers": 1, "image_qos": "DEFAULT"},
                    args=["--ros-args", "-r", "__node:=left", "-r", "__ns:=/rig",
                          "-r", "~/color/image_raw:=/remapped/colour"])
    assert spin_until(ros_node, lambda: ("left", "/rig") in ros_node.get_node_names_and_namespaces(), timeout=20)
    topics = {name for name, _ in ros_node.get_topic_names_and_types()}
    assert "/rig/left/aligned_depth_to_color/image_raw" in topics, topics
    assert spin_until(ros_node, lambda: bool(got), timeout=20), node.output()
    assert got[0].header.frame_id == "left_color_optical_frame"  # camera_name defaults to the node's name
    assert node.interrupt() == 0 and "Traceback" not in node.output()


def test_ctrl_c_mid_playback_is_quiet(pair, run_node, ros_node):
    result, _ = pair
    for attempt in range(2):
        node = run_node("dexmv_capture", "camera_node", params={
            "recording": str(result.recordings["camera1"]), "camera_name": "camera1",
            "camera_namespace": f"c{attempt}"})
        assert node.wait_for_output("streaming", timeout=20), node.output()
        time.sleep(0.15 + 0.1 * attempt)  # mid-playback (1 s long)
        assert node.interrupt() == 0, node.output()
        assert "Traceback" not in node.output() and "context" not in node.output(), node.output()


def test_a_damaged_recording_ends_the_node_with_an_error(damaged_recordings, run_node):
    for kind, says in (("garbled", "corrupt or truncated: read "), ("no_color", "no frames could be read")):
        path = damaged_recordings[kind]
        node = run_node("dexmv_capture", "camera_node", params={"recording": str(path), "real_time": False,
                                                                "exit_at_end": True})
        assert node.proc.wait(timeout=30) == 1, node.output()
        assert f"{path}: {says}" in node.output(), node.output()
        assert "end of recording" not in node.output() and "Traceback" not in node.output()
