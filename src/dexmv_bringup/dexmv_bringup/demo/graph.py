"""Demo stage: the recording played through the real ROS graph, each node its own process.

extrinsics_publisher (the recording's rig) and one camera_node per camera (the recording at its
own rate) publish what two D435s on a calibrated frame would; retarget_node turns hand poses into
joint targets; sim_node follows them in MuJoCo. Perception does not exist yet, so this process
stands in for it: for every colour image of camera1 it publishes the recording's ground-truth
keypoints of that frame as /dexmv/hand_pose, stamped with the image's stamp, in camera1's optical
frame. The retarget node finds that frame's pose in `world` through /tf_static, as on a real rig.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import numpy as np

from dexmv_bringup.demo.run_state import DemoRun
from dexmv_bringup.node_process import NodeProcess

START_DELAY_S = 2.0  # camera nodes wait this long so every subscriber has discovered them
# Reliable with a 10-deep history: the perception stand-in in this one Python process sees every
# frame. The node's default, SYSTEM_DEFAULT as realsense-ros, lost 10-25 % of the images here.
IMAGE_QOS = "DEFAULT"
SETTLE_S = 1.0  # after the last frame: time for the last targets to reach the sim and the sim to follow


def _stamp_s(header) -> float:
    return header.stamp.sec + header.stamp.nanosec * 1e-9


def stage_graph(run: DemoRun) -> str:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import Point
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image, JointState
    from tf2_msgs.msg import TFMessage

    from dexmv_capture.synthetic.synthesize import load_ground_truth
    from dexmv_msgs.msg import HandPose, ObjectPoseArray

    rec = run.need("recording")
    arrays, meta = load_ground_truth(rec.ground_truth)
    cams = list(rec.recordings)
    hand_cam = cams[0]
    keypoints = arrays[f"{hand_cam}/keypoints_camera"]
    logs = run.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    nodes: dict[str, NodeProcess] = {}
    context = rclpy.Context()
    try:
        nodes["extrinsics_publisher"] = NodeProcess.start(
            "dexmv_capture", "extrinsics_publisher", log_dir=logs, params={"extrinsics_file": str(rec.extrinsics)})
        nodes["retarget_node"] = NodeProcess.start("dexmv_retarget", "retarget_node", log_dir=logs,
                                                   params={"fps": float(meta["fps"])})
        nodes["sim_node"] = NodeProcess.start("dexmv_sim", "sim_node", log_dir=logs,
                                              params={"task": run.task, "seed": run.seed})
        for name, ready in (("extrinsics_publisher", "published"), ("retarget_node", "ready"),
                            ("sim_node", "simulating")):
            if not nodes[name].wait_for_output(ready, run.timeout):
                raise RuntimeError(f"{name} did not start within {run.timeout} s:\n{nodes[name].output()[-800:]}")

        rclpy.init(context=context)
        node = rclpy.create_node("dexmv_demo", context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        images: dict[str, list[Image]] = {f"{c}/{s}": [] for c in cams for s in ("color", "depth")}
        infos: dict[str, CameraInfo] = {}
        static_frames: dict[str, str] = {}
        targets: list[JointState] = []
        states: list[JointState] = []
        object_poses: list[ObjectPoseArray] = []
        statuses: Counter[str] = Counter()
        reliable = QoSProfile(depth=30, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        hand_pub = node.create_publisher(HandPose, "/dexmv/hand_pose", 10)
        first_stamp: list[float] = []

        def publish_hand(image: Image) -> None:
            """What perception will do: one HandPose per colour image, with the image's stamp."""
            images[f"{hand_cam}/color"].append(image)
            if not first_stamp:
                first_stamp.append(_stamp_s(image.header))
            k = round((_stamp_s(image.header) - first_stamp[0]) * meta["fps"])
            if k >= len(keypoints):
                return
            msg = HandPose(header=image.header, side="right", confidence=1.0)
            msg.keypoints = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in keypoints[k]]
            msg.keypoint_confidence = [1.0] * 21
            hand_pub.publish(msg)

        def on_static(msg: TFMessage) -> None:
            static_frames.update({t.child_frame_id: t.header.frame_id for t in msg.transforms})

        def on_diagnostics(msg: DiagnosticArray) -> None:
            for status in msg.status:
                statuses.update(v.value for v in status.values if v.key == "status")

        for cam in cams:
            base = f"/{cam}/{cam}"
            node.create_subscription(Image, f"{base}/color/image_raw",
                                     publish_hand if cam == hand_cam else images[f"{cam}/color"].append, reliable)
            node.create_subscription(Image, f"{base}/aligned_depth_to_color/image_raw",
                                     images[f"{cam}/depth"].append, reliable)
            node.create_subscription(CameraInfo, f"{base}/color/camera_info",
                                     lambda m, c=cam: infos.__setitem__(c, m), 10)
        node.create_subscription(TFMessage, "/tf_static", on_static, latched)
        node.create_subscription(JointState, "/adroit/joint_targets", targets.append, 100)
        node.create_subscription(JointState, "/adroit/joint_states", states.append, 100)
        node.create_subscription(ObjectPoseArray, "/dexmv/sim/object_poses", object_poses.append, 100)
        node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 100)

        def spin_until(done: Callable[[], bool], timeout: float) -> bool:
            deadline = time.monotonic() + timeout
            while not done() and time.monotonic() < deadline:
                executor.spin_once(timeout_sec=0.02)
            return done()

        for cam, path in rec.recordings.items():
            nodes[f"camera_node_{cam}"] = NodeProcess.start(
                "dexmv_capture", "camera_node", log_dir=logs, log_name=f"camera_node_{cam}",
                params={"recording": str(path), "camera_name": cam, "camera_namespace": cam,
                        "start_delay": START_DELAY_S, "image_qos": IMAGE_QOS})
        played = [nodes[f"camera_node_{c}"] for c in cams]
        if not spin_until(lambda: all("end of recording" in p.output() or p.proc.poll() is not None for p in played),
                          START_DELAY_S + run.seconds * 3 + run.timeout):
            raise RuntimeError("the camera nodes did not reach the end of their recordings")
        spin_until(lambda: False, SETTLE_S)
        for cam in cams:
            if "end of recording" not in nodes[f"camera_node_{cam}"].output():
                raise RuntimeError(f"camera_node {cam} failed:\n{nodes[f'camera_node_{cam}'].output()[-800:]}")
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
    return _summary(run, meta, arrays, cams, images, infos, static_frames, targets, states, object_poses, statuses)


def _summary(run, meta, arrays, cams, images, infos, static_frames, targets, states, object_poses, statuses) -> str:
    frames = int(meta["frames"])
    lines = []
    for cam in cams:
        color, depth = images[f"{cam}/color"], images[f"{cam}/depth"]
        if not color or not depth or cam not in infos:
            raise RuntimeError(f"{cam}: no images or camera_info arrived over DDS")
        c, d = color[0], depth[0]
        if (c.encoding, d.encoding) != ("rgb8", "16UC1"):
            raise RuntimeError(f"{cam}: encodings {c.encoding}/{d.encoding}, expected rgb8/16UC1")
        k_error = np.abs(np.reshape(infos[cam].k, (3, 3)) - arrays[f"{cam}/camera_matrix"]).max()
        lines.append(f"{cam} {len(color)}/{frames} colour + {len(depth)}/{frames} depth images "
                     f"{c.width}x{c.height}, K within {k_error:.1e} px of the recording's")
    missing = [f for f in ("camera1_link", "camera2_link", "camera1_color_optical_frame") if f not in static_frames]
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
    run.products["graph_joint_targets"] = np.array([m.position for m in targets])
    held = statuses.get("HELD", 0)
    lines.append(f"{len(targets)} joint targets from retarget_node for {len(images[cams[0] + '/color'])} hand poses "
                 f"({held} held: {dict(statuses)})")
    lines.append(f"sim_node: {len(states)} joint states, {len(object_poses)} object pose arrays; "
                 f"{SETTLE_S:.0f} s after the last target the arm is within {max(slides) * 1000:.1f} mm and "
                 f"the joints within {max(hinges):.3f} rad of it")
    lines.append("/tf_static: " + ", ".join(f"{p}->{c}" for c, p in sorted(static_frames.items())))
    lines.append("every node stopped cleanly on SIGINT")
    return "\n      ".join(lines)
