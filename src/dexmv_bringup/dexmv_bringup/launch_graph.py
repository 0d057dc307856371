"""The node graphs the launch files start, as plain data: which node executables, with which parameters.

The launch files in `launch/` declare their arguments and turn these specs into launch_ros `Node`
actions; nothing here imports launch or rclpy, so the graph-consistency check (graph_check.py) and
the tests read the same graphs that `ros2 launch` starts. Arguments arrive as the strings the
launch command line gives ("true", "false", paths).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "dexmv_bringup"
DEFAULT_TASK = "relocate-mustard_bottle"


class LaunchArgumentError(ValueError):
    """A launch argument the graph cannot use; the message names the argument."""


@dataclass
class NodeSpec:
    """One node of a graph: what `ros2 run <package> <executable>` runs, its name and parameters."""

    package: str
    executable: str
    name: str
    param_files: list[str] = field(default_factory=list)  # YAML files (ros__parameters), in order
    params: dict[str, object] = field(default_factory=dict)  # overrides, applied after the files
    enabled_by: str = ""  # the launch argument that asked for this node, for the error when it is not built
    namespace: str = ""  # the namespace the node puts itself in (camera_node: camera_namespace)

    @property
    def fqn(self) -> str:
        """The node's fully qualified name: what its YAML section is keyed by."""
        return f"/{self.namespace}/{self.name}" if self.namespace else f"/{self.name}"

    def resolved_params(self) -> dict[str, object]:
        """What the node receives: this node's entries of its YAML files, then the overrides."""
        import yaml

        out: dict[str, object] = {}
        for path in self.param_files:
            data = yaml.safe_load(Path(path).read_text()) or {}
            for key in dict.fromkeys(("/**", self.name, f"/{self.name}", self.fqn)):
                out.update((data.get(key) or {}).get("ros__parameters", {}))
        out.update(self.params)
        return out


@dataclass
class Graph:
    """The nodes of one launch file, and the topics it expects from outside itself."""

    nodes: list[NodeSpec]
    inputs: tuple[str, ...] = ()  # subscribed topics that the user's own nodes (or devices) provide
    rviz_config: str | None = None  # RViz display config, when RViz is to start


def share_dir() -> Path:
    """This package's installed share folder (launch/, config/, rviz/)."""
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory(PACKAGE))


def config_file(name: str) -> str:
    return str(share_dir() / "config" / name)


def config_files(name: str) -> list[str]:
    """[config/<name>] when this package installs it: nodes of other packages may bring no file yet."""
    path = share_dir() / "config" / name
    return [str(path)] if path.is_file() else []


def flag(args: dict[str, str], name: str) -> bool:
    value = args.get(name, "").strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off", ""):
        return False
    raise LaunchArgumentError(f"launch argument {name}:={args[name]!r}: expected true or false")


def executable_exists(package: str, executable: str) -> bool:
    """True when `ros2 run package executable` would find something to run."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        return (Path(get_package_prefix(package)) / "lib" / package / executable).is_file()
    except PackageNotFoundError:
        return False


def rviz_wanted(args: dict[str, str], config: str) -> str | None:
    """The RViz config to load, or None: rviz:=auto starts RViz where rviz2 is installed."""
    choice = args.get("rviz", "auto").strip().lower()
    if choice == "auto":
        return config if executable_exists("rviz2", "rviz2") or shutil.which("rviz2") else None
    if flag(args, "rviz"):
        if not (executable_exists("rviz2", "rviz2") or shutil.which("rviz2")):
            raise LaunchArgumentError("rviz:=true but rviz2 is not installed here: pass rviz:=false, or view "
                                      "recordings and bags with `dexmv view`")
        return config
    return None


def _count(args: dict[str, str], name: str) -> int:
    try:
        value = int(args.get(name) or 0)
    except ValueError:
        value = -1
    if value < 0:
        raise LaunchArgumentError(f"launch argument {name}:={args[name]!r}: expected a count >= 0")
    return value


def sim_node(args: dict[str, str]) -> NodeSpec:
    params: dict[str, object] = {"task": args.get("task") or DEFAULT_TASK}
    if args.get("seed", "") != "":
        try:
            params["seed"] = int(args["seed"])
        except ValueError:
            raise LaunchArgumentError(f"launch argument seed:={args['seed']!r}: expected an integer") from None
    if args.get("horizon", "") != "":
        try:
            params["horizon"] = int(args["horizon"])
        except ValueError:
            raise LaunchArgumentError(f"launch argument horizon:={args['horizon']!r}: expected an integer number "
                                      "of control steps") from None
        if params["horizon"] < 0:
            raise LaunchArgumentError(f"launch argument horizon:={args['horizon']}: must be >= 0")
    return NodeSpec("dexmv_sim", "sim_node", "sim_node", [config_file("sim.yaml")], params)


def _recording_folder(path: str) -> tuple[list[Path], Path | None]:
    """The per-camera recordings (camera<i>.db3, sorted) and extrinsics.yaml of a capture folder."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise LaunchArgumentError(f"launch argument recording:={path}: not a folder (expected the output of "
                                  "`dexmv synth` or `dexmv recording`: camera1.db3, camera2.db3, extrinsics.yaml)")
    cams = sorted(p for p in folder.glob("camera*.db3"))
    if not cams:
        raise LaunchArgumentError(f"launch argument recording:={path}: no camera<i>.db3 recordings in it")
    extrinsics = folder / "extrinsics.yaml"
    return cams, extrinsics if extrinsics.is_file() else None


def _params_file(args: dict[str, str]) -> list[str]:
    """[params_file] when given: a YAML file of ros__parameters applied to every node after config/."""
    path = args.get("params_file", "")
    if not path:
        return []
    if not Path(path).expanduser().is_file():
        raise LaunchArgumentError(f"launch argument params_file:={path}: no such file (a YAML file of "
                                  "<node>: {ros__parameters: {...}} sections)")
    return [str(Path(path).expanduser().resolve())]


def _playback(args: dict[str, str]) -> dict[str, object]:
    """camera_node's playback parameters of a recording: rate, exit_at_end, start_time, time_origin_ms.

    Every camera node gets the same start_time and time_origin_ms, so one recorded instant carries
    one stamp in both cameras' images and perception pairs them by stamp."""
    try:
        rate = float(args.get("rate") or 1.0)
    except ValueError:
        rate = 0.0
    if not rate > 0 or rate == float("inf"):
        raise LaunchArgumentError(f"launch argument rate:={args['rate']!r}: expected a playback speed > 0")
    exit_at_end = flag({"exit_at_end": args.get("exit_at_end", "false")}, "exit_at_end")
    params: dict[str, object] = {"rate": rate, "exit_at_end": exit_at_end}
    start = args.get("start_time", "").strip()
    if start:
        from dexmv_capture.time_base import TimeBaseError, parse_start_time

        try:
            parse_start_time(start)
        except TimeBaseError as err:
            raise LaunchArgumentError(f"launch argument start_time:={start!r}: "
                                      f"{str(err).removeprefix('parameter start_time: ')}") from None
        params["start_time"] = start
    origin = args.get("time_origin_ms", "").strip()
    if origin:
        try:
            params["time_origin_ms"] = float(origin)
        except ValueError:
            raise LaunchArgumentError(f"launch argument time_origin_ms:={origin!r}: expected milliseconds of "
                                      "the recording's timeline") from None
    return params


def _objects(args: dict[str, str]) -> dict[str, object]:
    """perception_node's `objects` from objects:=id[:scale],...; nothing when empty (hand only)."""
    objects = [o.strip() for o in args.get("objects", "").split(",") if o.strip()]
    return {"objects": objects} if objects else {}


def capture_graph(args: dict[str, str]) -> Graph:
    """Two cameras (live or a recording), extrinsics, perception, retargeting, sim, optional recorder."""
    extra = _params_file(args)
    cam_params = [config_file("camera.yaml"), *extra]
    nodes: list[NodeSpec] = []
    extrinsics = args.get("extrinsics_file", "")
    if args.get("recording"):
        recordings, recorded_rig = _recording_folder(args["recording"])
        extrinsics = extrinsics or (str(recorded_rig) if recorded_rig else "")
        playback = _playback(args)
        for path in recordings:
            cam = path.stem
            nodes.append(NodeSpec("dexmv_capture", "camera_node", cam, cam_params,
                                  {"camera_name": cam, "camera_namespace": cam, "recording": str(path),
                                   "real_time": flag({"real_time": args.get("real_time", "true")}, "real_time"),
                                   "wait_for_subscribers": _count(args, "wait_for_subscribers"), **playback},
                                  namespace=cam))
    else:
        for i in (1, 2):
            cam = f"camera{i}"
            nodes.append(NodeSpec("dexmv_capture", "camera_node", cam, cam_params,
                                  {"camera_name": cam, "camera_namespace": cam,
                                   "serial_no": args.get(f"serial_no{i}", "")}, namespace=cam))
    nodes.append(NodeSpec("dexmv_capture", "extrinsics_publisher", "extrinsics_publisher", [*extra],
                          {"extrinsics_file": extrinsics}))
    if flag(args, "perception"):
        nodes.append(NodeSpec("dexmv_perception", "perception_node", "perception_node",
                              [*config_files("perception.yaml"), *extra], _objects(args),
                              enabled_by="perception:=true"))
    elif _objects(args):
        raise LaunchArgumentError("launch argument objects:= is perception_node's: it needs perception:=true")
    if flag(args, "retarget"):
        nodes.append(NodeSpec("dexmv_retarget", "retarget_node", "retarget_node",
                              [config_file("retarget.yaml"), *extra]))
    if flag(args, "sim"):
        sim = sim_node(args)
        sim.param_files += extra
        nodes.append(sim)
    if flag(args, "record"):
        record: dict[str, object] = {"output_dir": args.get("record_dir", "") or "bags",
                                     "record_images": flag(args, "record_images"), "recording": True}
        if args.get("record_output"):
            record["output"] = str(Path(args["record_output"]).expanduser().resolve())
        nodes.append(NodeSpec("dexmv_learning", "recorder_node", "recorder_node",
                              [*config_files("recorder.yaml"), *extra], record, enabled_by="record:=true"))
    return Graph(nodes, rviz_config=rviz_wanted(args, str(share_dir() / "rviz" / "capture.rviz")))


def sim_graph(args: dict[str, str]) -> Graph:
    """The simulation alone: it follows /adroit/joint_targets from whoever publishes them."""
    return Graph([sim_node(args)], inputs=("/adroit/joint_targets",),
                 rviz_config=rviz_wanted(args, str(share_dir() / "rviz" / "sim.rviz")))


def replay_graph(args: dict[str, str]) -> Graph:
    """A rosbag2 folder played back into the graph, with the nodes that consume what it holds."""
    bag = args.get("bag", "")
    if not bag or not Path(bag).expanduser().is_dir():
        raise LaunchArgumentError(f"launch argument bag:={bag!r}: give a rosbag2 folder (metadata.yaml + .mcap)")
    params: dict[str, object] = {"bag": str(Path(bag).expanduser().resolve()), "rate": float(args.get("rate") or 1.0),
                                 "loop": flag({"loop": args.get("loop", "false")}, "loop"),
                                 "wait_for_subscribers": _count(args, "wait_for_subscribers")}
    if args.get("topics"):
        params["topics"] = [t.strip() for t in args["topics"].split(",") if t.strip()]
    nodes = [NodeSpec(PACKAGE, "bag_player", "bag_player", [config_file("bag_player.yaml")], params)]
    if flag(args, "retarget"):
        nodes.append(NodeSpec("dexmv_retarget", "retarget_node", "retarget_node", [config_file("retarget.yaml")]))
    if flag(args, "sim"):
        nodes.append(sim_node(args))
    # What a bag holds is known only when it plays: the topics its consumers need come from it.
    return Graph(nodes, inputs=("/dexmv/hand_pose", "/adroit/joint_targets", "/tf", "/tf_static"),
                 rviz_config=rviz_wanted(args, str(share_dir() / "rviz" / "capture.rviz")))


def deploy_graph(args: dict[str, str]) -> Graph:
    """A trained policy driving the simulated hand: sim_node + policy_node."""
    run = args.get("run", "")
    if not run:
        raise LaunchArgumentError("launch argument run:= is required: a training run folder or checkpoint "
                                  "(written by `dexmv train`)")
    nodes = [sim_node(args),
             NodeSpec("dexmv_learning", "policy_node", "policy_node", config_files("policy.yaml"),
                      {"run": str(Path(run).expanduser().resolve())}, enabled_by="deploy.launch.py")]
    return Graph(nodes, rviz_config=rviz_wanted(args, str(share_dir() / "rviz" / "sim.rviz")))


GRAPHS = {"capture": capture_graph, "sim": sim_graph, "replay": replay_graph, "deploy": deploy_graph}
