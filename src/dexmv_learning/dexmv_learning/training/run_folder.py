"""A training run on disk:

    <run>/config.yaml          the resolved configuration (what `--resume` continues with)
    <run>/checkpoints/iter_000010.pt, ...   every `checkpoint_every` iterations and the last one
    <run>/metrics.csv          one row per iteration
    <run>/tensorboard/         TensorBoard events (`tensorboard --logdir <run>/tensorboard`)
    <run>/learning_curve.png   return and success rate (pour, place_inside: score) against iterations
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import yaml

CHECKPOINT_RE = re.compile(r"iter_(\d{6})\.pt$")
METRIC_COLUMNS = (
    "iteration", "env_steps", "wall_s", "sample_s", "update_s", "steps_per_s", "return_mean", "return_std",
    "success_rate", "score_mean", "eval_success_rate", "eval_score_mean", "kl", "surrogate_gain", "step_fraction",
    "baseline_loss", "demo_weight", "bc_loss", "disc_loss", "disc_accuracy", "gail_reward_mean", "inverse_loss",
    "label_error",
)


class RunFolder:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.config_path = self.path / "config.yaml"
        self.checkpoints = self.path / "checkpoints"
        self.metrics_path = self.path / "metrics.csv"
        self.tensorboard = self.path / "tensorboard"
        self.curve_path = self.path / "learning_curve.png"

    def exists(self) -> bool:
        return self.config_path.exists()

    def write_config(self, config: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def read_config(self) -> dict[str, Any]:
        return yaml.safe_load(self.config_path.read_text())

    def checkpoint_path(self, iteration: int) -> Path:
        return self.checkpoints / f"iter_{iteration:06d}.pt"

    def latest_checkpoint(self) -> Path | None:
        found = sorted(p for p in self.checkpoints.glob("iter_*.pt") if CHECKPOINT_RE.search(p.name))
        return found[-1] if found else None

    # ------------------------------------------------------------------ metrics
    def read_metrics(self) -> list[dict[str, str]]:
        if not self.metrics_path.exists():
            return []
        with open(self.metrics_path, newline="") as f:
            return list(csv.DictReader(f))

    def truncate_metrics(self, last_iteration: int) -> None:
        """Keep rows up to `last_iteration` (rows written after the checkpoint a run resumes from
        would otherwise appear twice)."""
        rows = [r for r in self.read_metrics() if int(r["iteration"]) <= last_iteration]
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.metrics_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=METRIC_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    def append_metrics(self, row: dict[str, Any]) -> None:
        new = not self.metrics_path.exists()
        with open(self.metrics_path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=METRIC_COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow({k: _fmt(row.get(k)) for k in METRIC_COLUMNS})

    def plot(self, title: str = "", task: str = "") -> Path | None:
        return plot_curves([(title or self.path.name, self.read_metrics())], self.curve_path, task)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _column(rows: list[dict[str, str]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for r in rows:
        if r.get(key) not in (None, ""):
            xs.append(float(r["iteration"]))
            ys.append(float(r[key]))
    return xs, ys


def curve_columns(task: str) -> tuple[tuple[str, str, str], str]:
    """(metrics.csv columns of the three panels, the name of the task's Table 1 figure)."""
    from dexmv_learning.evaluation.evaluate import metric_name

    metric = metric_name(task)
    if metric == "success rate":
        return ("return_mean", "success_rate", "eval_success_rate"), metric
    return ("return_mean", "score_mean", "eval_score_mean"), metric


def plot_curves(runs: list[tuple[str, list[dict[str, str]]]], out: str | Path, task: str = "") -> Path | None:
    """Return, and the task's Table 1 figure sampled and evaluated, against iterations, one line per
    run: the success rate, or for pour and place_inside the score (fraction poured, inside score),
    which is what Table 1 reports for them (success, score >= 0.5, is our convention only)."""
    if not any(rows for _, rows in runs):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys, metric = curve_columns(task)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for label, rows in runs:
        for ax, key in zip(axes, keys, strict=True):
            xs, ys = _column(rows, key)
            if xs:
                ax.plot(xs, ys, label=label, marker="o" if len(xs) < 30 else None, markersize=3)
    for ax, name in zip(axes, ("task return (sampled)", f"{metric} (sampled, noisy policy)",
                               f"{metric} (evaluation, mean action)"), strict=True):
        ax.set_title(name)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    axes[1].set_ylim(-0.02, 1.02)
    axes[2].set_ylim(-0.02, 1.02)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=8)
    elif axes[2].get_legend_handles_labels()[0]:
        axes[2].legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
