"""Robot demonstrations on disk: Minari datasets (HDF5), the format D4RL's Adroit demos are published in.

A dataset is a directory `<path>/data/` holding Minari's `metadata.json` and `main_data.hdf5`, so
`minari.MinariDataset("<path>/data")` opens it directly, and a dataset written into Minari's root
(`~/.minari/datasets/<dataset_id>` or `$MINARI_DATASETS_PATH`) loads with `minari.load_dataset(id)`.
Per episode of T control steps (100 Hz):

- observations (T+1, obs_dim) float64: the env's observation before each step and after the last;
- actions (T, 30) float32 in [-1, 1] (the env's action space); NaN in a state-only export (SOIL
  learns from observations alone, and Minari's schema has no episode without actions);
- rewards (T,), terminations (T,) (the task's success at a step: never, DexMV episodes run their
  horizon), truncations (T,) (True at the last step);
- infos, T+1 rows each: `state` (MuJoCo integration state, `env.unwrapped.set_state(state)` or
  `env.reset(options={"state": state})` restores step t exactly), `success`, `score`, and
  `reference_qpos` (the joint positions the demonstration was made to track; NaN when none).

Dataset metadata (metadata.json) carries the env spec (`dexmv/...-v0`, so `recover_environment()`
gives the env), the spaces, and under "dexmv" the task id, whether it is state-only, where each
episode came from, and the conversion summary.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1
DATA_DIR = "data"


class DatasetError(ValueError):
    """A dataset that cannot be written or read; the message names the path."""


@dataclass
class Demonstration:
    """One episode: what the learning algorithms consume (float32 observations and actions)."""

    task_id: str
    observations: np.ndarray  # (T+1, obs_dim) float32
    actions: np.ndarray | None  # (T, 30) float32 in [-1, 1]; None when state_only
    rewards: np.ndarray  # (T,) float32
    terminations: np.ndarray  # (T,) bool
    truncations: np.ndarray  # (T,) bool
    states: np.ndarray  # (T+1, state_size) float64: reset the env to any step
    success: np.ndarray  # (T+1,) bool
    score: np.ndarray  # (T+1,) float32
    reference_qpos: np.ndarray | None = None  # (T+1, 30) joints the demonstration tracks
    seed: int | None = None
    source: dict[str, Any] = field(default_factory=dict)  # where it came from (recording, seed, ...)
    state_only: bool = False

    def __len__(self) -> int:
        return len(self.rewards)

    def check(self) -> None:
        """Raise DatasetError unless the arrays have consistent lengths and finite values."""
        t = len(self.rewards)
        expect = {"observations": t + 1, "states": t + 1, "success": t + 1, "score": t + 1,
                  "terminations": t, "truncations": t}
        if not self.state_only:
            expect["actions"] = t
        if self.reference_qpos is not None:
            expect["reference_qpos"] = t + 1
        for name, n in expect.items():
            value = getattr(self, name)
            if value is None or len(value) != n:
                got = "none" if value is None else len(value)
                raise DatasetError(f"{self.task_id}: a {t}-step demonstration needs {n} rows of {name}, got {got}")
        if t < 1:
            raise DatasetError(f"{self.task_id}: a demonstration needs at least one step")
        if not np.all(np.isfinite(self.observations)) or not np.all(np.isfinite(self.states)):
            raise DatasetError(f"{self.task_id}: observations or states are not finite")
        if not self.state_only:
            if self.actions.shape[1:] != (30,) or not np.all(np.isfinite(self.actions)):
                raise DatasetError(f"{self.task_id}: actions must be finite (T, 30), got {self.actions.shape}")
            if np.abs(self.actions).max() > 1.0 + 1e-6:
                raise DatasetError(f"{self.task_id}: actions must lie in [-1, 1]")


def env_id_of(task_id: str) -> str:
    import dexmv_sim  # noqa: F401  (registers the env ids)
    from dexmv_sim.envs import ENV_IDS

    if task_id not in ENV_IDS:
        raise DatasetError(f"unknown task '{task_id}': choose one of {', '.join(ENV_IDS)}")
    return ENV_IDS[task_id]


def dataset_id_of(task_id: str, name: str = "human", version: int = 0) -> str:
    """Minari id of a task's dataset, e.g. dexmv/Relocate-mug/human-v0 (namespace dexmv/<env name>)."""
    env_name = env_id_of(task_id).split("/", 1)[1].rsplit("-v", 1)[0]
    return f"dexmv/{env_name}/{name}-v{version}"


def _spaces(task_id: str):
    from gymnasium import spaces

    from dexmv_sim.actions import N_ACTIONS
    from dexmv_sim.tasks import make_task

    obs_dim = make_task(task_id).obs_dim
    return (spaces.Box(-np.inf, np.inf, (obs_dim,), np.float64),
            spaces.Box(-1.0, 1.0, (N_ACTIONS,), np.float32))


def write_demonstrations(path: str | Path, task_id: str, episodes: Sequence[Demonstration], *,
                         state_only: bool = False, summary: Mapping[str, Any] | None = None,
                         dataset_name: str = "human", description: str | None = None,
                         overwrite: bool = False) -> Path:
    """Write `episodes` of `task_id` as a Minari dataset in directory `path` (created; with
    `overwrite` an existing dataset there is replaced). `state_only` drops the actions (SOIL).
    Returns the data directory (what `minari.MinariDataset` opens)."""
    import gymnasium as gym
    from minari.data_collector import EpisodeBuffer
    from minari.dataset.minari_storage import MinariStorage

    path = Path(path).resolve()  # Minari joins relative data paths twice
    env_id = env_id_of(task_id)
    if not episodes:
        raise DatasetError(f"{path}: no demonstrations to write for {task_id}")
    if path.exists() and any(path.iterdir()):
        if not overwrite:
            raise DatasetError(f"{path}: exists and is not empty (overwrite it with --force / overwrite=True)")
        if not (path / DATA_DIR / "metadata.json").is_file():
            raise DatasetError(f"{path}: exists and is not a Minari dataset: not overwriting it")
    obs_space, act_space = _spaces(task_id)
    for k, ep in enumerate(episodes):
        if ep.task_id != task_id:
            raise DatasetError(f"{path}: episode {k} is of task {ep.task_id}, not {task_id}")
        ep.check()
        if ep.observations.shape[1] != obs_space.shape[0]:
            raise DatasetError(f"{path}: episode {k} has {ep.observations.shape[1]} observation values, "
                               f"{task_id} has {obs_space.shape[0]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        storage = MinariStorage.new(tmp / DATA_DIR, observation_space=obs_space, action_space=act_space,
                                    env_spec=gym.spec(env_id), data_format="hdf5")
        buffers = []
        for k, ep in enumerate(episodes):
            t = len(ep)
            actions = np.full((t, act_space.shape[0]), np.nan, np.float32) if state_only or ep.state_only \
                else np.asarray(ep.actions, np.float32)
            ref = ep.reference_qpos if ep.reference_qpos is not None else np.full((t + 1, 30), np.nan)
            infos = {"state": np.asarray(ep.states, np.float64), "success": np.asarray(ep.success, bool),
                     "score": np.asarray(ep.score, np.float32), "reference_qpos": np.asarray(ref, np.float64)}
            buffers.append(EpisodeBuffer(id=k, seed=ep.seed, observations=np.asarray(ep.observations, np.float64),
                                         actions=actions, rewards=np.asarray(ep.rewards, np.float32),
                                         terminations=np.asarray(ep.terminations, bool),
                                         truncations=np.asarray(ep.truncations, bool), infos=infos))
        storage.update_episodes(buffers)
        kind = "state-only " if state_only else ""
        storage.update_metadata({
            "dataset_id": dataset_id_of(task_id, dataset_name),
            "minari_version": _minari_version(),
            "algorithm_name": "dexmv-human-retargeting-inverse-dynamics",
            "author": {"DexMV developers"},
            "author_email": {"dexmv-dev@example.com"},
            "code_permalink": "https://github.com/dexmv/dexmv (dexmv_learning.demos)",
            "description": description or f"{kind}robot demonstrations of {task_id} ({env_id})",
            "dexmv": {"format_version": FORMAT_VERSION, "task_id": task_id, "state_only": bool(state_only),
                      "episodes": [dict(ep.source) for ep in episodes],
                      "summary": json.loads(json.dumps(dict(summary or {}), default=_jsonable))},
        })
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path / DATA_DIR


def _minari_version() -> str:
    import minari

    return minari.__version__


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def data_dir(path: str | Path) -> Path:
    """The Minari data directory of a dataset given as its directory, its data directory, or a
    Minari dataset id in Minari's root."""
    p = Path(path)
    for candidate in (p / DATA_DIR, p):
        if (candidate / "metadata.json").is_file():
            return candidate
    if not p.exists() and not str(path).startswith((".", "/")):
        from minari.storage.datasets_root_dir import get_dataset_path

        candidate = Path(get_dataset_path(str(path))) / DATA_DIR
        if (candidate / "metadata.json").is_file():
            return candidate
    if not p.exists():
        raise DatasetError(f"{path}: no such dataset (a directory written by `dexmv demos` or a Minari id)")
    raise DatasetError(f"{path}: not a Minari dataset (no data/metadata.json)")


def dataset_metadata(path: str | Path) -> dict[str, Any]:
    """The dataset's metadata.json (Minari's keys plus "dexmv")."""
    meta_path = data_dir(path) / "metadata.json"
    try:
        return json.loads(meta_path.read_text())
    except (OSError, ValueError) as err:
        raise DatasetError(f"{meta_path}: unreadable metadata ({err})") from None


def open_minari(path: str | Path):
    """The dataset as a `minari.MinariDataset`."""
    from minari import MinariDataset

    where = data_dir(path)
    try:
        return MinariDataset(where.resolve())
    except Exception as err:  # h5py/json/minari raise many types on damaged files
        raise DatasetError(f"{where}: cannot open the Minari dataset ({type(err).__name__}: {err})") from None


def load_demonstrations(path: str | Path) -> list[Demonstration]:
    """Every episode of a dataset written by write_demonstrations (or by Minari with the same infos)."""
    dataset = open_minari(path)
    meta = dataset_metadata(path)
    dexmv = meta.get("dexmv", {})
    task_id = dexmv.get("task_id")
    if task_id is None:
        spec = dataset.spec.env_spec
        task_id = (spec.kwargs or {}).get("task") if spec is not None else None
    if task_id is None:
        raise DatasetError(f"{path}: the dataset names no DexMV task (no dexmv.task_id, no env spec)")
    state_only = bool(dexmv.get("state_only", False))
    sources = dexmv.get("episodes", [])
    out = []
    try:
        episodes = list(dataset.iterate_episodes())
    except Exception as err:
        raise DatasetError(f"{path}: cannot read the episodes ({type(err).__name__}: {err})") from None
    for k, ep in enumerate(episodes):
        infos = ep.infos or {}
        if "state" not in infos:
            raise DatasetError(f"{path}: episode {k} has no infos/state (sim states to reset to)")
        t = len(ep.rewards)
        ref = infos.get("reference_qpos")
        if ref is not None and np.isnan(ref).all():
            ref = None
        demo = Demonstration(
            task_id=task_id,
            observations=np.asarray(ep.observations, np.float32),
            actions=None if state_only else np.asarray(ep.actions, np.float32),
            rewards=np.asarray(ep.rewards, np.float32),
            terminations=np.asarray(ep.terminations, bool),
            truncations=np.asarray(ep.truncations, bool),
            states=np.asarray(infos["state"], np.float64),
            success=np.asarray(infos.get("success", np.zeros(t + 1, bool)), bool),
            score=np.asarray(infos.get("score", np.zeros(t + 1)), np.float32),
            reference_qpos=None if ref is None else np.asarray(ref, np.float64),
            seed=None,
            source=sources[k] if k < len(sources) else {},
            state_only=state_only,
        )
        demo.check()
        out.append(demo)
    return out
