"""`dexmv eval` and `dexmv table1` on tiny runs: Table 1's figures, the video, resumable tables,
and one-line errors for corrupt or foreign checkpoints."""

import argparse
import json

import numpy as np
import pytest
import torch

from dexmv_learning.algos.policy import GaussianMLPPolicy
from dexmv_learning.evaluation.evaluate import DAPG_GOAL_STEPS, Evaluation, evaluate_policy, load_run_policy
from dexmv_learning.training.checkpoint import CheckpointError, save_checkpoint
from dexmv_learning.training.config import resolve

TASK = "relocate-tomato_soup_can"


def constant_policy_run(folder, action, task=TASK):
    """A run folder whose policy outputs `action` whatever it observes."""
    policy = GaussianMLPPolicy(39, 30, (32, 32), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        policy.mean_net[-1].weight.zero_()
        policy.mean_net[-1].bias.copy_(torch.as_tensor(action, dtype=torch.float32))
    config = resolve(task, "rl", 0, {"horizon": 30, "num_workers": 1})
    save_checkpoint(folder / "checkpoints" / "iter_000001.pt",
                    {"iteration": 1, "config": config, "policy_arch": policy.architecture(),
                     "policy": policy.state_dict()})
    return folder


def parse(module, argv):
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


def test_evaluation_is_seeded_and_reports_the_table_metric(tmp_path):
    run = constant_policy_run(tmp_path / "run", np.zeros(30))
    policy, _, _ = load_run_policy(run)
    a = evaluate_policy(policy, TASK, episodes=3, seed=0, horizon=30, num_workers=1)
    b = evaluate_policy(policy, TASK, episodes=3, seed=0, horizon=30, num_workers=1)
    assert a.success_rate == b.success_rate == 0.0 and a.table_value == 0.0  # an open hand lifts nothing
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.success_steps.shape == (3,) and a.success_steps.tolist() == [0, 0, 0]
    assert a.success_rate_dapg_rule == 0.0


def test_dapg_rule_counts_a_relocation_held_more_than_25_steps():
    """DAPG's evaluation (which DexMV's learning code builds on) counts an episode whose goal held for
    more than 25 steps; ours counts the last step. Both come from one evaluation, named apart."""
    steps = np.array([0, DAPG_GOAL_STEPS, DAPG_GOAL_STEPS + 1, 200])
    last = np.array([False, True, False, True])
    relocate = Evaluation(TASK, 4, float(last.mean()), float(last.mean()), 0.0, last.astype(float), last, 1.0, steps)
    assert relocate.table_value == 0.5 and relocate.success_rate_dapg_rule == 0.5  # 26 and 200 steps held
    assert relocate.success_rate_dapg_rule != float(np.mean(steps > 0))  # not "reached at some step"
    pour = Evaluation("pour", 4, 0.5, 0.4, 0.1, np.full(4, 0.4), last, 1.0, steps)
    assert pour.success_rate_dapg_rule is None  # DexMV reports pour's score, not a success rate


def test_eval_cli_writes_json_and_video(tmp_path, capsys):
    from dexmv_learning.cli import eval as eval_cli

    run = constant_policy_run(tmp_path / "run", np.zeros(30))
    assert eval_cli.run(parse(eval_cli, [str(run), "--episodes", "2", "--seeds", "0", "1", "--video", "1",
                                         "--workers", "1", "--json"])) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["metric"] == "success rate" and result["per_seed"] == [0.0, 0.0] and result["std"] == 0.0
    assert result["success_rate_dapg_rule"] == 0.0
    assert (run / "eval.json").exists() and (run / "eval.mp4").stat().st_size > 1000


@pytest.mark.parametrize("content", [b"not a zip file at all", b"PK\x03\x04 truncated"])
def test_corrupt_checkpoint_is_one_line_error(tmp_path, capsys, content):
    from dexmv_learning.cli import eval as eval_cli

    bad = tmp_path / "run" / "checkpoints" / "iter_000001.pt"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(content)
    assert eval_cli.run(parse(eval_cli, [str(tmp_path / "run"), "--video", "0"])) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a readable checkpoint" in err


def test_foreign_checkpoint_is_rejected(tmp_path):
    foreign = tmp_path / "model.pt"
    torch.save({"state_dict": {"w": torch.zeros(3)}}, foreign)
    with pytest.raises(CheckpointError, match="not a dexmv_learning checkpoint"):
        load_run_policy(foreign)
    pickled = tmp_path / "pickled.pt"
    torch.save({"format": "dexmv_learning.checkpoint", "obj": argparse.Namespace(a=1)}, pickled)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):  # weights_only refuses objects
        load_run_policy(pickled)


def test_table1_runs_to_completion_and_resumes(tmp_path, capsys):
    from dexmv_learning.cli import table1

    argv = ["--tasks", TASK, "--algos", "rl", "--seeds", "0", "1", "--iterations", "1", "--trajectories", "2",
            "--horizon", "10", "--episodes", "2", "--workers", "1", "--out", str(tmp_path / "t1"), "--no-progress"]
    assert table1.run(parse(table1, argv)) == 0
    first = capsys.readouterr().out
    assert first.count("[table1] training") == 2 and first.count("[table1] evaluating") == 2
    table = (tmp_path / "t1" / "table1.md").read_text()
    assert TASK in table and "RL (TRPO)" in table and "1.00" in table  # DexMV's DAPG figure beside ours
    assert "0.00 +- 0.00 (0.00)" in table and "DAPG's rule" in table  # relocate's rate under DAPG's rule too
    assert (tmp_path / "t1" / "table1.csv").read_text().count("\n") == 2
    assert (tmp_path / "t1" / f"curves_{TASK}.png").exists()
    assert table1.run(parse(table1, argv)) == 0  # everything done: nothing is trained or evaluated again
    again = capsys.readouterr().out
    assert "[table1] training" not in again and "[table1] evaluating" not in again
    argv[argv.index("--iterations") + 1] = "2"  # more iterations: the runs resume from their checkpoints
    assert table1.run(parse(table1, argv)) == 0
    assert capsys.readouterr().out.count("(resuming)") == 2
