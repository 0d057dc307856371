"""The launch files' graphs without starting them: every subscribed topic has a publisher, every
config/ section belongs to a node the launch files start, RViz shows topics that are published,
and each launch file declares the arguments its table documents (loaded by launch's own loader)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from dexmv_bringup.graph_check import check_graph, load_interfaces, node_topics
from dexmv_bringup.launch_graph import GRAPHS, LaunchArgumentError, capture_graph, share_dir

SHARE = share_dir()
INTERFACES = load_interfaces(SHARE / "config" / "interfaces.yaml")


@pytest.fixture
def rec_dir(tmp_path: Path) -> Path:
    """A folder shaped like a two-camera recording (the graph reads names only)."""
    for name in ("camera1.db3", "camera2.db3", "extrinsics.yaml"):
        (tmp_path / name).write_bytes(b"")
    return tmp_path


def graph_cases(rec: Path, tmp: Path) -> dict[str, dict[str, str]]:
    """Each launch file with the arguments of its full graph (nodes not built yet included)."""
    (tmp / "bag").mkdir(exist_ok=True)
    return {
        "capture live": {"perception": "true", "retarget": "true", "sim": "true", "record": "true", "rviz": "false"},
        "capture recording": {"recording": str(rec), "perception": "true", "retarget": "true", "sim": "true",
                              "rviz": "false"},
        "sim": {"rviz": "false"},
        "replay": {"bag": str(tmp / "bag"), "retarget": "true", "sim": "true", "rviz": "false"},
        "deploy": {"run": str(tmp), "rviz": "false"},
    }


def test_every_subscribed_topic_has_a_publisher(rec_dir, tmp_path):
    for case, args in graph_cases(rec_dir, tmp_path).items():
        graph = GRAPHS[case.split()[0]](args)
        assert check_graph(graph, INTERFACES) == [], case


def test_the_check_finds_a_missing_publisher_and_an_undeclared_node(rec_dir):
    graph = capture_graph({"recording": str(rec_dir), "perception": "false", "rviz": "false",
                           "retarget": "true", "sim": "true"})
    assert check_graph(graph, INTERFACES) == [
        "retarget_node subscribes to /dexmv/hand_pose, which no node of this graph publishes"]
    interfaces = {k: v for k, v in INTERFACES.items() if k != "dexmv_sim/sim_node"}
    problems = check_graph(graph, interfaces)
    assert "dexmv_sim/sim_node (sim_node) is not declared in config/interfaces.yaml" in problems


def test_camera_topics_follow_the_camera_name(rec_dir):
    graph = capture_graph({"recording": str(rec_dir), "rviz": "false"})
    cam2 = next(n for n in graph.nodes if n.name == "camera2")
    assert "/camera2/camera2/aligned_depth_to_color/image_raw" in node_topics(cam2, INTERFACES).publishes
    assert cam2.resolved_params()["image_qos"] == "DEFAULT"  # from config/camera.yaml
    assert cam2.resolved_params()["recording"] == str(rec_dir / "camera2.db3")


def test_every_config_section_is_a_node_the_launch_files_start(rec_dir, tmp_path):
    started = {n.fqn: n for case, args in graph_cases(rec_dir, tmp_path).items()
               for n in GRAPHS[case.split()[0]](args).nodes}
    started.update({n.name: n for n in list(started.values()) if not n.namespace})
    for path in sorted((SHARE / "config").glob("*.yaml")):
        if path.name == "interfaces.yaml":
            continue
        for node_name, section in yaml.safe_load(path.read_text()).items():
            assert node_name in started, f"{path.name}: no launch file starts a node named {node_name}"
            assert str(path) in started[node_name].param_files, f"{path.name} is not given to {node_name}"
            assert set(section) == {"ros__parameters"}, path.name


def test_rviz_configs_show_published_topics(rec_dir, tmp_path):
    cases = graph_cases(rec_dir, tmp_path)
    for rviz, case in (("capture.rviz", "capture recording"), ("sim.rviz", "sim")):
        config = yaml.safe_load((SHARE / "rviz" / rviz).read_text())
        graph = GRAPHS[case.split()[0]](cases[case])
        published = set().union(*(node_topics(n, INTERFACES).publishes for n in graph.nodes))
        displays = config["Visualization Manager"]["Displays"]
        topics = {d["Topic"]["Value"] for d in displays if "Topic" in d}
        assert topics and topics <= published, f"{rviz}: {sorted(topics - published)} not published by {case}"
        assert config["Visualization Manager"]["Global Options"]["Fixed Frame"] == "world"
        robot = next(d for d in displays if d["Class"] == "rviz_default_plugins/RobotModel")
        assert robot["Description File"] == "@URDF@"  # filled in by the launch file


def test_bad_arguments_name_the_argument(rec_dir):
    with pytest.raises(LaunchArgumentError, match="launch argument perception:='maybe'"):
        capture_graph({"recording": str(rec_dir), "perception": "maybe", "rviz": "false"})
    with pytest.raises(LaunchArgumentError, match=r"no camera<i>\.db3"):
        capture_graph({"recording": str(rec_dir.parent), "rviz": "false"})
    with pytest.raises(LaunchArgumentError, match="seed"):
        GRAPHS["sim"]({"seed": "x", "rviz": "false"})
    with pytest.raises(LaunchArgumentError, match="run:= is required"):
        GRAPHS["deploy"]({"rviz": "false"})
    with pytest.raises(LaunchArgumentError, match="horizon:=-3"):
        GRAPHS["deploy"]({"run": "r", "horizon": "-3", "rviz": "false"})
    recording = {"recording": str(rec_dir), "rviz": "false"}
    for name, value, text in (("rate", "0", "rate:='0': expected a playback speed > 0"),
                              ("rate", "fast", "rate:='fast'"), ("start_time", "noon", "start_time:='noon'"),
                              ("start_time", "2026-12-04T09:00:00", "has no time zone"),
                              ("time_origin_ms", "x", "time_origin_ms:='x'"), ("exit_at_end", "soon", "exit_at_end"),
                              ("params_file", str(rec_dir / "none.yaml"), "params_file:=.*no such file")):
        with pytest.raises(LaunchArgumentError, match=text):
            capture_graph({**recording, name: value})
    with pytest.raises(LaunchArgumentError, match="objects:= is perception_node's"):
        capture_graph({**recording, "perception": "false", "objects": "006_mustard_bottle"})


def test_capture_arguments_reach_their_nodes(rec_dir, tmp_path):
    """Both cameras get one time base and rate; objects, the bag folder and params_file reach their nodes."""
    extra = tmp_path / "params.yaml"
    extra.write_text("retarget_node:\n  ros__parameters:\n    transform_wait: 5.0\n")
    graph = capture_graph({"recording": str(rec_dir), "rviz": "false", "perception": "true", "retarget": "true",
                           "record": "true",
                           "rate": "0.25", "start_time": "1764838800000000000", "time_origin_ms": "0",
                           "exit_at_end": "true", "objects": "006_mustard_bottle, 005_tomato_soup_can:1.2",
                           "record_output": str(tmp_path / "bag"), "params_file": str(extra)})
    nodes = {n.name: n for n in graph.nodes}
    for cam in ("camera1", "camera2"):
        params = nodes[cam].resolved_params()
        assert (params["rate"], params["start_time"], params["time_origin_ms"], params["exit_at_end"]) == (
            0.25, "1764838800000000000", 0.0, True)
    assert nodes["perception_node"].params["objects"] == ["006_mustard_bottle", "005_tomato_soup_can:1.2"]
    assert nodes["recorder_node"].params["output"] == str(tmp_path / "bag")
    assert nodes["retarget_node"].resolved_params()["transform_wait"] == 5.0
    assert all(str(extra) in n.param_files for n in graph.nodes)
    # the defaults leave the cameras as they were: real rate, each on its own clock, running on
    default = {n.name: n for n in capture_graph({"recording": str(rec_dir), "rviz": "false", "record": "true",
                                                  "perception": "true"}).nodes}
    params = default["camera1"].resolved_params()
    assert params["rate"] == 1.0 and not params["exit_at_end"] and "start_time" not in params
    assert "time_origin_ms" not in params and "objects" not in default["perception_node"].params
    assert "output" not in default["recorder_node"].params and default["recorder_node"].param_files == []


def _module(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_launch_files_declare_their_documented_arguments(launch_available):
    from launch.actions import DeclareLaunchArgument
    from launch.launch_description_sources import get_launch_description_from_python_launch_file

    files = sorted((SHARE / "launch").glob("*.launch.py"))
    assert [f.name for f in files] == ["capture.launch.py", "deploy.launch.py", "replay.launch.py", "sim.launch.py"]
    for path in files:
        description = get_launch_description_from_python_launch_file(str(path))
        declared = {a.name: a for a in description.entities if isinstance(a, DeclareLaunchArgument)}
        table = _module(path).ARGUMENTS
        assert list(declared) == [name for name, _, _ in table], path.name
        for name, default, text in table:
            assert text and declared[name].description == text, f"{path.name}: {name} undocumented"
            assert "".join(s.perform(None) for s in declared[name].default_value) == default


def test_readme_tables_are_the_launch_files_arguments(launch_available):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for path in sorted((SHARE / "launch").glob("*.launch.py")):
        section = readme.split(f"`{path.name}`:\n", 1)[1].strip("\n").split("\n\n")[0]
        rows = [f"| `{n}` | `{d}` | {t} |" if d else f"| `{n}` | | {t} |" for n, d, t in _module(path).ARGUMENTS]
        assert section.splitlines()[2:] == rows, f"README table of {path.name} differs from its ARGUMENTS"


def test_dexmv_launch_finds_files_like_ros2_launch(tmp_path):
    from dexmv_bringup.cli.launch import resolve

    assert resolve(["sim", "task:=pour"]) == (SHARE / "launch" / "sim.launch.py", ["task:=pour"])
    assert resolve(["dexmv_bringup", "capture.launch.py"]) == (SHARE / "launch" / "capture.launch.py", [])
    own = tmp_path / "mine.launch.py"
    own.write_text("")
    assert resolve([str(own), "a:=1"]) == (own, ["a:=1"])
    with pytest.raises(ValueError, match=r"no launch file 'nope' in dexmv_bringup \(it has: capture.launch.py"):
        resolve(["nope"])
    with pytest.raises(ValueError, match="package no_such_pkg is not installed"):
        resolve(["no_such_pkg", "x.launch.py"])
