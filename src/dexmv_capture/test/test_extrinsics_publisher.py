"""The extrinsics publisher node, as its own process: /tf_static to late joiners, clean Ctrl-C."""

from pathlib import Path

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from tf2_msgs.msg import TFMessage

from dexmv_capture.extrinsics import load_extrinsics

DEFAULT = Path(__file__).parents[1] / "config" / "default_extrinsics.yaml"
STATIC = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def test_late_subscriber_receives_static_transforms(run_node, ros_node, spin_until):
    node = run_node("dexmv_capture", "extrinsics_publisher")
    assert node.wait_for_output("published 2 static transforms"), node.output()
    # Subscribe only after the single publication happened: transient-local QoS must replay it.
    received: list[TFMessage] = []
    ros_node.create_subscription(TFMessage, "/tf_static", received.append, STATIC)
    assert spin_until(ros_node, lambda: bool(received), timeout=20), node.output()
    transforms = {t.child_frame_id: t for t in received[0].transforms}
    assert set(transforms) == {"camera1_link", "camera2_link"}
    for cam in load_extrinsics(DEFAULT):
        tf = transforms[cam.child_frame_id]
        assert tf.header.frame_id == "world"
        t, q = tf.transform.translation, tf.transform.rotation
        assert (t.x, t.y, t.z) == tuple(cam.translation)
        assert abs(abs(q.x * cam.rotation[0] + q.y * cam.rotation[1] + q.z * cam.rotation[2]
                       + q.w * cam.rotation[3]) - 1) < 1e-9


def test_shuts_down_cleanly_on_sigint(run_node):
    node = run_node("dexmv_capture", "extrinsics_publisher")
    assert node.wait_for_output("published"), node.output()
    assert node.interrupt() == 0, node.output()
    assert "Traceback" not in node.output()


def test_bad_extrinsics_file_is_a_clear_error(run_node, tmp_path):
    bad = tmp_path / "cams.yaml"
    bad.write_text("cameras:\n  camera1:\n    translation: [0, 0]\n    rotation: [0, 0, 0, 1]\n")
    node = run_node("dexmv_capture", "extrinsics_publisher", params={"extrinsics_file": str(bad)})
    assert node.proc.wait(timeout=20) == 1
    assert f"{bad}: cameras.camera1.translation" in node.output()
    assert "Traceback" not in node.output()
