"""Run the pipeline on the embedded default input, stage by stage, and say what each stage produced.

Stages run in order and stop at the first failure. Today's stages:
  1. environment  the checks of `dexmv doctor`
  2. graph        start the camera-rig extrinsics publisher as its own process and read the
                  camera frames back from /tf_static, as RViz would
Capture, perception, retargeting, simulation and learning join as their packages land.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable

HELP = "run the whole pipeline on the embedded default input (what `make demo` runs)"


def _stage_environment(args: argparse.Namespace) -> str:
    from dexmv_bringup.cli import doctor

    if doctor.run(argparse.Namespace(no_dds=False, no_render=False)) != 0:
        raise RuntimeError("environment checks failed")
    return "environment ready"


def _wait_for_line(proc: subprocess.Popen, needle: str, timeout: float) -> str:
    """Read the process's output until a line contains `needle`; returns everything read."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if needle in line:
                return "".join(seen)
        elif proc.poll() is not None:
            break
    raise RuntimeError(f"no '{needle}' from {proc.args[0]} within {timeout} s: {''.join(seen)[-500:]}")


def _stage_graph(args: argparse.Namespace) -> str:
    import rclpy
    from ament_index_python.packages import get_package_prefix
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from tf2_msgs.msg import TFMessage

    exe = os.path.join(get_package_prefix("dexmv_capture"), "lib", "dexmv_capture", "extrinsics_publisher")
    proc = subprocess.Popen([exe], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    context = rclpy.Context()
    try:
        _wait_for_line(proc, "published", args.timeout)
        # Subscribe only now: the transforms reach a late joiner through transient-local QoS.
        rclpy.init(context=context)
        node = rclpy.create_node("dexmv_demo", context=context)
        qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        got: list[TFMessage] = []
        node.create_subscription(TFMessage, "/tf_static", got.append, qos)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        deadline = time.monotonic() + args.timeout
        while not got and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
        if not got:
            raise RuntimeError(f"no /tf_static within {args.timeout} s")
        frames = ", ".join(f"{t.header.frame_id}->{t.child_frame_id}" for t in got[0].transforms)
    finally:
        rclpy.try_shutdown(context=context)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=15)
    if code != 0:
        raise RuntimeError(f"extrinsics_publisher exited with {code} on SIGINT")
    return f"/tf_static from a separate node process, read by a late subscriber: {frames}; node stopped cleanly"


STAGES: list[tuple[str, Callable[[argparse.Namespace], str]]] = [
    ("environment", _stage_environment),
    ("graph", _stage_graph),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for each ROS exchange")


def run(args: argparse.Namespace) -> int:
    for i, (name, stage) in enumerate(STAGES, 1):
        print(f"[{i}/{len(STAGES)}] {name}", flush=True)
        start = time.monotonic()
        try:
            result = stage(args)
        except Exception as err:  # a stage's failure ends the demo with one line, not a traceback
            print(f"      FAILED: {err}", flush=True)
            return 1
        print(f"      {result} ({time.monotonic() - start:.1f} s)", flush=True)
    print("demo finished: every stage ran")
    return 0
