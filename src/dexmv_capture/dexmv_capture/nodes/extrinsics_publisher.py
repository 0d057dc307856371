"""Publish the camera rig's extrinsics (world -> camera{i}_link) on /tf_static.

Parameters:
  extrinsics_file (string): YAML written by `dexmv calibrate`; empty uses the package's nominal
    two-camera layout (config/default_extrinsics.yaml).

/tf_static uses tf2's static QoS (reliable, transient local, depth 1), so RViz or a node started
later still receives the transforms. The node keeps running to serve such late joiners.
"""

from __future__ import annotations

from dexmv_runtime.node_main import exit_with, quiet_interrupts, run_node

quiet_interrupts()

from ament_index_python.packages import get_package_share_directory  # noqa: E402
from geometry_msgs.msg import TransformStamped  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402

from dexmv_capture.extrinsics import CameraExtrinsics, ExtrinsicsError, load_extrinsics  # noqa: E402

STATIC_TF_QOS = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)


def to_transform(camera: CameraExtrinsics, stamp) -> TransformStamped:
    msg = TransformStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = camera.parent_frame_id
    msg.child_frame_id = camera.child_frame_id
    t, q = msg.transform.translation, msg.transform.rotation
    t.x, t.y, t.z = (float(v) for v in camera.translation)
    q.x, q.y, q.z, q.w = (float(v) for v in camera.rotation)
    return msg


class ExtrinsicsPublisher(Node):
    def __init__(self) -> None:
        super().__init__("extrinsics_publisher")
        path = self.declare_parameter("extrinsics_file", "").value
        if not path:
            path = f"{get_package_share_directory('dexmv_capture')}/config/default_extrinsics.yaml"
        cameras = load_extrinsics(path)
        self._pub = self.create_publisher(TFMessage, "/tf_static", STATIC_TF_QOS)
        stamp = self.get_clock().now().to_msg()
        self._pub.publish(TFMessage(transforms=[to_transform(c, stamp) for c in cameras]))
        frames = ", ".join(f"{c.parent_frame_id}->{c.child_frame_id}" for c in cameras)
        self.get_logger().info(f"published {len(cameras)} static transforms from {path}: {frames}")


def main(args: list[str] | None = None) -> int:
    return run_node(ExtrinsicsPublisher, name="extrinsics_publisher", args=args, startup_errors=(ExtrinsicsError,))


if __name__ == "__main__":
    exit_with(main())
