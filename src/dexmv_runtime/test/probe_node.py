"""A node module built like every DexMV node, for test_node_main.py to signal at chosen moments.

Behaviour comes from environment variables (the tests start it as its own process):
  PROBE_LOAD_S        seconds of module loading after quiet_interrupts() (real imports, then sleep)
  PROBE_CONSTRUCT_S   seconds the node's constructor takes (after it created its publisher)
  PROBE_SHUTDOWN_S    seconds the node's shutdown() takes
  PROBE_SHUTDOWN_LIMIT_S  quiet_interrupts' and run_node's shutdown_limit_s (default: theirs)
  PROBE_MODE          "echo" (default): republish every /probe/in String on /probe/out, and a
                      heartbeat on /probe/beat at 50 Hz; "startup_error": the constructor raises
                      ProbeConfigError; "bug": the constructor raises KeyError; "return": a custom
                      spin returns after 0.5 s; "callback_bug": the first /probe/in message raises
                      ValueError in its callback; "stuck": the 10th heartbeat's callback never
                      returns (it marks "stuck" first); "blocked_load": the module's loading
                      blocks for ever in a C call that signals do not interrupt (marks "blocked")
  PROBE_MARKS         file the node appends its milestones to (loaded, constructed, spinning,
                      shutdown-begin, shutdown-end), one per line, flushed at once
"""

import os

from dexmv_runtime.node_main import exit_with, quiet_interrupts, run_node, spin_until_interrupted

_limit = os.environ.get("PROBE_SHUTDOWN_LIMIT_S")
quiet_interrupts(float(_limit) if _limit else None)

import time  # noqa: E402

MARKS = os.environ.get("PROBE_MARKS")


def mark(what: str) -> None:
    if MARKS:
        with open(MARKS, "a") as f:
            f.write(what + "\n")


mark("loading")
_load_until = time.monotonic() + float(os.environ.get("PROBE_LOAD_S", "0"))
# Real imports of C extensions, like a node's MuJoCo/torch imports: a signal may land inside them.
import numpy  # noqa: E402, F401
import scipy.spatial.transform  # noqa: E402, F401

while time.monotonic() < _load_until:
    time.sleep(0.01)


def _block_in_c() -> None:
    """Lock a held mutex: the call never returns, and a signal only runs the C-level handler."""
    import ctypes

    libc = ctypes.CDLL(None)  # a ctypes call releases the GIL, as rclpy's blocking calls do
    mutex = ctypes.create_string_buffer(64)  # zeroed: PTHREAD_MUTEX_INITIALIZER, a normal mutex
    libc.pthread_mutex_lock(mutex)
    mark("blocked")
    libc.pthread_mutex_lock(mutex)  # relocking a normal mutex waits for ever, signals or not


if os.environ.get("PROBE_MODE") == "blocked_load":
    _block_in_c()
mark("loaded")

from rclpy.duration import Duration  # noqa: E402
from rclpy.node import Node  # noqa: E402
from std_msgs.msg import String  # noqa: E402


class ProbeConfigError(ValueError):
    """Bad configuration: a startup error (one log line, exit 1)."""


class ProbeNode(Node):
    def __init__(self) -> None:
        super().__init__("probe_node")
        mode = os.environ.get("PROBE_MODE", "echo")
        self.out = self.create_publisher(String, "/probe/out", 100)
        if mode == "startup_error":
            raise ProbeConfigError("parameter 'rate' is -1.0: must be positive\n(second line of the message)")
        if mode == "bug":
            raise KeyError("a bug in the constructor")
        until = time.monotonic() + float(os.environ.get("PROBE_CONSTRUCT_S", "0"))
        while time.monotonic() < until:
            time.sleep(0.01)
        self.beat = self.create_publisher(String, "/probe/beat", 10)
        self.create_subscription(String, "/probe/in", self._echo, 100)
        self.create_timer(0.02, self._beat)
        self.callback_bug = mode == "callback_bug"
        self.stuck = mode == "stuck"
        self.beats = 0
        mark("constructed")

    def _echo(self, msg: String) -> None:
        if self.callback_bug:
            raise ValueError("a bug in a callback")
        self.out.publish(msg)

    def _beat(self) -> None:
        self.beat.publish(String(data="beat"))
        self.beats += 1
        if self.stuck and self.beats == 10:
            mark("stuck")
            while True:  # a callback that never returns (Python code: a signal handler can run)
                time.sleep(0.01)

    def shutdown(self) -> None:
        mark("shutdown-begin")
        # still able to publish: the context is up until run_node's cleanup ends
        self.out.publish(String(data="bye"))
        # as a node's last messages should: wait for the subscribers' acknowledgements
        if self.out.wait_for_all_acked(Duration(seconds=5.0)):
            mark("bye-acked")
        until = time.monotonic() + float(os.environ.get("PROBE_SHUTDOWN_S", "0"))
        while time.monotonic() < until:
            time.sleep(0.01)
        mark("shutdown-end")


def _spin_then_return(executor, node) -> None:
    executor.add_node(node)
    mark("spinning")
    end = time.monotonic() + 0.5
    spin_until_interrupted(executor, done=lambda: time.monotonic() >= end, period=0.05)


def _spin(executor, node) -> None:
    executor.add_node(node)
    mark("spinning")
    spin_until_interrupted(executor)


def main() -> int:
    spin = _spin_then_return if os.environ.get("PROBE_MODE") == "return" else _spin
    limit = os.environ.get("PROBE_SHUTDOWN_LIMIT_S")
    extra = {"shutdown_limit_s": float(limit)} if limit else {}
    return run_node(ProbeNode, name="probe_node", startup_errors=(ProbeConfigError,), spin=spin, **extra)


if __name__ == "__main__":
    exit_with(main())
