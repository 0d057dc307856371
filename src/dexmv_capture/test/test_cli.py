"""`dexmv synth`, `dexmv recording info` and `dexmv calibrate` as users run them: real files, real processes."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dexmv_capture.calibration import BoardSpec, render_board_view, world_from_board
from dexmv_capture.d435 import D435_COLOR_640x480
from dexmv_capture.extrinsics import load_extrinsics
from dexmv_capture.recording import RecordingWriter
from dexmv_capture.rig import default_rig, optical_pose
from dexmv_capture.synthetic.synthesize import load_ground_truth


def dexmv(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "dexmv_bringup.cli.main", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, "MUJOCO_GL": "egl"})


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "pour"
    proc = dexmv("synth", "--task", "pour", "--seconds", "1", "--fps", "6", "--seed", "4", "--out", str(out),
                 "--no-pace")
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_synth_writes_recordings_ground_truth_and_extrinsics(synth_dir):
    out, proc = synth_dir
    for name in ("camera1.db3", "camera2.db3", "ground_truth.npz", "extrinsics.yaml"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert f"camera1: {out / 'camera1.db3'}" in proc.stdout and "frames: 6" in proc.stdout
    arrays, meta = load_ground_truth(out / "ground_truth.npz")
    assert (meta["task"], meta["seed"], meta["fps"], meta["frames"]) == ("pour", 4, 6.0, 6)
    assert arrays["keypoints_world"].shape == (6, 21, 3)
    rig = {c.camera_name: c for c in load_extrinsics(out / "extrinsics.yaml")}
    assert set(rig) == {"camera1", "camera2"}
    np.testing.assert_allclose(arrays["camera2/world_from_optical"], optical_pose(rig["camera2"]), atol=1e-9)


def test_recording_info_plain_and_json(synth_dir):
    out, _ = synth_dir
    path = out / "camera2.db3"
    proc = dexmv("recording", "info", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["file"] == str(path) and info["frames"] == 6 and info["depth_units_m"] == pytest.approx(0.001)
    streams = {s["stream"]: s for s in info["streams"]}
    assert streams["color"]["format"] == "rgb8" and streams["depth"]["format"] == "z16"
    for s in streams.values():
        assert (s["width"], s["height"], s["fps"]) == (640, 480, 6)
        assert (s["fx"], s["ppx"]) == pytest.approx((D435_COLOR_640x480.fx, D435_COLOR_640x480.ppx), abs=1e-3)
    assert info["timestamp_span_s"] == pytest.approx(5 / 6, abs=1e-3)
    assert info["duration_s"] < 0.5  # --no-pace: the recorder's clock saw the frames come fast
    plain = dexmv("recording", "info", str(path))
    assert plain.returncode == 0 and f"{path}:" in plain.stdout and "6 frames over 0.8333 s" in plain.stdout
    assert "color  rgb8  640x480 @ 6 fps" in plain.stdout


def test_recording_info_and_synth_name_bad_inputs(tmp_path):
    missing = tmp_path / "nothing.db3"
    proc = dexmv("recording", "info", str(missing))
    assert proc.returncode == 2 and f"{missing}: no such recording file" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = dexmv("synth", "--task", "juggle", "--out", str(tmp_path / "x"))
    assert proc.returncode == 2 and "unknown task 'juggle'" in proc.stderr and "Traceback" not in proc.stderr


def _board_recording(path, optical_from_board, spec, frames=3, seed=0):
    rng = np.random.default_rng(seed)
    with RecordingWriter(path, D435_COLOR_640x480, 30.0, pace=False) as writer:
        for k in range(frames):
            image = render_board_view(spec, D435_COLOR_640x480, optical_from_board).astype(float)
            image = np.clip(image + rng.normal(0.0, 2.0, image.shape), 0, 255).astype(np.uint8)
            writer.write(image, np.full((480, 640), 700, np.uint16), k * 1000 / 30)


def test_calibrate_recovers_the_rig_from_recordings(tmp_path):
    spec = BoardSpec()
    center, yaw = (0.03, -0.06), 15.0
    board_pose = world_from_board(center, yaw, spec)
    truth = default_rig()
    args = []
    for k, cam in enumerate(truth):
        path = tmp_path / f"cal_{cam.camera_name}.db3"
        _board_recording(path, np.linalg.inv(optical_pose(cam)) @ board_pose, spec, seed=k)
        args.append(f"{cam.camera_name}={path}")
    out = tmp_path / "measured.yaml"
    proc = dexmv("calibrate", *args, "--out", str(out), "--board-center", *map(str, center), "--board-yaw", str(yaw))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "measured.yaml.png").is_file()
    measured = {c.camera_name: c for c in load_extrinsics(out)}
    for cam in truth:
        est = measured[cam.camera_name]
        assert est.parent_frame_id == "world" and est.child_frame_id == f"{cam.camera_name}_link"
        assert np.linalg.norm(est.translation - cam.translation) < 0.003
        angle = (Rotation.from_quat(est.rotation) * Rotation.from_quat(cam.rotation).inv()).magnitude()
        assert np.degrees(angle) < 0.5


def test_calibrate_names_the_bad_input(tmp_path):
    blank = tmp_path / "blank.db3"
    with RecordingWriter(blank, D435_COLOR_640x480, 30.0, pace=False) as writer:
        writer.write(np.full((480, 640, 3), 128, np.uint8), np.zeros((480, 640), np.uint16), 0.0)
    proc = dexmv("calibrate", f"camera1={blank}", "--out", str(tmp_path / "x.yaml"))
    assert proc.returncode == 2 and f"camera1 ({blank}): the board was not found" in proc.stderr
    missing = tmp_path / "gone.db3"
    proc = dexmv("calibrate", f"camera1={missing}", "--out", str(tmp_path / "x.yaml"))
    assert proc.returncode == 2 and str(missing) in proc.stderr and "Traceback" not in proc.stderr
    proc = dexmv("calibrate", "camera1", "--out", str(tmp_path / "x.yaml"))
    assert proc.returncode == 2 and "expected NAME=RECORDING" in proc.stderr
    assert not (tmp_path / "x.yaml").exists()


def test_bench_capture_reports_rates_per_task_and_camera(tmp_path):
    report = tmp_path / "capture.json"
    proc = dexmv("bench", "capture", "--tasks", "relocate-tomato_soup_can", "--seconds", "1", "--fps", "10",
                 "--reference-frames", "2", "--json", "--report", str(report), timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data == json.loads(report.read_text())
    (result,) = data["results"]
    assert (result["task"], result["seed"], result["frames"]) == ("relocate-tomato_soup_can", 0, 10)
    for cam in ("camera1", "camera2"):
        c = result["cameras"][cam]
        assert 0.0 <= c["on_hand_rate"] <= c["detection_rate"] <= 1.0
        assert c["in_view_rate"] == 1.0  # the default rig keeps the hand in view
        assert set(c["on_hand_rate_by_phase"]) <= {"idle", "reach", "approach", "close", "lift", "move", "hold"}
    assert max(result["cameras"][c]["on_hand_rate"] for c in ("camera1", "camera2")) > 0.0
    assert data["render_reference"]["speedup"] > 1.0  # single-sample, shadowless rendering is cheaper
    assert "min_tracking_confidence=0.5" in data["settings"]["mediapipe_mode"]
    bad = dexmv("bench", "capture", "--tasks", "relocate-piano")
    assert bad.returncode == 2 and "unknown task(s) relocate-piano" in bad.stderr


def test_recording_info_refuses_damaged_recordings(damaged_recordings, tmp_path):
    garbled = damaged_recordings["garbled"]
    proc = dexmv("recording", "info", str(garbled))
    assert proc.returncode == 2 and f"{garbled}: corrupt or truncated: read " in proc.stderr
    assert "of 60 colour" in proc.stderr and "Traceback" not in proc.stderr
    no_color, sheet = damaged_recordings["no_color"], tmp_path / "sheet.png"
    proc = dexmv("recording", "info", str(no_color), "--sheet", str(sheet))
    assert proc.returncode == 2 and f"{no_color}: no frames could be read" in proc.stderr
    assert not sheet.exists()


def test_calibrate_checks_its_arguments_before_any_work(tmp_path, damaged_recordings):
    rec = damaged_recordings["intact"]
    out = str(tmp_path / "x.yaml")
    for args, says in (
        (["--squares", "0", "0"], "--squares: a ChArUco board has at least 2 squares each way"),
        (["--frames", "0"], "--frames must be at least 1, got 0"),
        (["--square", "-0.05"], "--square and --marker must be positive"),
    ):
        proc = dexmv("calibrate", f"camera1={rec}", "--out", out, *args)
        assert proc.returncode == 2 and says in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    missing = tmp_path / "no" / "such" / "x.yaml"
    proc = dexmv("calibrate", f"camera1={rec}", "--out", str(missing))
    assert proc.returncode == 2 and f"--out {missing}: folder {missing.parent} does not exist" in proc.stderr
    proc = dexmv("calibrate", f"camera1={rec}", f"camera1={rec}", "--out", out)
    assert proc.returncode == 2 and "camera 'camera1' is given twice" in proc.stderr
    proc = dexmv("calibrate", f"../up={rec}", "--out", out)
    assert proc.returncode == 2 and "camera name '../up': use a letter" in proc.stderr
    assert not (tmp_path / "x.yaml").exists()


def test_synth_board_recordings_calibrate_back_to_the_rig(tmp_path):
    cal = tmp_path / "cal"
    proc = dexmv("synth", "--board", "--board-frames", "3", "--out", str(cal))
    assert proc.returncode == 0, proc.stderr
    assert "try: dexmv calibrate camera1=" in proc.stdout
    out = tmp_path / "measured.yaml"
    proc = dexmv("calibrate", f"camera1={cal / 'camera1.db3'}", f"camera2={cal / 'camera2.db3'}", "--out", str(out),
                 "--frames", "3")
    assert proc.returncode == 0, proc.stderr
    truth = {c.camera_name: c for c in load_extrinsics(cal / "extrinsics.yaml")}
    for cam in load_extrinsics(out):
        assert np.linalg.norm(cam.translation - truth[cam.camera_name].translation) < 0.003
        angle = (Rotation.from_quat(cam.rotation) * Rotation.from_quat(truth[cam.camera_name].rotation).inv())
        assert np.degrees(angle.magnitude()) < 0.5


def test_synth_checks_names_task_and_output_before_writing(tmp_path):
    rig = tmp_path / "rig.yaml"
    rig.write_text("cameras:\n  ../escaped:\n    translation: [0, 0, 1]\n    rotation: [0, 0, 0, 1]\n")
    out = tmp_path / "inside" / "out"
    proc = dexmv("synth", "--task", "pour", "--seconds", "0.2", "--fps", "5", "--extrinsics", str(rig),
                 "--out", str(out), "--no-pace")
    assert proc.returncode == 2 and "cameras entry '../escaped': use a letter" in proc.stderr, proc.stderr
    assert not (tmp_path / "inside").exists() and not list(tmp_path.glob("**/escaped*"))
    proc = dexmv("synth", "--task", "juggle", "--out", str(out))
    assert proc.returncode == 2 and not out.exists() and "rendering" not in proc.stderr  # no bar before the check
    a_file = tmp_path / "file"
    a_file.write_text("x")
    proc = dexmv("synth", "--task", "pour", "--out", str(a_file))
    assert proc.returncode == 2 and f"--out {a_file}: exists and is not a folder" in proc.stderr
    assert "Errno" not in proc.stderr and "Traceback" not in proc.stderr


def test_doctor_checks_the_camera_and_vision_libraries():
    proc = dexmv("doctor", "--no-dds", "--no-render", timeout=180)
    lines = {line.split()[1]: line.split()[0] for line in proc.stdout.splitlines() if len(line.split()) > 1}
    assert {lines.get("pyrealsense2"), lines.get("opencv"), lines.get("mediapipe")} == {"ok"}, proc.stdout
