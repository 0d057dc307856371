"""Check that this shell can run the stack: ROS 2 middleware, interfaces, packages, physics, cameras
(pyrealsense2), calibration (OpenCV with aruco), hand detection (MediaPipe), rendering.

Each check prints one line; the command exits 1 when any check fails, so scripts and CI can
call it before doing real work. The DDS check sends one message through the middleware inside
this process, on the current ROS_DOMAIN_ID and discovery range.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

HELP = "check the environment: middleware, interfaces, packages, MuJoCo, RealSense, OpenCV, MediaPipe, rendering"

DEXMV_PACKAGES = (
    "dexmv_capture", "dexmv_perception", "dexmv_retarget", "dexmv_sim", "dexmv_learning", "dexmv_bringup",
)
INTERFACES = ("dexmv_msgs.msg", "dexmv_msgs.srv", "tf2_msgs.msg", "sensor_msgs.msg", "geometry_msgs.msg",
              "visualization_msgs.msg", "rosgraph_msgs.msg", "diagnostic_msgs.msg")


@dataclass
class Check:
    name: str
    probe: Callable[[], str]
    required: bool = True


def _python() -> str:
    venv = os.environ.get("VIRTUAL_ENV", "no venv")
    return f"{sys.version.split()[0]} ({sys.executable}; {venv})"


def _rclpy() -> str:
    import rclpy
    from rclpy.utilities import get_rmw_implementation_identifier

    return f"rclpy from {os.path.dirname(rclpy.__file__)}, RMW {get_rmw_implementation_identifier()}"


def _discovery() -> str:
    domain = os.environ.get("ROS_DOMAIN_ID", "0 (default)")
    scope = os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "SUBNET (default)")
    return f"ROS_DOMAIN_ID={domain}, ROS_AUTOMATIC_DISCOVERY_RANGE={scope}"


def _interfaces() -> str:
    for module in INTERFACES:
        importlib.import_module(module)
    return ", ".join(dict.fromkeys(m.split(".")[0] for m in INTERFACES))


def _packages() -> str:
    for module in DEXMV_PACKAGES:
        importlib.import_module(module)
    return f"{len(DEXMV_PACKAGES)} packages import"


def _dds_loopback() -> str:
    """Publish one String and receive it through the middleware (discovery included)."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import String

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node("dexmv_doctor", context=context)
        got: list[str] = []
        node.create_subscription(String, "dexmv_doctor/ping", lambda m: got.append(m.data), 10)
        pub = node.create_publisher(String, "dexmv_doctor/ping", 10)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        start = time.monotonic()
        while not got and time.monotonic() - start < 10.0:
            pub.publish(String(data="ping"))
            executor.spin_once(timeout_sec=0.05)
        if not got:
            raise RuntimeError("no message came back within 10 s")
        return f"message round trip in {1000 * (time.monotonic() - start):.0f} ms"
    finally:
        rclpy.shutdown(context=context)


def _mujoco() -> str:
    import mujoco

    xml = "<mujoco><worldbody><body><freejoint/><geom size='.1'/></body></worldbody></mujoco>"
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    mujoco.mj_step(model, data)
    return f"mujoco {mujoco.__version__}"


def _rendering() -> str:
    backend = os.environ.get("MUJOCO_GL", "")
    if not backend:
        raise RuntimeError("MUJOCO_GL is not set (source install/setup.bash sets egl)")
    import mujoco

    model = mujoco.MjModel.from_xml_string("<mujoco><worldbody><geom size='.1'/></worldbody></mujoco>")
    with mujoco.Renderer(model, 32, 32) as renderer:
        renderer.update_scene(mujoco.MjData(model))
        pixels = renderer.render()
    return f"{backend}: rendered {pixels.shape[1]}x{pixels.shape[0]}"


def _torch() -> str:
    import torch

    return f"torch {torch.__version__}, {torch.get_num_threads()} threads"


def _pyrealsense2() -> str:
    """Imports only where Debian's libusb-1.0-0 is installed; a software device proves it works."""
    from dexmv_capture.realsense_library import import_pyrealsense2

    rs = import_pyrealsense2()  # after ROS 2's Fast DDS, which the dds check uses in this process
    rs.software_device()
    return f"pyrealsense2 {getattr(rs, '__version__', '?')}"


def _opencv() -> str:
    import cv2

    if not hasattr(cv2, "aruco"):
        raise RuntimeError(f"OpenCV {cv2.__version__} has no aruco module (ChArUco calibration needs "
                           "opencv-contrib-python)")
    return f"OpenCV {cv2.__version__} with aruco"


def _mediapipe() -> str:
    import mediapipe

    if not hasattr(mediapipe, "solutions") or not hasattr(mediapipe.solutions, "hands"):
        raise RuntimeError(f"mediapipe {mediapipe.__version__} has no bundled Hands solution (pin 0.10.21)")
    return f"mediapipe {mediapipe.__version__} (Hands bundled)"


def checks(with_dds: bool, with_render: bool) -> list[Check]:
    items = [
        Check("python", _python),
        Check("rclpy", _rclpy),
        Check("discovery", _discovery),
        Check("interfaces", _interfaces),
        Check("packages", _packages),
        Check("mujoco", _mujoco),
        Check("torch", _torch),
        Check("pyrealsense2", _pyrealsense2),
        Check("opencv", _opencv),
        Check("mediapipe", _mediapipe),
    ]
    if with_dds:
        items.append(Check("dds", _dds_loopback))
    if with_render:
        items.append(Check("rendering", _rendering))
    return items


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-dds", action="store_true", help="skip the middleware round trip")
    parser.add_argument("--no-render", action="store_true", help="skip the headless rendering check")


def run(args: argparse.Namespace) -> int:
    failures = 0
    for check in checks(with_dds=not args.no_dds, with_render=not args.no_render):
        try:
            detail, status = check.probe(), "ok"
        except Exception as err:  # a check reports any failure as one line, never a traceback
            detail, status = f"{type(err).__name__}: {err}", "FAIL"
            failures += check.required
        print(f"{status:>4}  {check.name:<12} {detail}", flush=True)
    if failures:
        print(f"{failures} check(s) failed: run `make setup` and `source install/setup.bash`.", file=sys.stderr)
    return 1 if failures else 0
