"""recorder_node: record the DexMV graph's topics into rosbag2 directories (MCAP, rosbags writer).

Services (dexmv_msgs/srv): `~/start_recording` (StartRecording: output directory, topics; empty
values take the parameters) and `~/stop_recording` (StopRecording: closes the bag before replying,
with its message count and duration). Parameter `recording` (bool) starts and stops the same way
(`ros2 param set /recorder_node recording true`); `recording:=true` at start records at once.

Parameters: `topics` (default: hand and object poses, joint targets and states, sim object poses),
`record_images` (false: true adds both cameras' colour and aligned depth images and camera infos),
`output_dir` ("bags": where time-stamped bags go), `output` ("": a fixed bag directory for the
next recording).

Topics are subscribed once a publisher appears (its type taken from the graph), with the
publishers' reliability (best effort when any publisher is best effort, else reliable), as raw CDR,
so messages are stored as they travelled. The bag is closed on stop, on Ctrl-C/SIGTERM (run_node
calls shutdown()) and at exit after an exception: every message taken before is in it.
"""

from __future__ import annotations

from dexmv_runtime.node_main import quiet_interrupts

quiet_interrupts()

import importlib  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from dexmv_runtime.node_main import run_node  # noqa: E402
from rcl_interfaces.msg import SetParametersResult  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402

from dexmv_learning.recording.bag_writer import BagWriteError, BagWriter  # noqa: E402

DEFAULT_TOPICS = ["/dexmv/hand_pose", "/dexmv/object_poses", "/adroit/joint_targets", "/adroit/joint_states",
                  "/dexmv/sim/object_poses"]
IMAGE_TOPICS = [f"/camera{i}/camera{i}/{kind}" for i in (1, 2) for kind in
                ("color/image_raw", "color/camera_info", "aligned_depth_to_color/image_raw",
                 "aligned_depth_to_color/camera_info")]


class RecorderError(ValueError):
    """A bad parameter of the recorder."""


def message_class(msgtype: str):
    """rclpy message class of "pkg/msg/Type"."""
    pkg, sub, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{pkg}.{sub}"), name)


class RecorderNode(Node):
    def __init__(self) -> None:
        super().__init__("recorder_node")
        self.declare_parameter("topics", DEFAULT_TOPICS)
        self.declare_parameter("record_images", False)
        self.declare_parameter("output_dir", "bags")
        self.declare_parameter("output", "")
        self.declare_parameter("recording", False)
        from dexmv_msgs.srv import StartRecording, StopRecording

        self.writer: BagWriter | None = None
        self._topics: list[str] = []
        self._subs: dict[str, object] = {}
        self.create_service(StartRecording, "~/start_recording", self._on_start)
        self.create_service(StopRecording, "~/stop_recording", self._on_stop)
        self.add_on_set_parameters_callback(self._on_parameters)
        self.create_timer(0.2, self._discover)
        if self.get_parameter("recording").value:
            self.start(self.get_parameter("output").value, [])

    # ------------------------------------------------------------------ control
    def _default_topics(self) -> list[str]:
        topics = list(self.get_parameter("topics").value or [])
        if self.get_parameter("record_images").value:
            topics += [t for t in IMAGE_TOPICS if t not in topics]
        return topics

    def start(self, output: str, topics: list[str]) -> Path:
        if self.writer is not None:
            raise RecorderError(f"already recording into {self.writer.path}")
        if not output:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            output = str(Path(self.get_parameter("output_dir").value) / f"dexmv_{stamp}")
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        self.writer = BagWriter(output)
        self._topics = list(topics) or self._default_topics()
        self.get_logger().info(f"recording {len(self._topics)} topics into {output}")
        self._discover()
        return self.writer.path

    def stop(self) -> tuple[Path, int, float] | None:
        writer, self.writer = self.writer, None
        for sub in self._subs.values():
            self.destroy_subscription(sub)
        self._subs.clear()
        if writer is None:
            return None
        writer.close()
        self.get_logger().info(f"closed {writer.path}: {writer.message_count} messages, {writer.duration_s:.2f} s")
        return writer.path, writer.message_count, writer.duration_s

    def shutdown(self) -> None:
        """Called by run_node on every exit path: the bag is complete afterwards."""
        self.stop()

    # ------------------------------------------------------------------ callbacks
    def _on_start(self, request, response):
        try:
            response.output = str(self.start(request.output, list(request.topics)))
            response.success, response.message = True, f"recording {len(self._topics)} topics"
        except (RecorderError, BagWriteError, OSError) as err:
            response.success, response.message = False, str(err)
        return response

    def _on_stop(self, request, response):
        done = self.stop()
        if done is None:
            response.success, response.message = False, "not recording"
            return response
        path, count, duration = done
        response.success, response.message = True, f"closed {path}"
        response.output, response.message_count, response.duration = str(path), count, duration
        return response

    def _on_parameters(self, params: list[Parameter]) -> SetParametersResult:
        for p in params:
            if p.name != "recording":
                continue
            try:
                if p.value and self.writer is None:
                    self.start(self.get_parameter("output").value, [])
                elif not p.value and self.writer is not None:
                    self.stop()
            except (RecorderError, BagWriteError, OSError) as err:
                return SetParametersResult(successful=False, reason=str(err))
        return SetParametersResult(successful=True)

    def _discover(self) -> None:
        """Subscribe to every wanted topic that has a publisher now."""
        if self.writer is None:
            return
        missing = [t for t in self._topics if t not in self._subs]
        if not missing:
            return
        types = dict(self.get_topic_names_and_types())
        for topic in missing:
            if topic not in types or not types[topic]:
                continue
            msgtype = types[topic][0]
            infos = self.get_publishers_info_by_topic(topic)
            if not infos:
                continue
            best_effort = any(i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for i in infos)
            qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT if best_effort
                             else ReliabilityPolicy.RELIABLE)
            try:
                cls = message_class(msgtype)
                self.writer.add_topic(topic, msgtype)
            except (ImportError, AttributeError, ValueError) as err:
                self.get_logger().warn(f"cannot record {topic} ({msgtype}): {err}")
                self._subs[topic] = None
                continue
            self._subs[topic] = self.create_subscription(cls, topic, self._writer_for(topic), qos, raw=True)
            self.get_logger().info(f"recording {topic} [{msgtype}]")

    def _writer_for(self, topic: str):
        clock = self.get_clock()

        def write(data: bytes) -> None:
            writer = self.writer
            if writer is not None:
                writer.write_raw(topic, clock.now().nanoseconds, data)

        return write

    def destroy_subscription(self, sub) -> bool:  # subscriptions that failed are stored as None
        return True if sub is None else super().destroy_subscription(sub)


def main(args: list[str] | None = None) -> int:
    # closing a long bag must not be cut short by the runtime's default 20 s exit watchdog
    return run_node(RecorderNode, name="recorder_node", args=args, startup_errors=(RecorderError, BagWriteError),
                    shutdown_limit_s=60.0)


if __name__ == "__main__":
    import sys

    sys.exit(main())
