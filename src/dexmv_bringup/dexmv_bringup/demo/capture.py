"""Demo stage: the embedded default input, a synthetic two-camera D435 recording of the task."""

from __future__ import annotations

import time

from dexmv_bringup.demo.run_state import DemoRun


def stage_capture(run: DemoRun) -> str:
    from tqdm import tqdm

    from dexmv_capture.synthetic.synthesize import synthesize

    frames = round(run.seconds * run.fps)
    start = time.monotonic()
    with tqdm(total=frames, unit="frame", desc=f"      rendering {run.task}", leave=False) as bar:
        result = synthesize(run.task, run.seconds, run.seed, run.out / "recording", fps=run.fps,
                            progress=lambda done, total: bar.update(done - bar.n))
    run.products["recording"] = result
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in result.recordings.values())
    rate = result.frames * len(result.recordings) / max(time.monotonic() - start, 1e-9)
    return (f"{result.frames} frames per camera ({rate:.1f} camera frames/s rendered): {sizes}, "
            f"{result.ground_truth.name}, {result.extrinsics.name} in {result.out_dir}")
