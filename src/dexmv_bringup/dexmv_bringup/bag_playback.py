"""Reading a rosbag2 folder for playback: its topics and its messages, serialized, in time order.

Uses the `rosbags` library (rosbag2_py is not on PyPI); the messages stay CDR bytes, the form in
which rosbag2 stores them and rclpy publishes them raw, so playback never converts a message.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class BagError(ValueError):
    """A bag that cannot be played; the message names the folder or topic."""


@dataclass(frozen=True)
class BagTopic:
    name: str
    msgtype: str  # e.g. "sensor_msgs/msg/JointState"
    count: int


@dataclass(frozen=True)
class BagMessage:
    topic: str
    offset_s: float  # since the bag's first message
    data: bytes  # CDR, as recorded


def message_class(msgtype: str):
    """The Python message class of 'pkg/msg/Type' (ROS's generated one); BagError when not installed."""
    package, _, name = msgtype.rpartition("/")
    try:
        return getattr(importlib.import_module(package.replace("/", ".")), name)
    except (ImportError, AttributeError):
        raise BagError(f"message type {msgtype} is not installed here (source its interface package)") from None


class BagReader:
    """A rosbag2 folder open for reading (a context manager)."""

    def __init__(self, path: str | Path, topics: list[str] | None = None) -> None:
        from rosbags.highlevel import AnyReader

        self.path = Path(path).expanduser()
        if not (self.path / "metadata.yaml").is_file():
            raise BagError(f"{self.path}: not a rosbag2 folder (no metadata.yaml)")
        try:
            self._reader = AnyReader([self.path])
            self._reader.open()
        except Exception as err:  # rosbags raises its own types for corrupt or unsupported files
            raise BagError(f"{self.path}: cannot open the bag: {err}") from None
        counts: dict[str, int] = {}
        for c in self._reader.connections:
            counts[c.topic] = counts.get(c.topic, 0) + c.msgcount
        types = {c.topic: c.msgtype for c in self._reader.connections}
        if topics:
            missing = sorted(set(topics) - set(types))
            if missing:
                raise BagError(f"{self.path}: has no topic {', '.join(missing)} (it has {', '.join(sorted(types))})")
        chosen = sorted(topics or types)
        self.topics = [BagTopic(t, types[t], counts[t]) for t in chosen]
        self._connections = [c for c in self._reader.connections if c.topic in chosen]
        self.start_ns = self._reader.start_time
        self.duration_s = (self._reader.end_time - self._reader.start_time) * 1e-9

    def messages(self) -> Iterator[BagMessage]:
        """Every chosen message in recorded order, with its offset from the bag's start."""
        for connection, timestamp, data in self._reader.messages(connections=self._connections):
            yield BagMessage(connection.topic, (timestamp - self.start_ns) * 1e-9, bytes(data))

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> BagReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
