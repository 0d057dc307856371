"""`dexmv retarget` and `dexmv bench retarget` as users run them: real files, real processes."""

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dexmv_retarget.kinematics import AdroitKinematics
from dexmv_retarget.robot_motion import robot_keypoints, smooth_joint_trajectory


def dexmv(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "dexmv_bringup.cli.main", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    kin = AdroitKinematics()
    q = smooth_joint_trajectory(kin, 45, 30.0, seed=5, max_frequency_hz=0.5)
    kp = robot_keypoints(kin, q, noise_m=0.002, seed=5)
    kp[10, 8] = np.nan  # a lost fingertip
    folder = tmp_path_factory.mktemp("rec")
    np.save(folder / "world.npy", kp)
    return folder, kin, q, kp


def test_retarget_writes_joints_plot_and_diagnostics(recording):
    folder, kin, _, kp = recording
    res = dexmv("retarget", "--input", str(folder / "world.npy"), "--output", str(folder / "out" / "joints.npy"),
                "--plot", str(folder / "plot.png"), "--diagnostics", str(folder / "diag.csv"), "--json",
                "--no-progress")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    joints = np.load(folder / "out" / "joints.npy")
    assert joints.shape == (len(kp), 30) and np.isfinite(joints).all()
    assert kin.limit_violation(joints) == 0.0 and summary["max_limit_violation"] == 0.0
    assert summary["partial_frames"] == 1 and summary["tsv_error_mm"] < 5.0
    assert (folder / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = (folder / "diag.csv").read_text().splitlines()
    assert len(lines) == len(kp) + 1 and "PARTIAL" in lines[11]


def test_transform_option_takes_camera_frame_keypoints_to_world(recording):
    folder, _, _, kp = recording
    rot = Rotation.from_euler("xyz", [0.4, -2.0, 1.0])
    t = np.array([0.3, 0.1, 0.7])
    np.save(folder / "camera.npy", rot.inv().apply(kp.reshape(-1, 3) - t).reshape(kp.shape))
    seven = " ".join(str(v) for v in [*t, *rot.as_quat()])
    for name, source in (("world", "world.npy"), ("camera", "camera.npy")):
        extra = ["--transform", seven] if name == "camera" else []
        res = dexmv("retarget", "--input", str(folder / source), "--output", str(folder / f"{name}_j.npy"),
                    "--no-progress", *extra)
        assert res.returncode == 0, res.stderr
    np.testing.assert_allclose(np.load(folder / "camera_j.npy"), np.load(folder / "world_j.npy"), atol=1e-6)


@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        (np.zeros((4, 20, 3)), [], "expected shape (T, 21, 3)"),
        (np.full((4, 21, 3), 300.0), [], "millimetres"),
        (np.zeros((4, 21, 3)), ["--transform", "1 2 3"], "seven numbers"),
        (np.zeros((4, 21, 3)), ["--fps", "10", "--filter-cutoff", "6"], "half the 10 Hz"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, content, args, needle):
    path = tmp_path / "bad.npy"
    np.save(path, content)
    res = dexmv("retarget", "--input", str(path), "--output", str(tmp_path / "j.npy"), "--no-progress", *args)
    assert res.returncode == 2
    assert needle in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "j.npy").exists()


def test_benchmark_reports_ours_and_the_reference(recording, tmp_path):
    folder, *_ = recording
    report = tmp_path / "bench.json"
    res = dexmv("bench", "retarget", "--input", str(folder / "world.npy"), "--reference-frames", "4",
                "--seconds", "1", "--repeats", "1", "--json", "--report", str(report), timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out == json.loads(report.read_text())
    for case in (out, out["round_trip"]):
        assert case["max_limit_violation"] == 0.0 and case["nan_joints"] == 0
        assert case["ms_per_frame"] > 0 and case["reference"]["ms_per_frame"] > 0
        assert 0 < case["cpu_ms_per_frame"] <= case["ms_per_frame"] * 1.05  # a thread uses at most its wall time
        assert case["tsv_error_mm"] < 10.0 and case["reference"]["frames"] == 4
        assert case["speedup_vs_reference"] is not None  # a ratio, reported, never asserted on
    assert out["round_trip"]["finger_joint_error_rad"] < 0.2


def test_a_file_without_any_usable_frame_is_an_error_for_both_commands(tmp_path):
    path = tmp_path / "lost.npy"
    np.save(path, np.full((6, 21, 3), np.nan))
    for args in (["retarget", "--input", str(path), "--output", str(tmp_path / "j.npy"), "--no-progress"],
                 ["bench", "retarget", "--input", str(path), "--no-round-trip", "--repeats", "1"]):
        res = dexmv(*args)
        assert res.returncode == 2 and "every keypoint is NaN" in res.stderr, res.stderr
    assert not (tmp_path / "j.npy").exists()


def test_one_file_gets_one_number_from_retarget_and_bench(recording, tmp_path):
    """The headline is the paper's error with one scale fitted on the whole file, in both commands."""
    folder, *_ = recording
    res = dexmv("retarget", "--input", str(folder / "world.npy"), "--output", str(tmp_path / "j.npy"), "--json",
                "--no-progress")
    assert res.returncode == 0, res.stderr
    ours = json.loads(res.stdout)
    res = dexmv("bench", "retarget", "--input", str(folder / "world.npy"), "--reference-frames", "3",
                "--repeats", "1", "--no-round-trip", "--json", timeout=300)
    assert res.returncode == 0, res.stderr
    bench = json.loads(res.stdout)
    assert ours["tsv_error_mm"] == pytest.approx(bench["tsv_error_mm"], rel=1e-9)
    assert ours["scale"] == pytest.approx(bench["scale"], rel=1e-12)
    assert ours["wrist_error_mm"] is not None and len(ours["tsv_error_mm_per_vector"]) == 10


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--plot", "{tmp}/plot.jpeg"], "must end in .png"),
        (["--diagnostics", "{tmp}/a_file/diag.csv"], "cannot write there"),
        (["--shape-weight", "-1"], "--shape-weight must be a finite number"),
        (["--shape-weight", "nan"], "--shape-weight must be a finite number"),
        (["--segment-weight", "-0.5"], "--segment-weight must be a finite number"),
        (["--scaling-factor", "0"], "--scaling-factor must be a positive number"),
        (["--min-confidence", "2"], "--min-confidence must lie in [0, 1]"),
    ],
)
def test_bad_options_fail_before_any_work(recording, tmp_path, args, needle):
    folder, *_ = recording
    (tmp_path / "a_file").write_text("not a folder")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    res = dexmv("retarget", "--input", str(folder / "world.npy"), "--output", str(tmp_path / "j.npy"),
                "--no-progress", *args)
    assert res.returncode == 2 and needle in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert not (tmp_path / "j.npy").exists()


def test_bad_files_and_bench_options(tmp_path, recording):
    folder, *_ = recording
    text = tmp_path / "text.npy"
    text.write_text("0.1 0.2 0.3\n")
    res = dexmv("retarget", "--input", str(text), "--output", str(tmp_path / "j.npy"), "--no-progress")
    assert res.returncode == 2 and "looks like a text file" in res.stderr and "pickle" not in res.stderr
    kp = np.load(folder / "world.npy")
    conf = np.full(kp.shape[:2], 1.5)
    np.savez(tmp_path / "conf.npz", keypoints=kp, confidence=conf)
    res = dexmv("retarget", "--input", str(tmp_path / "conf.npz"), "--output", str(tmp_path / "j.npy"),
                "--no-progress")
    assert res.returncode == 2 and "confidences must lie in [0, 1]" in res.stderr
    res = dexmv("bench", "retarget", "--input", str(folder / "world.npy"), "--repeats", "0")
    assert res.returncode == 2 and "--repeats must be at least 1" in res.stderr


def test_nonsense_frames_are_rejected_and_counted(recording, tmp_path):
    folder, *_ = recording
    kp = np.load(folder / "world.npy")
    kp[20:25] = 0.0  # all-zero keypoints
    kp[30] = kp[30] + 50.0  # a hand 50 m away (a whole file beyond 100 m is refused as millimetres)
    np.save(tmp_path / "nonsense.npy", kp)
    res = dexmv("retarget", "--input", str(tmp_path / "nonsense.npy"), "--output", str(tmp_path / "j.npy"),
                "--json", "--no-progress", "--diagnostics", str(tmp_path / "d.csv"))
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["rejected_frames"] == 6
    assert summary["reasons"]["bone_length"] == 5 and summary["reasons"]["workspace"] == 1, summary["reasons"]
    joints = np.load(tmp_path / "j.npy")
    np.testing.assert_array_equal(joints[20:25], np.repeat(joints[19:20], 5, axis=0))
    assert "REJECTED" in (tmp_path / "d.csv").read_text().splitlines()[21]


def test_benchmark_default_input_is_the_synthetic_human_motion():
    res = dexmv("bench", "retarget", "--task", "relocate-large_clamp", "--seconds", "1.5", "--repeats", "1",
                "--reference-frames", "3", "--no-round-trip", "--json", timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["input"].startswith("synthetic human motion: task_motion('relocate-large_clamp'")
    assert out["frames"] == 45 and out["max_limit_violation"] == 0.0 and out["nan_joints"] == 0
    assert out["tsv_error_mm"] < 15.0 and out["reference"]["frames"] == 3
