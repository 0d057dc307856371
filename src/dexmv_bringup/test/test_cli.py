"""The `dexmv` command as users run it: on PATH after sourcing, verbs from every package."""

import shutil
import subprocess

from dexmv_bringup.cli.main import BENCH_GROUP, VERB_GROUP, load_verbs


def dexmv(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("dexmv")
    assert exe is not None, "dexmv is not on PATH after sourcing install/setup.bash"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)


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


def test_demo_runs_every_stage():
    out = dexmv("demo")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "world->camera1_link" in out.stdout and "demo finished" in out.stdout
