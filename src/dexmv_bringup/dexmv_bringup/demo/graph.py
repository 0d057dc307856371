"""Demo stage: the recording played through the real ROS graph that `capture.launch.py` starts.

The stage runs `dexmv launch capture.launch.py` (ROS 2's launch service, as `ros2 launch` runs
it) as a child process on the recording: extrinsics_publisher (the recording's rig) and one
camera_node per camera (the recording at the demo's rate) publish what two D435s on a calibrated
frame would; perception_node turns both cameras' colour and depth into /dexmv/hand_pose and
/dexmv/object_poses in `world`; retarget_node turns hand poses into joint targets; sim_node
follows them in MuJoCo; recorder_node (dexmv_learning) writes the perceived hand and object
poses, the joint targets and states and the simulated object poses into a rosbag2 folder (MCAP),
which the demonstrations stage turns into a robot demonstration. What the launch arguments do
not say (perception's frame rate, hand and image QoS, the recorded topics) is in a params_file
written beside the logs. The recording's ground truth is only used to say how far perception's
keypoints were from it.

Nothing here depends on how fast DDS discovery is: the camera nodes wait for two subscribers on
each image topic (wait_for_subscribers:=2): perception_node, which subscribes once its models are
loaded, and this process, which subscribes only once it has matched perception, retarget, sim and
recorder; both cameras play on one start_time (a node that starts playing later plays that much
behind, stamps unchanged), so perception pairs their frames by stamp, at the demo's --rate (below
1, a busy machine's perception keeps up with every frame; the stamps keep the recorded timeline);
and the stage ends, with SIGINT to launch, only once every published image has arrived,
perception has gone quiet and every hand pose has its joint target (or DRAIN_S ran out, which the
summary shows). A perception that yields no hand is a one-line failure naming the launch log.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable

import numpy as np
import yaml

from dexmv_bringup.demo.run_state import DemoRun
from dexmv_bringup.launch_process import LaunchProcess, missing_launch_modules

# Reliable with a 10-deep history: a busy perception_node works through the newest frames instead of
# losing them. The camera node's default, SYSTEM_DEFAULT as realsense-ros, lost 10-25 % of the images here.
IMAGE_QOS = "DEFAULT"
# perception_node loads MediaPipe and the object models before it says "ready": seconds on a loaded machine
PERCEPTION_READY_S = 90.0
QUIET_S = 2.0  # perception is done when it has published nothing for this long after the recordings ended
# How long a hand pose may wait for camera1's /tf_static at the retarget node: a new process is
# usually discovered within a second, but a missed announcement costs Fast DDS's 3 s period.
TRANSFORM_WAIT_S = 5.0
# After the last frame, how long to wait for images still in flight: reliable delivery is in order,
# and a fragment lost near the end is only resent at the writer's next heartbeat (3 s in Fast DDS).
DRAIN_S = 10.0
SETTLE_S = 1.0  # after the last target arrived: time for the sim to follow it
# Both camera nodes get one start_time (the recording's first frame plays then), so the same
# recorded instant carries the same stamp in both: this far ahead of the launch covers its start-up
# on an idle machine; cameras that play later (perception loading its models) play that much behind,
# stamps unchanged.
START_LEAD_S = 4.0
# The camera nodes play once each image topic has this many subscribers: perception_node and this process.
IMAGE_SUBSCRIBERS = 2
# Seconds launch may take to stop the graph on SIGINT (it gives each node 10 s before SIGTERM).
STOP_S = 60.0
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
    missing = missing_launch_modules()
    if missing:
        raise RuntimeError(f"the graph stage runs capture.launch.py, but ROS 2's launch packages "
                           f"({', '.join(missing)}) are not importable: set DEXMV_LAUNCH_WHEELS to a folder of the "
                           "launch wheels and run `make setup`, or source a ROS 2 install")
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
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
    # perception_node's `objects`: YCB ids, with ":scale" for a scaled one
    objects = [o["object_id"] if float(o.get("scale", 1.0)) == 1.0 else f"{o['object_id']}:{float(o['scale'])}"
               for o in meta.get("objects", {}).values()]
    logs = run.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    bag = (run.out / "bag").resolve()
    if bag.exists():
        import shutil

        shutil.rmtree(bag)  # the demo's own output of an earlier run
    params_file = logs / "graph_params.yaml"
    params_file.write_text(yaml.safe_dump({
        # the recording's rate (frame pairing), the synthetic person's hand, every frame (reliable, 10 deep)
        "perception_node": {"ros__parameters": {"fps": float(meta["fps"]), "hand": "right",
                                                "image_qos": IMAGE_QOS}},
        "retarget_node": {"ros__parameters": {"fps": float(meta["fps"]), "transform_wait": TRANSFORM_WAIT_S}},
        "recorder_node": {"ros__parameters": {"topics": list(RECORDED)}},
    }, sort_keys=False))
    start_time = time.time_ns() + round(START_LEAD_S * 1e9)
    first_stamp = [start_time * 1e-9]  # frame k (recorded at k / fps, from 0) is stamped start_time + k / fps
    arguments = {"recording": str(rec.out_dir.resolve()), "perception": "true", "retarget": "true", "sim": "true",
                 "record": "true", "rviz": "false", "task": run.task, "seed": str(run.seed),
                 "objects": ",".join(objects), "record_output": str(bag), "rate": repr(float(run.rate)),
                 "start_time": str(start_time), "time_origin_ms": "0", "wait_for_subscribers": str(IMAGE_SUBSCRIBERS),
                 "params_file": str(params_file.resolve())}
    if not objects:
        del arguments["objects"]  # a task without objects: perception tracks the hand only
    launch_log = logs / "launch.log"
    (logs / "launch_command.txt").write_text(
        "dexmv launch capture.launch.py " + " ".join(f"{k}:={v}" for k, v in arguments.items()) + "\n")
    graph = LaunchProcess("capture.launch.py", [f"{k}:={v}" for k, v in arguments.items()], launch_log,
                          env={"ROS_LOG_DIR": str((logs / "ros").resolve())})
    context = rclpy.Context()
    try:
        for logger, ready in (("extrinsics_publisher", "published"), ("retarget_node", "ready"),
                              ("sim_node", "simulating"), ("perception_node", "perception_node ready"),
                              ("recorder_node", "recording")):
            graph.wait_for_node_output(logger, ready, max(run.timeout, PERCEPTION_READY_S)
                                       if logger == "perception_node" else run.timeout)

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
        hand_poses: list[HandPose] = []
        perceived_objects: list[ObjectPoseArray] = []
        last_output = [time.monotonic()]

        def on_color(image: Image) -> None:
            images[f"{hand_cam}/color"].add(image)

        def on_hand_pose(msg: HandPose) -> None:
            hand_poses.append(msg)
            last_output[0] = time.monotonic()

        def on_static(msg: TFMessage) -> None:
            static_frames.update({t.child_frame_id: t.header.frame_id for t in msg.transforms})

        def on_diagnostics(msg: DiagnosticArray) -> None:
            for status in msg.status:
                if status.name.startswith("dexmv_perception"):
                    continue  # retarget_node's statuses are counted (perception's are summarised apart)
                statuses.update(v.value for v in status.values if v.key == "status")

        def subscribe_images() -> None:
            """The second subscriber each camera waits for (perception_node is the first): they play then."""
            for cam in cams:
                base = f"/{cam}/{cam}"
                node.create_subscription(CameraInfo, f"{base}/color/camera_info",
                                         lambda m, c=cam: infos.__setitem__(c, m), 10)
                if cam == hand_cam:
                    node.create_subscription(Image, f"{base}/color/image_raw", on_color, reliable)
                else:
                    node.create_subscription(Image, f"{base}/color/image_raw", images[f"{cam}/color"].add, reliable,
                                             raw=True)
                node.create_subscription(Image, f"{base}/aligned_depth_to_color/image_raw",
                                         images[f"{cam}/depth"].add, reliable, raw=True)

        node.create_subscription(TFMessage, "/tf_static", on_static, latched)
        node.create_subscription(JointState, "/adroit/joint_targets", targets.append, 100)
        node.create_subscription(JointState, "/adroit/joint_states", states.append, 100)
        node.create_subscription(ObjectPoseArray, "/dexmv/sim/object_poses", object_poses.append, 100)
        node.create_subscription(HandPose, "/dexmv/hand_pose", on_hand_pose, reliable)
        node.create_subscription(ObjectPoseArray, "/dexmv/object_poses", perceived_objects.append, reliable)
        node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 100)

        def spin_until(done: Callable[[], bool], timeout: float) -> bool:
            """Spin, asking done() (which may read node logs) every 0.1 s, not after every message."""
            deadline = time.monotonic() + timeout
            while not done() and time.monotonic() < deadline:
                graph.fail_if_down()
                check = min(deadline, time.monotonic() + 0.1)
                while time.monotonic() < check:
                    executor.spin_once(timeout_sec=0.02)
            return done()

        # Every link must be matched before the first frame is sent.
        def unmatched() -> list[str]:
            links = {"/dexmv/hand_pose (retarget_node)": node.count_subscribers("/dexmv/hand_pose") - 1}
            links.update({f"{t} ({who})": node.count_publishers(t) for t, who in (
                ("/dexmv/hand_pose", "perception_node"), ("/adroit/joint_targets", "retarget_node"),
                ("/adroit/joint_states", "sim_node"), ("/dexmv/sim/object_poses", "sim_node"))})
            recorder = graph.node_output("recorder_node")  # it logs each topic it subscribes to
            links.update({f"{t} (recorder_node)": int(f"recording {t} [" in recorder) for t in RECORDED})
            return [name for name, count in links.items() if count < 1]

        if not spin_until(lambda: not unmatched(), run.timeout):
            raise RuntimeError(f"DDS did not match {unmatched()} within {run.timeout} s")
        subscribe_images()  # the cameras play now
        if not spin_until(lambda: all("end of recording" in graph.node_output(f"{c}.{c}") for c in cams),
                          run.seconds / run.rate * 3 + 2 * run.timeout):
            raise RuntimeError(f"the camera nodes did not reach the end of their recordings (log {launch_log})")
        for cam in cams:
            found = PUBLISHED.search(graph.node_output(f"{cam}.{cam}"))
            if found is None:
                raise RuntimeError(f"camera_node {cam} failed:\n{graph.node_output(f'{cam}.{cam}')[-800:]}")
            published[cam] = (int(found.group(1)), int(found.group(2)))

        def images_arrived() -> bool:
            return set(STATIC_FRAMES) <= set(static_frames) and all(
                images[f"{c}/{s}"].count >= published[c][0] for c in cams for s in ("color", "depth"))

        spin_until(images_arrived, DRAIN_S)
        # perception works through the frames it holds; a slow machine takes a while after the recording
        last_output[0] = max(last_output[0], time.monotonic())
        spin_until(lambda: time.monotonic() - last_output[0] > QUIET_S, run.seconds * 20 + 2 * run.timeout)
        seen = [m for m in hand_poses if m.confidence > 0]
        if not seen:
            raise RuntimeError(f"perception_node published {len(hand_poses)} hand poses and none with a hand "
                               f"detected (see perception_node's lines in {launch_log})")
        spin_until(lambda: len(targets) >= len(hand_poses), DRAIN_S)
        spin_until(lambda: False, SETTLE_S)
    finally:
        rclpy.try_shutdown(context=context)
        code, left = graph.interrupt(STOP_S)  # SIGINT to launch, which passes it to every node
    graph.stopped_cleanly(code, left)
    closed = CLOSED.search(graph.node_output("recorder_node"))
    if closed is None:
        raise RuntimeError(f"recorder_node did not close its bag:\n{graph.node_output('recorder_node')[-800:]}")
    run.products["bag"] = bag
    bag_line = f"recorder_node: {bag} closed on SIGINT with {closed.group(2)} messages over {closed.group(3)} s"
    launch_line = (f"capture.launch.py run by ROS 2's launch service: {graph.started()} nodes, each finished cleanly "
                   f"on SIGINT (command: {logs / 'launch_command.txt'}, log: {launch_log})")
    if targets:
        run.products["graph_joint_targets"] = (
            np.array([round((_stamp_s(m.header) - first_stamp[0]) * meta["fps"]) for m in targets], dtype=int),
            np.array([m.position for m in targets]))
    perceived = _perception_summary(meta, arrays, first_stamp, hand_poses, perceived_objects)
    return _summary(meta, arrays, cams, images, infos, static_frames, targets, states, object_poses, statuses,
                    published, len(hand_poses), perceived) + "\n      " + bag_line + "\n      " + launch_line


def _perception_summary(meta, arrays, first_stamp, hand_poses, perceived_objects) -> str:
    """perception_node's output against the recording's ground truth (frames found from the stamps)."""
    truth = arrays["keypoints_world"]
    errors = []
    for msg in hand_poses:
        k = round((_stamp_s(msg.header) - first_stamp[0]) * meta["fps"]) if first_stamp else -1
        ok = np.array(msg.keypoint_confidence) > 0
        if 0 <= k < len(truth) and ok.any() and msg.confidence > 0:
            kp = np.array([[p.x, p.y, p.z] for p in msg.keypoints])
            errors.append(float(np.linalg.norm(kp[ok] - truth[k][ok], axis=1).mean()))
    found = sum(1 for a in perceived_objects if any(o.confidence > 0 for o in a.objects))
    text = (f"perception_node: {len(hand_poses)} hand poses for {int(meta['frames'])} frames, "
            f"{sum(m.confidence > 0 for m in hand_poses)} with the hand")
    if errors:
        text += f" (mean keypoint error {1000 * np.mean(errors):.1f} mm against the ground truth)"
    if perceived_objects:
        text += f"; {len(perceived_objects)} object pose arrays, {found} with an object found"
    return text


def _summary(meta, arrays, cams, images, infos, static_frames, targets, states, object_poses, statuses,
             published, hand_poses, perceived) -> str:
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
    lines.append(perceived)
    lines.append(f"{len(targets)} joint targets from retarget_node for {hand_poses} hand poses "
                 f"({held} held: {dict(statuses)})")
    lines.append(f"sim_node: {len(states)} joint states, {len(object_poses)} object pose arrays; "
                 f"{SETTLE_S:.0f} s after the last target arrived the arm is within {max(slides) * 1000:.1f} mm and "
                 f"the joints within {max(hinges):.3f} rad of it")
    lines.append("/tf_static: " + ", ".join(f"{p}->{c}" for c, p in sorted(static_frames.items())))
    lines.append("every node stopped cleanly on SIGINT")
    return "\n      ".join(lines)
