"""bag_player: a rosbag2 folder back into the graph, at the recorded pace (what `ros2 bag play` does).

Parameters: bag (folder), topics (string array; unset: all), rate (speed factor), loop,
wait_for_subscribers (before playing, wait until every played topic has this many matched
subscribers), start_delay (seconds before the first message, after that wait: a subscriber that
the player matched may not have matched the player yet, and would drop what came first).
Each topic is published with its recorded type, as the recorded CDR bytes; /tf_static reliable and
transient local (depth 100: several publishers' transforms), every other topic reliable, depth 10.
Logs "end of bag: published N messages" when done (and keeps running, so late RViz joiners still
get /tf_static; Ctrl-C ends it).
"""

from dexmv_runtime.node_main import quiet_interrupts

quiet_interrupts()

import threading  # noqa: E402
import time  # noqa: E402

from dexmv_runtime.node_main import exit_with, run_node  # noqa: E402
from rcl_interfaces.msg import ParameterDescriptor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402

from dexmv_bringup.bag_playback import BagError, BagReader, message_class  # noqa: E402

STATIC_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
DEFAULT_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


class BagPlayer(Node):
    def __init__(self) -> None:
        super().__init__("bag_player")

        def declare(name, default, text):
            return self.declare_parameter(name, default, ParameterDescriptor(description=text)).value

        bag = declare("bag", "", "rosbag2 folder to play (metadata.yaml + .mcap or .db3)")
        topics = declare("topics", Parameter.Type.STRING_ARRAY, "topics to play (unset: every topic of the bag)")
        self.rate = float(declare("rate", 1.0, "playback speed factor (2.0: twice as fast)"))
        self.loop = bool(declare("loop", False, "start again at the end"))
        self.start_delay = float(declare("start_delay", 1.0, "seconds before the first message"))
        self.wait_for_subscribers = int(declare("wait_for_subscribers", 0, "wait until every played topic has "
                                                "this many matched subscribers before playing"))
        if not bag:
            raise BagError("parameter bag: give a rosbag2 folder")
        if self.wait_for_subscribers < 0:
            raise BagError(f"parameter wait_for_subscribers: must be >= 0, got {self.wait_for_subscribers}")
        if self.rate <= 0:
            raise BagError(f"parameter rate: must be > 0, got {self.rate}")
        self.reader = BagReader(bag, list(topics) if topics else None)
        self.pubs = {t.name: self.create_publisher(message_class(t.msgtype), t.name,
                                                   STATIC_QOS if t.name == "/tf_static" else DEFAULT_QOS)
                     for t in self.reader.topics}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, daemon=True)
        listing = ", ".join(f"{t.name} ({t.msgtype}, {t.count})" for t in self.reader.topics)
        self.get_logger().info(f"playing {self.reader.path} ({self.reader.duration_s:.2f} s) at {self.rate}x: "
                               f"{listing}")
        self._thread.start()

    def _play(self) -> None:
        want = self.wait_for_subscribers
        if want > 0:
            self.get_logger().info(f"waiting for {want} subscriber(s) on each of {', '.join(self.pubs)}")
            while not self._stop.is_set() and min(p.get_subscription_count() for p in self.pubs.values()) < want:
                self._stop.wait(0.02)
        self._stop.wait(self.start_delay)
        while not self._stop.is_set():
            start, sent = time.monotonic(), 0
            for msg in self.reader.messages():
                delay = start + msg.offset_s / self.rate - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                self.pubs[msg.topic].publish(msg.data)
                sent += 1
            self.get_logger().info(f"end of bag: published {sent} messages")
            if not self.loop:
                return

    def shutdown(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        self.reader.close()


def main(args: list[str] | None = None) -> int:
    return run_node(BagPlayer, name="bag_player", args=args, startup_errors=(BagError,))


if __name__ == "__main__":
    exit_with(main())
