"""Demo stage: the recording played through the real ROS graph, each node its own process.

extrinsics_publisher (the recording's rig) and one camera_node per camera (the recording at its
own rate) publish what two D435s on a calibrated frame would; retarget_node turns hand poses into
joint targets; sim_node follows them in MuJoCo; recorder_node (dexmv_learning) writes the hand
poses, joint targets and states and the simulated object poses into a rosbag2 folder (MCAP),
which the demonstrations stage turns into robot demonstrations. Perception's node is not part of
this stage yet, so this process stands in for it: for every colour image of camera1 it publishes
the recording's ground-truth keypoints of that frame as /dexmv/hand_pose, stamped with the
image's stamp, in `world`, and the objects' ground-truth poses as /dexmv/object_poses, as
perception does.

Nothing here depends on how fast DDS discovery is: the camera nodes start only once this process
has matched the retarget and sim nodes, then wait until it has matched their image topics; the
retarget node lets hand poses wait for the camera's /tf_static; and the stage ends only once every
published image and every joint target has arrived (or DRAIN_S ran out, which the summary shows).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable

import numpy as np

from dexmv_bringup.demo.run_state import DemoRun
from dexmv_bringup.node_process import NodeProcess

# Reliable with a 10-deep history: the perception stand-in in this one Python process sees every
# frame. The node's default, SYSTEM_DEFAULT as realsense-ros, lost 10-25 % of the images here.
IMAGE_QOS = "DEFAULT"
# How long a hand pose may wait for camera1's /tf_static at the retarget node: a new process is
# usually discovered within a second, but a missed announcement costs Fast DDS's 3 s period.
TRANSFORM_WAIT_S = 5.0
# After the last frame, how long to wait for images still in flight: reliable delivery is in order,
# and a fragment lost near the end is only resent at the writer's next heartbeat (3 s in Fast DDS).
DRAIN_S = 10.0
SETTLE_S = 1.0  # after the last target arrived: time for the sim to follow it
# Both camera nodes get one start_time (the recording's first frame plays then), so the same
# recorded instant carries the same stamp in both: this far ahead covers their start-up and
# discovery on an idle machine; a node that comes up later plays that much behind (stamps unchanged).
START_LEAD_S = 4.0
STATIC_FRAMES = ("camera1_link", "camera2_link", "camera1_color_optical_frame", "camera2_color_optical_frame")
PUBLISHED = re.compile(r"end of recording: published (\d+) frames, dropped (\d+)")
# What recorder_node writes to the bag (each must be subscribed before the cameras start).
RECORDED = ("/dexmv/hand_pose", "/dexmv/object_poses", "/adroit/joint_targets", "/adroit/joint_states",
            "/dexmv/sim/object_poses")
CLOSED = re.compile(r"closed (.+): (\d+) messages, ([\d.]+) s")


class _ImageTally:
    """Images of one topic: how many arrived and the first one. Only camera1's colour images are
    needed whole; the others are taken serialized (raw) and counted, which keeps this one Python
    process, which receives four image streams, from falling behind them on a busy machine."""

    def __init__(self, msg_type) -> None:
        self.msg_type, self.count, self.first = msg_type, 0, None

    def add(self, msg) -> None:
        if self.first is None:
            if isinstance(msg, bytes):
                from rclpy.serialization import deserialize_message

                msg = deserialize_message(msg, self.msg_type)
            self.first = msg
        self.count += 1


def _stamp_s(header) -> float:
    return header.stamp.sec + header.stamp.nanosec * 1e-9


def stage_graph(run: DemoRun) -> str:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import Point, Pose, Quaternion
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from scipy.spatial.transform import Rotation
    from sensor_msgs.msg import CameraInfo, Image, JointState
    from tf2_msgs.msg import TFMessage

    from dexmv_capture.synthetic.synthesize import load_ground_truth
    from dexmv_msgs.msg import HandPose, ObjectPose, ObjectPoseArray

    rec = run.need("recording")
    arrays, meta = load_ground_truth(rec.ground_truth)
    cams = list(rec.recordings)
    hand_cam = cams[0]
    keypoints = arrays["keypoints_world"]
    logs = run.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    nodes: dict[str, NodeProcess] = {}
    context = rclpy.Context()
    try:
        nodes["extrinsics_publisher"] = NodeProcess.start(
            "dexmv_capture", "extrinsics_publisher", log_dir=logs, params={"extrinsics_file": str(rec.extrinsics)})
        nodes["retarget_node"] = NodeProcess.start("dexmv_retarget", "retarget_node", log_dir=logs,
                                                   params={"fps": float(meta["fps"]),
                                                           "transform_wait": TRANSFORM_WAIT_S})
        nodes["sim_node"] = NodeProcess.start("dexmv_sim", "sim_node", log_dir=logs,
                                              params={"task": run.task, "seed": run.seed})
        bag = run.out / "bag"
        if bag.exists():
            import shutil

            shutil.rmtree(bag)  # the demo's own output of an earlier run
        nodes["recorder_node"] = NodeProcess.start("dexmv_learning", "recorder_node", log_dir=logs,
                                                   params={"output": str(bag), "topics": list(RECORDED),
                                                           "recording": True})
        for name, ready in (("extrinsics_publisher", "published"), ("retarget_node", "ready"),
                            ("sim_node", "simulating"), ("recorder_node", "recording")):
            if not nodes[name].wait_for_output(ready, run.timeout):
                raise RuntimeError(f"{name} did not start within {run.timeout} s:\n{nodes[name].output()[-800:]}")

        rclpy.init(context=context)
        node = rclpy.create_node("dexmv_demo", context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        images = {f"{c}/{s}": _ImageTally(Image) for c in cams for s in ("color", "depth")}
        infos: dict[str, CameraInfo] = {}
        static_frames: dict[str, str] = {}
        targets: list[JointState] = []
        states: list[JointState] = []
        object_poses: list[ObjectPoseArray] = []
        statuses: Counter[str] = Counter()
        published: dict[str, tuple[int, int]] = {}  # camera -> (frames published, frames skipped)
        reliable = QoSProfile(depth=30, reliability=ReliabilityPolicy.RELIABLE)
        # tf2's static listener profile: depth 100, since three nodes publish /tf_static and a
        # 1-deep reader history keeps only the latest of their messages.
        latched = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        hand_pub = node.create_publisher(HandPose, "/dexmv/hand_pose", 10)
        object_pub = node.create_publisher(ObjectPoseArray, "/dexmv/object_poses", 10)
        first_stamp: list[float] = []
        hand_poses = [0]

        def publish_hand(image: Image) -> None:
            """What perception will do: one HandPose per colour image, with the image's stamp."""
            images[f"{hand_cam}/color"].add(image)
            if not first_stamp:
                first_stamp.append(_stamp_s(image.header))
            k = round((_stamp_s(image.header) - first_stamp[0]) * meta["fps"])
            if k >= len(keypoints):
                return
            msg = HandPose(header=image.header, side="right", confidence=1.0)
            msg.header.frame_id = "world"  # as perception publishes them (the recorder's bag feeds demos)
            msg.keypoints = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in keypoints[k]]
            msg.keypoint_confidence = [1.0] * 21
            hand_pub.publish(msg)
            hand_poses[0] += 1
            objects = ObjectPoseArray(header=msg.header)
            for name, info in meta["objects"].items():
                pose = arrays[f"object_pose/{name}"][k]
                x, y, z, w = Rotation.from_matrix(pose[:3, :3]).as_quat()
                objects.objects.append(ObjectPose(
                    object_id=info["object_id"], confidence=1.0,
                    pose=Pose(position=Point(x=float(pose[0, 3]), y=float(pose[1, 3]), z=float(pose[2, 3])),
                              orientation=Quaternion(x=float(x), y=float(y), z=float(z), w=float(w)))))
            object_pub.publish(objects)

        def on_static(msg: TFMessage) -> None:
            static_frames.update({t.child_frame_id: t.header.frame_id for t in msg.transforms})

        def on_diagnostics(msg: DiagnosticArray) -> None:
            for status in msg.status:
                statuses.update(v.value for v in status.values if v.key == "status")

        for cam in cams:
            base = f"/{cam}/{cam}"
            if cam == hand_cam:
                node.create_subscription(Image, f"{base}/color/image_raw", publish_hand, reliable)
            else:
                node.create_subscription(Image, f"{base}/color/image_raw", images[f"{cam}/color"].add, reliable,
                                         raw=True)
            node.create_subscription(Image, f"{base}/aligned_depth_to_color/image_raw", images[f"{cam}/depth"].add,
                                     reliable, raw=True)
            node.create_subscription(CameraInfo, f"{base}/color/camera_info",
                                     lambda m, c=cam: infos.__setitem__(c, m), 10)
        node.create_subscription(TFMessage, "/tf_static", on_static, latched)
        node.create_subscription(JointState, "/adroit/joint_targets", targets.append, 100)
        node.create_subscription(JointState, "/adroit/joint_states", states.append, 100)
        node.create_subscription(ObjectPoseArray, "/dexmv/sim/object_poses", object_poses.append, 100)
        node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 100)

        def spin_until(done: Callable[[], bool], timeout: float) -> bool:
            """Spin, asking done() (which may read node logs) every 0.1 s, not after every message."""
            deadline = time.monotonic() + timeout
            while not done() and time.monotonic() < deadline:
                check = min(deadline, time.monotonic() + 0.1)
                while time.monotonic() < check:
                    executor.spin_once(timeout_sec=0.02)
            return done()

        # Hand poses are best effort: the retarget node must be matched before the first one is sent.
        def unmatched() -> list[str]:
            links = {"/dexmv/hand_pose (retarget_node)": hand_pub.get_subscription_count()}
            links.update({f"{t} ({who})": node.count_publishers(t) for t, who in (
                ("/adroit/joint_targets", "retarget_node"), ("/adroit/joint_states", "sim_node"),
                ("/dexmv/sim/object_poses", "sim_node"))})
            recorder = nodes["recorder_node"].output()  # it logs each topic it subscribes to
            links.update({f"{t} (recorder_node)": int(f"recording {t} [" in recorder) for t in RECORDED})
            return [name for name, count in links.items() if count < 1]

        if not spin_until(lambda: not unmatched(), run.timeout):
            raise RuntimeError(f"DDS did not match {unmatched()} within {run.timeout} s")
        start_time = time.time_ns() + round(START_LEAD_S * 1e9)
        for cam, path in rec.recordings.items():
            nodes[f"camera_node_{cam}"] = NodeProcess.start(
                "dexmv_capture", "camera_node", log_dir=logs, log_name=f"camera_node_{cam}",
                params={"recording": str(path), "camera_name": cam, "camera_namespace": cam,
                        "wait_for_subscribers": 1, "image_qos": IMAGE_QOS, "start_time": str(start_time),
                        "time_origin_ms": 0.0})
        played = [nodes[f"camera_node_{c}"] for c in cams]
        if not spin_until(lambda: all("end of recording" in p.output() or p.proc.poll() is not None for p in played),
                          run.seconds * 3 + 2 * run.timeout):
            raise RuntimeError("the camera nodes did not reach the end of their recordings")
        for cam in cams:
            found = PUBLISHED.search(nodes[f"camera_node_{cam}"].output())
            if found is None:
                raise RuntimeError(f"camera_node {cam} failed:\n{nodes[f'camera_node_{cam}'].output()[-800:]}")
            published[cam] = (int(found.group(1)), int(found.group(2)))

        def all_arrived() -> bool:
            return len(targets) >= hand_poses[0] and set(STATIC_FRAMES) <= set(static_frames) and all(
                images[f"{c}/{s}"].count >= published[c][0] for c in cams for s in ("color", "depth"))

        spin_until(all_arrived, DRAIN_S)
        spin_until(lambda: False, SETTLE_S)
    finally:
        rclpy.try_shutdown(context=context)
        codes = {}
        for name, proc in nodes.items():
            try:
                codes[name] = proc.interrupt()
            except RuntimeError as err:
                codes[name] = str(err)
            proc.stop()
    unclean = {n: c for n, c in codes.items() if c != 0}
    if unclean:
        raise RuntimeError(f"nodes that did not stop cleanly on SIGINT: {unclean} (logs in {logs})")
    closed = CLOSED.search(nodes["recorder_node"].output())
    if closed is None:
        raise RuntimeError(f"recorder_node did not close its bag:\n{nodes['recorder_node'].output()[-800:]}")
    run.products["bag"] = bag
    bag_line = f"recorder_node: {bag} closed on SIGINT with {closed.group(2)} messages over {closed.group(3)} s"
    if first_stamp and targets:
        run.products["graph_joint_targets"] = (
            np.array([round((_stamp_s(m.header) - first_stamp[0]) * meta["fps"]) for m in targets], dtype=int),
            np.array([m.position for m in targets]))
    return _summary(meta, arrays, cams, images, infos, static_frames, targets, states, object_poses, statuses,
                    published, hand_poses[0]) + "\n      " + bag_line


def _summary(meta, arrays, cams, images, infos, static_frames, targets, states, object_poses, statuses,
             published, hand_poses) -> str:
    frames = int(meta["frames"])
    lines = []
    for cam in cams:
        color, depth = images[f"{cam}/color"], images[f"{cam}/depth"]
        if not color.count or not depth.count or cam not in infos:
            raise RuntimeError(f"{cam}: no images or camera_info arrived over DDS")
        c, d = color.first, depth.first
        if (c.encoding, d.encoding) != ("rgb8", "16UC1"):
            raise RuntimeError(f"{cam}: encodings {c.encoding}/{d.encoding}, expected rgb8/16UC1")
        k_error = np.abs(np.reshape(infos[cam].k, (3, 3)) - arrays[f"{cam}/camera_matrix"]).max()
        sent, skipped = published[cam]
        lines.append(f"{cam} {color.count}/{sent} colour + {depth.count}/{sent} depth images {c.width}x{c.height} "
                     f"arrived of those published ({skipped} of {frames} frames skipped to keep real time), "
                     f"K within {k_error:.1e} px of the recording's")
    missing = [f for f in STATIC_FRAMES if f not in static_frames]
    if missing:
        raise RuntimeError(f"/tf_static lacks {missing}; it has {static_frames}")
    if not targets:
        raise RuntimeError("retarget_node published no /adroit/joint_targets")
    if not states or not object_poses:
        raise RuntimeError("sim_node published no joint states or object poses")
    last_target = dict(zip(targets[-1].name, targets[-1].position, strict=True))
    last_state = dict(zip(states[-1].name, states[-1].position, strict=True))
    slides = [abs(last_state[j] - last_target[j]) for j in ("ARTx", "ARTy", "ARTz")]
    hinges = [abs(last_state[j] - v) for j, v in last_target.items() if not j.startswith("ART")]
    held = statuses.get("HELD", 0)
    lines.append(f"{len(targets)} joint targets from retarget_node for {hand_poses} hand poses "
                 f"({held} held: {dict(statuses)})")
    lines.append(f"sim_node: {len(states)} joint states, {len(object_poses)} object pose arrays; "
                 f"{SETTLE_S:.0f} s after the last target arrived the arm is within {max(slides) * 1000:.1f} mm and "
                 f"the joints within {max(hinges):.3f} rad of it")
    lines.append("/tf_static: " + ", ".join(f"{p}->{c}" for c, p in sorted(static_frames.items())))
    lines.append("every node stopped cleanly on SIGINT")
    return "\n      ".join(lines)
