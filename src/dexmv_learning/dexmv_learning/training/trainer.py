"""One training run of any method: build the models, then per iteration sample, update, log and
keep checkpoints; `resume` continues from the latest checkpoint with identical results.

Per iteration k (the method's part in brackets):
  1. sample `trajectories` trajectories of `horizon` steps with the stochastic policy
     [bc: none, it only learns from demonstrations; it samples when it evaluates]
  2. rewards: the task's [gail: + weight * -log(1 - D(s, a)), after D is fitted on this batch]
  3. [soil: fit the inverse model on the policy's transitions, label the demonstrated states]
  4. advantages by GAE on the value baseline; standardised
  5. one TRPO step on the surrogate [dapg, soil: plus the demo term lambda0 lambda1^k max A]
  6. fit the value baseline on the discounted returns
Before iteration 0: observation normalisation from the demonstrations (none for rl, as DAPG's
NPG baseline) and [dapg, bc: behaviour cloning].
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from dexmv_learning.algos.advantages import discounted_returns, gae
from dexmv_learning.algos.baseline import ValueBaseline
from dexmv_learning.algos.bc import bc_optimizer, behaviour_cloning
from dexmv_learning.algos.dapg import augmented_surrogate, demo_advantage, demo_weight
from dexmv_learning.algos.gail import Discriminator
from dexmv_learning.algos.npg import trpo_step
from dexmv_learning.algos.policy import GaussianMLPPolicy
from dexmv_learning.algos.soil import InverseDynamics
from dexmv_learning.training.checkpoint import load_checkpoint, save_checkpoint
from dexmv_learning.training.demos import DemoData
from dexmv_learning.training.run_folder import RunFolder
from dexmv_learning.training.sampler import Batch, Sampler, stream_seed, torch_generator


def configure_torch() -> None:
    """One thread and deterministic kernels: identical results run to run (and the sampler's
    worker processes keep the cores)."""
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


class Trainer:
    def __init__(self, config: dict[str, Any], run: RunFolder, demos: DemoData | None = None,
                 sampler: Sampler | None = None, eval_sampler: Sampler | None = None) -> None:
        configure_torch()
        self.config, self.run, self.demos = config, run, demos
        self.algo = config["algo"]
        self.sampler = sampler or Sampler(config["task"], config["trajectories"], config["horizon"],
                                          config["num_workers"] or None)
        self._eval_sampler = eval_sampler
        obs_dim, act_dim = self.sampler.obs_dim, self.sampler.act_dim
        init = torch_generator(stream_seed(config["seed"], 0, "init"))
        p = config["policy"]
        self.policy = GaussianMLPPolicy(obs_dim, act_dim, p["hidden"], p["init_log_std"], generator=init)
        b = config["baseline"]
        self.baseline = ValueBaseline(obs_dim, b["hidden"], b["learning_rate"], generator=init)
        self.bc_opt = bc_optimizer(self.policy, config["bc"]["learning_rate"])
        self.discriminator = self.inverse = None
        if self.algo == "gail":
            g = config["gail"]
            self.discriminator = Discriminator(obs_dim, act_dim, g["hidden"], g["learning_rate"], generator=init)
        if self.algo == "soil":
            s = config["soil"]
            self.inverse = InverseDynamics(obs_dim, act_dim, s["hidden"], s["learning_rate"], generator=init)
        self.soil_buffer: list[dict[str, torch.Tensor]] = []
        self.iteration = 0  # iterations completed
        self.env_steps = 0
        self.wall_s = 0.0
        self.initialized = False

    # ------------------------------------------------------------------ set-up
    def initialize(self) -> dict[str, float]:
        """Normalisation and behaviour cloning before iteration 0."""
        info: dict[str, float] = {}
        if self.demos is not None:
            for module in (self.policy, self.baseline, self.discriminator, self.inverse):
                if module is not None:
                    _set_normalization(module, self.demos.obs)
            p = self.config["policy"]
            if not self.demos.state_only and p["action_normalization"]:
                _set_action_normalization(self.policy, self.demos.actions)
            bc_init = self.algo == "bc" or (self.algo in ("dapg", "gail") and self.config[self.algo]["bc_init"])
            if bc_init and self.demos.state_only:
                raise ValueError(f"--algo {self.algo} needs demonstrated actions; these demonstrations are "
                                 "state-only (use --algo soil)")
            if bc_init and self.algo != "bc":
                bc = self.config["bc"]
                info["bc_loss"] = behaviour_cloning(
                    self.policy, self.demos.obs, self.demos.actions, bc["epochs"], bc["batch_size"], self.bc_opt,
                    torch_generator(stream_seed(self.config["seed"], 0, "init")), bc.get("obs_noise", 0.0))
        self.initialized = True
        return info

    # ------------------------------------------------------------------ one iteration
    def step(self) -> dict[str, Any]:
        """Run iteration `self.iteration` and return its metrics row."""
        if not self.initialized:
            raise RuntimeError("call initialize() or load() first")
        k, cfg = self.iteration, self.config
        start = time.perf_counter()
        row: dict[str, Any] = {"iteration": k + 1}
        update = torch_generator(stream_seed(cfg["seed"], k, "update"))
        sample_s = 0.0
        if self.algo == "bc":
            bc = cfg["bc"]
            row["bc_loss"] = behaviour_cloning(self.policy, self.demos.obs, self.demos.actions,
                                               bc["epochs_per_iteration"], bc["batch_size"], self.bc_opt, update,
                                               bc.get("obs_noise", 0.0))
        else:
            batch = self.sampler.sample(self.policy, stream_seed(cfg["seed"], k, "env"),
                                        stream_seed(cfg["seed"], k, "noise"))
            sample_s = batch.seconds
            self.env_steps += batch.steps
            row.update(self._batch_metrics(batch))
            row["steps_per_s"] = batch.steps / max(batch.seconds, 1e-9)
            row.update(self._policy_update(batch, update))
        row["sample_s"] = sample_s
        self.iteration += 1
        if cfg["eval_every"] and (self.iteration % cfg["eval_every"] == 0 or self.iteration == cfg["iterations"]):
            result = self.evaluate()
            row["eval_success_rate"], row["eval_score_mean"] = result["success_rate"], result["score_mean"]
            self.env_steps += result["steps"]
        elapsed = time.perf_counter() - start
        self.wall_s += elapsed
        row.update(env_steps=self.env_steps, wall_s=self.wall_s, update_s=elapsed - sample_s)
        return row

    @staticmethod
    def _batch_metrics(batch: Batch) -> dict[str, float]:
        returns = batch.rewards.sum(axis=1)
        return {"return_mean": float(returns.mean()), "return_std": float(returns.std()),
                "success_rate": float(batch.success.mean()), "score_mean": float(batch.score.mean())}

    def _policy_update(self, batch: Batch, generator: torch.Generator) -> dict[str, float]:
        cfg, row = self.config, {}
        n, horizon = batch.rewards.shape
        obs_t = torch.from_numpy(batch.obs[:, :-1].reshape(n * horizon, -1)).float()
        act_t = torch.from_numpy(batch.actions.reshape(n * horizon, -1)).float()
        rewards = batch.rewards
        if self.algo == "gail":
            g = cfg["gail"]
            row.update(self.discriminator.fit(self.demos.obs, self.demos.actions, obs_t, act_t, g["epochs"],
                                              g["batch_size"], generator, g.get("gradient_penalty", 0.0)))
            gail_reward = self.discriminator.reward(obs_t, act_t).reshape(n, horizon)
            row["gail_reward_mean"] = float(gail_reward.mean())
            rewards = rewards + g["reward_weight"] * gail_reward
        demo_obs = demo_actions = None
        weight = 0.0
        if self.algo in ("dapg", "soil"):
            weight = demo_weight(self.iteration, cfg[self.algo]["lambda0"], cfg[self.algo]["lambda1"])
            demo_obs, demo_actions = self.demos.obs, self.demos.actions
            row["demo_weight"] = weight
        if self.algo == "soil":
            demo_actions = self._soil_labels(batch, obs_t, act_t, generator, row)

        time_fraction = np.arange(horizon + 1) / horizon
        values = self.baseline.predict(batch.obs, np.tile(time_fraction, (n, 1)))
        values[:, -1] = 0.0  # the horizon ends the episode (see algos/advantages.py)
        advantages = gae(rewards, values, cfg["gamma"], cfg["gae_lambda"])
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        adv_t = torch.from_numpy(advantages.reshape(-1)).float()
        with torch.no_grad():
            old_log_prob = self.policy.log_prob(obs_t, act_t)
        demo_adv = demo_advantage(weight, adv_t, cfg[self.algo]["demo_advantage"]) if demo_obs is not None else 0.0
        surrogate = augmented_surrogate(self.policy, obs_t, act_t, adv_t, old_log_prob, demo_obs, demo_actions,
                                        demo_adv)
        npg = cfg["npg"]
        result = trpo_step(self.policy, surrogate, obs_t, npg["max_kl"], npg["cg_iterations"], npg["damping"],
                           npg["backtracks"], npg["fisher_stride"], npg["kl_tolerance"])
        row.update(kl=result.kl, surrogate_gain=result.surrogate_after - result.surrogate_before,
                   step_fraction=result.step_fraction)
        returns = discounted_returns(rewards, cfg["gamma"])
        b = cfg["baseline"]
        row["baseline_loss"] = self.baseline.fit(batch.obs[:, :-1], np.tile(time_fraction[:-1], (n, 1)),
                                                 returns, b["epochs"], b["batch_size"], generator)
        return row

    def _soil_labels(self, batch: Batch, obs_t: torch.Tensor, act_t: torch.Tensor, generator: torch.Generator,
                     row: dict[str, Any]) -> torch.Tensor:
        s = self.config["soil"]
        n, horizon = batch.rewards.shape
        next_t = torch.from_numpy(batch.obs[:, 1:].reshape(n * horizon, -1)).float()
        current = {"obs": obs_t, "next_obs": next_t, "actions": act_t}
        data = [*self.soil_buffer, current]
        cat = {key: torch.cat([d[key] for d in data]) for key in current}
        row["inverse_loss"] = self.inverse.fit(cat["obs"], cat["next_obs"], cat["actions"], s["epochs"],
                                               s["batch_size"], generator)
        keep = max(0, int(s["buffer_iterations"]) - 1)
        self.soil_buffer = [*self.soil_buffer, current][-keep:] if keep else []
        labels = self.inverse.label(self.demos.obs, self.demos.next_obs)
        if not self.demos.state_only:  # the demos' own actions are known: how good are the labels?
            row["label_error"] = float(((labels - self.demos.actions) ** 2).mean())
        return labels

    # ------------------------------------------------------------------ evaluation during training
    def evaluate(self) -> dict[str, float]:
        """Mean-action success on a fixed set of episodes (the same ones at every evaluation)."""
        if self._eval_sampler is None:
            self._eval_sampler = Sampler(self.config["task"], self.config["eval_episodes"], self.config["horizon"],
                                         self.config["num_workers"] or None)
        batch = self._eval_sampler.sample(self.policy, stream_seed(self.config["seed"], 0, "eval"), None,
                                          deterministic=True)
        return {"success_rate": float(batch.success.mean()), "score_mean": float(batch.score.mean()),
                "steps": batch.steps}

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "iteration": self.iteration, "env_steps": self.env_steps, "wall_s": self.wall_s,
            "config": self.config, "policy_arch": self.policy.architecture(), "policy": self.policy.state_dict(),
            "baseline": self.baseline.state_dict(), "baseline_optimizer": self.baseline.optimizer.state_dict(),
            "bc_optimizer": self.bc_opt.state_dict(), "soil_buffer": self.soil_buffer,
        }
        for name, module in (("discriminator", self.discriminator), ("inverse", self.inverse)):
            if module is not None:
                out[name] = module.state_dict()
                out[f"{name}_optimizer"] = module.optimizer.state_dict()
        return out

    def load(self, data: dict[str, Any]) -> None:
        self.policy.load_state_dict(data["policy"])
        self.baseline.load_state_dict(data["baseline"])
        self.baseline.optimizer.load_state_dict(data["baseline_optimizer"])
        self.bc_opt.load_state_dict(data["bc_optimizer"])
        for name, module in (("discriminator", self.discriminator), ("inverse", self.inverse)):
            if module is not None:
                module.load_state_dict(data[name])
                module.optimizer.load_state_dict(data[f"{name}_optimizer"])
        self.soil_buffer = list(data.get("soil_buffer") or [])
        self.iteration, self.env_steps, self.wall_s = int(data["iteration"]), int(data["env_steps"]), \
            float(data["wall_s"])
        self.initialized = True

    def save(self) -> None:
        save_checkpoint(self.run.checkpoint_path(self.iteration), self.state())

    # ------------------------------------------------------------------ the loop
    def train(self, resume: bool = False, progress: bool = True,
              on_iteration: Callable[[dict[str, Any]], None] | None = None) -> int:
        """Run until config['iterations'] iterations are done; returns the iterations run now."""
        from torch.utils.tensorboard import SummaryWriter
        from tqdm import tqdm

        total = self.config["iterations"]
        if resume and (latest := self.run.latest_checkpoint()) is not None:
            self.load(load_checkpoint(latest))
            self.run.truncate_metrics(self.iteration)
        else:
            self.run.truncate_metrics(0)
            init = self.initialize()
            if init:
                print(f"behaviour cloning: loss {init['bc_loss']:.4f}")
        done_before = self.iteration
        writer = SummaryWriter(str(self.run.tensorboard), purge_step=self.iteration + 1)
        bar = tqdm(total=total, initial=self.iteration, disable=not progress, unit="it",
                   desc=f"{self.algo} {self.config['task']}")
        try:
            while self.iteration < total:
                row = self.step()
                self.run.append_metrics(row)
                for key, value in row.items():
                    if key != "iteration" and isinstance(value, int | float) and math.isfinite(value):
                        writer.add_scalar(key, value, row["iteration"])
                if self.iteration % self.config["checkpoint_every"] == 0 or self.iteration == total:
                    self.save()
                    self.run.plot(f"{self.algo} {self.config['task']} seed {self.config['seed']}", self.config["task"])
                bar.update(1)
                bar.set_postfix({k: f"{row[k]:.2f}" for k in ("return_mean", "success_rate", "eval_success_rate")
                                 if row.get(k) is not None})
                if on_iteration is not None:
                    on_iteration(row)
        finally:
            bar.close()
            writer.close()
        return self.iteration - done_before

    def close(self) -> None:
        self.sampler.close()
        if self._eval_sampler is not None:
            self._eval_sampler.close()


def _set_normalization(module: torch.nn.Module, obs: torch.Tensor) -> None:
    std = obs.std(dim=0)
    module.obs_shift.copy_(obs.mean(dim=0))
    module.obs_scale.copy_(torch.where(std > 1e-3, std, torch.ones_like(std)))


ACTION_SCALE_FLOOR = 0.05  # of the [-1, 1] range: a joint the demonstrations never move stays trainable


def _set_action_normalization(policy: GaussianMLPPolicy, actions: torch.Tensor) -> None:
    """The policy's output shift/scale from the demonstrated actions (DexMV's out_shift/out_scale)."""
    policy.act_shift.copy_(actions.mean(dim=0))
    policy.act_scale.copy_(actions.std(dim=0).clamp_min(ACTION_SCALE_FLOOR))

