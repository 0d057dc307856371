"""Recorder node and bag reading: real rclpy processes over DDS, real rosbag2 (MCAP) files."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

N_BURST = 150


def _hand_pose(i: int):
    from geometry_msgs.msg import Point

    from dexmv_msgs.msg import HandPose

    msg = HandPose()
    msg.header.frame_id = "world"
    msg.header.stamp.sec, msg.header.stamp.nanosec = 100 + i // 30, (i % 30) * 33_333_333
    msg.side = "right"
    msg.confidence = 0.9
    msg.keypoints = [Point(x=0.01 * k + i * 1e-3, y=0.02, z=0.1) for k in range(21)]
    msg.keypoint_confidence = [0.8] * 21
    return msg


def test_recorder_process_keeps_every_message_of_a_burst_after_sigint(run_node, ros_node, spin_until, tmp_path):
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import JointState

    from dexmv_learning.recording.bag_reader import bag_info, read_hand_poses, read_joint_states
    from dexmv_msgs.msg import HandPose

    bag = tmp_path / "burst"
    proc = run_node("dexmv_learning", "recorder_node", params={"recording": True, "output": str(bag)})
    assert proc.wait_for_output("recording 5 topics", timeout=30), proc.output()
    qos = QoSProfile(depth=N_BURST, reliability=ReliabilityPolicy.RELIABLE)
    hand_pub = ros_node.create_publisher(HandPose, "/dexmv/hand_pose", qos)
    joint_pub = ros_node.create_publisher(JointState, "/adroit/joint_states", qos)
    assert proc.wait_for_output("recording /adroit/joint_states", timeout=20), proc.output()
    assert proc.wait_for_output("recording /dexmv/hand_pose", timeout=20), proc.output()
    assert spin_until(ros_node, lambda: hand_pub.get_subscription_count() > 0
                      and joint_pub.get_subscription_count() > 0, timeout=10)
    for i in range(N_BURST):
        hand_pub.publish(_hand_pose(i))
        js = JointState(name=["ARTx", "FFJ0"], position=[float(i), -float(i)])
        js.header.stamp.sec = 200 + i
        joint_pub.publish(js)
    spin_until(ros_node, lambda: False, timeout=1.5)  # let DDS deliver the burst
    assert proc.interrupt() == 0, proc.output()
    info = bag_info(bag)
    counts = {t.topic: t.count for t in info.topics}
    assert counts["/dexmv/hand_pose"] == N_BURST and counts["/adroit/joint_states"] == N_BURST, counts
    assert info.version == 9 and info.storage == "mcap"
    hands = read_hand_poses(bag)
    assert hands.frame_id == "world" and hands.keypoints.shape == (N_BURST, 21, 3)
    np.testing.assert_allclose(hands.keypoints[:, 3, 0], 0.03 + np.arange(N_BURST) * 1e-3, atol=1e-9)
    joints = read_joint_states(bag)
    assert joints.names == ["ARTx", "FFJ0"]
    np.testing.assert_array_equal(joints.position[:, 0], np.arange(N_BURST))
    np.testing.assert_array_equal(joints.stamps, 200 + np.arange(N_BURST))
    # the bag is self-describing: the dexmv_msgs definition is stored in it
    assert next(bag.glob("*.mcap")).read_bytes().count(b"float32[21] keypoint_confidence") >= 1


def _write_small_bag(path):
    from dexmv_learning.recording.bag_writer import BagWriter
    from dexmv_learning.recording.types import typestore

    store = typestore()
    point, header, time_t = (store.types[n] for n in ("geometry_msgs/msg/Point", "std_msgs/msg/Header",
                                                       "builtin_interfaces/msg/Time"))
    hand = store.types["dexmv_msgs/msg/HandPose"]
    vec = store.types["geometry_msgs/msg/Vector3"]
    with BagWriter(path) as writer:
        writer.add_topic("/dexmv/hand_pose", "dexmv_msgs/msg/HandPose")
        for i in range(10):
            msg = hand(header=header(stamp=time_t(sec=i, nanosec=0), frame_id="world"), side="right",
                       confidence=1.0, keypoints=[point(x=0.1, y=0.0, z=0.01 * i) for _ in range(21)],
                       keypoint_confidence=np.ones(21, np.float32), has_mano=False,
                       mano_betas=np.zeros(10, np.float32), mano_pose=np.zeros(48, np.float32),
                       mano_translation=vec(x=0.0, y=0.0, z=0.0))
            writer.write("/dexmv/hand_pose", i * 1_000_000_000, msg)
    return path


def test_bag_info_cli_and_one_line_errors_for_damaged_bags(tmp_path, capsys):
    from dexmv_learning.cli import bag as bag_cli

    bag = _write_small_bag(tmp_path / "small")
    assert bag_cli.run(argparse.Namespace(bag_command="info", bag=str(bag), json=False)) == 0
    out = capsys.readouterr().out
    assert "/dexmv/hand_pose" in out and "Count: 10" in out and "Duration:          9.000 s" in out

    mcap = next(bag.glob("*.mcap"))
    mcap.write_bytes(mcap.read_bytes()[: mcap.stat().st_size // 2])  # truncated storage
    broken = tmp_path / "garbage"
    broken.mkdir()
    (broken / "metadata.yaml").write_text("rosbag2_bagfile_information: [unclosed\n")
    for path in (bag, broken, tmp_path / "missing"):
        code = bag_cli.run(argparse.Namespace(bag_command="info", bag=str(path), json=False))
        err = capsys.readouterr().err
        if code == 0:  # rosbags reads the summary from metadata.yaml: reading the messages must fail
            from dexmv_learning.recording.bag_reader import BagReadError, read_hand_poses

            with pytest.raises(BagReadError) as exc:
                read_hand_poses(path)
            err = str(exc.value) + "\n"
        else:
            assert code == 2
        assert err.count("\n") == 1 and "Traceback" not in err and str(path) in err, err


def test_bag_trajectory_reader_gives_the_same_trajectory_type(tmp_path):
    from dexmv_learning.demos.trajectory import load_trajectory

    traj = load_trajectory(_write_small_bag(tmp_path / "t"))
    assert traj.source == "bag" and traj.keypoints.shape == (10, 21, 3)
    np.testing.assert_allclose(traj.stamps, np.arange(10.0))


def test_recorder_services_start_and_stop_a_bag(run_node, ros_node, spin_until, tmp_path):
    from sensor_msgs.msg import JointState

    from dexmv_learning.recording.bag_reader import bag_info
    from dexmv_msgs.srv import StartRecording, StopRecording

    proc = run_node("dexmv_learning", "recorder_node", params={"output_dir": str(tmp_path)})
    start = ros_node.create_client(StartRecording, "/recorder_node/start_recording")
    stop = ros_node.create_client(StopRecording, "/recorder_node/stop_recording")
    assert spin_until(ros_node, lambda: start.service_is_ready() and stop.service_is_ready(), timeout=30), proc.output()
    pub = ros_node.create_publisher(JointState, "/adroit/joint_targets", 10)
    future = start.call_async(StartRecording.Request(output=str(tmp_path / "svc"), topics=["/adroit/joint_targets"]))
    assert spin_until(ros_node, future.done, timeout=10) and future.result().success, future.result()
    assert proc.wait_for_output("recording /adroit/joint_targets", timeout=20), proc.output()
    assert spin_until(ros_node, lambda: pub.get_subscription_count() > 0, timeout=10)
    for i in range(20):
        pub.publish(JointState(name=["ARTx"], position=[0.01 * i]))
    spin_until(ros_node, lambda: False, timeout=1.0)
    future = stop.call_async(StopRecording.Request())
    assert spin_until(ros_node, future.done, timeout=10)
    reply = future.result()
    assert reply.success and reply.message_count == 20 and reply.output == str(tmp_path / "svc")
    assert {t.topic: t.count for t in bag_info(tmp_path / "svc").topics} == {"/adroit/joint_targets": 20}
    again = stop.call_async(StopRecording.Request())
    assert spin_until(ros_node, again.done, timeout=10) and not again.result().success
