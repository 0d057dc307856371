"""pyrealsense2 and ROS 2's Fast DDS in one process: a recording written, then a node, exits cleanly.

pyrealsense2 carries its own Fast DDS 2.x; loaded first, its unique symbols made ROS 2 Kilted's Fast
DDS 3 crash the process at exit (exit 139). Each case runs in a fresh interpreter: the order in
which the libraries load is the point, and this test process has loaded both long ago.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

WRITE_THEN_NODE = """
import numpy as np, sys
from pathlib import Path
from dexmv_capture.d435 import Intrinsics
from dexmv_capture.recording import RecordingReader, RecordingWriter
path = Path(sys.argv[1])
with RecordingWriter(path, Intrinsics(64, 48, 60.0, 60.0, 32.0, 24.0), 10.0) as writer:
    for k in range(3):
        writer.write(np.full((48, 64, 3), 40 * k, np.uint8), np.full((48, 64), 500, np.uint16), 100.0 * k)
with RecordingReader(path) as reader:
    frames = len(list(reader))
import rclpy
from std_msgs.msg import String
context = rclpy.Context()
rclpy.init(context=context)
node = rclpy.create_node("realsense_then_dds", context=context)
node.create_publisher(String, "realsense_then_dds", 10).publish(String(data="x"))
node.destroy_node()
rclpy.shutdown(context=context)
print("frames", frames)
"""


def test_a_recording_then_a_node_in_one_process_exits_cleanly(tmp_path):
    proc = subprocess.run([sys.executable, "-c", WRITE_THEN_NODE, str(tmp_path / "tiny.db3")],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    assert "frames 3" in proc.stdout


def test_the_middleware_is_found_where_ros_is_sourced():
    from dexmv_capture.realsense_library import preload_ros_fast_dds

    if not os.environ.get("AMENT_PREFIX_PATH"):
        pytest.skip("no ROS 2 sourced: nothing to preload")
    path = preload_ros_fast_dds()
    assert path is not None and path.name == "librmw_fastrtps_cpp.so", path
