"""run_node and quiet_interrupts with real rclpy node processes (probe_node.py) over real DDS.

SIGINT and SIGTERM land at chosen and at seeded random moments of a node's life: while its modules
load, while rclpy starts and the node is constructed, while it spins idle, while messages arrive,
during its shutdown. Every time the process must exit 0 with nothing on stderr that looks like a
traceback, and the node's shutdown() must have run whenever the node existed. A startup error is
one line and exit 1; a bug stays a traceback.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROBE = Path(__file__).resolve().parent / "probe_node.py"
SIGNALS = [signal.SIGINT, signal.SIGTERM]
NOISE = ("Traceback", "Exception ignored", "KeyboardInterrupt", "SystemExit", "Error")


class Probe:
    """probe_node.py as its own process; its milestones, stdout and stderr in files."""

    def __init__(self, tmp_path: Path, **env: object) -> None:
        tag = f"{len(list(tmp_path.glob('marks-*')))}"
        self.marks = tmp_path / f"marks-{tag}"
        self.out, self.err = tmp_path / f"out-{tag}", tmp_path / f"err-{tag}"
        full_env = dict(os.environ, PROBE_MARKS=str(self.marks), **{k: str(v) for k, v in env.items()})
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, str(PROBE)], stdout=out, stderr=err, env=full_env)

    def milestones(self) -> list[str]:
        return self.marks.read_text().split() if self.marks.exists() else []

    def wait_for(self, milestone: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while milestone not in self.milestones():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"probe never reached {milestone!r}: {self.milestones()}\n{self.text()}")
            time.sleep(0.005)

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def finish(self, timeout: float = 20.0) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"probe did not exit within {timeout} s: {self.milestones()}\n{self.text()}") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def text(self) -> str:
        return f"stdout:\n{self.out.read_text()}\nstderr:\n{self.err.read_text()}"

    def assert_watchdog_exit(self, where: str, limit_s: float = 2.0) -> None:
        """SIGINT now; the watchdog must end the process with exit 1 after about `limit_s`, its
        stacks on stderr showing `where` it hung."""
        start = time.monotonic()
        self.send(signal.SIGINT)
        code = self.finish(timeout=20.0)
        took = time.monotonic() - start
        assert code == 1, f"exit code {code}\n{self.text()}"
        assert limit_s - 0.5 < took < 15.0, took
        err = self.err.read_text()
        assert f"Timeout (0:00:0{limit_s:.0f})" in err and where in err, err  # faulthandler's dump

    def assert_quiet_exit(self, timeout: float = 20.0) -> None:
        code = self.finish(timeout)
        text = self.text()
        assert code == 0, f"exit code {code}\n{text}"
        assert not any(word in text for word in NOISE), text
        marks = self.milestones()
        if "constructed" in marks:  # the node existed: its shutdown() ran to the end
            assert "shutdown-begin" in marks and marks[-1] == "shutdown-end", marks


@pytest.fixture
def probe(tmp_path):
    started: list[Probe] = []

    def _start(**env: object) -> Probe:
        started.append(Probe(tmp_path, **env))
        return started[-1]

    yield _start
    for p in started:
        p.kill()


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_signal_while_modules_load_is_a_quiet_exit_0(probe, sig):
    # right after quiet_interrupts, inside the C extensions' imports, and later in the load
    for delay in (0.0, 0.03, 0.08, 0.4):
        p = probe(PROBE_LOAD_S=1.0)
        p.wait_for("loading")
        time.sleep(delay)
        p.send(sig)
        p.assert_quiet_exit()
        assert "constructed" not in p.milestones()


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_signal_while_rclpy_starts_and_the_node_is_built(probe, sig):
    for delay in (0.0, 0.05, 0.6):
        p = probe(PROBE_CONSTRUCT_S=1.0)
        p.wait_for("loaded")
        time.sleep(delay)
        p.send(sig)
        p.assert_quiet_exit()


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_signal_while_spinning_runs_shutdown_with_the_context_up(probe, ros_node, spin_until, sig):
    from std_msgs.msg import String

    got: list[str] = []
    ros_node.create_subscription(String, "/probe/out", lambda m: got.append(m.data), 100)
    beats: list[str] = []
    ros_node.create_subscription(String, "/probe/beat", lambda m: beats.append(m.data), 10)
    p = probe()
    p.wait_for("spinning")
    assert spin_until(ros_node, lambda: len(beats) >= 3, timeout=20.0), p.text()
    p.send(sig)
    p.assert_quiet_exit()
    # shutdown() published after the signal, and the subscriber acknowledged it: the context was up
    assert "bye-acked" in p.milestones(), p.milestones()
    assert spin_until(ros_node, lambda: "bye" in got, timeout=5.0), got


@pytest.mark.parametrize("second", SIGNALS, ids=lambda s: s.name)
def test_a_second_signal_stops_a_callback_that_never_returns(probe, second):
    p = probe(PROBE_MODE="stuck")
    p.wait_for("stuck")
    p.send(signal.SIGINT)  # the spin loop cannot see it: the callback does not return
    time.sleep(1.0)
    assert p.proc.poll() is None, "the first signal cannot end a callback that never returns"
    p.send(second)
    code = p.finish(timeout=10.0)
    assert code == 0, f"exit code {code}\n{p.text()}"
    assert "shutdown-begin" in p.milestones() and p.milestones()[-1] == "shutdown-end", p.milestones()


def test_a_shutdown_that_hangs_prints_the_stacks_and_exits_1(probe):
    p = probe(PROBE_SHUTDOWN_S=120, PROBE_SHUTDOWN_LIMIT_S=2.0)
    p.wait_for("spinning")
    p.assert_watchdog_exit("in shutdown")
    assert "shutdown-end" not in p.milestones()


def test_a_main_thread_stuck_in_c_still_exits_within_the_limit(probe):
    # The main thread never returns to Python, so its signal handler never runs; the watcher
    # thread, which reads the signal's wakeup byte, arms the watchdog all the same.
    p = probe(PROBE_MODE="blocked_load", PROBE_SHUTDOWN_LIMIT_S=2.0)
    p.wait_for("blocked")
    p.assert_watchdog_exit("_block_in_c")


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_signal_while_messages_arrive(probe, ros_node, sig):
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import String

    rng = random.Random(12 + sig)
    echoed: list[str] = []
    pub = ros_node.create_publisher(String, "/probe/in", 100)
    ros_node.create_subscription(String, "/probe/out", lambda m: echoed.append(m.data), 100)
    executor = SingleThreadedExecutor(context=ros_node.context)
    executor.add_node(ros_node)
    try:
        for _ in range(2):
            echoed.clear()
            p = probe()
            p.wait_for("spinning")
            deadline = time.monotonic() + 20.0
            while len(echoed) < 20 and time.monotonic() < deadline:  # the echo is flowing
                pub.publish(String(data="x"))
                executor.spin_once(timeout_sec=0.002)
            assert len(echoed) >= 20, p.text()
            stop_at = time.monotonic() + rng.uniform(0.0, 0.3)
            sent = False
            while p.proc.poll() is None and time.monotonic() < stop_at + 5.0:
                pub.publish(String(data="x"))  # keeps coming while the signal lands
                executor.spin_once(timeout_sec=0.001)
                if not sent and time.monotonic() >= stop_at:
                    p.send(sig)
                    sent = True
            p.assert_quiet_exit()
    finally:
        executor.remove_node(ros_node)
        executor.shutdown()


@pytest.mark.parametrize("second", SIGNALS, ids=lambda s: s.name)
def test_a_second_signal_does_not_cut_shutdown_short(probe, second):
    p = probe(PROBE_SHUTDOWN_S=0.8)
    p.wait_for("spinning")
    p.send(signal.SIGINT)
    p.wait_for("shutdown-begin")
    p.send(second)
    time.sleep(0.1)
    p.send(second)
    p.assert_quiet_exit()


def test_signals_at_random_moments(probe):
    """Seeded moments over a node's whole life after its first line (load, build, spin)."""
    rng = random.Random(20260312)
    for i in range(8):
        p = probe(PROBE_LOAD_S=0.3, PROBE_CONSTRUCT_S=0.3)
        p.wait_for("loading")
        time.sleep(rng.uniform(0.0, 2.0))
        p.send(SIGNALS[i % 2])
        p.assert_quiet_exit()


def test_startup_error_is_one_line_and_exit_1(probe):
    p = probe(PROBE_MODE="startup_error")
    code = p.finish()
    lines = [line for line in p.text().splitlines()[1:] if line.strip() and line != "stderr:"]
    assert code == 1, p.text()
    assert len(lines) == 1, p.text()
    assert "[probe_node]" in lines[0] and "parameter 'rate' is -1.0: must be positive (second line" in lines[0]


def test_bug_in_the_constructor_stays_a_traceback(probe):
    p = probe(PROBE_MODE="bug")
    code = p.finish()
    assert code == 1 and "Traceback" in p.text() and "KeyError: 'a bug in the constructor'" in p.text()


def test_bug_in_a_callback_is_reported_and_shutdown_still_runs(probe, ros_node, spin_until):
    from std_msgs.msg import String

    p = probe(PROBE_MODE="callback_bug")
    p.wait_for("spinning")
    pub = ros_node.create_publisher(String, "/probe/in", 10)
    deadline = time.monotonic() + 20.0
    while p.proc.poll() is None and time.monotonic() < deadline:
        pub.publish(String(data="x"))
        spin_until(ros_node, lambda: False, timeout=0.05)
    code = p.finish()
    assert code == 1 and "ValueError: a bug in a callback" in p.text(), p.text()
    assert "shutdown-begin" in p.milestones() and p.milestones()[-1] == "shutdown-end", p.milestones()


def test_a_spin_that_returns_ends_the_node_with_exit_0(probe):
    p = probe(PROBE_MODE="return")
    p.assert_quiet_exit()
    assert "spinning" in p.milestones()
