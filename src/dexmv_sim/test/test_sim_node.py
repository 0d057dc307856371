"""The sim node in its own process over real DDS: reacts to joint targets, publishes joint states,
object poses, TF and markers, resets through its service, /clock when faster than real time, and
shuts down cleanly on SIGINT."""

import itertools
import json
import math
import time

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from dexmv_msgs.msg import ObjectPoseArray
from dexmv_msgs.srv import ResetEpisode
from dexmv_sim.adroit import ADROIT_JOINTS

LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class Latest:
    def __init__(self) -> None:
        self.msg = None
        self.count = 0

    def __call__(self, msg) -> None:
        self.msg = msg
        self.count += 1


def test_sim_node_over_dds(ros_node, spin_until, run_node):
    proc = run_node("dexmv_sim", "sim_node", params={"task": "relocate-tomato_soup_can", "seed": 1})
    joints, poses, tf, markers = Latest(), Latest(), Latest(), Latest()
    ros_node.create_subscription(JointState, "/adroit/joint_states", joints, 10)
    ros_node.create_subscription(ObjectPoseArray, "/dexmv/sim/object_poses", poses, 10)
    ros_node.create_subscription(TFMessage, "/tf", tf, 100)
    ros_node.create_subscription(MarkerArray, "/dexmv/markers", markers, LATCHED)
    ok = spin_until(ros_node, lambda: joints.msg and poses.msg and tf.msg and markers.msg, timeout=30)
    assert ok, f"no output from the node:\n{proc.output()}"
    assert list(joints.msg.name) == list(ADROIT_JOINTS) and len(joints.msg.position) == 30
    (can,) = poses.msg.objects
    assert can.object_id == "005_tomato_soup_can" and poses.msg.header.frame_id == "world"
    assert can.pose.position.z == pytest.approx(0.0505, abs=0.003)  # standing on the table
    frames = {t.child_frame_id: t for t in tf.msg.transforms}
    assert {"sim/palm", "sim/ffdistal", "sim/005_tomato_soup_can"} <= set(frames)
    assert all(t.header.frame_id == "world" for t in tf.msg.transforms)
    geometry = [m for m in markers.msg.markers if m.ns == "sim" and m.action == Marker.ADD]
    assert any(m.type == Marker.MESH_RESOURCE and m.header.frame_id == "sim/palm" for m in geometry)
    assert any(m.header.frame_id == "sim/005_tomato_soup_can" and m.type == Marker.CYLINDER for m in geometry)

    # joint targets by name move the hand (index finger flexes, wrist slide moves)
    targets = JointState(name=["FFJ2", "ARTy"], position=[1.2, 0.1])
    pub = ros_node.create_publisher(JointState, "/adroit/joint_targets", 10)
    ffj2, arty = ADROIT_JOINTS.index("FFJ2"), ADROIT_JOINTS.index("ARTy")

    def moved() -> bool:
        pub.publish(targets)
        return joints.msg.position[ffj2] > 1.1 and abs(joints.msg.position[arty] - 0.1) < 0.01

    assert spin_until(ros_node, moved, timeout=20), f"hand did not follow targets: {joints.msg.position}"
    palm_before = frames["sim/palm"].transform.translation.z
    count = tf.count  # TF messages from after the joints moved (the latest one may predate them)
    spin_until(ros_node, lambda: tf.count > count + 3, timeout=5)
    palm_after = {t.child_frame_id: t for t in tf.msg.transforms}["sim/palm"].transform.translation.z
    assert palm_after > palm_before + 0.05  # ARTy lifts the hand by 0.1 m; TF follows

    # reset into another task: object poses switch to the mug, targets back to the initial pose
    client = ros_node.create_client(ResetEpisode, "/dexmv/sim/reset_episode")
    assert client.wait_for_service(timeout_sec=10)
    future = client.call_async(ResetEpisode.Request(task="relocate-mug", seed=3))
    assert spin_until(ros_node, future.done, timeout=20)
    reply = future.result()
    assert reply.success and reply.task == "relocate-mug", reply.message

    def mug_episode() -> bool:
        return (poses.msg.objects[0].object_id == "025_mug" and joints.msg.position[ffj2] < 0.05)

    assert spin_until(ros_node, mug_episode, timeout=20)
    future = client.call_async(ResetEpisode.Request(task="stack-blocks", seed=0))
    assert spin_until(ros_node, future.done, timeout=20)
    assert not future.result().success and "unknown task" in future.result().message
    # a bad seed changes nothing: the mug episode keeps running
    future = client.call_async(ResetEpisode.Request(task="relocate-sugar_box", seed=-1))
    assert spin_until(ros_node, future.done, timeout=20)
    reply = future.result()
    assert not reply.success and reply.task == "relocate-mug" and "seed" in reply.message, reply.message
    count = poses.count
    spin_until(ros_node, lambda: poses.count > count + 3, timeout=5)
    assert poses.msg.objects[0].object_id == "025_mug"

    # rejected targets: counted per reason on /diagnostics, each reason logged
    diagnostics = Latest()
    ros_node.create_subscription(DiagnosticArray, "/diagnostics", diagnostics, 10)
    bad = [JointState(name=["index_mcp"], position=[0.1]), JointState(name=["FFJ2"], position=[math.nan]),
           JointState(name=["FFJ2", "ARTx"], position=[0.1])]

    def counted() -> bool:
        for msg in bad:
            pub.publish(msg)
        if diagnostics.msg is None:
            return False
        values = {v.key: v.value for v in diagnostics.msg.status[0].values}
        return all(int(values.get(f"rejected/{r}", 0)) > 0 for r in ("unknown_joint", "not_finite", "length_mismatch"))

    assert spin_until(ros_node, counted, timeout=20), diagnostics.msg
    values = {v.key: v.value for v in diagnostics.msg.status[0].values}
    assert float(values["achieved_rate_hz"]) > 0 and values["task"] == "relocate-mug"
    assert proc.interrupt() == 0, proc.output()
    out = proc.output()
    assert "Traceback" not in out
    for reason in ("unknown_joint", "not_finite", "length_mismatch"):
        assert f"ignored ({reason}" in out, out


def test_sim_node_faster_than_real_time_publishes_clock(ros_node, spin_until, run_node):
    proc = run_node("dexmv_sim", "sim_node", params={"task": "relocate-large_clamp", "real_time": False,
                                                     "publish_every": 10})
    clock = Latest()
    ros_node.create_subscription(Clock, "/clock", clock, 10)
    assert spin_until(ros_node, lambda: clock.msg is not None, timeout=30), proc.output()
    first = clock.msg.clock.sec + clock.msg.clock.nanosec * 1e-9
    wall = time.monotonic()
    spin_until(ros_node, lambda: False, timeout=2.0)
    advanced = clock.msg.clock.sec + clock.msg.clock.nanosec * 1e-9 - first
    assert advanced > 1.5 * (time.monotonic() - wall), f"sim time advanced {advanced:.2f} s"
    # /clock stays monotonic across a reset; the episode topic marks where the new episode starts
    stamps, episodes = [], Latest()
    ros_node.create_subscription(Clock, "/clock", lambda m: stamps.append(m.clock.sec + m.clock.nanosec * 1e-9), 100)
    ros_node.create_subscription(String, "/dexmv/sim/episode", episodes, LATCHED)
    client = ros_node.create_client(ResetEpisode, "/dexmv/sim/reset_episode")
    assert client.wait_for_service(timeout_sec=10)
    spin_until(ros_node, lambda: len(stamps) > 5, timeout=5)
    before = stamps[-1]
    future = client.call_async(ResetEpisode.Request(task="", seed=2))
    assert spin_until(ros_node, future.done, timeout=20) and future.result().success
    spin_until(ros_node, lambda: episodes.msg is not None and json.loads(episodes.msg.data)["episode"] == 1,
               timeout=10)
    episode = json.loads(episodes.msg.data)
    assert episode["seed"] == 2 and episode["start_time"] >= before
    count = len(stamps)
    spin_until(ros_node, lambda: len(stamps) > count + 20, timeout=5)
    assert all(b >= a for a, b in itertools.pairwise(stamps)), "/clock went back"
    assert proc.interrupt() == 0, proc.output()


def test_sim_node_with_a_horizon_reports_each_episode_as_the_task_scores_it(ros_node, spin_until, run_node):
    """Every `horizon` steps: the episode's success and score on /dexmv/sim/episode_result, equal to
    the same episode run offline (same seed, no targets: the hand holds its start), then the next seed."""
    import numpy as np

    from dexmv_sim.simulation import TaskSimulation

    task = "relocate-tomato_soup_can"
    proc = run_node("dexmv_sim", "sim_node", params={"task": task, "seed": 5, "real_time": False, "horizon": 40,
                                                     "publish_every": 20})
    results: list[dict] = []
    latched_all = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
    ros_node.create_subscription(String, "/dexmv/sim/episode_result", lambda m: results.append(json.loads(m.data)),
                                 latched_all)
    assert spin_until(ros_node, lambda: len(results) >= 3, timeout=30), proc.output()
    assert [r["seed"] for r in results[:3]] == [5, 6, 7] and [r["episode"] for r in results[:3]] == [0, 1, 2]
    for r in results[:3]:
        sim = TaskSimulation(task)
        sim.reset(np.random.default_rng(r["seed"]))
        for _ in range(40):
            sim.step_targets(sim.targets)
        offline = sim.evaluate()
        assert r["task"] == task and r["steps"] == 40
        assert r["success"] == bool(offline.success) and abs(r["score"] - offline.score) < 1e-5, (r, offline)
    assert proc.interrupt() == 0, proc.output()
