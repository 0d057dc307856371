"""Publish the camera rig's extrinsics (world -> camera{i}_link) on /tf_static.

Parameters:
  extrinsics_file (string): YAML written by `dexmv calibrate`; empty uses the package's nominal
    two-camera layout (config/default_extrinsics.yaml).

/tf_static uses tf2's static QoS (reliable, transient local, depth 1), so RViz or a node started
later still receives the transforms. The node keeps running to serve such late joiners.
"""

from __future__ import annotations

import sys
import time

import rclpy
from ament_index_python.packages import get_package_share_directory
from geometry_msgs.msg import TransformStamped
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from tf2_msgs.msg import TFMessage

from dexmv_capture.extrinsics import CameraExtrinsics, ExtrinsicsError, load_extrinsics

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
    rclpy.init(args=args)
    # made before the node announces itself: a SIGINT right after that must not land in the
    # executor's constructor (a half-built executor prints a traceback when collected)
    executor = SingleThreadedExecutor()
    try:
        node = ExtrinsicsPublisher()
    except ExtrinsicsError as err:
        rclpy.logging.get_logger("extrinsics_publisher").error(str(err))
        rclpy.try_shutdown()
        return 1
    try:
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RuntimeError:
        # A SIGINT that lands while rclpy takes a message surfaces as pybind11's "Unable to
        # convert call argument". rclpy shuts the context down from its own signal thread, often
        # a moment after the interrupt: give it a second before calling this a real error.
        deadline = time.monotonic() + 1.0
        while rclpy.ok() and time.monotonic() < deadline:
            time.sleep(0.005)
        if rclpy.ok():
            raise
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
