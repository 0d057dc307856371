"""The test runner behind `make test` fails when a test fails or when no test ran."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tools" / "run_tests.sh"


@pytest.fixture
def scratch():
    # Inside the repository (the build folder is ignored by git) so the root conftest.py applies as in CI.
    build = subprocess.run([sys.executable, str(ROOT / "tools" / "dexmv_setup.py"), "--where", "build"],
                           capture_output=True, text=True, check=True).stdout.strip()
    path = Path(build) / "runner-selftest"
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("test_*.py"):
        old.unlink()
    yield path
    for old in path.glob("test_*.py"):
        old.unlink()


def run(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(RUNNER), str(path), "-p", "no:cacheprovider", "-q"],
                          capture_output=True, text=True, timeout=300)


def test_passing_suite_exits_zero(scratch):
    (scratch / "test_ok.py").write_text("def test_ok():\n    assert 1 + 1 == 2\n")
    out = run(scratch)
    assert out.returncode == 0, out.stdout + out.stderr


def test_failing_test_exits_non_zero(scratch):
    (scratch / "test_ok.py").write_text("def test_ok():\n    pass\n")
    (scratch / "test_bad.py").write_text("def test_bad():\n    assert 1 + 1 == 3\n")
    out = run(scratch)
    assert out.returncode == 1, out.stdout


def test_no_tests_exits_non_zero(scratch):
    out = run(scratch)
    assert out.returncode == 5, out.stdout


def test_all_skipped_exits_non_zero(scratch):
    (scratch / "test_skip.py").write_text("import pytest\n\n@pytest.mark.skip('x')\ndef test_s():\n    pass\n")
    out = run(scratch)
    assert out.returncode == 5 and "no test ran" in out.stdout, out.stdout


def test_the_session_removes_the_ros_log_folder_it_made(scratch, tmp_path):
    seen = tmp_path / "seen.txt"
    (scratch / "test_log.py").write_text(
        "import os\n\n"
        "def test_log():\n"
        f"    open({str(seen)!r}, 'w').write(os.environ['ROS_LOG_DIR'])\n"
        "    os.makedirs(os.path.join(os.environ['ROS_LOG_DIR'], 'node'), exist_ok=True)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ROS_LOG_DIR"}
    out = subprocess.run([str(RUNNER), str(scratch), "-p", "no:cacheprovider", "-q"],
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    made = Path(seen.read_text())
    assert made.name.startswith("dexmv-test-roslog-") and not made.exists()


def test_a_ros_log_folder_given_from_outside_is_kept(scratch, tmp_path):
    given = tmp_path / "my-logs"
    given.mkdir()
    (scratch / "test_log.py").write_text("import os\n\ndef test_log():\n    assert os.environ['ROS_LOG_DIR']\n")
    out = subprocess.run([str(RUNNER), str(scratch), "-p", "no:cacheprovider", "-q"],
                         capture_output=True, text=True, timeout=300, env=dict(os.environ, ROS_LOG_DIR=str(given)))
    assert out.returncode == 0, out.stdout + out.stderr
    assert given.is_dir()
