"""A RealSense D435 (live, by serial number, or a recording file) as realsense-ros-compatible topics.

Name and topics as realsense2_camera's: the node is `/<camera_namespace>/<camera_name>` (default
`/camera/camera`) and its topics are relative to it, so two cameras coexist and remapping works:
  ~/color/image_raw (rgb8), ~/color/camera_info,
  ~/aligned_depth_to_color/image_raw (16UC1, millimetres), ~/aligned_depth_to_color/camera_info,
  /tf_static: realsense2_camera's tree, <camera_name>_link (depth origin) -> _depth_frame ->
  _depth_optical_frame and _link -> _color_frame (the device's depth-to-colour extrinsics) ->
  _color_optical_frame.
Name it with `-p camera_name:=camera1 -p camera_namespace:=camera1` or, as a launch file does,
`-r __node:=camera1 -r __ns:=/camera1` (then camera_name defaults to the node's name).
QoS as realsense2_camera's defaults: images SYSTEM_DEFAULT (parameter image_qos: SYSTEM_DEFAULT,
SENSOR_DATA or DEFAULT), camera_info DEFAULT (reliable, depth 10), /tf_static reliable
transient-local depth 1.

Stamps come from one time base for every camera (dexmv_capture.time_base): live frames carry
librealsense's global timestamps, as realsense-ros stamps them; a recording maps its recorded
timestamps through `start_time` and `time_origin_ms` (give both nodes of a recording pair the
same values) or uses them as they are (`use_recording_time`). In real time a frame is published
when the clock reaches its stamp (a node that comes up after `start_time` plays that much behind,
stamps unchanged); the publication latency (publish time - stamp) is measured and logged with the
frame counts.

A recording can wait for its subscribers (`wait_for_subscribers`) and then `start_delay` seconds
before its first frame, so that a recorder or a test sees it whole. At its end the node logs
"end of recording" (or, for a recording that is corrupt or truncated, an error with the frames
expected and read) and, with `exit_at_end`, exits (0, or 1 for a damaged recording) so a launch
can end. Frame drops are counted and logged every `report_period` seconds and at the end. A live
device that disconnects is waited for and restarted.
"""

from __future__ import annotations

from dexmv_runtime.node_main import exit_with, quiet_interrupts, run_node, spin_until_interrupted

quiet_interrupts()

import threading  # noqa: E402
import time  # noqa: E402

import rclpy  # noqa: E402
from geometry_msgs.msg import TransformStamped  # noqa: E402
from rcl_interfaces.msg import ParameterDescriptor  # noqa: E402
from rclpy.duration import Duration  # noqa: E402
from rclpy.exceptions import InvalidNamespaceException, InvalidNodeNameException  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import (  # noqa: E402
    DurabilityPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
    qos_profile_system_default,
)
from scipy.spatial.transform import Rotation  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402

from dexmv_capture.camera_source import DeviceDisconnected, LiveCamera, RecordingSource  # noqa: E402
from dexmv_capture.d435 import Intrinsics  # noqa: E402
from dexmv_capture.recording import RecordingError  # noqa: E402
from dexmv_capture.rig import camera_frames, optical_frame  # noqa: E402
from dexmv_capture.time_base import RecordingTimeBase, TimeBaseError, parse_start_time  # noqa: E402

STATIC_TF_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
IMAGE_QOS = {"SYSTEM_DEFAULT": qos_profile_system_default, "SENSOR_DATA": qos_profile_sensor_data,
             "DEFAULT": QoSProfile(depth=10)}
DEFAULT_NAME = "camera"  # realsense2_camera's default camera_name and camera_namespace


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


def names_from_parameters() -> tuple[str, str]:
    """camera_name and camera_namespace as given on the command line ('' where not given).

    The node's name must be known before the node exists, and parameter overrides reach only a
    node: a short-lived hidden node reads them (remapping `__node`/`__ns` still wins over both)."""
    probe = rclpy.create_node("_camera_node_names", enable_rosout=False, start_parameter_services=False)
    try:
        return (str(probe.declare_parameter("camera_name", "").value),
                str(probe.declare_parameter("camera_namespace", "").value))
    finally:
        probe.destroy_node()


class CameraNode(Node):
    def __init__(self) -> None:
        name, namespace = names_from_parameters()
        super().__init__(name or DEFAULT_NAME, namespace=namespace or DEFAULT_NAME)
        p = self._param
        self.serial_no = p("serial_no", "", "serial number of the live D435 to open ('' = the first found)")
        self.camera_name = p("camera_name", self.get_name(), "camera name: node name and <name>_link frames "
                             "(default: the node's name)")
        p("camera_namespace", self.get_namespace().strip("/"), "namespace of the node (realsense-ros)")
        self.recording = p("recording", "", "RealSense recording (.db3 or legacy .bag) to play instead of a device")
        self.fps = p("fps", 30, "live: frame rate requested from the device")
        self.width = p("width", 640, "live: image width")
        self.height = p("height", 480, "live: image height")
        self.real_time = p("real_time", True, "recording: play at the recorded rate (false: as fast as possible)")
        self.rate = float(p("rate", 1.0, "recording, real_time: playback speed, as `ros2 bag play --rate` (0.5: half "
                                         "speed, for consumers slower than the camera); stamps keep the recorded "
                                         "timeline"))
        qos_name = p("image_qos", "SYSTEM_DEFAULT", "image QoS: SYSTEM_DEFAULT, SENSOR_DATA or DEFAULT")
        self.report_period = p("report_period", 5.0, "seconds between frame/drop count log lines")
        self.start_delay = p("start_delay", 0.0, "recording: seconds to wait before the first frame (lets "
                             "subscribers discover the node so they see the recording from its start)")
        self.wait_for_subscribers = p("wait_for_subscribers", 0, "recording: before the first frame (and before "
                                      "start_delay), wait until the colour and the depth image topics each have "
                                      "this many matched subscribers, so that a recorder sees every frame")
        start_time = p("start_time", "", "recording: ROS time (integer ns or ISO 8601, e.g. 2026-12-03T21:30:00Z) "
                       "at which time_origin_ms plays; give every camera node the same value. '' = this node's "
                       "clock at its first frame (one camera only)", dynamic=True)
        origin_ms = p("time_origin_ms", -1.0, "recording: the recorded timestamp (ms) that plays at start_time; "
                      "negative = the recording's first frame. Same value in every node of a recording pair",
                      dynamic=True)
        use_recording_time = p("use_recording_time", False, "recording: stamps are the recorded timestamps "
                               "themselves (librealsense global time: Unix epoch), as realsense-ros stamps live "
                               "frames")
        self.exit_at_end = p("exit_at_end", False, "recording: exit when it ends (exit code 1 if it was damaged)")
        if self.wait_for_subscribers < 0:
            raise ValueError(f"parameter wait_for_subscribers: must be >= 0, got {self.wait_for_subscribers}")
        if qos_name not in IMAGE_QOS:
            raise ValueError(f"parameter image_qos: {qos_name!r} is not one of {sorted(IMAGE_QOS)}")
        try:
            origin_ms = float(origin_ms)
        except (TypeError, ValueError):
            raise TimeBaseError(f"parameter time_origin_ms: not a number: {origin_ms!r}") from None
        time_base = RecordingTimeBase(parse_start_time(str(start_time)), origin_ms if origin_ms >= 0 else None,
                                      use_recording_time)
        qos = IMAGE_QOS[qos_name]
        self.pub_color = self.create_publisher(Image, "~/color/image_raw", qos)
        self.pub_depth = self.create_publisher(Image, "~/aligned_depth_to_color/image_raw", qos)
        self.pub_color_info = self.create_publisher(CameraInfo, "~/color/camera_info", 10)
        self.pub_depth_info = self.create_publisher(CameraInfo, "~/aligned_depth_to_color/camera_info", 10)
        self.pub_tf = self.create_publisher(TFMessage, "/tf_static", STATIC_TF_QOS)
        self.optical = optical_frame(self.camera_name)
        self._stop = threading.Event()
        self.finished = threading.Event()  # the recording ended (or failed)
        self.failed = False
        if self.recording:
            if not self.rate > 0:
                raise ValueError(f"rate: must be a positive playback speed, got {self.rate}")
            self.source = RecordingSource(self.recording, self.real_time, time_base, clock_ns=self._now_ns,
                                          sleep=self._stop.wait, rate=self.rate)
            what = f"recording {self.recording} ({self.source.info.duration_s:.2f} s), {time_base.describe()}"
        else:
            self.source = LiveCamera(self.serial_no, self.width, self.height, self.fps)
            what = f"RealSense {self.source.serial_no}"
        self._publish_static_tf()
        self.info_msg = camera_info_msg(self.source.intrinsics, self.optical)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        # Ctrl-C shuts the context down from rclpy's signal thread: stop publishing at once
        self.context.on_shutdown(self._stop.set)
        self.get_logger().info(f"streaming {what} as node {self.get_fully_qualified_name()} on "
                               f"{self.pub_color.topic_name}, {self.pub_depth.topic_name} ({qos_name} QoS)")
        self._thread.start()

    def _param(self, name: str, default, description: str, dynamic: bool = False):
        """dynamic: any type (`-p start_time:=1764...` arrives as an integer, `-p time_origin_ms:=0` too)."""
        descriptor = ParameterDescriptor(description=description, dynamic_typing=dynamic)
        return self.declare_parameter(name, default, descriptor).value

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _publish_static_tf(self) -> None:
        """realsense2_camera's tree: link (depth origin) -> depth_frame, color_frame -> their optical frames."""
        stamp = self.get_clock().now().to_msg()
        transforms = []
        for parent, child, pose in camera_frames(self.camera_name, self.source.depth_to_color):
            tf = TransformStamped()
            tf.header.stamp = stamp
            tf.header.frame_id, tf.child_frame_id = parent, child
            t, q = tf.transform.translation, tf.transform.rotation
            t.x, t.y, t.z = (float(v) for v in pose[:3, 3])
            quat = Rotation.from_matrix(pose[:3, :3]).as_quat()
            q.x, q.y, q.z, q.w = (float(v) for v in (quat if quat[3] >= 0 else -quat))  # w >= 0, as realsense-ros
            transforms.append(tf)
        self.pub_tf.publish(TFMessage(transforms=transforms))

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
        try:
            self._play()
        except Exception:
            if self._stop.is_set() or not self.context.ok():
                return  # shutting down (Ctrl-C): a publish into the closing context is expected
            self.failed = True
            raise
        finally:
            self.finished.set()

    def _play(self) -> None:
        if self.recording and self.wait_for_subscribers > 0:
            self._wait_for_subscribers()
        if self.recording and self.start_delay > 0:
            self._stop.wait(self.start_delay)
        if self.recording and self.source.time_base.start_ns is not None:
            ahead = (self.source.time_base.start_ns - self._now_ns()) / 1e9
            if ahead > 0.5:
                self.get_logger().info(f"start_time is {ahead:.1f} s ahead: the first frame plays then")
        last_report = time.monotonic()
        warned = False
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
                s = self.source.stats
                self.get_logger().error(f"{err}; published {s.frames} frames, dropped {s.dropped}")
                self.failed = True
                break
            if not warned and self.recording and self.source.late_start_s > 0.05:
                warned = True
                self.get_logger().warning(f"playback began {self.source.late_start_s:.2f} s after the first "
                                          "frame's stamp (start_time): playing that much behind, stamps unchanged; "
                                          "give a later start_time for delivery on time")
            if frame is None:
                s = self.source.stats
                if not self._stop.is_set():
                    self.get_logger().info(f"end of recording: published {s.frames} frames, dropped {s.dropped}; "
                                           f"{s.latency_text()}")
                break
            if self._stop.is_set():
                break
            self._publish(frame, self.source.stamp_ns)
            if time.monotonic() - last_report > self.report_period:
                last_report = time.monotonic()
                s = self.source.stats
                self.get_logger().info(f"frames {s.frames}, dropped {s.dropped}, {s.latency_text()}")

    def _publish(self, frame, stamp_ns: int) -> None:
        stamp = rclpy.time.Time(nanoseconds=stamp_ns).to_msg()
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
        self.source.stats.add_latency(self._now_ns() - stamp_ns)

    def shutdown(self) -> None:
        if self.finished.is_set() and self.context.ok():
            # a reliable subscriber still owed the last frames gets them before the node goes: 3 s
            # in all, well inside run_node's shutdown limit
            deadline = time.monotonic() + 3.0
            for pub in (self.pub_color, self.pub_depth, self.pub_color_info, self.pub_depth_info):
                left = deadline - time.monotonic()
                if left <= 0 or not pub.wait_for_all_acked(Duration(seconds=left)):
                    break
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.source.close()


def _spin(executor, node: CameraNode) -> None:
    """Spin until shutdown or, with exit_at_end, until the recording has ended."""
    executor.add_node(node)
    spin_until_interrupted(executor, done=lambda: node.exit_at_end and node.finished.is_set())


def main(args: list[str] | None = None) -> int:
    made: list[CameraNode] = []

    def make() -> CameraNode:
        made.append(CameraNode())
        return made[-1]

    code = run_node(make, name="camera", args=args, spin=_spin,
                    startup_errors=(RecordingError, DeviceDisconnected, ValueError, TimeBaseError,
                                    InvalidNodeNameException, InvalidNamespaceException))
    return 1 if code == 0 and made and made[0].failed else code


if __name__ == "__main__":
    exit_with(main())
