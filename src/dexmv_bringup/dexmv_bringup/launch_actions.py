"""What the launch files share: declared arguments and launch_ros Node actions made from launch_graph's specs.

Each launch file in `launch/` lists its arguments as (name, default, description) rows, the table
`ros2 launch dexmv_bringup <file> --show-args` prints, and names its graph in launch_graph.py.
Imports launch and launch_ros (ROS 2's, or upstream's wheels installed by `make setup`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from dexmv_runtime.node_main import SHUTDOWN_LIMIT_S
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from dexmv_bringup.launch_graph import Graph, LaunchArgumentError, NodeSpec, executable_exists

Argument = tuple[str, str, str]  # name, default, description
# Seconds between launch's SIGINT to a node and its SIGTERM (launch's default: 5). Our nodes stop in
# well under a second, but one on a loaded 2-core machine once needed more than 5.
SIGTERM_TIMEOUT_S = "10"
# Seconds between that SIGTERM and launch's SIGKILL (launch's default: 5). A node that has not exited
# SHUTDOWN_LIMIT_S (20) after the first signal prints every thread's stack and exits 1 by itself
# (dexmv_runtime.node_main's watchdog); launch's SIGKILL must come later, or a stuck node dies silent.
SIGKILL_TIMEOUT_S = str(round(SHUTDOWN_LIMIT_S - float(SIGTERM_TIMEOUT_S) + 5))

RVIZ_ARGUMENT: Argument = ("rviz", "auto", "start RViz with this graph's display config: auto (where rviz2 is "
                                           "installed), true or false")


def node_action(spec: NodeSpec) -> Node:
    """launch_ros Node for a spec: its YAML files, then its overrides; output on the screen."""
    return Node(package=spec.package, executable=spec.executable, name=spec.name,
                parameters=[*spec.param_files, spec.params] if spec.params else list(spec.param_files),
                output="screen", emulate_tty=False, sigterm_timeout=SIGTERM_TIMEOUT_S,
                sigkill_timeout=SIGKILL_TIMEOUT_S)


def rviz_action(config: str) -> Node:
    """RViz with a display config whose robot-model URDF path is filled in (see rviz_config_with_urdf)."""
    return Node(package="rviz2", executable="rviz2", name="rviz2", arguments=["-d", rviz_config_with_urdf(config)],
                output="screen")


def rviz_config_with_urdf(config: str) -> str:
    """Copy of an RViz config with @URDF@ replaced by a freshly exported URDF of the simulated hand.

    RViz's RobotModel reads the URDF from a file and draws each link at its TF frame (sim/<body>,
    published by sim_node), so no robot_state_publisher is needed.
    """
    import tempfile

    from dexmv_sim.urdf import hand_urdf

    out = Path(tempfile.mkdtemp(prefix="dexmv-rviz-"))
    urdf = out / "adroit.urdf"
    hand_urdf(urdf)
    target = out / Path(config).name
    target.write_text(Path(config).read_text().replace("@URDF@", str(urdf)))
    return str(target)


def describe(arguments: Sequence[Argument], graph: Callable[[dict[str, str]], Graph]) -> LaunchDescription:
    """The LaunchDescription of a launch file: its declared arguments, then its graph's nodes."""

    def setup(context: LaunchContext) -> list:
        values = {name: LaunchConfiguration(name).perform(context) for name, _, _ in arguments}
        # A LaunchArgumentError ends the launch with its one line ("Caught exception in launch: ...")
        # and a non-zero exit, before any node starts.
        spec = graph(values)
        for node in spec.nodes:
            if not executable_exists(node.package, node.executable):
                raise LaunchArgumentError(
                    f"{node.enabled_by or 'this launch file'} needs {node.package}'s {node.executable}, which is not "
                    f"built in this workspace: build it (make setup)"
                    + (f" or pass {node.enabled_by.split(':=')[0]}:=false" if ":=" in node.enabled_by else ""))
        actions = [node_action(node) for node in spec.nodes]
        if spec.rviz_config:
            actions.append(rviz_action(spec.rviz_config))
        return actions

    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=text) for name, default, text in arguments),
        OpaqueFunction(function=setup),
    ])
