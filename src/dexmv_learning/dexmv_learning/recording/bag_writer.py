"""Writing a rosbag2 directory (metadata.yaml + MCAP) from serialized messages, without ROS.

The recorder node hands over the CDR bytes it received (rclpy `raw=True` subscriptions), so
messages are stored exactly as they travelled; library users can also write message objects
(serialized with the rosbags typestore). Metadata version 9, the version rosbag2 on ROS 2 Jazzy
writes and reads (`ros2 bag info` on Jazzy accepts versions up to 9).

The writer is closed (metadata.yaml written, MCAP summary flushed) by `close()`, by leaving a
`with` block, and at interpreter exit if neither happened, so a bag is complete after Ctrl-C,
SIGTERM or an exception in the recorder.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from pathlib import Path
from typing import Any

BAG_VERSION = 9  # rosbag2 metadata version of ROS 2 Jazzy


class BagWriteError(RuntimeError):
    """The bag cannot be created or written; the message names the path."""


class BagWriter:
    """One open bag; thread-safe (a lock around each write)."""

    def __init__(self, path: str | Path) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer, WriterError

        self.path = Path(path)
        if self.path.exists():
            raise BagWriteError(f"{self.path}: exists already; choose a new bag directory")
        try:
            self._writer = Writer(self.path, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
            self._writer.open()
        except (WriterError, OSError) as err:
            raise BagWriteError(f"{self.path}: cannot create the bag ({err})") from None
        self._connections: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.closed = False
        ref = weakref.ref(self)
        self._atexit = lambda: (w := ref()) is not None and w.close()
        atexit.register(self._atexit)

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Register a topic of a type (e.g. "sensor_msgs/msg/JointState") before writing to it."""
        from dexmv_learning.recording.types import ensure_type

        with self._lock:
            if topic in self._connections:
                return
            store = ensure_type(msgtype)
            self._connections[topic] = self._writer.add_connection(topic, msgtype, typestore=store)
            self.counts[topic] = 0

    def write_raw(self, topic: str, stamp_ns: int, data: bytes | memoryview) -> None:
        with self._lock:
            if self.closed:
                return
            self._writer.write(self._connections[topic], int(stamp_ns), data)
            self.counts[topic] += 1
            self.first_ns = stamp_ns if self.first_ns is None else min(self.first_ns, stamp_ns)
            self.last_ns = stamp_ns if self.last_ns is None else max(self.last_ns, stamp_ns)

    def write(self, topic: str, stamp_ns: int, message: Any) -> None:
        """Write a rosbags message object (from the typestore's classes)."""
        from dexmv_learning.recording.types import typestore

        msgtype = self._connections[topic].msgtype
        self.write_raw(topic, stamp_ns, typestore().serialize_cdr(message, msgtype))

    @property
    def message_count(self) -> int:
        return sum(self.counts.values())

    @property
    def duration_s(self) -> float:
        return 0.0 if self.first_ns is None else (self.last_ns - self.first_ns) / 1e9

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            try:
                self._writer.close()
            finally:
                atexit.unregister(self._atexit)

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_trajectory_bag(path: str | Path, traj, *, hand_topic: str = "/dexmv/hand_pose",
                         object_topic: str = "/dexmv/object_poses", frame_id: str = "world") -> Path:
    """Write a HumanTrajectory as the HandPose and ObjectPoseArray messages perception publishes
    (header stamps = the trajectory's stamps; missing keypoints get confidence 0): a bag that
    `dexmv demos --from` converts like a recorded one."""
    import numpy as np

    from dexmv_learning.recording.types import typestore

    store = typestore()
    t = store.types
    Header, Time = t["std_msgs/msg/Header"], t["builtin_interfaces/msg/Time"]
    Point, Pose, Quat = t["geometry_msgs/msg/Point"], t["geometry_msgs/msg/Pose"], t["geometry_msgs/msg/Quaternion"]
    HandPose, ObjectPose = t["dexmv_msgs/msg/HandPose"], t["dexmv_msgs/msg/ObjectPose"]
    ObjectPoseArray, Vector3 = t["dexmv_msgs/msg/ObjectPoseArray"], t["geometry_msgs/msg/Vector3"]
    with BagWriter(path) as writer:
        writer.add_topic(hand_topic, "dexmv_msgs/msg/HandPose")
        writer.add_topic(object_topic, "dexmv_msgs/msg/ObjectPoseArray")
        for k, stamp in enumerate(traj.stamps):
            ns = int(np.rint(stamp * 1e9)) + 1_000_000_000  # stamps of 0 s read as "no stamp"
            header = Header(stamp=Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000), frame_id=frame_id)
            kp = traj.keypoints[k]
            valid = np.isfinite(kp).all(axis=1)
            conf = np.where(valid, traj.confidence[k], 0.0).astype(np.float32)
            hand = HandPose(header=header, side="right", confidence=float(conf.mean()),
                            keypoints=[Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) if ok
                                       else Point(x=0.0, y=0.0, z=0.0) for p, ok in zip(kp, valid, strict=True)],
                            keypoint_confidence=conf, has_mano=False, mano_betas=np.zeros(10, np.float32),
                            mano_pose=np.zeros(48, np.float32), mano_translation=Vector3(x=0.0, y=0.0, z=0.0))
            writer.write(hand_topic, ns, hand)
            objects = []
            for j, oid in enumerate(traj.object_ids):
                pose = traj.object_poses[k, j]
                if not np.isfinite(pose).all():
                    continue
                objects.append(ObjectPose(object_id=oid, pose=Pose(
                    position=Point(x=float(pose[0]), y=float(pose[1]), z=float(pose[2])),
                    orientation=Quat(x=float(pose[3]), y=float(pose[4]), z=float(pose[5]), w=float(pose[6]))),
                    confidence=float(traj.object_confidence[k, j])))
            writer.write(object_topic, ns, ObjectPoseArray(header=header, objects=objects))
    return Path(path)
