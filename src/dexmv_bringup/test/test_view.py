"""`dexmv view --save x.rrd`, read back with Rerun's own loader: what a user would see is in the file."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest


def _load(path):
    import rerun.dataframe as rd

    recording = rd.load_recording(str(path))
    entities = {c.entity_path for c in recording.schema().component_columns()}
    assert "/__warnings" not in entities, _column(recording, "/__warnings", "Text", "log_tick")
    return recording, entities


def _column(recording, entity: str, component: str, index: str | None = "frame") -> list:
    """One component's values over a timeline (index None: static data)."""
    view = recording.view(index=index or "log_tick", contents=entity)
    table = (view.select() if index else view.select_static()).read_all()
    name = next(c for c in table.column_names if c.startswith(f"{entity}:") and c.endswith(component))
    return table.column(name).to_pylist()


def test_view_recording_shows_cameras_depth_hand_objects_and_robot(recording, tmp_path):
    from dexmv_capture.extrinsics import load_extrinsics
    from dexmv_capture.synthetic.synthesize import load_ground_truth

    out = tmp_path / "rec.rrd"
    proc = subprocess.run([sys.executable, "-m", "dexmv_bringup.cli.main", "view", str(recording.out_dir), "--save",
                           str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"{recording.frames} frames" in proc.stdout
    rec, entities = _load(out)
    for cam in ("camera1", "camera2"):
        assert {f"/world/{cam}/image/color", f"/world/{cam}/image/depth", f"/world/{cam}/image"} <= entities
        assert len(_column(rec, f"/world/{cam}/image/color", "ImageBuffer")) == recording.frames
    assert {"/world/hand/keypoints", "/world/hand/bones", "/world/robot/joints", "/world/robot/links",
            "/world/objects/006_mustard_bottle"} <= entities
    arrays, _ = load_ground_truth(recording.ground_truth)
    first = np.array(_column(rec, "/world/hand/keypoints", "Position3D")[0])
    assert first.shape == (21, 3)
    np.testing.assert_allclose(first, arrays["keypoints_world"][0], atol=1e-6)
    rig = {c.child_frame_id: c for c in load_extrinsics(recording.extrinsics)}
    translation = _column(rec, "/world/camera2", "Translation3D", None)[0][0]
    np.testing.assert_allclose(translation, rig["camera2_link"].translation, atol=1e-6)
    robot = np.array(_column(rec, "/world/robot/joints", "Position3D")[0])
    assert robot.shape[0] > 20 and np.linalg.norm(robot - first[0], axis=1).min() < 0.2  # the hand near the human's


def test_view_bag_shows_tf_and_the_robot_hand(tmp_path):
    import rerun as rr
    from geometry_msgs.msg import TransformStamped
    from rclpy.serialization import serialize_message
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore
    from sensor_msgs.msg import JointState
    from tf2_msgs.msg import TFMessage

    from dexmv_bringup.rerun_log import log_bag
    from dexmv_sim.adroit import ADROIT_JOINTS

    typestore = get_typestore(Stores.ROS2_JAZZY)
    with Writer(tmp_path / "bag", version=9) as writer:
        tf = writer.add_connection("/tf_static", "tf2_msgs/msg/TFMessage", typestore=typestore)
        js = writer.add_connection("/adroit/joint_states", "sensor_msgs/msg/JointState", typestore=typestore)
        t = TransformStamped()
        t.header.frame_id, t.child_frame_id = "world", "camera1_link"
        t.transform.translation.x, t.transform.rotation.w = 0.5, 1.0
        writer.write(tf, 0, serialize_message(TFMessage(transforms=[t])))
        for i in range(5):
            writer.write(js, int(i * 1e7), serialize_message(JointState(name=list(ADROIT_JOINTS),
                                                                        position=[0.05 * i] * 30)))
    out = tmp_path / "bag.rrd"
    stream = rr.RecordingStream("test_view_bag")
    stream.save(str(out))
    with stream:
        assert log_bag(rr, tmp_path / "bag") == 6
    stream.flush()
    stream.disconnect()
    rec, entities = _load(out)
    assert {"/world/camera1_link", "/world/robot/joints", "/world/robot/links"} <= entities
    assert _column(rec, "/world/camera1_link", "Translation3D", None)[0][0] == pytest.approx([0.5, 0, 0])
    assert len(_column(rec, "/world/robot/joints", "Position3D", "time")) == 5


def test_view_dataset_shows_the_robot_hand_of_an_episode(tmp_path, monkeypatch):
    """A Minari dataset recorded from gymnasium-robotics' AdroitHandRelocate-v1 (D4RL's Adroit layout)."""
    import gymnasium as gym
    import gymnasium_robotics
    import minari
    import rerun as rr

    from dexmv_bringup.rerun_log import ViewError, detect_kind, log_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "datasets"))
    gym.register_envs(gymnasium_robotics)
    env = minari.DataCollector(gym.make("AdroitHandRelocate-v1", max_episode_steps=8))
    for seed in (0, 1):
        env.reset(seed=seed)
        for _ in range(8):
            env.step(env.action_space.sample())
    env.create_dataset(dataset_id="dexmv/viewtest-v0", algorithm_name="random", author="test",
                       author_email="test@example.com", code_permalink="none", description="view test")
    folder = tmp_path / "datasets" / "dexmv" / "viewtest-v0"
    assert detect_kind(folder) == "dataset"
    out = tmp_path / "ds.rrd"
    stream = rr.RecordingStream("test_view_dataset")
    stream.save(str(out))
    with stream:
        assert log_dataset(rr, folder, episode=1) == 9  # 8 steps: 9 observations
        with pytest.raises(ViewError, match="episode 2 out of range"):
            log_dataset(rr, folder, episode=2)
    stream.flush()
    stream.disconnect()
    rec, entities = _load(out)
    assert {"/world/robot/joints", "/world/robot/links", "/metrics/reward"} <= entities
    assert len(_column(rec, "/world/robot/joints", "Position3D")) == 9


def test_view_rejects_what_it_cannot_show(tmp_path):
    for args, text in (([str(tmp_path / "missing")], "does not exist"), ([str(tmp_path)], "not a recording folder"),
                       ([str(tmp_path), "--save", "x.png"], "must end in .rrd")):
        proc = subprocess.run([sys.executable, "-m", "dexmv_bringup.cli.main", "view", *args], capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 2 and text in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scene_in_view(image: np.ndarray) -> tuple[int, int]:
    """(distinct colours, mustard-yellow pixels) in the viewer's view panels of a 1280x800 screenshot."""
    panels = image[60:600, 200:980].reshape(-1, 3)
    r, g, b = (panels[:, k].astype(int) for k in range(3))
    return len(np.unique(panels, axis=0)), int(np.count_nonzero((r > 150) & (g > 120) & (b < 70)))


def _scene_shown(image: np.ndarray) -> bool:
    colours, yellow = _scene_in_view(image)
    return colours > 2000 and yellow > 200


def _decode_png(png: bytes) -> np.ndarray:
    import imageio.v3 as iio

    return iio.imread(png, extension=".png")[..., :3]


def _load_sibling(name: str):
    """A helper module beside this file (tests are imported by path, not as a package)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_web_viewer_shows_the_recording_in_headless_chromium(recording, tmp_path):
    """`dexmv view --web` serves Rerun's web viewer on loopback; headless Chromium (software
    rendering) loads it and draws the cameras' images: the screenshot holds the rendered scene, not
    an empty viewer. Ctrl-C stops the server and removes its temporary recording."""
    import os
    import shutil
    import signal
    import time
    import urllib.request

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        message = "no chromium (`make test` installs it where it may: apt-get install chromium)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{message}; CI runs this test, it does not skip it", pytrace=False)
        pytest.skip(message)
    # Rerun's viewer reports usage unless told not to: its config in a folder of this test, opted out
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(tmp_path))
    subprocess.run([sys.executable, "-m", "rerun", "analytics", "disable"], env=env, check=True,
                   capture_output=True, timeout=60)
    web, grpc = _free_port(), _free_port()
    log = tmp_path / "view.log"
    with open(log, "wb") as out:
        view = subprocess.Popen([sys.executable, "-m", "dexmv_bringup.cli.main", "view", str(recording.out_dir),
                                 "--web", "--web-port", str(web), "--grpc-port", str(grpc)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 120
        while "Rerun web viewer: " not in log.read_text() and time.monotonic() < deadline:
            assert view.poll() is None, log.read_text()
            time.sleep(0.2)
        url = log.read_text().split("Rerun web viewer: ", 1)[1].split()[0]
        assert url.startswith(f"http://127.0.0.1:{web}/?url=rerun%2Bhttp%3A%2F%2F127.0.0.1%3A{grpc}"), url
        while time.monotonic() < deadline:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{web}/", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        # One browser kept open and asked for a screenshot every 2 real seconds until the scene shows
        # (Chromium's one-shot --screenshot waits in virtual time, which ran out before the viewer drew
        # on busy 2-core CI machines); the last screenshot is kept for a failure's message.
        browser_module = _load_sibling("headless_browser")
        with browser_module.HeadlessChromium(browser, url, tmp_path / "chromium", env) as chromium:
            png, waited = chromium.wait_for(lambda png: _scene_shown(_decode_png(png)), timeout_s=300)
        shot = tmp_path / "viewer.png"
        shot.write_bytes(png)
        image = _decode_png(png)
        colours, yellow = _scene_in_view(image)
    finally:
        view.send_signal(signal.SIGINT)
        code = view.wait(timeout=30)
    assert code == 0, log.read_text()
    assert image.shape[:2] == (800, 1280)
    # the camera views show the rendered scene: thousands of colours (an empty viewer has a few
    # dozen), among them the mustard bottle's yellow
    assert colours > 2000, f"the viewer drew no images in {waited:.0f} s ({colours} colours; {shot})"
    assert yellow > 200, f"no mustard-bottle yellow in the viewer ({shot})"
    with pytest.raises(OSError):  # the server stopped with the command
        urllib.request.urlopen(f"http://127.0.0.1:{web}/", timeout=2)


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT inherited as ignored"])
def test_web_viewer_stops_with_its_server_on_sigterm_or_an_ignored_sigint(recording, tmp_path, how):
    """`kill` (SIGTERM) and a Ctrl-C in a shell whose `&` left SIGINT ignored both stop the command
    and the Rerun server it started: nothing keeps serving the port."""
    import os
    import signal
    import time
    import urllib.request

    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(tmp_path))
    subprocess.run([sys.executable, "-m", "rerun", "analytics", "disable"], env=env, check=True,
                   capture_output=True, timeout=60)
    web, grpc = _free_port(), _free_port()
    log = tmp_path / "view.log"
    ignore = how != "SIGTERM"
    with open(log, "wb") as out:
        view = subprocess.Popen([sys.executable, "-m", "dexmv_bringup.cli.main", "view", str(recording.out_dir),
                                 "--web", "--web-port", str(web), "--grpc-port", str(grpc)],
                                stdout=out, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore else None)
    try:
        deadline = time.monotonic() + 120
        served = False
        while not served and time.monotonic() < deadline:
            assert view.poll() is None, log.read_text()
            try:
                served = urllib.request.urlopen(f"http://127.0.0.1:{web}/", timeout=2).status == 200
            except OSError:
                time.sleep(0.2)
        assert served, log.read_text()
        view.send_signal(signal.SIGINT if ignore else signal.SIGTERM)
        code = view.wait(timeout=30)
    finally:
        if view.poll() is None:
            view.kill()
    assert code == 0, log.read_text()
    with pytest.raises(OSError):  # the server stopped with the command
        urllib.request.urlopen(f"http://127.0.0.1:{web}/", timeout=2)
