"""Reading rosbag2 directories without a ROS graph: summary, typed message streams, trajectories.

    info = bag_info("run1")                      # topics, types, counts, start, duration
    for stamp_ns, msg in read_topic("run1", "/dexmv/hand_pose"): ...
    hands = read_hand_poses("run1")              # stamps, (T, 21, 3) keypoints, confidence, frame
    traj = read_bag_trajectory("run1")           # the HumanTrajectory that `dexmv demos` converts

Stamps are the messages' header stamps where they have one (capture time), else the bag's receive
time. A damaged or truncated bag raises BagReadError with one line naming the bag.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HAND_TOPIC = "/dexmv/hand_pose"
OBJECT_TOPIC = "/dexmv/object_poses"
JOINT_STATES_TOPIC = "/adroit/joint_states"
JOINT_TARGETS_TOPIC = "/adroit/joint_targets"


class BagReadError(ValueError):
    """A bag that cannot be read; one line naming it."""


@dataclass(frozen=True)
class TopicSummary:
    topic: str
    msgtype: str
    count: int


@dataclass(frozen=True)
class BagInfo:
    path: Path
    storage: str
    version: int
    start_ns: int
    duration_s: float
    message_count: int
    topics: list[TopicSummary]
    size_bytes: int


def _open(path: str | Path):
    from rosbags.rosbag2 import Reader

    path = Path(path)
    if not path.exists():
        raise BagReadError(f"{path}: no such bag")
    if not (path / "metadata.yaml").is_file():
        raise BagReadError(f"{path}: not a rosbag2 directory (no metadata.yaml)")
    try:
        reader = Reader(path)
        reader.open()
    except Exception as err:  # rosbags raises ReaderError, KeyError, YAML and MCAP errors on damage
        raise BagReadError(f"{path}: cannot open the bag ({type(err).__name__}: {_first_line(err)})") from None
    return reader


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0][:200]


def bag_info(path: str | Path) -> BagInfo:
    reader = _open(path)
    try:
        topics = [TopicSummary(t, info.msgtype or "?", info.msgcount) for t, info in sorted(reader.topics.items())]
        import yaml

        meta = yaml.safe_load((Path(path) / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        version = int(meta.get("version", 0))
        storage = str(meta.get("storage_identifier", "?"))
        count = reader.message_count
        start = reader.start_time if count else 0
        duration = reader.duration / 1e9 if count else 0.0
    except Exception as err:
        raise BagReadError(f"{path}: unreadable metadata ({type(err).__name__}: {_first_line(err)})") from None
    finally:
        reader.close()
    size = sum(f.stat().st_size for f in Path(path).iterdir() if f.is_file())
    return BagInfo(Path(path), storage, version, start, duration, count, topics, size)


def read_topic(path: str | Path, topic: str) -> Iterator[tuple[int, Any]]:
    """(stamp_ns, message) of one topic in bag order; the stamp is the header's when it has one."""
    from dexmv_learning.recording.types import ensure_type

    reader = _open(path)
    try:
        conns = [c for c in reader.connections if c.topic == topic]
        if not conns:
            return
        store = ensure_type(conns[0].msgtype)
        for conn, stamp, raw in reader.messages(connections=conns):
            msg = store.deserialize_cdr(raw, conn.msgtype)
            header = getattr(msg, "header", None)
            if header is not None and (header.stamp.sec or header.stamp.nanosec):
                stamp = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
            yield stamp, msg
    except BagReadError:
        raise
    except Exception as err:
        raise BagReadError(f"{path}: damaged messages on {topic} ({type(err).__name__}: {_first_line(err)})") from None
    finally:
        reader.close()


@dataclass
class HandPoses:
    stamps: np.ndarray  # (T,) s
    keypoints: np.ndarray  # (T, 21, 3)
    confidence: np.ndarray  # (T, 21)
    frame_id: str


def read_hand_poses(path: str | Path, topic: str = HAND_TOPIC) -> HandPoses:
    stamps, kps, confs, frames = [], [], [], set()
    for stamp, msg in read_topic(path, topic):
        stamps.append(stamp / 1e9)
        kps.append([[p.x, p.y, p.z] for p in msg.keypoints])
        confs.append(np.asarray(msg.keypoint_confidence, dtype=float))
        frames.add(msg.header.frame_id)
    if len(frames) > 1:
        raise BagReadError(f"{path}: {topic} mixes frames {sorted(frames)}")
    kp = np.asarray(kps, dtype=float).reshape(-1, 21, 3)
    conf = np.asarray(confs, dtype=float).reshape(-1, 21)
    kp[conf <= 0] = np.nan  # confidence 0 marks a keypoint that was not observed
    return HandPoses(np.asarray(stamps), kp, conf, frames.pop() if frames else "")


@dataclass
class ObjectPoses:
    stamps: np.ndarray  # (T,) s
    object_ids: list[str]
    poses: np.ndarray  # (T, K, 7) xyz + quat xyzw, NaN where an object was not in a message
    confidence: np.ndarray  # (T, K)
    frame_id: str


def read_object_poses(path: str | Path, topic: str = OBJECT_TOPIC) -> ObjectPoses:
    rows: list[tuple[float, dict[str, tuple[list[float], float]]]] = []
    ids: list[str] = []
    frames = set()
    for stamp, msg in read_topic(path, topic):
        seen = {}
        for obj in msg.objects:
            p, q = obj.pose.position, obj.pose.orientation
            seen[obj.object_id] = ([p.x, p.y, p.z, q.x, q.y, q.z, q.w], float(obj.confidence))
            if obj.object_id not in ids:
                ids.append(obj.object_id)
        rows.append((stamp / 1e9, seen))
        frames.add(msg.header.frame_id)
    poses = np.full((len(rows), len(ids), 7), np.nan)
    conf = np.zeros((len(rows), len(ids)))
    for t, (_, seen) in enumerate(rows):
        for k, oid in enumerate(ids):
            if oid in seen:
                poses[t, k], conf[t, k] = seen[oid]
    return ObjectPoses(np.asarray([r[0] for r in rows]), ids, poses, conf, frames.pop() if len(frames) == 1 else "")


@dataclass
class JointStates:
    stamps: np.ndarray  # (T,) s
    names: list[str]
    position: np.ndarray  # (T, J) NaN where a joint was not in a message
    velocity: np.ndarray
    effort: np.ndarray


def read_joint_states(path: str | Path, topic: str = JOINT_STATES_TOPIC) -> JointStates:
    stamps, msgs, names = [], [], []
    for stamp, msg in read_topic(path, topic):
        stamps.append(stamp / 1e9)
        msgs.append(msg)
        for n in msg.name:
            if n not in names:
                names.append(n)
    index = {n: i for i, n in enumerate(names)}
    arrays = {k: np.full((len(msgs), len(names)), np.nan) for k in ("position", "velocity", "effort")}
    for t, msg in enumerate(msgs):
        cols = [index[n] for n in msg.name]
        for key in arrays:
            values = np.asarray(getattr(msg, key), dtype=float)
            if values.size == len(cols):
                arrays[key][t, cols] = values
    return JointStates(np.asarray(stamps), names, arrays["position"], arrays["velocity"], arrays["effort"])


def iter_images(path: str | Path, topic: str) -> Iterator[tuple[float, np.ndarray]]:
    """(stamp s, image array) of a sensor_msgs/Image topic: (H, W, 3) uint8 RGB for rgb8/bgr8
    (converted), (H, W) uint16 for 16UC1 depth (mm), (H, W) uint8 for mono8."""
    layouts = {"rgb8": (np.uint8, 3), "bgr8": (np.uint8, 3), "mono8": (np.uint8, 1), "16UC1": (np.uint16, 1),
               "mono16": (np.uint16, 1), "rgba8": (np.uint8, 4), "bgra8": (np.uint8, 4)}
    for stamp, msg in read_topic(path, topic):
        if msg.encoding not in layouts:
            raise BagReadError(f"{path}: {topic} has image encoding '{msg.encoding}' (supported: {', '.join(layouts)})")
        dtype, channels = layouts[msg.encoding]
        row = np.frombuffer(bytes(msg.data), dtype=np.uint8).reshape(msg.height, msg.step)
        img = row[:, : msg.width * channels * np.dtype(dtype).itemsize].copy().view(dtype)
        img = img.reshape(msg.height, msg.width, channels) if channels > 1 else img.reshape(msg.height, msg.width)
        if msg.encoding.startswith("bgr"):
            img = img[..., [2, 1, 0, *([3] if channels == 4 else [])]]
        yield stamp / 1e9, img


def read_bag_trajectory(path: str | Path, hand_topic: str = HAND_TOPIC, object_topic: str = OBJECT_TOPIC):
    """The hand and object poses of a bag as a HumanTrajectory: object poses taken at the nearest
    stamp to each hand frame (NaN when none within half a hand frame period)."""
    from dexmv_learning.demos.trajectory import HumanTrajectory

    hands = read_hand_poses(path, hand_topic)
    if len(hands.stamps) < 2:
        raise BagReadError(f"{path}: fewer than 2 messages on {hand_topic}")
    objects = read_object_poses(path, object_topic)
    t = hands.stamps
    k = len(objects.object_ids)
    poses = np.full((len(t), k, 7), np.nan)
    conf = np.zeros((len(t), k))
    if len(objects.stamps):
        half = 0.5 * float(np.median(np.diff(t)))
        nearest = np.clip(np.searchsorted(objects.stamps, t), 0, len(objects.stamps) - 1)
        prev = np.clip(nearest - 1, 0, len(objects.stamps) - 1)
        better = np.abs(objects.stamps[prev] - t) < np.abs(objects.stamps[nearest] - t)
        nearest = np.where(better, prev, nearest)
        close = np.abs(objects.stamps[nearest] - t) <= half
        poses[close] = objects.poses[nearest[close]]
        conf[close] = objects.confidence[nearest[close]]
    order = np.argsort(t, kind="stable")
    keep = np.concatenate([[True], np.diff(t[order]) > 0])  # duplicate stamps: keep the first
    sel = order[keep]
    return HumanTrajectory.from_arrays(keypoints=hands.keypoints[sel], confidence=hands.confidence[sel],
                                       stamps=t[sel], object_ids=objects.object_ids, object_poses=poses[sel],
                                       object_confidence=conf[sel], frame=hands.frame_id or "world", source="bag",
                                       path=str(path))
