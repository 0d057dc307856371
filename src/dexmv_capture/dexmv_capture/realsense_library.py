"""Import pyrealsense2 so that it cannot break ROS 2's Fast DDS in the same process.

pyrealsense2 2.59 carries a Fast DDS 2.x of its own (for librealsense's DDS devices) and exports
its singletons as GNU-unique symbols (`eprosima::SystemInfo::instance()::singleton`, ...). The
dynamic linker keeps one copy of each unique symbol per process, defined by the first library
loaded. With pyrealsense2 loaded before ROS 2 Kilted's Fast DDS 3 (which rclpy loads at its first
middleware call), Fast DDS 3 uses Fast DDS 2's objects, of another layout, and the process dies of
a segmentation fault at exit (seen: exit 139 after writing a recording, then creating a node).
Loaded the other way round, both work (camera_node has always done so: rclpy first). So
`import_pyrealsense2()` first loads the Fast DDS middleware of the ROS 2 on AMENT_PREFIX_PATH, if
there is one; without ROS 2 (offline library use) there is nothing to protect.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from types import ModuleType

_RMW_LIBRARY = "librmw_fastrtps_cpp.so"  # pulls in Fast DDS itself (libfastdds / libfastrtps)
_preloaded: list[ctypes.CDLL] = []  # kept referenced: the library stays loaded


def preload_ros_fast_dds() -> Path | None:
    """Load the ROS 2 Fast DDS middleware found on AMENT_PREFIX_PATH; its path, or None if there is none."""
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        path = Path(prefix) / "lib" / _RMW_LIBRARY if prefix else None
        if path is not None and path.is_file():
            try:
                _preloaded.append(ctypes.CDLL(str(path)))
            except OSError:  # a broken install: rclpy will say so where it matters
                return None
            return path
    return None


def import_pyrealsense2() -> ModuleType:
    """`import pyrealsense2`, after ROS 2's Fast DDS (see the module docstring). ImportError as usual."""
    if not _preloaded:
        preload_ros_fast_dds()
    import pyrealsense2

    return pyrealsense2
