"""Checkpoints: one torch file per kept iteration holding tensors and plain values only (state dicts,
optimizer states, the resolved config, counters), written with torch.save and read back with
`torch.load(weights_only=True)`, so loading a checkpoint never runs code from the file.

Everything a run needs to continue is in it: policy, value baseline and its Adam state, the GAIL
discriminator or SOIL inverse model and their Adam states, SOIL's transition buffer, the completed
iteration and the counters. Random streams are derived from (seed, iteration) (see sampler.py), so
no generator state has to be carried.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

FORMAT = "dexmv_learning.checkpoint"
VERSION = 2  # 2: the policy de-standardises its output (act_shift, act_scale)


class CheckpointError(ValueError):
    """A file that is not a readable checkpoint of this package."""


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write atomically (a crash mid-write leaves the previous file intact)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"format": FORMAT, "version": VERSION, **payload}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's dict; CheckpointError (one line) for anything else."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt zip, foreign pickle, truncated file: all the same to the user
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path} is not a readable checkpoint ({first[:160]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a dexmv_learning checkpoint (no '{FORMAT}' format tag)")
    if data.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {data.get('version')}, this code reads {VERSION}")
    for key in ("iteration", "config", "policy", "policy_arch"):
        if key not in data:
            raise CheckpointError(f"{path} lacks '{key}': not a complete training checkpoint")
    return data
