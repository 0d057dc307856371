"""Demo stage: demo-output/report.md, every stage's numbers with its plots and videos beside them.

Paths in the report are relative to the report, so the folder can be moved or zipped as a whole.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from dexmv_bringup.demo.run_state import DemoRun

# (file under the output folder, caption); missing files (stages not run) are left out.
FIGURES = (
    ("human_vs_robot.png", "the human recording (camera1, left) and the retargeted robot replay (right), "
                           "six moments"),
    ("human_vs_robot.mp4", "the human recording (camera1) beside the retargeted robot hand replayed in MuJoCo"),
    ("replay.gif", "the retargeted motion replayed with physics (inverse-dynamics actions)"),
    ("run/learning_curve.png", "DAPG learning curve (return and success per iteration)"),
    ("run/eval.mp4", "the trained policy on evaluation episodes"),
)


def stage_report(run: DemoRun) -> str:
    stages: list[tuple[str, str, float]] = run.products.get("stages", [])
    out = run.out / "report.md"
    lines = [
        "# DexMV demo",
        "",
        f"Task `{run.task}`, seed {run.seed}, a {run.seconds:g} s synthetic two-camera recording at {run.fps:g} "
        f"frames/s; written {time.strftime('%Y-%m-%d %H:%M:%S')} by `dexmv demo`.",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {name} | {seconds:.1f} |" for name, _, seconds in stages],
        "",
    ]
    for name, result, _ in stages:
        lines += [f"## {name}", "", *[f"- {part.strip()}" for part in result.split("\n") if part.strip()], ""]
    shown = []
    lines += ["## Figures and videos", ""]
    for rel, caption in FIGURES:
        path = run.out / rel
        if not path.exists():
            continue
        link = os.path.relpath(path, out.parent)
        shown.append(rel)
        if path.suffix in (".png", ".gif"):
            lines += [f"![{caption}]({link})", "", f"*{caption}*", ""]
        else:
            lines += [f"- [{Path(rel).name}]({link}): {caption}", ""]
    out.write_text("\n".join(lines))
    return f"{out}: {len(stages)} stages, {len(shown)} figures and videos ({', '.join(shown) or 'none'})"
