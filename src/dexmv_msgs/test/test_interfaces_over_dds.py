"""dexmv_msgs travel between two OS processes over Fast DDS unchanged, and services answer."""

from pathlib import Path

import numpy as np
import pytest

from dexmv_msgs.msg import HandPose, ObjectPose, ObjectPoseArray
from dexmv_msgs.srv import ResetEpisode

PEER = Path(__file__).with_name("echo_peer.py")


@pytest.fixture
def peer(run_node):
    proc = run_node(script=PEER)
    assert proc.wait_for_output("echo peer ready"), proc.output()
    return proc


def _hand_pose(rng: np.random.Generator) -> HandPose:
    msg = HandPose()
    msg.header.frame_id = "camera1_color_optical_frame"
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1_700_000_123, 456_789_012
    msg.side = HandPose.SIDE_LEFT
    msg.confidence = 0.875
    for point, xyz in zip(msg.keypoints, rng.normal(0.0, 0.3, size=(21, 3)), strict=True):
        point.x, point.y, point.z = (float(v) for v in xyz)
    msg.keypoint_confidence = rng.uniform(0, 1, 21).astype(np.float32)
    msg.has_mano = True
    msg.mano_betas = rng.normal(0, 1, 10).astype(np.float32)
    msg.mano_pose = rng.normal(0, 0.5, 48).astype(np.float32)
    msg.mano_translation.x, msg.mano_translation.y, msg.mano_translation.z = 0.11, -0.22, 0.63
    return msg


def _exchange(ros_node, spin_until, msg_type, msg, topic_in: str, topic_out: str):
    received = []
    ros_node.create_subscription(msg_type, topic_out, received.append, 10)
    pub = ros_node.create_publisher(msg_type, topic_in, 10)
    assert spin_until(ros_node, lambda: pub.get_subscription_count() > 0 and ros_node.count_publishers(topic_out) > 0,
                      timeout=20), "the peer's endpoints were not discovered"

    def published_and_back() -> bool:
        if not received:
            pub.publish(msg)
        return bool(received)

    assert spin_until(ros_node, published_and_back, timeout=20), "no echo arrived"
    return received[0]


def test_hand_pose_round_trips_exactly(peer, ros_node, spin_until):
    sent = _hand_pose(np.random.default_rng(7))
    got = _exchange(ros_node, spin_until, HandPose, sent, "/echo_peer/hand_pose_in", "/echo_peer/hand_pose_out")
    assert got.header == sent.header
    assert got.side == "left" and got.confidence == sent.confidence
    assert [(p.x, p.y, p.z) for p in got.keypoints] == [(p.x, p.y, p.z) for p in sent.keypoints]
    assert len(got.keypoints) == 21
    np.testing.assert_array_equal(got.keypoint_confidence, sent.keypoint_confidence)
    assert got.has_mano is True
    np.testing.assert_array_equal(got.mano_betas, sent.mano_betas)
    np.testing.assert_array_equal(got.mano_pose, sent.mano_pose)
    assert got.mano_translation == sent.mano_translation
    assert got == sent


def test_object_pose_array_round_trips(peer, ros_node, spin_until):
    sent = ObjectPoseArray()
    sent.header.frame_id = "world"
    for i, name in enumerate(["006_mustard_bottle", "025_mug", "011_banana"]):
        obj = ObjectPose(object_id=name, confidence=0.5 + 0.125 * i)  # exact in float32
        obj.pose.position.x, obj.pose.position.y, obj.pose.position.z = 0.1 * i, -0.2, 0.05
        obj.pose.orientation.z, obj.pose.orientation.w = np.sin(0.3 * i), np.cos(0.3 * i)
        sent.objects.append(obj)
    got = _exchange(ros_node, spin_until, ObjectPoseArray, sent, "/echo_peer/objects_in", "/echo_peer/objects_out")
    assert [o.object_id for o in got.objects] == ["006_mustard_bottle", "025_mug", "011_banana"]
    assert got == sent


def test_hand_pose_has_the_sizes_of_the_design():
    msg = HandPose()
    assert len(msg.keypoints) == 21 and len(msg.keypoint_confidence) == 21
    assert len(msg.mano_betas) == 10 and len(msg.mano_pose) == 48
    assert (HandPose.SIDE_RIGHT, HandPose.SIDE_LEFT) == ("right", "left")


def test_reset_episode_service_between_processes(peer, ros_node, spin_until):
    client = ros_node.create_client(ResetEpisode, "/echo_peer/reset_episode")
    assert spin_until(ros_node, client.service_is_ready, timeout=20), "service not discovered"
    future = client.call_async(ResetEpisode.Request(task="relocate-mug", seed=42))
    assert spin_until(ros_node, future.done, timeout=20)
    reply = future.result()
    assert reply.success and reply.task == "relocate-mug" and reply.message == "task=relocate-mug seed=42"
    future = client.call_async(ResetEpisode.Request(task="juggle", seed=1))
    assert spin_until(ros_node, future.done, timeout=20)
    assert not future.result().success


def test_peer_stops_cleanly_on_sigint(peer):
    assert peer.interrupt() == 0, peer.output()
    assert "Traceback" not in peer.output()
