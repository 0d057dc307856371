"""A run's configuration: config/defaults.yaml, overridden by a user YAML file, overridden by the
command line; unknown keys are errors (a typo must not silently train with the default)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

DEFAULTS = Path(__file__).resolve().parent.parent / "config" / "defaults.yaml"
ALGOS = ("rl", "dapg", "gail", "soil", "bc")
NEEDS_DEMOS = ("dapg", "gail", "soil", "bc")


class ConfigError(ValueError):
    """A configuration value or file that cannot be used."""


def default_config() -> dict[str, Any]:
    with open(DEFAULTS) as f:
        return yaml.safe_load(f)


def merge(base: dict[str, Any], override: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Deep copy of `base` with `override`'s values; keys not in `base` raise ConfigError."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key not in out:
            raise ConfigError(f"unknown config key '{where}{key}': known keys are {', '.join(sorted(out))}")
        if isinstance(out[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"config key '{where}{key}' must be a mapping")
            out[key] = merge(out[key], value, f"{where}{key}.")
        else:
            out[key] = _typed(value, out[key], f"{where}{key}")
    return out


def _typed(value: Any, default: Any, name: str) -> Any:
    """`value` if it has the type of the key's default (an integer stands for a real number), else
    ConfigError: a string or a mapping where a number belongs must be named, not fail mid-training."""
    kind = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
            list: "a list"}.get(type(default))
    if kind is None:  # no default type to hold it to (null)
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ConfigError(f"config key '{name}' must be {kind} (like its default {default!r}), got {value!r}")
    layers = isinstance(default, list) and default and all(isinstance(v, int) for v in default)
    if layers and not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        raise ConfigError(f"config key '{name}' must be a list of positive integers, got {value!r}")
    return value


def load_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {str(err).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys to values")
    return data


def resolve(task: str, algo: str, seed: int, overrides: dict[str, Any] | None = None,
            config_file: str | Path | None = None, demos: str | None = None) -> dict[str, Any]:
    """The full configuration of a run, checked."""
    if algo not in ALGOS:
        raise ConfigError(f"unknown algorithm '{algo}': choose one of {', '.join(ALGOS)}")
    config = default_config()
    if config_file is not None:
        config = merge(config, load_config_file(config_file))
    config = merge(config, {k: v for k, v in (overrides or {}).items() if v is not None})
    config.update({"task": task, "algo": algo, "seed": int(seed), "demos": demos})
    check(config)
    config["reward"] = current_reward(task)
    return config


def current_reward(task: str) -> str:
    """The task's reward version now (dexmv_sim.tasks.base.Task.reward_version); "" for an unknown task."""
    from dexmv_sim.tasks import TaskOptionError, task_class

    try:
        return task_class(task).reward_version
    except TaskOptionError:
        return ""


def reward_mismatch(config: dict[str, Any]) -> str | None:
    """Why a run cannot be continued under the task's reward as it is now, or None.

    A run records its task's reward version (config.yaml `reward`); one that recorded none was made
    before versions were recorded, under the task's `reward_before_versions`."""
    from dexmv_sim.tasks import TaskOptionError, task_class

    try:
        cls = task_class(config["task"])
    except TaskOptionError:
        return None  # reported elsewhere as an unknown task
    recorded = config.get("reward") or cls.reward_before_versions
    if recorded == cls.reward_version:
        return None
    return (f"the run was trained with {config['task']}'s reward '{recorded}', and the task now computes "
            f"'{cls.reward_version}': continuing would mix the two; start a new run (its checkpoints still "
            "evaluate: success is judged the same way)")


def check(config: dict[str, Any]) -> None:
    for key in ("trajectories", "horizon", "iterations"):
        if key in config and (not isinstance(config[key], int) or config[key] < 1):
            raise ConfigError(f"'{key}' must be a positive integer, got {config[key]!r}")
    if config["npg"]["max_kl"] <= 0:
        raise ConfigError(f"npg.max_kl must be positive, got {config['npg']['max_kl']}")
    if config["npg"]["kl_tolerance"] < 1:
        raise ConfigError(f"npg.kl_tolerance must be at least 1, got {config['npg']['kl_tolerance']}")
    if not 0 < config["gamma"] <= 1 or not 0 <= config["gae_lambda"] <= 1:
        raise ConfigError("gamma must be in (0, 1] and gae_lambda in [0, 1]")
    for algo in ("dapg", "soil"):
        if config[algo]["demo_advantage"] not in ("max", "std"):
            raise ConfigError(f"{algo}.demo_advantage must be 'max' or 'std', got {config[algo]['demo_advantage']!r}")
    if config.get("gail", {}).get("gradient_penalty", 0.0) < 0:
        raise ConfigError(f"gail.gradient_penalty must be 0 or more, got {config['gail']['gradient_penalty']}")
    if config["checkpoint_every"] < 1:
        raise ConfigError("checkpoint_every must be at least 1")
    if config["algo"] in NEEDS_DEMOS and not config.get("demos"):
        raise ConfigError(f"--algo {config['algo']} learns from demonstrations: give --demos DATASET")
