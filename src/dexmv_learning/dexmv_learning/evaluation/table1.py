"""DexMV's Table 1: every method on every task over several seeds, evaluated as evaluate.py does,
as a markdown and CSV table plus learning curves.

Layout under the output folder:
    runs/<task>/<algo>/seed<k>/     a `dexmv train` run folder, with eval.json once evaluated
    table1.md, table1.csv           mean +- std over seeds of the Table 1 figure per (task, method)
    curves_<task>.png               evaluation success (mean over seeds) against iterations
Restarting with the same arguments continues where it stopped: finished runs are skipped,
unfinished ones resume from their last checkpoint, evaluations already made for a run's final
checkpoint are reused.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dexmv_learning.training.config import NEEDS_DEMOS

ALGO_NAMES = {"rl": "RL (TRPO)", "bc": "BC", "gail": "GAIL+", "soil": "SOIL", "dapg": "DAPG"}
PAPER_DAPG = {  # DexMV Table 1, DAPG column (relocate: success rate; pour: fraction poured)
    "relocate-mustard_bottle": 0.93, "relocate-sugar_box": 0.00, "relocate-tomato_soup_can": 1.00,
    "relocate-large_clamp": 1.00, "relocate-mug": 1.00, "pour": 0.272,
}


@dataclass
class Cell:
    task: str
    algo: str
    seed: int
    run: Path


def cells(out: Path, tasks: Sequence[str], algos: Sequence[str], seeds: Sequence[int]) -> list[Cell]:
    return [Cell(t, a, s, out / "runs" / t / a / f"seed{s}") for t in tasks for a in algos for s in seeds]


def run_table(out: str | Path, tasks: Sequence[str], algos: Sequence[str], seeds: Sequence[int],
              overrides: dict[str, Any], demos_for: Callable[[str], str | None], episodes: int = 100,
              progress: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train and evaluate every cell not yet done, then write the table; returns the table's data."""
    from dexmv_learning.cli.train import train_run
    from dexmv_learning.training.run_folder import RunFolder

    out = Path(out)
    for cell in cells(out, tasks, algos, seeds):
        folder = RunFolder(cell.run)
        name = f"{cell.task} {cell.algo} seed {cell.seed}"
        config = cell_config(cell, overrides, demos_for)
        latest = folder.latest_checkpoint()
        if not trained(folder, config):
            log(f"[table1] training {name} ({'resuming' if latest else 'new'})")
            code = train_run(config, folder, resume=latest is not None, progress=progress)
            if code != 0:
                raise RuntimeError(f"training {name} failed (exit {code})")
        evaluate_cell(cell, episodes, log)
    return write_table(out, tasks, algos, seeds)


def cell_config(cell: Cell, overrides: dict[str, Any], demos_for: Callable[[str], str | None]) -> dict[str, Any]:
    """A cell's run configuration: its run folder's (with the iterations asked for now), else a new one."""
    from dexmv_learning.training.config import resolve
    from dexmv_learning.training.run_folder import RunFolder

    folder = RunFolder(cell.run)
    if folder.exists():
        config = folder.read_config()
        config["iterations"] = overrides.get("iterations") or config["iterations"]
        return config
    demos = demos_for(cell.task) if cell.algo in NEEDS_DEMOS else None
    return resolve(cell.task, cell.algo, cell.seed, overrides, demos=demos)


def trained(folder: Any, config: dict[str, Any]) -> bool:
    """Whether the run folder's latest checkpoint has all of config's iterations."""
    latest = folder.latest_checkpoint()
    return latest is not None and int(latest.stem.split("_")[1]) >= config["iterations"]


def evaluate_cell(cell: Cell, episodes: int, log: Callable[[str], None] = print) -> None:
    """Write the cell's eval.json, unless one exists for its final checkpoint and `episodes`."""
    from dexmv_learning.evaluation.evaluate import evaluate_policy, load_run_policy

    result_path = cell.run / "eval.json"
    _, _, checkpoint = load_run_policy(cell.run)
    if result_path.exists() and json.loads(result_path.read_text()).get("checkpoint") == str(checkpoint) \
            and json.loads(result_path.read_text()).get("episodes") == episodes:
        return
    log(f"[table1] evaluating {cell.task} {cell.algo} seed {cell.seed} on {episodes} episodes")
    policy, config, checkpoint = load_run_policy(cell.run)
    result = evaluate_policy(policy, cell.task, episodes, seed=0, horizon=config["horizon"],
                             num_workers=config["num_workers"] or None)
    result_path.write_text(json.dumps({"checkpoint": str(checkpoint), "episodes": episodes,
                                       "value": result.table_value, "success_rate": result.success_rate,
                                       "score_mean": result.score_mean,
                                       "success_rate_dapg_rule": result.success_rate_dapg_rule}, indent=2) + "\n")


def write_table(out: Path, tasks: Sequence[str], algos: Sequence[str], seeds: Sequence[int]) -> dict[str, Any]:
    from dexmv_learning.evaluation.evaluate import DAPG_GOAL_STEPS, metric_name
    from dexmv_learning.training.run_folder import RunFolder

    table: dict[str, Any] = {}
    rows = []
    for task in tasks:
        for algo in algos:
            values, dapg_rule = [], []
            for cell in cells(out, [task], [algo], seeds):
                path = cell.run / "eval.json"
                if path.exists():
                    result = json.loads(path.read_text())
                    values.append(float(result["value"]))
                    if result.get("success_rate_dapg_rule") is not None:
                        dapg_rule.append(float(result["success_rate_dapg_rule"]))
            mean = float(np.mean(values)) if values else float("nan")
            std = float(np.std(values)) if values else float("nan")
            # relocate: the success rate under DAPG's rule too (held > 25 steps), when every seed has it
            rule = float(np.mean(dapg_rule)) if values and len(dapg_rule) == len(values) else None
            table[(task, algo)] = (mean, std, len(values), rule)
            rows.append({"task": task, "metric": metric_name(task), "algo": algo, "mean": mean, "std": std,
                         "seeds": len(values), "values": " ".join(f"{v:.3f}" for v in values),
                         "dapg_rule_mean": "" if rule is None else rule})
    with open(out / "table1.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| task (metric) | " + " | ".join(ALGO_NAMES.get(a, a) for a in algos) + " | DexMV DAPG |",
             "|---|" + "---|" * (len(algos) + 1)]
    for task in tasks:
        cells_text = []
        for algo in algos:
            mean, std, n, rule = table[(task, algo)]
            rule_text = "" if rule is None else f" ({rule:.2f})"
            cells_text.append("-" if n == 0 else f"{mean:.2f} +- {std:.2f}{rule_text}")
        paper = PAPER_DAPG.get(task)
        lines.append(f"| {task} ({metric_name(task)}) | " + " | ".join(cells_text)
                     + f" | {'-' if paper is None else f'{paper:.2f}'} |")
    (out / "table1.md").write_text("\n".join(lines) + "\n\nmean +- std over seeds " + " ".join(map(str, seeds))
                                   + "; relocate in brackets: the success rate under DAPG's rule (held for more"
                                   f" than {DAPG_GOAL_STEPS} steps; ours is the last step's)\n")
    from dexmv_learning.training.run_folder import plot_curves

    for task in tasks:
        runs = []
        for algo in algos:
            for cell in cells(out, [task], [algo], seeds):
                rows_ = RunFolder(cell.run).read_metrics()
                if rows_:
                    runs.append((f"{algo} seed {cell.seed}", rows_))
        plot_curves(runs, out / f"curves_{task}.png", task)
    return {"table": {f"{t}|{a}": v[:3] for (t, a), v in table.items()}, "markdown": str(out / "table1.md"),
            "csv": str(out / "table1.csv")}
