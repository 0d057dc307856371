"""The test runner behind `make test` fails when a test fails or when no test ran."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tools" / "run_tests.sh"


@pytest.fixture
def scratch():
    # Inside the repository (build/ is ignored by git) so the root conftest.py applies as in CI.
    path = ROOT / "build" / "runner-selftest"
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
