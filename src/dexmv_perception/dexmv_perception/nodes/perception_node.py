"""Perception node: two RealSense cameras' colour + aligned depth in; hand pose, object poses, TF, markers out.

Subscribes, per camera in `cameras` (realsense-ros names, as dexmv_capture's camera_node and
realsense2_camera publish them): /<cam>/<cam>/color/image_raw (rgb8 or bgr8),
/<cam>/<cam>/aligned_depth_to_color/image_raw (16UC1 in depth_units, or 32FC1 metres) and
/<cam>/<cam>/color/camera_info; /tf_static and /tf for where each camera's optical frame sits in
`world_frame` (a small transform buffer: tf2_ros does not exist on these installs).

Colour and depth of a camera are joined by equal stamps (frames that come before the camera's
camera_info or its transform wait for them), the cameras' frames paired by stamp
(dexmv_capture.frame_pairing, the rule `dexmv perceive` uses offline), or by publication time
(the DDS source timestamp) with `pair_by: arrival` where the cameras' stamps do not share a clock.
A camera that published nothing for `camera_timeout` seconds before the other's frame is taken as
gone and the other one goes on alone (publication times: a backlog is not silence).

Publishes: /dexmv/hand_pose (dexmv_msgs/HandPose in world_frame; per-keypoint confidence, 0 for
keypoints not observed at that moment, whose points then hold their last position, or 0 if never
seen: never NaN); /dexmv/object_poses (ObjectPoseArray) when `objects` are given; TF hand_wrist and
object/<id> on /tf; a MarkerArray on /dexmv/markers (namespace "perception"); /diagnostics per
processed moment (cameras that saw the hand, time per moment and to the hand's publication, pairing
drops, notes). A moment's HandPose and hand_wrist go out as soon as the hand is estimated, before its
objects are: a search for a hidden object (0.5-3 s) does not hold the hand back.

QoS: images SENSOR_DATA (best effort, depth 5: matches realsense-ros's and our publishers, and a
slow moment drops frames instead of queueing them; `image_qos: DEFAULT` for reliable); camera_info
depth 10; /tf_static transient local. Outputs reliable, depth 10.

Parameters (declared with descriptions): cameras, world_frame, objects, mano_model, model_complexity,
crop, mirrored, hand, fps, depth_units, camera_timeout, pair_by, image_qos, publish_markers.
"""

from __future__ import annotations

from dexmv_runtime.node_main import quiet_interrupts, run_node

quiet_interrupts()

import sys  # noqa: E402
import time  # noqa: E402
from collections import deque  # noqa: E402

import numpy as np  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue  # noqa: E402
from geometry_msgs.msg import Point, TransformStamped  # noqa: E402
from rcl_interfaces.msg import ParameterDescriptor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import ColorRGBA  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from dexmv_capture.frame_pairing import FramePairer  # noqa: E402
from dexmv_msgs.msg import HandPose, ObjectPose, ObjectPoseArray  # noqa: E402
from dexmv_perception.hand.skeleton import BONES, wrist_frame  # noqa: E402
from dexmv_perception.hand.tracker import CameraFrame, HandTrackerConfig  # noqa: E402
from dexmv_perception.perception import Perception, PerceptionFrame  # noqa: E402
from dexmv_retarget.transform_buffer import TransformBuffer, TransformLookupError  # noqa: E402

RELIABLE_10 = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
TF_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
TF_STATIC_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL)
DIAGNOSTIC_NAME = "dexmv_perception: perception_node"
IMAGE_QOS = {"SENSOR_DATA": qos_profile_sensor_data, "DEFAULT": QoSProfile(depth=10)}
# frames per camera kept while its camera_info or its transform to world has not arrived yet (a camera's
# first frames often come before its camera_info, whose subscription can match later under load)
MAX_WAITING_FRAMES = 30


class ParameterError(ValueError):
    """A parameter the node cannot use; the message names it."""


def _seconds(stamp) -> float:
    return stamp.sec + 1e-9 * stamp.nanosec


def image_to_array(msg: Image) -> np.ndarray:
    """rgb8/bgr8 -> (H, W, 3) uint8 RGB; 16UC1/mono16 -> (H, W) uint16; 32FC1 -> (H, W) float32."""
    enc = msg.encoding.lower()
    if enc in ("rgb8", "bgr8"):
        arr = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)[:, : msg.width * 3]
        arr = arr.reshape(msg.height, msg.width, 3)
        return arr[..., ::-1] if enc == "bgr8" else arr
    if enc in ("16uc1", "mono16"):
        dtype = np.dtype(np.uint16).newbyteorder(">" if msg.is_bigendian else "<")
        return np.frombuffer(msg.data, dtype).reshape(msg.height, msg.step // 2)[:, : msg.width].astype(np.uint16)
    if enc == "32fc1":
        dtype = np.dtype(np.float32).newbyteorder(">" if msg.is_bigendian else "<")
        return np.frombuffer(msg.data, dtype).reshape(msg.height, msg.step // 4)[:, : msg.width].astype(np.float32)
    raise ValueError(f"unsupported image encoding {msg.encoding!r}")


class PerceptionNode(Node):
    def __init__(self) -> None:
        super().__init__("perception_node")

        def declare(name, default, text):
            return self.declare_parameter(name, default, ParameterDescriptor(description=text)).value

        cameras = list(declare("cameras", ["camera1", "camera2"], "camera names (topic /<name>/<name>/...)"))
        self.world_frame = declare("world_frame", "world", "frame of the published poses (the table)")
        objects = list(declare("objects", [""], "YCB ids of the objects to track, e.g. [006_mustard_bottle]; "
                               "id:scale for a scaled object; empty: hand only"))
        mano = declare("mano_model", "", "MANO_RIGHT.pkl to fit MANO per frame ('' : has_mano stays false)")
        complexity = declare("model_complexity", 0, "MediaPipe hand model: 0 lite (real time for two cameras), 1 full "
                             "(more accurate, slower; the lite one looks again where it finds no hand)")
        crop = declare("crop", True, "run MediaPipe on a crop around the previous frame's hand")
        mirrored = declare("mirrored", False, "the images are mirrored (selfie cameras)")
        side = declare("hand", "auto", "the person's hand if known: right, left; auto: voted from MediaPipe")
        fps = declare("fps", 30.0, "camera frame rate (sets the pairing tolerance)")
        self.depth_units = declare("depth_units", 0.001, "metres per unit of 16UC1 depth images")
        self.camera_timeout = declare("camera_timeout", 0.5, "seconds without frames after which a camera is gone "
                                      "and the others go on alone")
        self.pair_by = declare("pair_by", "stamp", "pair the cameras' frames by header 'stamp' (cameras on one "
                               "clock: realsense-ros live) or by 'arrival' time (cameras whose stamps do not share "
                               "a clock, e.g. recordings played by separate nodes started at different times)")
        qos_name = declare("image_qos", "SENSOR_DATA", "image subscriptions: SENSOR_DATA (best effort, depth 5: a "
                           "slow moment drops frames) or DEFAULT (reliable, depth 10: every frame, late)")
        self.publish_markers = declare("publish_markers", True, "publish the skeleton and objects on /dexmv/markers")
        if not 1 <= len(cameras) <= 2 or len(set(cameras)) != len(cameras) or not all(cameras):
            raise ParameterError(f"cameras: one or two distinct names, got {cameras}")
        if self.pair_by not in ("stamp", "arrival"):
            raise ParameterError(f"pair_by must be 'stamp' or 'arrival', got {self.pair_by!r}")
        if qos_name not in IMAGE_QOS:
            raise ParameterError(f"image_qos must be one of {sorted(IMAGE_QOS)}, got {qos_name!r}")
        if side not in ("auto", "right", "left"):
            raise ParameterError(f"hand must be 'auto', 'right' or 'left', got {side!r}")
        if complexity not in (0, 1):
            raise ParameterError(f"model_complexity must be 0 or 1, got {complexity}")
        if fps <= 0 or self.camera_timeout <= 0 or self.depth_units <= 0:
            raise ParameterError("fps, camera_timeout and depth_units must be positive")
        from dexmv_perception.cli.perceive import parse_objects

        try:
            ids, scales = parse_objects([o for o in objects if o])
        except ValueError as err:
            raise ParameterError(f"objects: {err}") from None
        self.cameras, self.object_ids = cameras, ids
        self.perception = Perception(cameras, HandTrackerConfig(model_complexity=complexity, crop=crop,
                                                                mirrored=mirrored, side=side),
                                     object_ids=ids, object_scales=scales, mano_model=mano or None)
        self.pairer = FramePairer((cameras[0], cameras[1]), fps=fps) if len(cameras) == 2 else None
        self.buffer = TransformBuffer()
        self.infos: dict[str, np.ndarray] = {}
        self._pending: dict[str, dict[int, dict]] = {c: {} for c in cameras}  # stamp ns -> {"color", "depth"}
        # joined colour + depth waiting for the camera's camera_info or transform, oldest first
        self._waiting: dict[str, deque] = {c: deque(maxlen=MAX_WAITING_FRAMES) for c in cameras}
        self._last_sent: dict[str, float] = {}  # per camera, when its newest frame was published (s)
        self._last_input = time.monotonic()
        self._last_clock = -np.inf  # pairing clock of the newest processed moment
        self._out_of_order = 0
        self._processed = 0
        self._rate = 0.0
        self._warned: set[str] = set()
        self.hand_pub = self.create_publisher(HandPose, "/dexmv/hand_pose", RELIABLE_10)
        self.objects_pub = self.create_publisher(ObjectPoseArray, "/dexmv/object_poses", RELIABLE_10)
        self.tf_pub = self.create_publisher(TFMessage, "/tf", TF_QOS)
        self.marker_pub = self.create_publisher(MarkerArray, "/dexmv/markers", QoSProfile(depth=2))
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", RELIABLE_10)
        # the first MediaPipe calls load its models and the first object update builds the point models:
        # seconds on a loaded machine, paid here rather than on the first frames
        self.perception.warm_up()
        self.create_subscription(TFMessage, "/tf_static", lambda m: self._on_tf(m, True), TF_STATIC_QOS)
        self.create_subscription(TFMessage, "/tf", lambda m: self._on_tf(m, False), TF_QOS)
        for cam in cameras:
            base = f"/{cam}/{cam}"
            # (msg, info): rclpy passes the message info (DDS source timestamp) to two-argument callbacks
            self.create_subscription(Image, f"{base}/color/image_raw",
                                     lambda m, info, c=cam: self._on_image(c, "color", m, info), IMAGE_QOS[qos_name])
            self.create_subscription(Image, f"{base}/aligned_depth_to_color/image_raw",
                                     lambda m, info, c=cam: self._on_image(c, "depth", m, info), IMAGE_QOS[qos_name])
            self.create_subscription(CameraInfo, f"{base}/color/camera_info",
                                     lambda m, c=cam: self._on_camera_info(c, m), 10)
        if self.pairer is not None:  # the last frames of a stream that stopped are decided after camera_timeout
            self.create_timer(self.camera_timeout / 2, self._flush_stalled)
        for note in self.perception.notes:
            self.get_logger().info(note)
        self.get_logger().info(f"perception_node ready: cameras {', '.join(cameras)} -> /dexmv/hand_pose"
                               + (f", /dexmv/object_poses ({', '.join(ids)})" if ids else "")
                               + f" in {self.world_frame!r}")

    # ------------------------------------------------------------------ input
    def _on_tf(self, msg: TFMessage, static: bool) -> None:
        for t in msg.transforms:
            tr, q = t.transform.translation, t.transform.rotation
            try:
                self.buffer.set_transform(t.header.frame_id, t.child_frame_id, [tr.x, tr.y, tr.z],
                                          [q.x, q.y, q.z, q.w], _seconds(t.header.stamp), static)
            except ValueError as err:
                self.get_logger().warning(f"ignoring a transform: {err}", throttle_duration_sec=5.0)
        for cam in self.cameras:
            if self._waiting[cam]:
                self._drain(cam)

    def _on_camera_info(self, cam: str, msg: CameraInfo) -> None:
        K = np.reshape(np.asarray(msg.k, dtype=float), (3, 3))
        if not (np.isfinite(K).all() and K[0, 0] > 0 and K[1, 1] > 0):
            self._warn_once(f"badinfo-{cam}", f"{cam}: camera_info with an unusable K {list(msg.k)}: ignored")
            return
        self.infos[cam] = K
        if self._waiting[cam]:
            self._drain(cam)

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.get_logger().warning(text)

    def _on_image(self, cam: str, kind: str, msg: Image, info=None) -> None:
        ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self._last_input = time.monotonic()
        pending = self._pending[cam]
        entry = pending.setdefault(ns, {})
        entry[kind] = msg
        # when the camera driver published the frame (DDS source timestamp, system clock), not when this node
        # got to it: a busy node takes queued frames late, and pairing by its own arrival would then split pairs
        source_ns = (info or {}).get("source_timestamp", 0)
        entry["sent"] = max(entry.get("sent", 0.0), source_ns * 1e-9 if source_ns > 0 else time.time())
        for old in [k for k in pending if k < ns - 1_000_000_000]:  # unmatched halves older than 1 s
            del pending[old]
        if "color" not in entry or "depth" not in entry:
            return
        del pending[ns]
        entry["ns"] = ns
        self._waiting[cam].append(entry)
        self._drain(cam)

    def _drain(self, cam: str) -> None:
        """Process the camera's waiting frames, oldest first, as far as its camera_info and transform allow."""
        waiting = self._waiting[cam]
        while waiting:
            entry = waiting[0]
            placement = self._placement(cam, entry["color"])
            if placement is None:
                return  # keeps waiting (the oldest beyond MAX_WAITING_FRAMES fall out)
            waiting.popleft()
            frame = self._camera_frame(cam, entry["color"], entry["depth"], *placement)
            if frame is not None:
                self._deliver(cam, frame, entry)

    def _deliver(self, cam: str, frame: CameraFrame, entry: dict) -> None:
        stamp_msg = entry["color"].header.stamp
        sent = entry["sent"]
        clock = sent if self.pair_by == "arrival" else entry["ns"] * 1e-9
        self._last_sent[cam] = max(sent, self._last_sent.get(cam, -np.inf))
        # a camera is gone when it published nothing for camera_timeout before this frame was published: judged
        # on publication times, so a backlog this node works through late does not look like a silent camera
        others = [c for c in self.cameras if c != cam]
        if self.pairer is None or all(sent - self._last_sent.get(c, -np.inf) > self.camera_timeout for c in others):
            self._process([frame], stamp_msg, clock)
            return
        for pair in self.pairer.push(cam, clock, (frame, stamp_msg)):
            self._process([f for f, _ in pair.frames], pair.frames[0][1], pair.stamp)

    def _flush_stalled(self) -> None:
        """No frame for camera_timeout: decide the frames the pairer still holds (the end of a stream)."""
        if time.monotonic() - self._last_input < self.camera_timeout or not any(self.pairer.pending()):
            return
        for pair in self.pairer.flush():
            self._process([f for f, _ in pair.frames], pair.frames[0][1], pair.stamp)

    def _placement(self, cam: str, color: Image) -> tuple[np.ndarray, np.ndarray] | None:
        """(K, world <- optical frame) for the camera's frame, or None while either has not arrived."""
        K = self.infos.get(cam)
        if K is None:
            self._warn_once(f"info-{cam}", f"{cam}: no camera_info yet; its frames wait for one")
            return None
        try:
            T = self.buffer.lookup(self.world_frame, color.header.frame_id)
        except TransformLookupError as err:
            self._warn_once(f"tf-{cam}", f"{cam}: {err}; its frames wait for the transform")
            return None
        return K, T

    def _camera_frame(self, cam: str, color: Image, depth: Image, K: np.ndarray, T: np.ndarray) -> CameraFrame | None:
        try:
            rgb = image_to_array(color)
            raw = image_to_array(depth)
        except ValueError as err:
            self._warn_once(f"enc-{cam}", f"{cam}: {err}")
            return None
        depth_m = raw.astype(np.float32) * np.float32(self.depth_units) if raw.dtype == np.uint16 else raw
        if rgb.shape[:2] != depth_m.shape:
            self._warn_once(f"shape-{cam}", f"{cam}: colour {rgb.shape[:2]} and depth {depth_m.shape} differ: "
                                            "is depth aligned to colour?")
            return None
        return CameraFrame(cam, rgb, depth_m, K, T)

    # ------------------------------------------------------------------ processing and output
    def _process(self, frames: list[CameraFrame], stamp_msg, clock: float) -> None:
        """One moment; `clock` is the pairing clock (stamps, or publication times with pair_by arrival)."""
        if clock <= self._last_clock:  # older than a moment already processed: the filter only goes forward
            self._out_of_order += 1
            return
        self._last_clock = clock
        start = time.perf_counter()
        hand_sent: list[float] = []

        def publish_hand(result: PerceptionFrame) -> None:
            # before the objects are estimated: the hand's latency does not wait for an object search
            self._publish_hand(result, stamp_msg)
            hand_sent.append(time.perf_counter() - start)

        result = self.perception.update(frames, clock, on_hand=publish_hand)
        self._publish_objects(result, stamp_msg)
        elapsed = time.perf_counter() - start
        self._processed += 1
        self._rate = 0.9 * self._rate + 0.1 * elapsed if self._rate else elapsed
        self._diagnose(result, frames, elapsed, hand_sent[0])

    def _publish_hand(self, result: PerceptionFrame, stamp_msg) -> None:
        """HandPose and the hand_wrist TF, as soon as the hand is estimated."""
        hand = result.hand
        msg = HandPose()
        msg.header.stamp, msg.header.frame_id = stamp_msg, self.world_frame
        msg.side = hand.side
        msg.confidence = float(hand.hand_confidence)
        points = np.nan_to_num(hand.keypoints, nan=0.0, posinf=0.0, neginf=0.0)
        msg.keypoints = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in points]
        msg.keypoint_confidence = [float(c) for c in np.nan_to_num(hand.confidence)]
        if result.mano is not None:
            msg.has_mano = True
            msg.mano_betas = [float(v) for v in result.mano.betas]
            msg.mano_pose = [float(v) for v in result.mano.pose]
            tr = result.mano.translation
            msg.mano_translation.x, msg.mano_translation.y, msg.mano_translation.z = (float(v) for v in tr)
        self.hand_pub.publish(msg)
        wrist = wrist_frame(hand.keypoints) if hand.detected else None
        if wrist is not None:
            self.tf_pub.publish(TFMessage(transforms=[self._transform("hand_wrist", wrist, stamp_msg)]))

    def _publish_objects(self, result: PerceptionFrame, stamp_msg) -> None:
        """ObjectPoseArray and the objects' TF once they are estimated; the markers (hand and objects)."""
        transforms = []
        if self.object_ids:  # published even when the estimator is off (then empty; /diagnostics says why)
            array = ObjectPoseArray()
            array.header.stamp, array.header.frame_id = stamp_msg, self.world_frame
            for est in result.objects:
                if not np.isfinite(est.T_world_object).all():
                    continue
                pose = ObjectPose(object_id=est.object_id, confidence=float(est.confidence))
                p, q = est.T_world_object[:3, 3], est.quaternion_xyzw()
                pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = (float(v) for v in p)
                o = pose.pose.orientation
                o.x, o.y, o.z, o.w = (float(v) for v in q)
                array.objects.append(pose)
                if est.confidence > 0:
                    transforms.append(self._transform(f"object/{est.object_id}", est.T_world_object, stamp_msg))
            self.objects_pub.publish(array)
        if transforms:
            self.tf_pub.publish(TFMessage(transforms=transforms))
        if self.publish_markers:
            self.marker_pub.publish(self._markers(result, stamp_msg))

    def _transform(self, child: str, matrix: np.ndarray, stamp_msg) -> TransformStamped:
        t = TransformStamped()
        t.header.stamp, t.header.frame_id, t.child_frame_id = stamp_msg, self.world_frame, child
        tr, q = t.transform.translation, t.transform.rotation
        tr.x, tr.y, tr.z = (float(v) for v in matrix[:3, 3])
        q.x, q.y, q.z, q.w = (float(v) for v in Rotation.from_matrix(matrix[:3, :3]).as_quat())
        return t

    def _markers(self, result: PerceptionFrame, stamp_msg) -> MarkerArray:
        hand = result.hand
        out = MarkerArray()

        def marker(ident: int, kind: int) -> Marker:
            m = Marker(ns="perception", id=ident, type=kind, action=Marker.ADD)
            m.header.stamp, m.header.frame_id = stamp_msg, self.world_frame
            m.pose.orientation.w = 1.0
            return m

        ok = (hand.confidence > 0) & np.isfinite(hand.keypoints).all(axis=1)
        bones = marker(0, Marker.LINE_LIST)
        bones.scale.x = 0.004
        bones.color = ColorRGBA(r=0.1, g=0.9, b=0.3, a=1.0)
        bones.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2]))
                        for a, b in BONES if ok[a] and ok[b] for p in (hand.keypoints[a], hand.keypoints[b])]
        joints = marker(1, Marker.SPHERE_LIST)
        joints.scale.x = joints.scale.y = joints.scale.z = 0.008
        joints.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in hand.keypoints[ok]]
        joints.colors = [ColorRGBA(r=1.0 - float(c), g=float(c), b=0.2, a=1.0) for c in hand.confidence[ok]]
        out.markers += [bones, joints]
        for k, est in enumerate(result.objects):
            if est.confidence <= 0 or not np.isfinite(est.T_world_object).all():
                continue
            m = marker(10 + k, Marker.SPHERE)
            m.scale.x = m.scale.y = m.scale.z = 0.03
            m.color = ColorRGBA(r=0.2, g=0.5, b=1.0, a=0.8)
            m.pose.position.x, m.pose.position.y, m.pose.position.z = (float(v) for v in est.T_world_object[:3, 3])
            out.markers.append(m)
        return out

    def _diagnose(self, result: PerceptionFrame, frames: list[CameraFrame], elapsed: float, hand_s: float) -> None:
        hand = result.hand
        level = DiagnosticStatus.OK if hand.detected and len(frames) == len(self.cameras) else DiagnosticStatus.WARN
        missing = [c for c in self.cameras if c not in {f.name for f in frames}]
        message = "hand tracked" if hand.detected else "no hand"
        if missing:
            message += f"; no frames from {', '.join(missing)}"
        values = {
            "status": "OK" if level == DiagnosticStatus.OK else "WARN",
            "cameras_in_moment": " ".join(f.name for f in frames),
            "cameras_seeing_hand": " ".join(hand.cameras),
            "rejected_cameras": " ".join(hand.rejected_cameras),
            "observed_keypoints": str(int((hand.confidence > 0).sum())),
            "moment_ms": f"{1000 * elapsed:.1f}",
            "hand_published_ms": f"{1000 * hand_s:.1f}",
            "mean_moment_ms": f"{1000 * self._rate:.1f}",
            "moments": str(self._processed),
            "objects_found": str(sum(e.confidence > 0 for e in result.objects)),
            "notes": "; ".join(self.perception.notes),
        }
        if self.pairer is not None:
            s = self.pairer.stats
            values["unpaired_frames"] = " ".join(f"{c}:{s.dropped(c)}" for c in self.cameras)
            values["out_of_order_moments"] = str(self._out_of_order)
        status = DiagnosticStatus(level=level, name=DIAGNOSTIC_NAME, hardware_id="perception", message=message)
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        diag = DiagnosticArray()
        diag.header.stamp = self.get_clock().now().to_msg()
        diag.status = [status]
        self.diag_pub.publish(diag)

    def shutdown(self) -> None:
        self.perception.close()


def main(args: list[str] | None = None) -> int:
    from dexmv_perception.mano.model_file import ManoFileError

    return run_node(PerceptionNode, name="perception_node", args=args,
                    startup_errors=(ParameterError, ManoFileError, FileNotFoundError))


if __name__ == "__main__":
    sys.exit(main())
