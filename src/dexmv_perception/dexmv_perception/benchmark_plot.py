"""A picture of a multi-recording perception benchmark: each recording's errors against the targets.

A table of 50 numbers hides which tasks fail and by how much; bars per recording, grouped by task,
with the target as a line, show it at a glance.
"""

from __future__ import annotations

from pathlib import Path

from dexmv_perception.benchmark import TARGETS

SMOOTHED = "hand_mpjpe_mm_smoothed_offline"  # drawn as a dot on the hand's bars
PANELS = (("hand_mpjpe_mm", "hand MPJPE (mm, fused, filtered)"),
          ("object_translation_error_mm", "object translation error (mm)"),
          ("object_rotation_error_deg", "object rotation error (deg, symmetry-aware)"))


def _label(result: dict) -> str:
    task, seed = result.get("task") or "?", result.get("seed")
    return f"{task.removeprefix('relocate-')} {seed}" if seed is not None else task


def plot_benchmark(results: list[dict], out: str | Path, title: str = "", reference: list[dict] | None = None,
                   reference_label: str = "reference") -> Path | None:
    """Bars per recording (ordered by task, then seed) for each figure some recording has; None if none has any.
    reference: another run's results on the same recordings (matched by task and seed), drawn as a
    black tick over each bar, to show what a change did recording by recording."""
    panels = [(key, name) for key, name in PANELS if any(r.get(key) is not None for r in results)]
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = sorted(results, key=lambda r: (str(r.get("task")), r.get("seed") if r.get("seed") is not None else -1))
    tasks = sorted({str(r.get("task")) for r in ordered})
    colours = {t: plt.get_cmap("tab10")(i % 10) for i, t in enumerate(tasks)}
    width = max(6.0, 0.22 * len(ordered) + 2.0)
    fig, axes = plt.subplots(len(panels), 1, figsize=(width, 3.2 * len(panels)), squeeze=False)
    xs = range(len(ordered))
    for ax, (key, name) in zip(axes[:, 0], panels, strict=True):
        values = [r.get(key) for r in ordered]
        ax.bar([x for x, v in zip(xs, values, strict=True) if v is not None], [v for v in values if v is not None],
               color=[colours[str(r.get("task"))] for r, v in zip(ordered, values, strict=True) if v is not None])
        if reference:
            other = {(r.get("task"), r.get("seed")): r.get(key) for r in reference}
            ticks = [(x, other.get((r.get("task"), r.get("seed")))) for x, r in zip(xs, ordered, strict=True)]
            ticks = [(x, v) for x, v in ticks if v is not None]
            if ticks:
                ax.scatter(*zip(*ticks, strict=True), marker="_", s=120, color="black", zorder=3,
                           label=f"{reference_label} (mean {sum(v for _, v in ticks) / len(ticks):.1f})")
        if key == "hand_mpjpe_mm":  # what dexmv perceive writes, beside what is published live
            dots = [(x, r.get(SMOOTHED)) for x, r in zip(xs, ordered, strict=True) if r.get(SMOOTHED) is not None]
            if dots:
                ax.scatter(*zip(*dots, strict=True), marker="o", s=14, facecolor="white", edgecolor="black",
                           zorder=4, label=f"smoothed offline (mean {sum(v for _, v in dots) / len(dots):.1f})")
        ax.axhline(TARGETS[key], color="black", linestyle="--", linewidth=1, label=f"target {TARGETS[key]:g}")
        measured = [v for v in values if v is not None]
        mean = sum(measured) / len(measured)
        ax.axhline(mean, color="grey", linewidth=1, label=f"mean {mean:.1f}")
        ax.set_ylabel(name.split(" (")[0])
        ax.set_title(name, fontsize=10)
        ax.set_xticks(list(xs))
        ax.set_xticklabels([_label(r) for r in ordered], rotation=90, fontsize=7)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
