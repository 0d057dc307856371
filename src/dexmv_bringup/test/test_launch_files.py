"""Each launch file started by ROS 2's own launch service (`dexmv launch` = ros2launch's
launch_a_launch_file) against short real inputs: topics flow over DDS, every node runs with the
parameters of config/ (declared by it, values applied), each node's real publishers and
subscriptions are the ones config/interfaces.yaml declares, and Ctrl-C leaves no process behind.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

from dexmv_bringup.graph_check import load_interfaces, node_topics
from dexmv_bringup.launch_graph import capture_graph, deploy_graph, executable_exists, replay_graph, share_dir
from dexmv_bringup.launch_graph import sim_graph as make_sim_graph

ROS_OWN = {"/rosout", "/parameter_events"}
LAUNCH_DIR = share_dir() / "launch"
TIMEOUT = 60.0


def with_defaults(launch_file: str, args: dict[str, str]) -> dict[str, str]:
    """The values the launch file's graph receives: its declared defaults, then `args`."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("launch_file", LAUNCH_DIR / launch_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {**{name: default for name, default, _ in module.ARGUMENTS}, **args}


def _spin(node, done, timeout: float = TIMEOUT) -> bool:
    from rclpy.executors import SingleThreadedExecutor

    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done():
            executor.spin_once(timeout_sec=0.05)
        return bool(done())
    finally:
        executor.remove_node(node)


def _call(node, srv_type, name: str, request):
    client = node.create_client(srv_type, name)
    try:
        assert _spin(node, client.service_is_ready, 30.0), f"service {name} did not appear"
        future = client.call_async(request)
        assert _spin(node, future.done, 15.0), f"{name} did not answer"
        return future.result()
    finally:
        node.destroy_client(client)


def check_parameters(node, spec) -> None:
    """Every parameter of the node's config files is declared by the running node and has the file's value."""
    from rcl_interfaces.srv import GetParameters, ListParameters
    from rclpy.parameter import parameter_value_to_python

    expected = spec.resolved_params()
    declared = set(_call(node, ListParameters, f"{spec.fqn}/list_parameters", ListParameters.Request()).result.names)
    undeclared = sorted(set(expected) - declared)
    assert not undeclared, f"{spec.name}: {undeclared} set by config/launch but not declared by the node"
    names = sorted(expected)
    values = _call(node, GetParameters, f"{spec.fqn}/get_parameters", GetParameters.Request(names=names)).values
    got = {n: parameter_value_to_python(v) for n, v in zip(names, values, strict=True)}
    for name in names:
        want = expected[name]
        assert got[name] == pytest.approx(want) if isinstance(want, float) else got[name] == want, (
            f"{spec.name}.{name}: {got[name]!r}, config says {want!r}")


def check_interfaces(node, graph) -> None:
    """The running nodes publish and subscribe exactly what config/interfaces.yaml declares."""
    interfaces = load_interfaces(share_dir() / "config" / "interfaces.yaml")
    declared = {spec.fqn: node_topics(spec, interfaces) for spec in graph.nodes}

    def actual(fqn: str) -> tuple[set[str], set[str]]:
        namespace, _, name = fqn.rpartition("/")
        pubs = {t for t, _ in node.get_publisher_names_and_types_by_node(name, namespace or "/")} - ROS_OWN
        subs = {t for t, _ in node.get_subscriber_names_and_types_by_node(name, namespace or "/")} - ROS_OWN
        return pubs, subs

    def matches() -> bool:
        try:
            return all((d.publishes is None or actual(n)[0] == d.publishes) and actual(n)[1] == d.subscribes
                       for n, d in declared.items())
        except Exception:  # the node is not discovered yet
            return False

    if not _spin(node, matches, 30.0):
        for name, d in declared.items():
            try:
                pubs, subs = actual(name)
            except Exception as err:
                pytest.fail(f"{name} is not in the ROS graph: {err}")
            assert d.publishes is None or pubs == d.publishes, f"{name} publishes {sorted(pubs)}, declared " \
                                                               f"{sorted(d.publishes)} (config/interfaces.yaml)"
            assert subs == d.subscribes, f"{name} subscribes to {sorted(subs)}, declared {sorted(d.subscribes)}"


def stop_cleanly(run) -> None:
    code, left = run.interrupt()
    out = run.output()
    assert not left, f"processes left after Ctrl-C: {left}\n{out[-2000:]}"
    assert "process has died" not in out, out[-3000:]
    assert code == 0, f"launch exited {code}:\n{out[-2000:]}"
    run.stopped_cleanly(code, left)  # the demo stages' check: also every node started finished cleanly


def test_capture_launch_recording_through_cameras_tf_retarget_and_sim(launched, recording, ros_node, tmp_path):
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image, JointState
    from tf2_msgs.msg import TFMessage

    extra = tmp_path / "params.yaml"  # params_file: applied to every node after config/
    extra.write_text("retarget_node:\n  ros__parameters:\n    transform_wait: 2.5\n")
    start_ns = time.time_ns() + 5_000_000_000
    args = {"recording": str(recording.out_dir), "perception": "false", "rviz": "false", "wait_for_subscribers": "1",
            "rate": "0.5", "start_time": str(start_ns), "time_origin_ms": "0", "params_file": str(extra)}
    run = launched("capture.launch.py", *(f"{k}:={v}" for k, v in args.items()))
    graph = capture_graph(with_defaults("capture.launch.py", args))
    assert [n.name for n in graph.nodes] == ["camera1", "camera2", "extrinsics_publisher", "retarget_node",
                                             "sim_node"]
    counts: dict[str, int] = {}
    frames: dict[str, str] = {}
    stamps: dict[str, list[int]] = {}  # camera -> camera_info stamps (ns), one per frame
    reliable = QoSProfile(depth=30, reliability=ReliabilityPolicy.RELIABLE)
    for cam in ("camera1", "camera2"):
        for topic in (f"/{cam}/{cam}/color/image_raw", f"/{cam}/{cam}/aligned_depth_to_color/image_raw"):
            ros_node.create_subscription(Image, topic, lambda m, t=topic: counts.__setitem__(t, counts.get(t, 0) + 1),
                                         reliable, raw=True)
        ros_node.create_subscription(CameraInfo, f"/{cam}/{cam}/color/camera_info",
                                     lambda m, c=cam: stamps.setdefault(c, []).append(
                                         m.header.stamp.sec * 10**9 + m.header.stamp.nanosec),
                                     QoSProfile(depth=30, reliability=ReliabilityPolicy.RELIABLE))
    ros_node.create_subscription(
        TFMessage, "/tf_static", lambda m: frames.update({t.child_frame_id: t.header.frame_id for t in m.transforms}),
        QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL))
    ros_node.create_subscription(JointState, "/adroit/joint_states",
                                 lambda m: counts.__setitem__("states", counts.get("states", 0) + 1), 10)
    image_topics = [f"/{c}/{c}/{s}/image_raw" for c in ("camera1", "camera2")
                    for s in ("color", "aligned_depth_to_color")]
    want_frames = {"camera1_link", "camera2_link", "camera1_color_optical_frame", "camera2_color_optical_frame"}

    def flowing() -> bool:
        return (all(counts.get(t, 0) >= recording.frames for t in image_topics) and want_frames <= set(frames)
                and counts.get("states", 0) > 10 and all(len(stamps.get(c, [])) >= recording.frames
                                                         for c in ("camera1", "camera2")))

    ok = _spin(ros_node, flowing)
    assert ok, f"topics did not flow: {counts}, /tf_static {frames}\n{run.output()[-3000:]}"
    assert frames["camera1_link"] == "world" and frames["camera1_color_optical_frame"] == "camera1_color_frame"
    assert frames["camera1_color_frame"] == "camera1_link"  # realsense-ros's tree
    # start_time and time_origin_ms: one time base for both cameras, frame k stamped start_time + k / fps;
    # rate 0.5: played at half the recorded speed (a loaded machine keeps up), the stamps keep the recorded timeline
    want = [start_ns + round(k * 1e9 / 10.0) for k in range(recording.frames)]  # conftest: 10 fps
    for cam in ("camera1", "camera2"):
        assert stamps[cam][:recording.frames] == pytest.approx(want, abs=1e6), (cam, stamps[cam][:3], want[:3])
    for spec in graph.nodes:
        check_parameters(ros_node, spec)
    check_interfaces(ros_node, graph)
    stop_cleanly(run)


def test_capture_launch_records_a_recording_and_its_cameras_exit_at_its_end(launched, recording, tmp_path):
    """exit_at_end: each camera node exits 0 after its last frame while the graph runs on; the recorder
    writes every image into record_output, the folder named, and closes it on Ctrl-C."""
    if not executable_exists("dexmv_learning", "recorder_node"):
        pytest.skip("dexmv_learning's recorder_node is not built")
    bag = tmp_path / "bag"
    run = launched("capture.launch.py", f"recording:={recording.out_dir}", "perception:=false", "retarget:=false",
                   "sim:=false", "rviz:=false", "real_time:=false", "exit_at_end:=true", "wait_for_subscribers:=1",
                   "record:=true", "record_images:=true", f"record_output:={bag}")
    deadline = time.monotonic() + TIMEOUT
    while run.output().count("process has finished cleanly") < 2:  # the two camera nodes
        assert time.monotonic() < deadline and run.proc.poll() is None, run.output()[-3000:]
        time.sleep(0.2)
    out = run.output()
    assert out.count(f"end of recording: published {recording.frames} frames") == 2, out[-3000:]
    assert all(f"[camera_node-{i}]: process has finished cleanly" in out for i in (1, 2)), out[-3000:]
    stop_cleanly(run)
    closed = re.search(rf"closed {re.escape(str(bag))}: (\d+) messages", run.output())
    assert closed and int(closed.group(1)) >= 4 * recording.frames, run.output()[-3000:]
    assert (bag / "metadata.yaml").is_file()


def test_sim_launch_steps_and_stops(launched, ros_node):
    from sensor_msgs.msg import JointState

    from dexmv_msgs.msg import ObjectPoseArray

    args = {"task": "relocate-sugar_box", "seed": "3", "rviz": "false"}
    run = launched("sim", *(f"{k}:={v}" for k, v in args.items()))
    run.wait_for_node_output("sim_node", "simulating", TIMEOUT)  # what the demo's stages wait on
    with pytest.raises(RuntimeError, match="sim_node did not start within 0 s"):
        run.wait_for_node_output("sim_node", "a line it never logs", 0.3)
    got: dict[str, list] = {"states": [], "objects": []}
    ros_node.create_subscription(JointState, "/adroit/joint_states", got["states"].append, 10)
    ros_node.create_subscription(ObjectPoseArray, "/dexmv/sim/object_poses", got["objects"].append, 10)
    assert _spin(ros_node, lambda: len(got["states"]) > 20 and got["objects"]), run.output()[-3000:]
    assert len(got["states"][-1].name) == 30
    assert got["objects"][-1].objects[0].object_id == "004_sugar_box"
    graph = make_sim_graph(with_defaults("sim.launch.py", args))
    for spec in graph.nodes:
        check_parameters(ros_node, spec)
    check_interfaces(ros_node, graph)
    stop_cleanly(run)



def test_launch_started_with_sigint_ignored_still_stops_on_sigint(launch_available, ros_node, tmp_path):
    """A shell's `&` starts a background job with SIGINT ignored, and Python then installs no handler;
    launch's Ctrl-C handling needs that handler: `dexmv launch` restores it, so `kill -INT` still
    stops every node."""
    import contextlib
    import os
    import signal
    import subprocess
    import sys

    from sensor_msgs.msg import JointState

    from dexmv_bringup.launch_process import session_processes

    log = tmp_path / "launch.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "dexmv_bringup.cli.main", "launch", "sim",
                                 "task:=relocate-mug", "rviz:=false"], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        states: list = []
        ros_node.create_subscription(JointState, "/adroit/joint_states", states.append, 10)
        assert _spin(ros_node, lambda: len(states) > 5), log.read_text()[-3000:]
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
        deadline = time.monotonic() + 5.0
        while session_processes(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert code == 0 and not session_processes(proc.pid), log.read_text()[-3000:]
    finally:
        for pid, _ in session_processes(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()

def _joint_target_bag(path: Path, n: int = 20, hz: float = 20.0) -> list:
    """A rosbag2 folder of n JointState targets closing the index finger, written with rosbags."""
    from rclpy.serialization import serialize_message
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore
    from sensor_msgs.msg import JointState

    from dexmv_sim.adroit import ADROIT_JOINTS

    typestore = get_typestore(Stores.ROS2_JAZZY)
    sent = []
    with Writer(path, version=9) as writer:
        conn = writer.add_connection("/adroit/joint_targets", "sensor_msgs/msg/JointState", typestore=typestore)
        for i in range(n):
            msg = JointState(name=list(ADROIT_JOINTS), position=[0.0] * 30)
            msg.position[ADROIT_JOINTS.index("FFJ2")] = 1.2 * i / (n - 1)
            writer.write(conn, int(1e18 + i * 1e9 / hz), serialize_message(msg))
            sent.append(msg)
    return sent


def test_replay_launch_plays_a_bag_into_the_sim(launched, ros_node, tmp_path):
    from sensor_msgs.msg import JointState

    from dexmv_sim.adroit import ADROIT_JOINTS

    sent = _joint_target_bag(tmp_path / "bag")
    args = {"bag": str(tmp_path / "bag"), "rviz": "false", "wait_for_subscribers": "2"}  # sim_node and this test
    run = launched("replay.launch.py", *(f"{k}:={v}" for k, v in args.items()))
    targets, states = [], []
    ros_node.create_subscription(JointState, "/adroit/joint_targets", targets.append, 100)
    ros_node.create_subscription(JointState, "/adroit/joint_states", states.append, 10)
    assert _spin(ros_node, lambda: "end of bag: published 20 messages" in run.output() and states), \
        run.output()[-3000:]
    _spin(ros_node, lambda: len(targets) >= len(sent), 5.0)
    assert [list(m.position) for m in targets] == [list(m.position) for m in sent]
    ff = ADROIT_JOINTS.index("FFJ2")
    assert _spin(ros_node, lambda: states[-1].position[ff] > 0.8, 10.0), "the sim did not follow the bag's targets"
    graph = replay_graph(with_defaults("replay.launch.py", args))
    for spec in graph.nodes:
        check_parameters(ros_node, spec)
    check_interfaces(ros_node, graph)
    stop_cleanly(run)


def test_ctrl_c_in_a_terminal_stops_the_graph(launched, tmp_path):
    """A terminal's Ctrl-C reaches the whole process group: each node gets SIGINT from the terminal
    and again from launch, and must still exit cleanly."""
    _joint_target_bag(tmp_path / "bag")
    run = launched("replay.launch.py", f"bag:={tmp_path / 'bag'}", "sim:=false", "rviz:=false")
    deadline = time.monotonic() + TIMEOUT
    while "end of bag" not in run.output() and time.monotonic() < deadline and run.proc.poll() is None:
        time.sleep(0.1)
    assert "end of bag: published 20 messages" in run.output(), run.output()[-3000:]
    code, left = run.interrupt(group=True)
    out = run.output()
    assert not left and code == 0 and "process has finished cleanly" in out, out[-3000:]
    assert "Traceback" not in out and "process has died" not in out, out[-3000:]


def test_deploy_launch_runs_a_policy(launched, ros_node, tmp_path):
    """A real (tiny) `dexmv train` run deployed by deploy.launch.py: policy_node's joint targets
    reach sim_node, which follows them; parameters and interfaces as declared; Ctrl-C is clean."""
    import subprocess
    import sys

    from sensor_msgs.msg import JointState

    run_dir = tmp_path / "run"
    train = subprocess.run([sys.executable, "-m", "dexmv_bringup.cli.main", "train", "--task",
                            "relocate-tomato_soup_can", "--algo", "rl", "--iterations", "1", "--trajectories", "2",
                            "--horizon", "10", "--workers", "1", "--eval-every", "0", "--out", str(run_dir),
                            "--no-progress"], capture_output=True, text=True, timeout=300, check=False)
    assert train.returncode == 0, train.stderr[-3000:]
    args = {"run": str(run_dir), "task": "relocate-tomato_soup_can", "rviz": "false"}
    run = launched("deploy.launch.py", *(f"{k}:={v}" for k, v in args.items()))
    got: dict[str, list] = {"targets": [], "states": []}
    ros_node.create_subscription(JointState, "/adroit/joint_targets", got["targets"].append, 10)
    ros_node.create_subscription(JointState, "/adroit/joint_states", got["states"].append, 10)
    assert _spin(ros_node, lambda: len(got["targets"]) > 20 and len(got["states"]) > 20), run.output()[-3000:]
    assert len(got["targets"][-1].name) == 30 and all(np.isfinite(got["targets"][-1].position))
    graph = deploy_graph(with_defaults("deploy.launch.py", args))
    for spec in graph.nodes:
        check_parameters(ros_node, spec)
    check_interfaces(ros_node, graph)
    stop_cleanly(run)


def test_a_bad_argument_is_one_clear_line_and_no_node_starts(launched, tmp_path):
    run = launched("capture.launch.py", f"recording:={tmp_path / 'nowhere'}", "rviz:=false")
    code = run.proc.wait(timeout=TIMEOUT)
    out = run.output()
    assert code != 0 and "launch argument recording:=" in out and "not a folder" in out, out
    assert "process started" not in out, out
    with pytest.raises(RuntimeError, match=r"capture\.launch\.py failed"):
        run.fail_if_down()


def test_a_node_that_is_not_built_is_named_before_anything_starts(launched, recording, tmp_path):
    capture_args = [f"recording:={recording.out_dir}", "perception:=false", "record:=true", "rviz:=false"]
    cases = [("capture.launch.py", capture_args, "record:=true needs dexmv_learning's recorder_node", "recorder_node")]
    cases.append(("deploy.launch.py", [f"run:={tmp_path}", "rviz:=false"],
                  "deploy.launch.py needs dexmv_learning's policy_node", "policy_node"))
    for launch_file, args, text, executable in cases:
        if executable_exists("dexmv_learning", executable):
            continue  # built: the graph tests cover it
        run = launched(launch_file, *args)
        code = run.proc.wait(timeout=TIMEOUT)
        out = run.output()
        assert code != 0 and text in out and "process started" not in out, out


def test_launch_kills_a_stuck_node_only_after_its_watchdog_printed_its_stacks(launch_available):
    """A node stuck on SIGINT prints every thread's stack and exits 1 SHUTDOWN_LIMIT_S after the signal
    (dexmv_runtime.node_main); launch's SIGTERM must not stop it sooner and its SIGKILL must come later."""
    from dexmv_runtime.node_main import SHUTDOWN_LIMIT_S
    from launch import LaunchContext
    from launch.utilities import perform_substitutions

    from dexmv_bringup.launch_actions import node_action
    from dexmv_bringup.launch_graph import NodeSpec

    action = node_action(NodeSpec("dexmv_capture", "camera_node", "camera1"))
    context = LaunchContext()
    seconds = {name: float(perform_substitutions(context, getattr(action, f"_ExecuteLocal__{name}")))
               for name in ("sigterm_timeout", "sigkill_timeout")}
    assert seconds["sigterm_timeout"] >= 10.0, seconds
    assert seconds["sigterm_timeout"] + seconds["sigkill_timeout"] >= SHUTDOWN_LIMIT_S + 5.0, seconds
