"""Retarget node: /dexmv/hand_pose (dexmv_msgs/HandPose) in, /adroit/joint_targets (sensor_msgs/JointState) out.

Every HandPose gives one JointState with the 30 Adroit joint names (dexmv_sim.adroit.ADROIT_JOINTS), stamped with the
hand pose's stamp. The keypoints are taken to `world_frame` with the `frame_transform` parameter
or, when that is empty, with the latest transforms from /tf_static and /tf (a small buffer:
tf2_ros does not exist on these installs). Per frame it publishes a diagnostic_msgs status on
/diagnostics (task-space-vector error, solve time, iterations, what was missing) and, if
`publish_markers`, the scaled human and the robot vectors on /dexmv/markers (namespace "retarget").
Frames that are no plausible human hand in reach (bone lengths, keypoint order, handedness,
workspace: dexmv_retarget.plausibility) are REJECTED and hold the last good solution; each reason
is logged (throttled per reason, so one reason cannot hide another) and counted on /diagnostics,
as are hand poses lost before this node saw them (DDS "message lost" events and gaps in the stamps
beyond 1.5 frames at `fps`). The service `~/recalibrate` (std_srvs/Trigger) starts a new hand-size
estimate from the next frames, without a restart, and so does each new sim episode announced on
/dexmv/sim/episode (parameter `recalibrate_on_episode`).
A hand pose whose frame has no transform to `world_frame` yet waits for one up to `transform_wait`
seconds, in arrival order (tf2's MessageFilter: a camera's /tf_static can reach this node after its
first frames do). A frame whose palm keypoints are missing or below confidence, of low hand
confidence, or still without a transform holds the last good solution and reports WARN. Left hands
are retargeted as their mirror image (Adroit is a right hand) unless `left_hand` is 'hold'.

QoS: hand poses are best effort (matches every publisher) with a 30-deep history: the retargeter
warm-starts from the previous frame and calibrates over the first ones, so a stall of this process
should delay frames (at ~1 ms a frame it catches up at once) rather than drop them;
joint targets, diagnostics and markers are reliable (depth 10, 10, 2); /tf_static is reliable and
transient local, /tf reliable, both depth 100 (tf2's listener profiles).

Parameters (all declared with descriptions; `ros2 param describe` shows them):
  world_frame, frame_transform, fingers_only, held_arm, min_confidence, min_hand_confidence,
  fps, filter_cutoff_hz, calibration_frames, publish_markers, left_hand, transform_wait, recalibrate_on_episode.
"""

from __future__ import annotations

from dexmv_runtime.node_main import exit_with, quiet_interrupts, run_node

quiet_interrupts()  # before the heavy imports: Ctrl-C while they load is a quiet exit 0

import json  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402

import numpy as np  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue  # noqa: E402
from geometry_msgs.msg import Point  # noqa: E402
from rcl_interfaces.msg import ParameterDescriptor  # noqa: E402
from rclpy.event_handler import SubscriptionEventCallbacks  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import ColorRGBA, String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from dexmv_msgs.msg import HandPose  # noqa: E402
from dexmv_retarget.hand_keypoints import NUM_KEYPOINTS, transform_points  # noqa: E402
from dexmv_retarget.palm_frame import mirror_hand  # noqa: E402
from dexmv_retarget.retargeter import FrameResult, FrameStatus, RetargetConfig, Retargeter  # noqa: E402
from dexmv_retarget.task_vectors import TASK, VECTOR_PAIRS  # noqa: E402
from dexmv_retarget.transform_buffer import TransformBuffer, TransformLookupError, transform_matrix  # noqa: E402
from dexmv_retarget.transform_wait import TransformWait  # noqa: E402
from dexmv_sim.adroit import ADROIT_JOINTS  # noqa: E402

HAND_POSE_QOS = QoSProfile(depth=30, reliability=ReliabilityPolicy.BEST_EFFORT)
RELIABLE_10 = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
MARKER_QOS = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)
TF_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
TF_STATIC_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL)
DIAGNOSTIC_NAME = "dexmv_retarget: retarget_node"
_LEVEL = {FrameStatus.OK: DiagnosticStatus.OK, FrameStatus.PARTIAL: DiagnosticStatus.WARN,
          FrameStatus.HELD: DiagnosticStatus.WARN, FrameStatus.REJECTED: DiagnosticStatus.WARN}
EPISODE_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)  # as sim_node publishes it
REASON_LOG_PERIOD_S = 2.0  # each reason is logged at most this often


class ParameterError(ValueError):
    """A parameter value the node cannot use; the message names the parameter."""


class RetargetNode(Node):
    def __init__(self) -> None:
        super().__init__("retarget_node")

        def declare(name, default, text):
            return self.declare_parameter(name, default, ParameterDescriptor(description=text)).value

        self.world_frame = declare("world_frame", "world", "frame the joint targets are solved in (the table frame)")
        frame_transform = declare(
            "frame_transform", Parameter.Type.DOUBLE_ARRAY, "world <- hand-pose frame as [x, y, z, qx, qy, qz, qw]; "
            "unset (default): transforms from /tf_static and /tf")
        fingers_only = declare("fingers_only", False, "hold the arm and wrist at held_arm, retarget the fingers "
                                                      "relative to the palm")
        held_arm = declare("held_arm", [0.0] * 8, "ARTx ARTy ARTz ARRx ARRy ARRz WRJ1 WRJ0 in fingers-only mode")
        min_confidence = declare("min_confidence", 0.3, "keypoints below this confidence count as missing")
        self.min_hand_confidence = declare("min_hand_confidence", 0.0, "hand poses below this overall confidence "
                                                                       "hold the last good solution")
        fps = declare("fps", 30.0, "expected hand-pose rate in Hz (sets the low-pass filter)")
        cutoff = declare("filter_cutoff_hz", 0.0, "causal low-pass cutoff on the joint targets in Hz (6-8 removes "
                                                  "perception jitter, ~1 frame of lag); 0 (default) disables it")
        calibration = declare("calibration_frames", 30, "frames over which the human hand size is measured")
        self.publish_markers = declare("publish_markers", True, "publish human and robot vectors on /dexmv/markers")
        self.left_hand = declare("left_hand", "mirror", "left hands (HandPose.side 'left'): 'mirror' retargets "
                                                        "the mirror image, 'hold' holds the last good solution")
        self.recalibrate_on_episode = declare(
            "recalibrate_on_episode", True, "measure the hand size anew when the sim starts an episode "
            "(/dexmv/sim/episode), as the ~/recalibrate service does")
        transform_wait = declare("transform_wait", 1.0, "seconds a hand pose whose frame has no transform to "
                                 "world_frame yet waits for one, frames kept in order; 0 holds it at once")
        if self.left_hand not in ("mirror", "hold"):
            raise ParameterError(f"left_hand must be 'mirror' or 'hold', got {self.left_hand!r}")

        self.fixed_transform = None
        if frame_transform is not None:
            if len(frame_transform) != 7:
                raise ParameterError(f"frame_transform must be 7 numbers [x, y, z, qx, qy, qz, qw], "
                                     f"got {list(frame_transform)}")
            try:
                self.fixed_transform = transform_matrix(frame_transform[:3], frame_transform[3:])
            except ValueError as err:
                raise ParameterError(f"frame_transform: {err}") from None
        try:
            config = RetargetConfig(
                fingers_only=bool(fingers_only), held_arm=tuple(held_arm), min_confidence=float(min_confidence),
                fps=float(fps), filter_cutoff_hz=float(cutoff) or None, calibration_frames=int(calibration))
            self.retargeter = Retargeter(config)
        except ValueError as err:
            raise ParameterError(f"parameters: {err}") from None
        try:
            self.pending: TransformWait[HandPose] = TransformWait(float(transform_wait))
        except ValueError as err:
            raise ParameterError(f"parameter transform_wait: {err}") from None
        self.buffer = TransformBuffer()
        if self.fixed_transform is None:
            self.create_subscription(TFMessage, "/tf_static", lambda m: self._on_tf(m, True), TF_STATIC_QOS)
            self.create_subscription(TFMessage, "/tf", lambda m: self._on_tf(m, False), TF_QOS)
        self._joints_pub = self.create_publisher(JointState, "/adroit/joint_targets", RELIABLE_10)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", RELIABLE_10)
        self._marker_pub = self.create_publisher(MarkerArray, "/dexmv/markers", MARKER_QOS)
        self.create_subscription(HandPose, "/dexmv/hand_pose", self._on_hand_pose, HAND_POSE_QOS,
                                 event_callbacks=SubscriptionEventCallbacks(message_lost=self._on_lost))
        self.create_service(Trigger, "~/recalibrate", self._on_recalibrate)
        self._episode: str | None = None
        self.create_subscription(String, "/dexmv/sim/episode", self._on_episode, EPISODE_QOS)
        self.fps = float(fps)
        self.counts: Counter[str] = Counter()  # per reason / status, since start
        self._last_logged: dict[str, float] = {}
        self._last_stamp: float | None = None
        # Runs only while frames wait: releases those whose wait ran out while nothing else arrived.
        self._wait_timer = self.create_timer(0.05, self._release)
        self._wait_timer.cancel()
        mode = "fingers-only" if fingers_only else "world"
        source = "frame_transform parameter" if self.fixed_transform is not None else "/tf_static and /tf"
        self.get_logger().info(f"retarget_node ready: /dexmv/hand_pose -> /adroit/joint_targets ({mode} mode, "
                               f"transforms from {source}, filter {cutoff or 'off'} Hz at {fps} Hz)")

    # ------------------------------------------------------------------ callbacks
    def _on_tf(self, msg: TFMessage, static: bool) -> None:
        for t in msg.transforms:
            tr, q = t.transform.translation, t.transform.rotation
            try:
                self.buffer.set_transform(t.header.frame_id, t.child_frame_id, [tr.x, tr.y, tr.z],
                                          [q.x, q.y, q.z, q.w], t.header.stamp.sec + 1e-9 * t.header.stamp.nanosec,
                                          static)
            except ValueError as err:
                self.get_logger().warning(f"ignoring transform on {'/tf_static' if static else '/tf'}: {err}",
                                          throttle_duration_sec=5.0)
        self._release()

    def _on_lost(self, info) -> None:
        self.counts["lost_by_dds"] += int(info.total_count_change)
        self._log_reason("lost_by_dds", f"{info.total_count} hand poses lost before reaching this node (DDS)")

    def _on_episode(self, msg: String) -> None:
        """A new sim episode (ResetEpisode): a new demonstration, perhaps a new person: new hand size."""
        try:
            episode = str(json.loads(msg.data).get("episode"))
        except (ValueError, AttributeError):
            self._log_reason("bad_episode_message", f"/dexmv/sim/episode: not a JSON object: {msg.data[:80]!r}")
            return
        if self.recalibrate_on_episode and self._episode is not None and episode != self._episode:
            self.retargeter.recalibrate()
            self.counts["recalibrations"] += 1
            self.get_logger().info(f"sim episode {episode}: hand size measured anew from the next frames")
        self._episode = episode

    def _on_recalibrate(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self.retargeter.recalibrate()
        self.counts["recalibrations"] += 1
        response.success = True
        response.message = (f"hand size is measured anew over the next {self.retargeter.config.calibration_frames} "
                            "plausible frames")
        self.get_logger().info(response.message)
        return response

    def _log_reason(self, reason: str, message: str) -> None:
        """Log each reason at most every REASON_LOG_PERIOD_S (rclpy's throttle is per call site)."""
        now = time.monotonic()
        if now - self._last_logged.get(reason, -1e9) >= REASON_LOG_PERIOD_S:
            self._last_logged[reason] = now
            self.get_logger().warning(f"{message} [{reason}: {self.counts[reason]} so far]")

    def _count_gap(self, msg: HandPose) -> None:
        """Hand poses missing between two stamps (beyond 1.5 frame periods), e.g. dropped from the queue."""
        stamp = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
        if self._last_stamp is not None and self.fps > 0:
            gap = stamp - self._last_stamp
            if gap > 1.5 / self.fps:
                missing = round(gap * self.fps) - 1
                self.counts["missing_by_stamp"] += missing
                self._log_reason("missing_by_stamp", f"{missing} hand poses missing before stamp {stamp:.3f} "
                                 f"(gap {gap:.3f} s at {self.fps} Hz)")
        self._last_stamp = stamp if self._last_stamp is None else max(stamp, self._last_stamp)

    def _on_hand_pose(self, msg: HandPose) -> None:
        self._count_gap(msg)
        self.pending.push(msg, time.monotonic())
        self._release()
        if self.pending:
            if self._wait_timer.is_canceled():
                self._wait_timer.reset()
            frame = msg.header.frame_id or self.world_frame
            self.get_logger().warning(f"hand poses in {frame!r} wait up to {self.pending.timeout_s} s for a transform "
                                      f"to {self.world_frame!r} ({len(self.pending)} waiting)",
                                      throttle_duration_sec=5.0)

    def _to_world(self, msg: HandPose) -> np.ndarray | None:
        """world <- the hand pose's frame, or None while no transform is known."""
        if self.fixed_transform is not None:
            return self.fixed_transform
        try:
            return self.buffer.lookup(self.world_frame, msg.header.frame_id or self.world_frame)
        except TransformLookupError:
            return None

    def _release(self) -> None:
        if self.pending:
            for msg, to_world in self.pending.release(self._to_world, time.monotonic()):
                self._retarget(msg, to_world)
            if not self.pending:
                self._wait_timer.cancel()

    def _retarget(self, msg: HandPose, to_world: np.ndarray | None) -> None:
        kp = np.array([[p.x, p.y, p.z] for p in msg.keypoints], dtype=float)
        conf = np.asarray(msg.keypoint_confidence, dtype=float)
        reason = None
        if kp.shape != (NUM_KEYPOINTS, 3) or conf.shape != (NUM_KEYPOINTS,):
            reason = f"hand pose has {len(msg.keypoints)} keypoints / {len(conf)} confidences, expected 21"
        elif msg.side not in ("", "right", "left") or (msg.side == "left" and self.left_hand == "hold"):
            reason = f"side {msg.side!r}: the Adroit hand is a right hand (left_hand: {self.left_hand})"
        elif msg.confidence < self.min_hand_confidence:
            reason = f"hand confidence {msg.confidence:.2f} below min_hand_confidence {self.min_hand_confidence}"
        if reason is None and to_world is None:
            try:  # only to say why: the wait ran out and the frame is still unknown
                self.buffer.lookup(self.world_frame, msg.header.frame_id or self.world_frame)
            except TransformLookupError as err:
                reason = str(err)
        if reason is None:
            kp = transform_points(kp, to_world)
            if msg.side == "left":
                kp = mirror_hand(kp)
        if reason is not None:
            kp, conf = np.full((NUM_KEYPOINTS, 3), np.nan), np.zeros(NUM_KEYPOINTS)
        result = self.retargeter.step(kp, conf)
        if reason is not None:
            result.message = f"{reason}: holding the last good solution"
            result.reasons = ("input",)
        keys = result.reasons or (() if result.status == FrameStatus.OK else (result.status.name.lower(),))
        for key in keys:
            self.counts[key] += 1
            self._log_reason(key, result.message)
        self._publish(msg, result, kp)

    # ------------------------------------------------------------------ output
    def _publish(self, msg: HandPose, result: FrameResult, kp_world: np.ndarray) -> None:
        joints = JointState()
        joints.header.stamp = msg.header.stamp
        joints.name = list(ADROIT_JOINTS)
        joints.position = [float(v) for v in result.joints]
        self._joints_pub.publish(joints)

        status = DiagnosticStatus(level=_LEVEL[result.status], name=DIAGNOSTIC_NAME, hardware_id="adroit",
                                  message=result.message)
        values = {
            "status": result.status.name,
            "tsv_error_mm": f"{result.tsv_error_mm:.3f}",
            "wrist_error_mm": f"{result.wrist_error_mm:.3f}",
            "solve_time_ms": f"{1000 * result.solve_time_s:.3f}",
            "iterations": str(result.iterations),
            "invalid_keypoints": " ".join(map(str, result.invalid_keypoints)),
            "held_fingers": " ".join(result.held_fingers),
            "input_frame": msg.header.frame_id,
            "side": msg.side + (" (mirrored)" if msg.side == "left" and self.left_hand == "mirror" else ""),
            "reasons": " ".join(result.reasons),
            "hand_scale": f"{self.retargeter.scale.paper_scale:.4f}",
        }
        values.update({f"count_{key}": str(n) for key, n in sorted(self.counts.items())})
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        diag = DiagnosticArray()
        diag.header.stamp = self.get_clock().now().to_msg()
        diag.status = [status]
        self._diag_pub.publish(diag)

        if self.publish_markers:
            self._marker_pub.publish(self._markers(msg, result, kp_world))

    def _markers(self, msg: HandPose, result: FrameResult, kp_world: np.ndarray) -> MarkerArray:
        """Robot task vectors (blue) and the scaled human vectors it was asked to match (orange), from
        the same robot start points so that RViz shows the mismatch; human keypoints (world mode)."""
        robot = self.retargeter.kin.keypoints(result.joints)
        pairs = VECTOR_PAIRS[TASK]
        used = result.weights[TASK] > 0
        out = MarkerArray()

        def lines(ident: int, name: str, starts, ends, rgba) -> Marker:
            m = Marker(ns="retarget", id=ident, type=Marker.LINE_LIST, action=Marker.ADD)
            m.header.frame_id = self.world_frame
            m.header.stamp = msg.header.stamp
            m.pose.orientation.w = 1.0
            m.scale.x = 0.003
            m.color = ColorRGBA(r=rgba[0], g=rgba[1], b=rgba[2], a=1.0)
            m.text = name
            m.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for s, e in zip(starts, ends, strict=True)
                        for p in (s, e)]
            return m

        starts = robot[pairs[used, 0]]
        out.markers.append(lines(0, "robot vectors", starts, robot[pairs[used, 1]], (0.1, 0.4, 1.0)))
        out.markers.append(lines(1, "scaled human vectors", starts, starts + result.targets[TASK][used],
                                 (1.0, 0.5, 0.0)))
        finite = np.isfinite(kp_world).all(axis=1)
        dots = Marker(ns="retarget", id=2, type=Marker.SPHERE_LIST, action=Marker.ADD)
        dots.header.frame_id = self.world_frame
        dots.header.stamp = msg.header.stamp
        dots.pose.orientation.w = 1.0
        dots.scale.x = dots.scale.y = dots.scale.z = 0.008
        dots.color = ColorRGBA(r=1.0, g=0.8, b=0.6, a=0.8)
        if not self.retargeter.config.fingers_only:
            dots.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in kp_world[finite]]
        out.markers.append(dots)
        return out


def main(args: list[str] | None = None) -> int:
    return run_node(RetargetNode, name="retarget_node", args=args, startup_errors=(ParameterError,))


if __name__ == "__main__":
    exit_with(main())
