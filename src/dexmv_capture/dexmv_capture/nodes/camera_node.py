"""A RealSense D435 (live, by serial number, or a recording file) as realsense-ros-compatible topics.

Topics (namespace /<camera_namespace>/<camera_name>, as realsense2_camera names them):
  color/image_raw (rgb8), color/camera_info,
  aligned_depth_to_color/image_raw (16UC1, millimetres), aligned_depth_to_color/camera_info,
  /tf_static: <camera_name>_link -> <camera_name>_color_optical_frame.
QoS as realsense2_camera's defaults: images SYSTEM_DEFAULT (parameter image_qos: SYSTEM_DEFAULT,
SENSOR_DATA or DEFAULT), camera_info DEFAULT (reliable, depth 10), /tf_static reliable
transient-local depth 1.

A recording can wait for its subscribers (`wait_for_subscribers`) and then `start_delay` seconds
before its first frame, so that a recorder or a test sees it whole (ros2 bag play's --delay;
DDS discovery of a new process can take a few seconds).

Frame drops are counted (live: frame-number gaps; recordings in real time: frames that came too
late and were skipped) and logged every `report_period` seconds and at the end. A live device
that disconnects is waited for and restarted.
"""

from __future__ import annotations

import sys
import threading
import time

import rclpy
from geometry_msgs.msg import TransformStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import (
    DurabilityPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
    qos_profile_system_default,
)
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage

from dexmv_capture.camera_source import DeviceDisconnected, LiveCamera, RecordingSource
from dexmv_capture.d435 import Intrinsics
from dexmv_capture.recording import RecordingError
from dexmv_capture.rig import LINK_FROM_OPTICAL_QUAT, optical_frame

STATIC_TF_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
IMAGE_QOS = {"SYSTEM_DEFAULT": qos_profile_system_default, "SENSOR_DATA": qos_profile_sensor_data,
             "DEFAULT": QoSProfile(depth=10)}


def camera_info_msg(intr: Intrinsics, frame_id: str) -> CameraInfo:
    msg = CameraInfo()
    msg.header.frame_id = frame_id
    msg.width, msg.height = intr.width, intr.height
    msg.distortion_model = "plumb_bob"  # what realsense2_camera reports for Brown-Conrady
    msg.d = [float(c) for c in intr.coeffs]
    msg.k = [intr.fx, 0.0, intr.ppx, 0.0, intr.fy, intr.ppy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [intr.fx, 0.0, intr.ppx, 0.0, 0.0, intr.fy, intr.ppy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


class CameraNode(Node):
    def __init__(self) -> None:
        super().__init__("camera")
        p = self._param
        self.serial_no = p("serial_no", "", "serial number of the live D435 to open ('' = the first found)")
        self.camera_name = p("camera_name", "camera", "camera name: topic prefix and <name>_link frames")
        namespace = p("camera_namespace", "camera", "namespace before camera_name (realsense-ros)")
        self.recording = p("recording", "", "RealSense recording (.db3 or legacy .bag) to play instead of a device")
        self.fps = p("fps", 30, "live: frame rate requested from the device")
        self.width = p("width", 640, "live: image width")
        self.height = p("height", 480, "live: image height")
        self.real_time = p("real_time", True, "recording: play at the recorded rate (false: as fast as possible)")
        qos_name = p("image_qos", "SYSTEM_DEFAULT", "image QoS: SYSTEM_DEFAULT, SENSOR_DATA or DEFAULT")
        self.report_period = p("report_period", 5.0, "seconds between frame/drop count log lines")
        self.start_delay = p("start_delay", 0.0, "recording: seconds to wait before the first frame (lets "
                             "subscribers discover the node so they see the recording from its start)")
        self.wait_for_subscribers = p("wait_for_subscribers", 0, "recording: before the first frame (and before "
                                      "start_delay), wait until the colour and the depth image topics each have "
                                      "this many matched subscribers, so that a recorder sees every frame")
        if self.wait_for_subscribers < 0:
            raise ValueError(f"parameter wait_for_subscribers: must be >= 0, got {self.wait_for_subscribers}")
        if qos_name not in IMAGE_QOS:
            raise ValueError(f"parameter image_qos: {qos_name!r} is not one of {sorted(IMAGE_QOS)}")
        base = f"/{namespace}/{self.camera_name}".replace("//", "/")
        qos = IMAGE_QOS[qos_name]
        self.pub_color = self.create_publisher(Image, f"{base}/color/image_raw", qos)
        self.pub_depth = self.create_publisher(Image, f"{base}/aligned_depth_to_color/image_raw", qos)
        self.pub_color_info = self.create_publisher(CameraInfo, f"{base}/color/camera_info", 10)
        self.pub_depth_info = self.create_publisher(CameraInfo, f"{base}/aligned_depth_to_color/camera_info", 10)
        self.pub_tf = self.create_publisher(TFMessage, "/tf_static", STATIC_TF_QOS)
        self.optical = optical_frame(self.camera_name)
        if self.recording:
            self.source = RecordingSource(self.recording, self.real_time)
            what = f"recording {self.recording} ({self.source.info.duration_s:.2f} s)"
        else:
            self.source = LiveCamera(self.serial_no, self.width, self.height, self.fps)
            what = f"RealSense {self.source.serial_no}"
        self._publish_static_tf()
        self.info_msg = camera_info_msg(self.source.intrinsics, self.optical)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._stamp0 = self.get_clock().now().nanoseconds
        self._first_ms: float | None = None
        self.get_logger().info(f"streaming {what} on {base}/... ({qos_name} QoS)")
        self._thread.start()

    def _param(self, name: str, default, description: str):
        return self.declare_parameter(name, default, ParameterDescriptor(description=description)).value

    def _publish_static_tf(self) -> None:
        tf = TransformStamped()
        tf.header.stamp = self.get_clock().now().to_msg()
        tf.header.frame_id = f"{self.camera_name}_link"
        tf.child_frame_id = self.optical
        q = tf.transform.rotation
        q.x, q.y, q.z, q.w = LINK_FROM_OPTICAL_QUAT
        self.pub_tf.publish(TFMessage(transforms=[tf]))

    def _stamp(self, timestamp_ms: float):
        """Recordings: node start + recorded time offset (increasing, near now); live: now."""
        if not self.recording:
            return self.get_clock().now().to_msg()
        if self._first_ms is None:
            self._first_ms = timestamp_ms
        ns = self._stamp0 + round((timestamp_ms - self._first_ms) * 1e6)
        return rclpy.time.Time(nanoseconds=ns).to_msg()

    def _wait_for_subscribers(self) -> None:
        want = self.wait_for_subscribers
        pubs = (self.pub_color, self.pub_depth)
        if min(p.get_subscription_count() for p in pubs) < want:
            self.get_logger().info(f"waiting for {want} subscriber(s) on {pubs[0].topic_name} and "
                                   f"{pubs[1].topic_name}")
            while not self._stop.is_set() and min(p.get_subscription_count() for p in pubs) < want:
                self._stop.wait(0.02)
        if not self._stop.is_set():
            self.get_logger().info(f"{want} subscriber(s) matched: playing")

    def _loop(self) -> None:
        if self.recording and self.wait_for_subscribers > 0:
            self._wait_for_subscribers()
        if self.recording and self.start_delay > 0:
            self._stop.wait(self.start_delay)
        last_report = time.monotonic()
        while not self._stop.is_set():
            try:
                frame = self.source.read()
            except DeviceDisconnected as err:
                self.get_logger().error(f"{err}; waiting for the device to come back")
                while not self._stop.is_set() and not self.source.reconnect():
                    self._stop.wait(1.0)
                if not self._stop.is_set():
                    self.get_logger().info(f"RealSense {self.source.serial_no} is streaming again")
                continue
            except RecordingError as err:
                self.get_logger().error(str(err))
                break
            if frame is None:
                s = self.source.stats
                self.get_logger().info(f"end of recording: published {s.frames} frames, dropped {s.dropped}")
                break
            self._publish(frame)
            if time.monotonic() - last_report > self.report_period:
                last_report = time.monotonic()
                s = self.source.stats
                self.get_logger().info(f"frames {s.frames}, dropped {s.dropped}")

    def _publish(self, frame) -> None:
        stamp = self._stamp(frame.timestamp_ms)
        h, w = frame.depth.shape
        color = Image(height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3, data=frame.color.tobytes())
        depth = Image(height=h, width=w, encoding="16UC1", is_bigendian=0, step=w * 2, data=frame.depth.tobytes())
        for msg in (color, depth, self.info_msg):
            msg.header.stamp = stamp
            msg.header.frame_id = self.optical
        self.pub_color.publish(color)
        self.pub_color_info.publish(self.info_msg)
        self.pub_depth.publish(depth)
        self.pub_depth_info.publish(self.info_msg)

    def shutdown(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        self.source.close()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    # made before the node announces itself: a SIGINT right after that must not land in the
    # executor's constructor (a half-built executor prints a traceback when collected)
    executor = SingleThreadedExecutor()
    try:
        node = CameraNode()
    except (RecordingError, DeviceDisconnected, ValueError) as err:
        rclpy.logging.get_logger("camera").error(str(err))
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
        node.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
