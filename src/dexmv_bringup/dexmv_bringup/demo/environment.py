"""The demo's first stage: the checks of `dexmv doctor`, so a broken setup fails in seconds."""

from __future__ import annotations

import argparse

from dexmv_bringup.demo.run_state import DemoRun


def stage_environment(run: DemoRun) -> str:
    from dexmv_bringup.cli import doctor

    if doctor.run(argparse.Namespace(no_dds=False, no_render=False)) != 0:
        raise RuntimeError("environment checks failed")
    return "environment ready"
