"""A synthetic recording played through camera_node in another process, over real DDS."""

import re

import numpy as np
import pytest
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage

from dexmv_capture.d435 import depth_sigma
from dexmv_capture.synthetic.synthesize import load_ground_truth, synthesize


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    return synthesize("relocate-tomato_soup_can", 1.0, 0, out, fps=10.0, save_clean_depth=True)


def test_recording_plays_through_the_node(recording, run_node, ros_node, spin_until):
    arrays, meta = load_ground_truth(recording.ground_truth)
    rec = recording.recordings["camera1"]
    got = {"color": [], "depth": [], "info": [], "tf": []}
    base = "/camera1/camera1"
    ros_node.create_subscription(Image, f"{base}/color/image_raw", got["color"].append, 30)
    ros_node.create_subscription(Image, f"{base}/aligned_depth_to_color/image_raw", got["depth"].append, 30)
    ros_node.create_subscription(CameraInfo, f"{base}/color/camera_info", got["info"].append, 10)
    static = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    ros_node.create_subscription(TFMessage, "/tf_static", got["tf"].append, static)
    node = run_node("dexmv_capture", "camera_node",
                    params={"recording": str(rec), "camera_name": "camera1", "camera_namespace": "camera1",
                            "wait_for_subscribers": 1, "image_qos": "DEFAULT"})
    assert node.wait_for_output("end of recording", timeout=40), node.output()
    published = int(re.search(r"published (\d+) frames", node.output()).group(1))
    assert published >= 8, node.output()
    # Reliable images from a node that waited for this subscriber: every published frame arrives
    # (a fragment lost at the end is repaired at the writer's next heartbeat, within seconds).
    spin_until(ros_node, lambda: min(len(got["depth"]), len(got["color"])) >= published and got["info"] and got["tf"],
               timeout=20)
    assert (len(got["color"]), len(got["depth"])) == (published, published), node.output()
    assert "1 subscriber(s) matched: playing" in node.output()
    c, d, info = got["color"][0], got["depth"][0], got["info"][0]
    assert (c.encoding, c.width, c.height, c.header.frame_id) == ("rgb8", 640, 480, "camera1_color_optical_frame")
    assert (d.encoding, d.width, d.height, d.step) == ("16UC1", 640, 480, 1280)
    np.testing.assert_allclose(np.reshape(info.k, (3, 3)), arrays["camera1/camera_matrix"], atol=1e-3)
    stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in got["depth"]]
    assert np.all(np.diff(stamps) > 0)
    # depth matches the rendered depth within the D435 noise model (holes are 0)
    clean = arrays["camera1/clean_depth_m"]
    first_ms = float(arrays["timestamps_ms"][0])
    for msg in got["depth"][:5]:
        frame = round((msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9 - stamps[0]) * meta["fps"]
                          + first_ms * meta["fps"] / 1000)
        depth = np.frombuffer(msg.data, np.uint16).reshape(480, 640) * 0.001
        truth = clean[frame]
        valid = depth > 0
        in_range = (truth > 0.175) & (truth < 10.0)
        assert valid[in_range].mean() > 0.9 and valid[~in_range].mean() < 0.01  # few holes; none past range
        err = np.abs(depth[valid] - truth[valid])
        assert np.mean(err <= 4 * depth_sigma(truth[valid]) + 0.0006) > 0.99
    frames = {t.child_frame_id: t.header.frame_id for m in got["tf"] for t in m.transforms}
    # realsense2_camera's tree; our synthetic colour sensor sits at the link (depth) origin
    assert frames == {"camera1_depth_frame": "camera1_link", "camera1_depth_optical_frame": "camera1_depth_frame",
                      "camera1_color_frame": "camera1_link", "camera1_color_optical_frame": "camera1_color_frame"}
    optical = next(t for m in got["tf"] for t in m.transforms if t.child_frame_id == "camera1_color_optical_frame")
    q = optical.transform.rotation
    assert np.allclose([q.x, q.y, q.z, q.w], [-0.5, 0.5, -0.5, 0.5])  # as realsense-ros publishes it
    assert node.interrupt() == 0 and "Traceback" not in node.output()


def test_corrupt_or_truncated_recording_is_a_clear_error(recording, run_node, tmp_path):
    data = recording.recordings["camera1"].read_bytes()
    for name, content in (("truncated.db3", data[: len(data) // 3]), ("corrupt.db3", b"\0garbage" * 500)):
        path = tmp_path / name
        path.write_bytes(content)
        node = run_node("dexmv_capture", "camera_node", params={"recording": str(path)})
        assert node.proc.wait(timeout=30) == 1, node.output()
        assert f"{path}: cannot be played" in node.output() and "Traceback" not in node.output()
    node = run_node("dexmv_capture", "camera_node", params={"recording": str(recording.recordings["camera1"]),
                                                            "wait_for_subscribers": -1})
    assert node.proc.wait(timeout=30) == 1, node.output()
    assert "parameter wait_for_subscribers: must be >= 0" in node.output() and "Traceback" not in node.output()
