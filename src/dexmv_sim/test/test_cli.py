"""The `dexmv sim` verbs and `dexmv bench sim` as users run them (real processes, real rendering)."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

DEXMV = shutil.which("dexmv")
pytestmark = pytest.mark.skipif(DEXMV is None, reason="the dexmv command is not on PATH (source install/setup.bash)")


def _dexmv(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([DEXMV, *args], capture_output=True, text=True, timeout=timeout, check=False)


def test_tasks_lists_every_env():
    out = _dexmv("sim", "tasks")
    assert out.returncode == 0, out.stderr
    assert "dexmv/Relocate-mustard_bottle-v0" in out.stdout and "dexmv/PlaceInside-v0" in out.stdout


def test_render_contact_sheet_and_gif(tmp_path):
    sheet = tmp_path / "mug.png"
    out = _dexmv("sim", "render", "--task", "relocate-mug", "--width", "160", "--height", "120", "--out", str(sheet))
    assert out.returncode == 0, out.stderr
    image = np.asarray(Image.open(sheet))
    assert image.shape == (240, 480, 3) and image.std() > 10  # 2 x 3 frames of 160 x 120
    gif = tmp_path / "pour.gif"
    out = _dexmv("sim", "render", "--task", "pour", "--policy", "zero", "--steps", "20", "--width", "160",
                 "--height", "120", "--out", str(gif))
    assert out.returncode == 0, out.stderr
    assert Image.open(gif).n_frames > 1
    bad = _dexmv("sim", "render", "--task", "juggle", "--out", str(tmp_path / "x.png"))
    assert bad.returncode == 2 and "unknown task 'juggle'" in bad.stderr


def test_render_mp4_reads_back(tmp_path):
    cv2 = pytest.importorskip("cv2", reason="OpenCV writes the MP4")
    video = tmp_path / "mug.mp4"
    # 12 control steps at 100 Hz, a frame every 4 steps at 25 fps: the first frame and 3 more
    out = _dexmv("sim", "render", "--task", "relocate-mug", "--policy", "random", "--steps", "12", "--width", "160",
                 "--height", "120", "--out", str(video))
    assert out.returncode == 0, out.stderr
    capture = cv2.VideoCapture(str(video))
    frames = []
    while (frame := capture.read())[0]:
        frames.append(frame[1])
    capture.release()
    assert len(frames) == 4 and frames[0].shape == (120, 160, 3) and frames[0].std() > 10


def test_urdf_export(tmp_path):
    out = _dexmv("sim", "urdf", "--out", str(tmp_path / "adroit.urdf"), "--copy-meshes")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "adroit.urdf").read_text().count("<joint ") == 30
    assert any((tmp_path / "meshes").glob("*.stl"))


def test_bench_json_is_one_clean_object(tmp_path):
    report = tmp_path / "sim.json"
    out = _dexmv("bench", "sim", "--steps", "200", "--repeats", "1", "--workers", "1", "--envs-per-worker", "2",
                 "--scripted-seeds", "1", "--json", "--report", str(report))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)  # the whole stdout is one JSON object
    for key in ("ours_steps_per_s_1thread", "gymnasium_robotics_steps_per_s_1thread", "ours_steps_per_s_all_cores",
                "ours_steps_per_s_independent_processes", "batched_cpu_efficiency_vs_1thread",
                "independent_cpu_efficiency_vs_1thread"):
        assert data[key] > 0
    # the same episodes everywhere: 200 steps asked -> 1 episode, rounded up to one per env -> 2 x 200
    assert data["steps_per_measurement"] == 400
    assert data["workers"] == 1 and data["machine"]["other_load_cores"] >= 0
    assert set(data["scripted_success"]) == {"mustard_bottle", "sugar_box", "tomato_soup_can", "large_clamp", "mug"}
    assert all(v in (0.0, 1.0) for v in data["scripted_success"].values())  # one seed each
    assert json.loads(report.read_text())["task"] == "relocate-mustard_bottle"
    assert sys.executable  # the same interpreter family runs the command
