"""The retarget node as its own process over Fast DDS: HandPose in, JointState, diagnostics, markers out."""

import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import Point, TransformStamped
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import JointState
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from dexmv_msgs.msg import HandPose
from dexmv_retarget.kinematics import AdroitKinematics
from dexmv_retarget.palm_frame import mirror_hand
from dexmv_sim.adroit import ADROIT_JOINTS

STATIC = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


@pytest.fixture(scope="module")
def kin():
    return AdroitKinematics()


def _hand_pose(kp: np.ndarray, frame: str, side: str = "right") -> HandPose:
    msg = HandPose()
    msg.header.frame_id = frame
    msg.side = side
    msg.confidence = 1.0
    msg.keypoints = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in kp]
    msg.keypoint_confidence = [1.0] * 21
    return msg


class _Listener:
    def __init__(self, node):
        self.joints: list[JointState] = []
        self.diagnostics: list[DiagnosticStatus] = []
        self.markers: list[MarkerArray] = []
        node.create_subscription(JointState, "/adroit/joint_targets", self.joints.append, RELIABLE)
        node.create_subscription(DiagnosticArray, "/diagnostics",
                                 lambda m: self.diagnostics.extend(s for s in m.status if "retarget" in s.name),
                                 RELIABLE)
        node.create_subscription(MarkerArray, "/dexmv/markers", self.markers.append, RELIABLE)
        self.pub = node.create_publisher(HandPose, "/dexmv/hand_pose", qos_profile_sensor_data)


def _send_until(ros_node, spin_until, listener, msg, count, timeout=30.0, until=None):
    """Publish msg every spin until `count` joint targets arrived (discovery takes a moment) and, if
    given, `until(latest JointState)` holds (e.g. once /tf_static has reached the node)."""
    def received():
        if len(listener.joints) >= count and (until is None or until(listener.joints[-1])):
            return True
        listener.pub.publish(msg)
        return False
    return spin_until(ros_node, received, timeout=timeout)


def _pose(kin, seed):
    rng = np.random.default_rng(seed)
    q = np.clip(np.zeros(30) + rng.uniform(-0.2, 0.2, 30), kin.lower, kin.upper)
    q[8:] = rng.uniform(kin.lower[8:] * 0.6 + kin.upper[8:] * 0.4, kin.upper[8:] * 0.6 + kin.lower[8:] * 0.4)
    return kin.project(q)  # a pose the hand can take (its DIP-PIP couplings)


def test_hand_pose_in_world_becomes_joint_targets(run_node, ros_node, spin_until, kin):
    node = run_node("dexmv_retarget", "retarget_node", params={"filter_cutoff_hz": 0.0})
    assert node.wait_for_output("retarget_node ready"), node.output()
    listener = _Listener(ros_node)
    q = _pose(kin, 0)
    msg = _hand_pose(kin.keypoints(q), "world")
    msg.header.stamp.sec = 1234
    assert _send_until(ros_node, spin_until, listener, msg, 3), node.output()
    assert spin_until(ros_node, lambda: listener.diagnostics and listener.markers, timeout=10), node.output()
    out = listener.joints[-1]
    assert list(out.name) == list(ADROIT_JOINTS)
    assert out.header.stamp.sec == 1234
    got = np.array(out.position)
    assert np.all(got >= kin.lower) and np.all(got <= kin.upper)
    assert np.abs(got[8:] - q[8:]).max() < 0.05, np.abs(got - q).round(3)
    status = listener.diagnostics[-1]
    assert status.level == DiagnosticStatus.OK, status.message
    values = {kv.key: kv.value for kv in status.values}
    assert float(values["tsv_error_mm"]) < 1.0 and float(values["solve_time_ms"]) > 0
    namespaces = {m.ns for arr in listener.markers for m in arr.markers}
    assert namespaces == {"retarget"}
    # The same hand seen as a left hand (its mirror image) comes back as the same right-hand joints.
    left = _hand_pose(mirror_hand(kin.keypoints(q)), "world", side="left")
    n = len(listener.joints)
    assert _send_until(ros_node, spin_until, listener, left, n + 3), node.output()
    assert np.abs(np.array(listener.joints[-1].position)[8:] - q[8:]).max() < 0.05


def test_camera_frame_poses_use_tf_static_and_missing_palm_holds(run_node, ros_node, spin_until, kin):
    node = run_node("dexmv_retarget", "retarget_node", params={"filter_cutoff_hz": 0.0})
    assert node.wait_for_output("retarget_node ready"), node.output()
    rot = Rotation.from_euler("xyz", [2.0, 0.3, -1.0])
    cam = TransformStamped()
    cam.header.frame_id, cam.child_frame_id = "world", "camera1_link"
    cam.transform.translation.x, cam.transform.translation.y, cam.transform.translation.z = 0.5, -0.2, 0.6
    qx, qy, qz, qw = rot.as_quat()
    cam.transform.rotation.x, cam.transform.rotation.y, cam.transform.rotation.z, cam.transform.rotation.w = (
        qx, qy, qz, qw)
    ros_node.create_publisher(TFMessage, "/tf_static", STATIC).publish(TFMessage(transforms=[cam]))
    listener = _Listener(ros_node)
    q = _pose(kin, 1)
    world = kin.keypoints(q)
    in_camera = rot.inv().apply(world - np.array([0.5, -0.2, 0.6]))
    # Until the transient-local /tf_static reaches the node, frames are held (no transform): wait it out.
    close = lambda js: np.abs(np.array(js.position)[8:] - q[8:]).max() < 0.05  # noqa: E731
    assert _send_until(ros_node, spin_until, listener, _hand_pose(in_camera, "camera1_link"), 1, until=close), (
        np.abs(np.array(listener.joints[-1].position) - q).round(3) if listener.joints else node.output())
    spin_until(ros_node, lambda: False, timeout=1.0)  # let the good frames still in flight arrive
    good = np.array(listener.joints[-1].position)
    # The wrist is lost: the node keeps publishing the last good solution and says why.
    lost = world.copy()
    lost[0] = np.nan
    n = len(listener.joints)
    assert _send_until(ros_node, spin_until, listener, _hand_pose(lost, "world"), n + 2), node.output()
    np.testing.assert_array_equal(listener.joints[-1].position, good)
    assert spin_until(ros_node, lambda: any(s.level == DiagnosticStatus.WARN for s in listener.diagnostics))
    warn = [s for s in listener.diagnostics if s.level == DiagnosticStatus.WARN][-1]
    assert "palm keypoints [0]" in warn.message and "holding" in warn.message
    # A frame nobody can place (unknown frame) holds too, naming the frame.
    n = len(listener.joints)
    assert _send_until(ros_node, spin_until, listener, _hand_pose(world, "nowhere_frame"), n + 2), node.output()
    assert spin_until(ros_node, lambda: any("nowhere_frame" in s.message for s in listener.diagnostics))
    assert node.interrupt() == 0, node.output()
    assert "Traceback" not in node.output()


def test_hand_poses_that_arrive_before_their_transform_wait_for_it(run_node, ros_node, spin_until, kin):
    """A camera's /tf_static may reach the node after its first frames: those frames wait, in order,
    and are retargeted once the transform is there, instead of holding the hand."""
    node = run_node("dexmv_retarget", "retarget_node", params={"filter_cutoff_hz": 0.0, "transform_wait": 30.0})
    assert node.wait_for_output("retarget_node ready"), node.output()
    listener = _Listener(ros_node)
    rot = Rotation.from_euler("xyz", [-0.4, 1.1, 0.2])
    offset = np.array([0.1, 0.4, 0.5])
    q = _pose(kin, 2)
    msg = _hand_pose(rot.inv().apply(kin.keypoints(q) - offset), "late_camera_link")
    sent = [0]

    def waiting() -> bool:
        if "wait up to 30.0 s" in node.output():
            return True
        sent[0] += 1
        msg.header.stamp.sec = sent[0]
        listener.pub.publish(msg)
        return False

    assert spin_until(ros_node, waiting, timeout=30), node.output()
    spin_until(ros_node, lambda: False, timeout=0.5)
    assert listener.joints == []  # nothing may be published (held) while the frames wait
    cam = TransformStamped()
    cam.header.frame_id, cam.child_frame_id = "world", "late_camera_link"
    t, r = cam.transform.translation, cam.transform.rotation
    t.x, t.y, t.z = offset
    r.x, r.y, r.z, r.w = rot.as_quat()
    ros_node.create_publisher(TFMessage, "/tf_static", STATIC).publish(TFMessage(transforms=[cam]))
    assert spin_until(ros_node, lambda: listener.joints, timeout=30), node.output()
    spin_until(ros_node, lambda: False, timeout=1.0)
    stamps = [j.header.stamp.sec for j in listener.joints]
    assert stamps == sorted(stamps) and len(stamps) >= 1
    assert all(s.level == DiagnosticStatus.OK for s in listener.diagnostics), [s.message for s in listener.diagnostics]
    assert np.abs(np.array(listener.joints[0].position)[8:] - q[8:]).max() < 0.05
    assert node.interrupt() == 0, node.output()


def test_bad_parameter_is_a_clear_error(run_node):
    node = run_node("dexmv_retarget", "retarget_node", params={"frame_transform": "[1.0, 2.0]"})
    assert node.proc.wait(timeout=30) == 1
    assert "frame_transform must be 7 numbers" in node.output()
    assert "Traceback" not in node.output()
    node = run_node("dexmv_retarget", "retarget_node", params={"transform_wait": -1.0})
    assert node.proc.wait(timeout=30) == 1
    assert "parameter transform_wait: transform wait must be >= 0 s" in node.output()


def test_rejected_frames_are_counted_per_reason_and_recalibrate_works(run_node, ros_node, spin_until, kin):
    """Zeros and a hand 50 m away: REJECTED (WARN), each reason logged and counted on /diagnostics,
    the last good joints held; ~/recalibrate answers over DDS and the node logs it."""
    from std_srvs.srv import Trigger

    node = run_node("dexmv_retarget", "retarget_node", params={"filter_cutoff_hz": 0.0})
    assert node.wait_for_output("retarget_node ready"), node.output()
    listener = _Listener(ros_node)
    good = _hand_pose(kin.keypoints(_pose(kin, 1)), "world")
    assert _send_until(ros_node, spin_until, listener, good, 2), node.output()
    held = np.array(listener.joints[-1].position)
    zeros = _hand_pose(np.zeros((21, 3)), "world")
    far = _hand_pose(kin.keypoints(_pose(kin, 1)) + 50.0, "world")

    def counted(key):
        return any(kv.key == key and int(kv.value) >= 1 for s in listener.diagnostics for kv in s.values)

    for msg, key in ((zeros, "count_bone_length"), (far, "count_workspace")):
        assert spin_until(ros_node, lambda m=msg, k=key: counted(k) or listener.pub.publish(m), timeout=20), \
            node.output()
    assert any(s.level == DiagnosticStatus.WARN and "REJECTED" in [kv.value for kv in s.values]
               for s in listener.diagnostics)
    # held: the last two outputs (both rejected frames) are the same, the good pose's (refined by the
    # good frames still in flight when `held` was read, hence not to the last bit)
    np.testing.assert_array_equal(listener.joints[-1].position, listener.joints[-2].position)
    np.testing.assert_allclose(listener.joints[-1].position, held, atol=0.01)
    assert node.wait_for_output("bone_length") and node.wait_for_output("workspace"), node.output()
    client = ros_node.create_client(Trigger, "/retarget_node/recalibrate")
    assert client.wait_for_service(timeout_sec=10.0)
    future = client.call_async(Trigger.Request())
    assert spin_until(ros_node, future.done, timeout=10)
    assert future.result().success and "measured anew" in future.result().message


def test_a_new_sim_episode_recalibrates_the_hand_size(run_node, ros_node, spin_until):
    """sim_node announces episodes on /dexmv/sim/episode (reliable, transient local): the node
    measures the hand size anew on each new episode (the first message only sets the baseline)."""
    import json

    from std_msgs.msg import String

    node = run_node("dexmv_retarget", "retarget_node", params={"filter_cutoff_hz": 0.0})
    assert node.wait_for_output("retarget_node ready"), node.output()
    pub = ros_node.create_publisher(String, "/dexmv/sim/episode", STATIC)
    pub.publish(String(data=json.dumps({"episode": 1, "task": "relocate-mug", "seed": 0, "start_time": 0.0})))
    assert spin_until(ros_node, lambda: pub.get_subscription_count() > 0, timeout=10)
    time.sleep(1.0)  # the late joiner's copy of episode 1 (transient local) has arrived
    for episode in (2, 3):
        pub.publish(String(data=json.dumps({"episode": episode, "task": "relocate-mug", "seed": episode,
                                            "start_time": 2.0 * episode})))
        assert node.wait_for_output(f"sim episode {episode}: hand size measured anew"), node.output()
    assert "sim episode 1" not in node.output()
