"""Few-iteration runs of every method on a relocate task (tiny batches: 4 trajectories of 20 steps):
each completes and writes its run folder; `--resume` reproduces an uninterrupted run exactly;
`dexmv train` rejects bad input with one line and exit code 2."""

import argparse
import contextlib
import csv
import io
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from dexmv_learning.training.checkpoint import load_checkpoint
from dexmv_learning.training.config import ConfigError, resolve
from dexmv_learning.training.demos import DemoData
from dexmv_learning.training.run_folder import RunFolder
from dexmv_learning.training.sampler import Sampler
from dexmv_learning.training.trainer import Trainer

TASK = "relocate-tomato_soup_can"
TINY = {"iterations": 2, "trajectories": 4, "horizon": 20, "eval_every": 2, "eval_episodes": 2,
        "checkpoint_every": 1, "num_workers": 1}
TIME_COLUMNS = {"wall_s", "sample_s", "update_s", "steps_per_s"}


@pytest.fixture(scope="module")
def demo_list():
    from dexmv_learning.demos.synthetic import rollout_demonstrations

    return rollout_demonstrations(TASK, 2, seed=5, max_steps=30)


@pytest.fixture(scope="module")
def samplers():
    with Sampler(TASK, 4, 20, num_workers=1) as train, Sampler(TASK, 2, 20, num_workers=1) as evaluation:
        yield train, evaluation


def make_trainer(algo, tmp_path, demo_list, samplers, name="run", **overrides):
    config = resolve(TASK, algo, 0, {**TINY, **overrides}, demos=None if algo == "rl" else "in-memory")
    demos = None if algo == "rl" else DemoData.from_demonstrations(demo_list, 39, 30, TASK)
    return Trainer(config, RunFolder(tmp_path / name), demos=demos, sampler=samplers[0], eval_sampler=samplers[1])


@pytest.mark.parametrize("algo", ["rl", "dapg", "gail", "soil", "bc"])
def test_each_method_runs_and_writes_its_run_folder(algo, tmp_path, demo_list, samplers):
    trainer = make_trainer(algo, tmp_path, demo_list, samplers)
    trainer.run.write_config(trainer.config)
    assert trainer.train(progress=False) == 2
    run = trainer.run
    assert run.config_path.exists() and run.curve_path.stat().st_size > 10_000
    assert [p.name for p in sorted(run.checkpoints.glob("*.pt"))] == ["iter_000001.pt", "iter_000002.pt"]
    assert list(run.tensorboard.glob("events.out.tfevents.*"))
    rows = run.read_metrics()
    assert [int(r["iteration"]) for r in rows] == [1, 2]
    assert rows[-1]["eval_success_rate"] != ""
    data = load_checkpoint(run.latest_checkpoint())  # weights_only=True
    assert data["iteration"] == 2 and data["config"]["algo"] == algo
    if algo == "bc":
        assert float(rows[1]["bc_loss"]) < float(rows[0]["bc_loss"])
        assert int(rows[-1]["env_steps"]) == 2 * 20  # evaluation only
    else:
        assert int(rows[-1]["env_steps"]) == 2 * 4 * 20 + 2 * 20
        assert all(0 < float(r["kl"]) <= 1.5 * 0.025 + 1e-6 or float(r["step_fraction"]) == 0 for r in rows)
        assert all(np.isfinite(float(r["return_mean"])) for r in rows)
    extra = {"dapg": "demo_weight", "gail": "disc_accuracy", "soil": "label_error"}.get(algo)
    if extra:
        assert all(r[extra] != "" for r in rows)
    if algo == "dapg":
        assert float(rows[1]["demo_weight"]) == pytest.approx(0.1 * 0.95)


def test_policy_output_transform_comes_from_the_demonstrated_actions(tmp_path, demo_list, samplers):
    from dexmv_learning.training.trainer import ACTION_SCALE_FLOOR

    demos = DemoData.from_demonstrations(demo_list, 39, 30, TASK)
    trainer = make_trainer("dapg", tmp_path, demo_list, samplers)
    trainer.initialize()
    policy = trainer.policy
    assert torch.allclose(policy.act_shift, demos.actions.mean(0))
    assert torch.allclose(policy.act_scale, demos.actions.std(0).clamp_min(ACTION_SCALE_FLOOR))
    assert (policy.act_scale > ACTION_SCALE_FLOOR).any() and (policy.act_scale == ACTION_SCALE_FLOOR).any()
    off = make_trainer("dapg", tmp_path, demo_list, samplers, name="off", policy={"action_normalization": False})
    off.initialize()
    assert torch.equal(off.policy.act_shift, torch.zeros(30)) and torch.equal(off.policy.act_scale, torch.ones(30))
    rl = make_trainer("rl", tmp_path, demo_list, samplers, name="rl")
    rl.initialize()
    assert torch.equal(rl.policy.act_scale, torch.ones(30))


def test_resume_reproduces_an_uninterrupted_run(tmp_path, demo_list, samplers):
    """SOIL carries the most state (inverse model, its Adam state, a buffer of past transitions)."""
    overrides = {"iterations": 3, "eval_every": 1, "soil": {"buffer_iterations": 2}}
    whole = make_trainer("soil", tmp_path, demo_list, samplers, "whole", **overrides)
    whole.train(progress=False)
    first = make_trainer("soil", tmp_path, demo_list, samplers, "parts", **{**overrides, "iterations": 1})
    first.train(progress=False)
    first.run.append_metrics({"iteration": 2, "return_mean": 123.0})  # a row written after the checkpoint
    resumed = make_trainer("soil", tmp_path, demo_list, samplers, "parts", **overrides)
    assert resumed.train(resume=True, progress=False) == 2
    for key, value in whole.policy.state_dict().items():
        assert torch.equal(value, resumed.policy.state_dict()[key]), key
    for key, value in whole.inverse.state_dict().items():
        assert torch.equal(value, resumed.inverse.state_dict()[key]), key
    strip = [{k: v for k, v in r.items() if k not in TIME_COLUMNS} for r in whole.run.read_metrics()]
    assert strip == [{k: v for k, v in r.items() if k not in TIME_COLUMNS} for r in resumed.run.read_metrics()]
    assert len(strip) == 3


def test_config_rejects_unknown_keys_and_missing_demos(tmp_path):
    with pytest.raises(ConfigError, match=r"dapg\.demo_advantage must be"):
        resolve(TASK, "dapg", 0, {"dapg": {"demo_advantage": "mean"}}, demos="d")
    with pytest.raises(ConfigError, match=r"unknown config key 'npg\.max_kll'"):
        resolve(TASK, "rl", 0, {"npg": {"max_kll": 0.1}})
    with pytest.raises(ConfigError, match="--demos"):
        resolve(TASK, "dapg", 0)
    with pytest.raises(ConfigError, match="unknown algorithm"):
        resolve(TASK, "ppo", 0)
    bad = tmp_path / "bad.yaml"
    bad.write_text("gamma: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        resolve(TASK, "rl", 0, config_file=bad)


def test_config_holds_each_key_to_the_type_of_its_default(tmp_path):
    """A word where a number belongs is named when the run is configured, not a TypeError mid-run."""
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("gail: {gradient_penalty: lots}\n")
    with pytest.raises(ConfigError, match=r"'gail\.gradient_penalty' must be a number .*'lots'"):
        resolve(TASK, "gail", 0, config_file=wrong, demos="d")
    for override, message in [({"npg": {"max_kl": "0.1"}}, r"'npg\.max_kl' must be a number"),
                              ({"trajectories": 2.5}, r"'trajectories' must be an integer"),
                              ({"policy": {"action_normalization": 1}}, "must be true or false"),
                              ({"policy": {"hidden": 64}}, r"'policy\.hidden' must be a list"),
                              ({"policy": {"hidden": [64, 0]}}, "list of positive integers"),
                              ({"dapg": {"demo_advantage": 1}}, "must be a string")]:
        with pytest.raises(ConfigError, match=message):
            resolve(TASK, "dapg", 0, override, demos="d")
    config = resolve(TASK, "rl", 0, {"npg": {"max_kl": 1}, "policy": {"hidden": [16, 16]}})
    assert config["npg"]["max_kl"] == 1.0 and isinstance(config["npg"]["max_kl"], float)
    assert config["policy"]["hidden"] == [16, 16]


def test_train_cli_resumes_and_rejects_bad_input(tmp_path, demo_list):
    from dexmv_learning.cli import train
    from dexmv_learning.demos.dataset import write_demonstrations

    demos = tmp_path / "demos"
    write_demonstrations(demos, TASK, demo_list)
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    out = tmp_path / "cli-run"
    common = ["--trajectories", "2", "--horizon", "10", "--workers", "1", "--eval-every", "0", "--no-progress"]
    assert train.run(parser.parse_args(["--task", TASK, "--algo", "dapg", "--demos", str(demos), "--iterations", "1",
                                        "--out", str(out), *common])) == 0
    assert train.run(parser.parse_args(["--out", str(out), "--resume", "--iterations", "2", "--workers", "1",
                                        "--no-progress"])) == 0
    with open(out / "metrics.csv") as f:
        assert [r["iteration"] for r in csv.DictReader(f)] == ["1", "2"]
    # the run records its task's reward and is not continued under another one (a run made before
    # rewards were recorded has the reward the task had then)
    from dexmv_learning.training.run_folder import RunFolder
    from dexmv_sim.tasks import task_class

    folder = RunFolder(out)
    config = folder.read_config()
    assert config["reward"] == task_class(TASK).reward_version
    resume = ["--out", str(out), "--resume", "--iterations", "3", "--no-progress"]
    for recorded in ("another formula", None):
        changed = dict(config)
        if recorded is None:
            changed.pop("reward")
        else:
            changed["reward"] = recorded
        folder.write_config(changed)
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            assert train.run(parser.parse_args(resume)) == 2
        message = stderr.getvalue()
        expected = recorded or task_class(TASK).reward_before_versions
        assert f"reward '{expected}'" in message and "start a new run" in message, message
    folder.write_config(config)
    # already a run; unknown task; state-only misuse is covered by the loader; bad demos path
    assert train.run(parser.parse_args(["--task", TASK, "--algo", "rl", "--out", str(out), *common])) == 2
    env = dict(os.environ)
    result = subprocess.run([sys.executable, "-m", "dexmv_bringup.cli.main", "train", "--task", TASK, "--algo", "dapg",
                             "--demos", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x"), *common],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error:") and "nowhere" in lines[-1] and "Traceback" not in result.stderr


def test_train_stopped_by_sigterm_closes_its_workers_and_keeps_the_run(tmp_path):
    """A scheduler's SIGTERM ends `dexmv train` as Ctrl-C does: exit 143, worker processes closed
    and their shared memory unlinked (Python's default used to leave 2 segments behind), every
    finished iteration in metrics.csv."""
    import signal
    import time

    out = tmp_path / "term"
    proc = subprocess.Popen([sys.executable, "-m", "dexmv_bringup.cli.main", "train", "--task", TASK, "--algo", "rl",
                             "--iterations", "10000", "--trajectories", "4", "--horizon", "20", "--workers", "2",
                             "--eval-every", "0", "--no-progress", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "metrics.csv").exists() and len((out / "metrics.csv").read_text().splitlines()) > 3:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "leaked" not in stderr and "Traceback" not in stderr, stderr
    with open(out / "metrics.csv") as f:
        rows = [int(r["iteration"]) for r in csv.DictReader(f)]
    assert len(rows) >= 3 and rows == list(range(1, len(rows) + 1))


def test_bench_learning_reports_throughput(tmp_path):
    from dexmv_learning.cli import bench_learning

    parser = argparse.ArgumentParser()
    bench_learning.add_arguments(parser)
    report = tmp_path / "bench.json"
    assert bench_learning.run(parser.parse_args(["--trajectories", "2", "--horizon", "10", "--repeats", "1",
                                                 "--workers", "1", "--report", str(report)])) == 0
    import json

    data = json.loads(report.read_text())
    assert data["sampling_steps_per_s"] > 0 and data["one_thread_steps_per_s"] > 0 and data["update_s"] > 0


def test_demonstrations_that_succeed_after_the_horizon_are_reported(tmp_path, demo_list, capsys):
    """The converted can demonstrations first succeed at steps 205-274 of 396, and training and
    evaluation ran 200-step episodes: a perfect imitation scores 0 there. `dexmv train` says so."""
    import dataclasses

    from dexmv_learning.cli import train
    from dexmv_learning.demos.dataset import write_demonstrations

    late = []
    for k, demo in enumerate(demo_list):
        success = np.zeros(len(demo) + 1, bool)
        success[20 + k:] = True  # first success after 20 and 21 steps
        late.append(dataclasses.replace(demo, success=success))
    data = DemoData.from_demonstrations(late, 39, 30, TASK)
    assert data.success_steps == (20, 21) and data.lengths == (len(demo_list[0]), len(demo_list[1]))
    assert data.horizon_problem(21) is None and data.horizon_problem(30) is None
    message = data.horizon_problem(20)
    assert "1 of 2" in message and "--horizon 31" in message
    failed = dataclasses.replace(demo_list[0], success=np.zeros(len(demo_list[0]) + 1, bool))
    never = DemoData.from_demonstrations([failed], 39, 30, TASK)
    assert never.success_steps == (None,) and never.horizon_problem(1) is None

    demos = tmp_path / "late-demos"
    write_demonstrations(demos, TASK, late)
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    capsys.readouterr()
    assert train.run(parser.parse_args(["--task", TASK, "--algo", "bc", "--demos", str(demos), "--iterations", "1",
                                        "--horizon", "10", "--trajectories", "2", "--workers", "1", "--eval-every",
                                        "0", "--no-progress", "--out", str(tmp_path / "run")])) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "after the horizon of 10 steps" in err and "--horizon 31" in err


def test_curves_show_each_task_s_table_1_figure():
    """Pour's and place_inside's Table 1 figure is the score, not our success convention."""
    from dexmv_learning.training.run_folder import curve_columns

    assert curve_columns("pour") == (("return_mean", "score_mean", "eval_score_mean"), "fraction poured")
    assert curve_columns("place_inside")[1] == "inside score"
    assert curve_columns("relocate-mug") == (("return_mean", "success_rate", "eval_success_rate"), "success rate")
