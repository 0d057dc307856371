"""The `dexmv` command as users run it: on PATH after sourcing, verbs from every package."""

import os
import re
import shutil
import subprocess
import sys

import numpy as np

from dexmv_bringup.cli.main import BENCH_GROUP, VERB_GROUP, load_verbs


def dexmv(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    exe = shutil.which("dexmv")
    assert exe is not None, "dexmv is not on PATH after sourcing install/setup.bash"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_every_registered_verb():
    out = dexmv("--help")
    assert out.returncode == 0, out.stderr
    verbs = load_verbs(VERB_GROUP)
    assert {"doctor", "bench"} <= set(verbs)
    for name, module in verbs.items():
        assert name in out.stdout
        assert module.HELP.split()[0] in out.stdout


def test_no_verb_prints_help_and_fails():
    out = dexmv()
    assert out.returncode == 2 and "verbs:" in out.stdout


def test_every_verb_has_help():
    for name in load_verbs(VERB_GROUP):
        out = dexmv(name, "--help")
        assert out.returncode == 0 and f"dexmv {name}" in out.stdout, out.stderr


def test_every_benchmark_takes_json_and_report():
    for name in load_verbs(BENCH_GROUP):
        out = dexmv("bench", name, "--help")
        assert out.returncode == 0 and "--json" in out.stdout and "--report" in out.stdout, name


def test_unknown_verb_is_rejected():
    out = dexmv("fly")
    assert out.returncode == 2 and "invalid choice: 'fly'" in out.stderr


def test_doctor_passes_in_this_environment():
    out = dexmv("doctor")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "FAIL" not in out.stdout
    for check in ("rclpy", "interfaces", "packages", "mujoco", "dds", "rendering"):
        assert f"ok  {check}" in out.stdout


def test_demo_runs_every_stage(tmp_path, launch_available):
    """The whole demo on a short recording and a tiny training budget: files written, images and joint
    targets crossed DDS, the bag became a demonstration, DAPG ran, the policy drove sim_node. Its
    graph stage launches capture.launch.py: without ROS 2's launch packages it skips, as the launch
    tests do (under CI it fails)."""
    out = dexmv("demo", "--seconds", "2", "--fps", "15", "--iterations", "1", "--trajectories", "2",
                "--horizon", "50", "--episodes", "2", "--out", str(tmp_path), timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "demo finished" in out.stdout and "FAILED" not in out.stdout
    # realsense2_camera's frame tree: link -> color_frame -> color_optical_frame
    assert "world->camera1_link" in out.stdout and "camera1_link->camera1_color_frame" in out.stdout
    assert "camera1_color_frame->camera1_color_optical_frame" in out.stdout
    # Images a camera node published arrive (reliable QoS, the nodes wait for this subscriber and the stage
    # waits for the last ones); a node under load may skip frames to keep real time, and its 10-deep writer
    # history may drop a frame this process had not fully received while perception_node keeps the CPUs busy.
    for cam in ("camera1", "camera2"):
        got = re.search(rf"{cam} (\d+)/(\d+) colour \+ (\d+)/(\d+) depth images 640x480 arrived of those "
                        r"published \((\d+) of 30 frames skipped", out.stdout)
        assert got, out.stdout
        color, sent, depth, sent_depth, skipped = map(int, got.groups())
        assert sent == sent_depth and sent + skipped == 30 and sent >= 20 and min(color, depth) >= 20, out.stdout
    # perception_node, not the ground truth, made the hand poses: a busy node drops frames rather than
    # queueing them, but it found the hand, in world, near the truth
    got = re.search(r"perception_node: (\d+) hand poses for 30 frames, (\d+) with the hand \(mean keypoint error "
                    r"(\S+) mm", out.stdout)
    assert got and int(got.group(2)) >= 3 and float(got.group(3)) < 50.0, out.stdout
    assert "object pose arrays" in out.stdout, out.stdout
    # One joint target per hand pose that reached retarget_node. Its hand-pose subscription is best
    # effort (it matches any publisher of a camera-rate stream), so on a machine loaded far beyond the
    # demo (a CI run beside two trainings and two conversions) DDS dropped one of 30 once: allow two.
    got = re.search(r"(\d+) joint targets from retarget_node for (\d+) hand poses", out.stdout)
    assert got and int(got.group(2)) - 2 <= int(got.group(1)) <= int(got.group(2)), out.stdout
    assert int(got.group(1)) >= 3, out.stdout
    assert "every node stopped cleanly on SIGINT" in out.stdout
    # the graph is capture.launch.py's, started by ROS 2's launch service with the demo's time base and rate
    assert re.search(r"capture.launch.py run by ROS 2's launch service: 7 nodes, each finished cleanly", out.stdout)
    command = (tmp_path / "logs" / "launch_command.txt").read_text()
    assert "rate:=0.1 " in command and "start_time:=" in command and "record_output:=" in command, command
    for name in ("recording/camera1.db3", "recording/camera2.db3", "recording/ground_truth.npz", "replay.gif",
                 "demonstration.npz"):
        assert (tmp_path / name).stat().st_size > 0, name
    with np.load(tmp_path / "demonstration.npz") as demo:
        assert demo["actions"].shape == demo["joints"].shape and demo["joints"].shape[1] == 30
        assert np.all(np.abs(demo["actions"]) <= 1.0)
    # the bag the recorder closed on SIGINT holds the hand poses and became one demonstration
    got = re.search(r"recorder_node: \S+ closed on SIGINT with (\d+) messages", out.stdout)
    assert got and int(got.group(1)) > 30, out.stdout
    assert "1 demos kept, 0 dropped (source: bag)" in out.stdout, out.stdout
    assert re.search(r"DAPG on relocate-tomato_soup_can: 1 iterations x 2 trajectories of 50 steps", out.stdout)
    assert re.search(r"success rate \d\.\d\d over 2 episodes", out.stdout), out.stdout
    got = re.search(r"policy_node drove sim_node for one 50-step episode .* (\d+) joint targets over DDS\): "
                    r"success=(True|False) score=", out.stdout)
    assert got and int(got.group(1)) > 0, out.stdout
    assert "dexmv launch deploy.launch.py run:=" in (tmp_path / "logs" / "deploy_command.txt").read_text()
    for name in ("bag/metadata.yaml", "demos/summary.json", "run/metrics.csv", "run/learning_curve.png",
                 "run/eval.mp4", "human_vs_robot.mp4", "human_vs_robot.png", "logs/deploy_launch.log"):
        assert (tmp_path / name).stat().st_size > 0, name
    report = (tmp_path / "report.md").read_text()
    for stage in ("graph", "replay", "demos", "train", "evaluate", "deploy"):
        assert f"## {stage}" in report
    assert "(human_vs_robot.png)" in report and "(run/learning_curve.png)" in report
    assert "(human_vs_robot.mp4)" in report and "(run/eval.mp4)" in report  # the human beside the robot; the policy


def test_demo_graph_stage_without_the_launch_packages_says_what_to_install(tmp_path):
    """A launch_ros that cannot be imported (shadowed by one that raises ImportError, as a missing one would):
    the graph stage fails with one line naming the packages and how to install them."""
    shadow = tmp_path / "shadow" / "launch_ros"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('launch_ros is not installed')\n")
    env = {**os.environ, "PYTHONPATH": f"{shadow.parent}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = subprocess.run([sys.executable, "-m", "dexmv_bringup.cli.main", "demo", "--stages", "graph", "--out",
                          str(tmp_path / "out")], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert out.returncode == 1, out.stdout + out.stderr
    failed = [line for line in out.stdout.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and "ROS 2's launch packages (launch_ros" in failed[0], out.stdout
    assert "are not importable" in failed[0], out.stdout
    assert "DEXMV_LAUNCH_WHEELS" in failed[0] and "make setup" in failed[0], out.stdout


def test_demo_stages_name_functions_that_exist():
    from dexmv_bringup.cli import demo

    names = [name for name, _ in demo.STAGES]
    assert names[0] == "environment" and names[-1] == "report" and len(set(names)) == len(names)
    for name, module in demo.STAGES:
        assert callable(demo._stage(name, module)), name


def test_demo_rejects_bad_settings():
    out = dexmv("demo", "--seconds", "0")
    assert out.returncode == 2 and "--seconds" in out.stdout
    out = dexmv("demo", "--iterations", "0")
    assert out.returncode == 2 and "--iterations must be at least 1" in out.stdout
