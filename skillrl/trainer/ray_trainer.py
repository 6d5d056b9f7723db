"""The training driver (GRPO and the other estimators; with ``gae``, PPO with a critic): one process
that composes the workers, environments and skill bank.

A training step, top to bottom (each phase timed as ``timing/<phase>``):

1. rollout: ``data.train_batch_size`` tasks x ``env.rollout.n`` members, multi-turn; with
   ``algorithm.filter_groups.enable`` (DAPO's dynamic sampling, :mod:`skillrl.trainer.dynamic_rollout`)
   more generation batches until ``data.train_batch_size`` groups whose metric varies are kept;
2. old log-prob: the current policy's log-probs (and entropies) of every response token;
3. reference log-prob: the frozen reference's, when a KL term needs them;
4. reward, invalid-action penalty: the episode return on the last response token (minus the KL
   when ``algorithm.use_kl_in_reward``), then ``invalid_action_penalty_coef`` off where the action
   could not be parsed;
5. values (``gae`` only): the critic's value of each response token's state;
6. advantages: ``algorithm.adv_estimator`` (GRPO: group-normalised episode returns);
7. critic update (``gae`` only): clipped value loss toward the GAE returns;
8. actor update: PPO-clip over ``ppo_mini_batch_size`` mini-batches; with a critic, only from step
   ``trainer.critic_warmup`` on (verl's test ``critic_warmup <= global_step``, steps counted from 1);
9. weight sync: the new weights into the rollout engine (skipped when the actor did not update).

Validation runs every ``trainer.test_freq`` steps, at the end, and before training when
``val_before_train``; skill evolution follows it. Checkpoints every ``trainer.save_freq`` steps
and at the end; ``trainer.resume_mode`` picks up the latest complete one.

Departures from verl-agent's trainer: there is no dataloader (tasks come from the environment family through a checkpointable sampler); the metrics of a step are logged before its
checkpoint is written, and a resumed run first drops logged steps after its checkpoint, so every
step appears exactly once in ``metrics.jsonl``.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Dict, Optional

from agent_system.multi_turn_rollout.rollout_loop import MultiTurnRollout, PromptEncoder
from agent_system.reward_manager.episode import EpisodeRewardManager
from skillrl.algorithms.kl import make_kl_controller
from skillrl.trainer import checkpoint as ckpt_lib
from skillrl.trainer import components
from skillrl.trainer.metrics import (PhaseTimer, actor_metrics, advantage_metrics, critic_metrics, episode_metrics,
                                     throughput_metrics, token_metrics)
from skillrl.trainer.task_sampler import TaskSampler, total_training_steps, validation_tasks
from skillrl.trainer.tracking import ProgressLine, Tracking
from skillrl.trainer.validation import Validator, evolve_skills

logger = logging.getLogger("skillrl.trainer")


class GRPOTrainer:
    """Builds everything from a validated :class:`skillrl.config.schema.PPOConfig` and trains."""

    def __init__(self, config: Any):
        from agent_system.environments.base import make_env_family
        from skillrl.utils.tiny_model import resolve_model_path

        self.config = config
        t, d, env = config.trainer, config.data, config.env
        self.run_dir = os.path.abspath(t.default_local_dir)
        os.makedirs(self.run_dir, exist_ok=True)
        self.model_path = resolve_model_path(config.actor_rollout_ref.model.path)
        self.tokenizer = components.load_tokenizer(config.actor_rollout_ref.model, self.model_path)
        self.family = make_env_family(env)
        self.sampler = TaskSampler(self.family.tasks("train"), d.train_batch_size, d.seed, d.shuffle)
        self.val_tasks = validation_tasks(self.family.tasks(components.VALID_SPLIT),
                                          self.family.validation_size(d.val_batch_size), d.seed)
        self.total_steps = total_training_steps(t, d, len(self.sampler.tasks))
        components.fill_derived(config, self.total_steps)
        self.train_memory, self.val_memory = components.build_memories(env, self.family, self.tokenizer)
        self.skills = components.skill_memory(self.train_memory)  # None with raw-trajectory memory
        self.evolver = components.build_evolver(env, self.skills, self.run_dir)
        self.ckpt = ckpt_lib.CheckpointManager(self.run_dir, t.max_actor_ckpt_to_keep)
        self.reward_fn = EpisodeRewardManager()
        k = config.algorithm.kl_ctrl  # the in-reward KL coefficient: fixed, or adapted each step (verl)
        self.kl_ctrl = make_kl_controller(k.type, k.kl_coef, k.target_kl, k.horizon)
        self.global_step = self.start_step = 0
        self.tracker: Optional[Tracking] = None
        self._bar: Any = _NoBar()
        self._build_runtime()

    def _build_runtime(self) -> None:
        """The heavy parts: environment workers, FSDP ranks, the rollout engine."""
        c = self.config
        num_envs = c.data.train_batch_size * c.env.rollout.n
        self.manager = components.build_env_manager(c.env, self.family, num_envs, self.train_memory)
        self.encoder = PromptEncoder(self.tokenizer, c.data.max_prompt_length, c.data.truncation)
        self.rollout = MultiTurnRollout(self.manager, self.encoder, self.family.name, c.env.max_steps,
                                        components.pad_token_id(self.tokenizer), progress=c.trainer.progress_bar)
        self.validator = Validator(self.rollout, self.val_tasks, c.actor_rollout_ref.rollout.val_kwargs.n,
                                   self.val_memory, c.trainer.log_val_generations, self.run_dir)
        a = c.actor_rollout_ref.actor
        self.need_ref = bool(a.use_kl_loss or c.algorithm.use_kl_in_reward)
        self.actor, self.rollout_worker, self.critic = components.build_workers(c, self.model_path, self.need_ref)

    # ------------------------------------------------------------------------------- the loop

    def fit(self) -> Dict[str, Any]:
        start = self._resume()
        t = self.config.trainer
        self.tracker = Tracking(t.logger, self.run_dir, t.project_name, t.experiment_name,
                                _config_dict(self.config), resume_step=start if start > 0 else None)
        if t.val_only or (t.val_before_train and start == 0):
            self.tracker.log(self.validate_and_evolve(start), step=start)
        if t.val_only:
            return self._result(None)
        if start >= self.total_steps > 0:  # epochs-sized runs; a step count is checked before Ray starts
            logger.warning("%s", ckpt_lib.nothing_to_train(self.ckpt.resolve(t.resume_mode), self.total_steps))
        self.start_step = start
        bar = self._bar = _step_bar(start, self.total_steps, t.progress_bar)
        for step in range(start + 1, self.total_steps + 1):
            self.global_step = step
            metrics = self.train_step(step)
            if _due(t.test_freq, step, self.total_steps):
                metrics.update(self.validate_and_evolve(step))
            metrics.update(self._skill_metrics())
            self.tracker.log(metrics, step)  # before the checkpoint: a crash in between re-plays the step
            if _due(t.save_freq, step, self.total_steps):
                self.save_checkpoint(step)
            bar.update(1)
        bar.close()
        hf_dir = self.export_model()
        return self._result(hf_dir)

    def train_step(self, step: int) -> Dict[str, Any]:
        """One GRPO step; returns its metrics."""
        c, timer = self.config, PhaseTimer(on_start=self._show_phase)
        with timer.phase("step"):
            # 1. rollout: play the step's tasks with the current policy (DAPO: more tasks until the
            #    groups kept, those whose metric varies, fill the batch)
            with timer.phase("rollout"):
                rollout, sampling_metrics = self._roll_out(step)
                self.rollout_worker.sleep()  # free_cache_engine: the engines' memory goes to training
            batch = rollout.batch
            if batch is None:
                logger.warning("step %d: no environment produced a step sample (all resets failed?); no update", step)
                return {**timer.metrics(), **episode_metrics(rollout.trajectories, family=self.family),
                        **sampling_metrics}
            batch.meta_info["temperature"] = c.actor_rollout_ref.rollout.temperature
            # 2. old log-prob: the rollout policy's log-probs of its own tokens; skipped when the
            #    update is one optimizer step on the whole batch (the PPO ratio is then exactly 1)
            with timer.phase("old_log_prob"):
                if self._needs_old_log_prob(len(batch)):
                    batch = batch.union(self.actor.compute_log_prob(batch))
            # 3. reference log-prob: only when a KL term uses it
            with timer.phase("ref_log_prob"):
                if self.need_ref:
                    batch = batch.union(self.actor.compute_ref_log_prob(batch))
            # 4. rewards: the episode return on each sample's last token (minus KL if in reward),
            #    then the penalty for actions that could not be parsed
            with timer.phase("reward"):
                reward_metrics = self._episode_rewards(batch)
            with timer.phase("invalid_action_penalty"):
                reward_metrics.update(self._invalid_action_penalty(batch))
            # 5. values: the critic's estimate of each response token's state (gae)
            with timer.phase("values"):
                if self.critic is not None:
                    batch = batch.union(self.critic.compute_values(batch))
            # 6. advantages
            with timer.phase("advantages"):
                batch = _compute_advantage(batch, c.algorithm)
            # 7. critic update: toward the returns of this batch, every step (also during warm-up)
            with timer.phase("update_critic"):
                update_metrics = self.critic.update_critic(batch) if self.critic is not None else {}
            # 8. actor update: after the critic's warm-up steps
            with timer.phase("update_actor"):
                actor_updates = self.critic is None or c.trainer.critic_warmup <= step
                if actor_updates:
                    update_metrics.update(self.actor.update_policy(batch))
            # 9. weight sync: the next rollout samples from the updated policy
            with timer.phase("weight_sync"):
                from skillrl.workers.weight_sync import sync_weights

                if actor_updates:
                    sync_weights(self.actor, self.rollout_worker.workers)
        return {**self._step_metrics(batch, rollout, timer, reward_metrics, update_metrics), **sampling_metrics}

    # ---------------------------------------------------------------------------- the phases

    def _show_phase(self, name: str) -> None:
        self._bar.set_postfix_str(name, refresh=True)

    def _roll_out(self, step: int):
        """The step's rollout and its dynamic-sampling metrics ({} without filter_groups)."""
        c = self.config
        fg = c.algorithm.filter_groups

        def play(gen_batch: int):
            return self.rollout.run(self.sampler.next_batch(), c.env.rollout.n, self._policy(step, False, gen_batch))

        if not fg.enable:
            return play(0), {}
        from skillrl.trainer.dynamic_rollout import roll_out_filtered

        return roll_out_filtered(play, self._score_for_filter, fg, c.data.train_batch_size,
                                 components.pad_token_id(self.tokenizer))

    def _score_for_filter(self, batch: Any) -> None:
        """The fields the filter metric reads; phase 4 recomputes them on the kept batch. Without
        log-probs yet, the in-reward KL is left out (config validation refuses seq_final_reward with it)."""
        if self.config.algorithm.use_kl_in_reward:
            self.reward_fn(batch)
            return
        self._episode_rewards(batch)
        self._invalid_action_penalty(batch)

    def _policy(self, step: int, validate: bool, gen_batch: int = 0):
        """The rollout worker as a policy: one batched call per turn. Training seeds each call by
        (step, generation batch, turn); validation seeds each episode by (task, play, turn), as
        ``main_eval`` does."""
        from agent_system.multi_turn_rollout.policies import EnginePolicy
        from skillrl.workers.rollout.base import SamplingParams

        r = self.config.actor_rollout_ref.rollout
        sampling = SamplingParams.from_rollout_config(r, validate=validate).with_updates(n=1)

        def generate(prompt_ids, params):
            return self.rollout_worker.generate(prompt_ids, params)

        return EnginePolicy(generate, self.encoder, sampling, per_episode=validate, train_step=step, gen_batch=gen_batch)

    def _needs_old_log_prob(self, n: int) -> bool:
        """False when the update is on-policy: one epoch, one mini-batch holding every rank's rows.

        verl always runs this forward pass; here the actor then uses its own detached log-probs,
        which gives the same gradient (measured: 31 s of a 191 s GRPO step on 2 CPU cores).
        """
        a, ws = self.config.actor_rollout_ref.actor, self.actor.world_size
        one_step = a.ppo_epochs == 1 and -(-n // ws) <= max(1, a.ppo_mini_batch_size // ws)
        return not one_step or self.config.algorithm.use_kl_in_reward

    def _episode_rewards(self, batch: Any) -> Dict[str, float]:
        from skillrl.algorithms import apply_kl_penalty_to_rewards

        c = self.config
        metrics = self.reward_fn(batch)
        rewards = batch.batch["token_level_scores"]
        if c.algorithm.use_kl_in_reward:
            rewards, m = apply_kl_penalty_to_rewards(rewards, batch.batch["old_log_probs"], batch.batch["ref_log_prob"],
                                                     batch.batch["response_mask"], self.kl_ctrl.value,
                                                     c.algorithm.kl_penalty)
            self.kl_ctrl.update(m["actor/reward_kl_penalty"], int(rewards.shape[0]))
            metrics.update(m)
        batch.batch["token_level_rewards"] = rewards
        return metrics

    def _invalid_action_penalty(self, batch: Any) -> Dict[str, float]:
        from skillrl.algorithms import apply_invalid_action_penalty

        a = self.config.actor_rollout_ref.actor
        if not a.use_invalid_action_penalty:
            return {}
        rewards, m = apply_invalid_action_penalty(batch.batch["token_level_rewards"], batch.batch["response_mask"],
                                                  batch.non_tensor_batch["is_action_valid"],
                                                  a.invalid_action_penalty_coef)
        batch.batch["token_level_rewards"] = rewards
        return {f"reward/{k}": v for k, v in m.items()}

    def validate_and_evolve(self, step: int) -> Dict[str, float]:
        """Validation with the validation memory, then skill evolution into the training memory."""
        result = self.validator.run(self._policy(step, True), step)
        metrics = dict(result.metrics)
        metrics.update(evolve_skills(self.evolver, step, result.trajectories))
        return metrics

    # ------------------------------------------------------------------------------- metrics

    def _step_metrics(self, batch: Any, rollout: Any, timer: PhaseTimer, reward_metrics: Dict[str, float],
                      update_metrics: Dict[str, float]) -> Dict[str, Any]:
        c = self.config
        out: Dict[str, Any] = {"training/global_step": self.global_step, "training/epoch": self.sampler.epoch}
        out.update(episode_metrics(rollout.trajectories, family=self.family))
        out.update(rollout.metrics)
        tokens = token_metrics(batch.batch, components.response_length(c))
        out.update(tokens)
        out.update(advantage_metrics(batch.batch))
        out.update(reward_metrics)
        out.update(actor_metrics({k: v for k, v in update_metrics.items() if not k.startswith("critic/")}))
        out.update(critic_metrics(batch.batch, update_metrics))
        out.update(_policy_kl(batch, c.actor_rollout_ref.actor.kl_loss_type, update_metrics))
        out.update(timer.metrics())
        rt = rollout.timing
        out.update({"timing/rollout_generate": rt["generate"], "timing/rollout_env": rt["env"],
                    "timing/rollout_overhead": rt["overhead"],
                    "rollout/framework_overhead_frac": rt["overhead"] / max(rt["total"], 1e-9)})
        out.update(throughput_metrics(len(batch), tokens["tokens/total"], timer.seconds))
        return out

    def _skill_metrics(self) -> Dict[str, float]:
        if self.skills is None:
            return {"skills/bank_size": 0.0}
        counts = self.skills.get_skill_count()
        return {"skills/bank_size": float(counts["total"]), "skills/evolved": float(counts.get("evolved", 0)),
                "skills/general": float(counts["general"]), "skills/task_specific": float(counts["task_specific"])}

    # --------------------------------------------------------------------- checkpoints/export

    def save_checkpoint(self, step: int) -> str:
        parts = {
            "actor": self.actor.save_checkpoint,
            "trainer_state": lambda p: ckpt_lib.save_trainer_state(p, step, self.sampler.state_dict(),
                                                                   {"total_steps": self.total_steps}),
        }
        if self.critic is not None:
            parts["critic"] = self.critic.save_checkpoint
        if self.skills is not None:
            parts["skills"] = self._save_skills
        return self.ckpt.save(step, parts, meta={"model_path": self.model_path})

    def _save_skills(self, path: str) -> None:
        from skillrl.skills.evolution import BANK_FILE

        if self.evolver is not None:
            self.evolver.save(path)  # bank + evolution log
        else:
            os.makedirs(path, exist_ok=True)
            self.skills.save_skills(os.path.join(path, BANK_FILE))

    def _resume(self) -> int:
        """Load the checkpoint ``trainer.resume_mode`` names; returns the step it ended (0: none)."""
        path = self.ckpt.resolve(self.config.trainer.resume_mode)
        if path is None:
            return 0
        from skillrl.skills.evolution import BANK_FILE
        from skillrl.workers.weight_sync import sync_weights

        logger.info("resuming from %s", path)
        self.actor.load_checkpoint(os.path.join(path, "actor"))
        if self.critic is not None:
            critic_dir = os.path.join(path, "critic")
            if not os.path.isdir(critic_dir):
                raise ValueError(f"{path} has no critic/ part (it was saved by a run without a critic); set "
                                 "trainer.resume_mode=disable or resume it with its own algorithm.adv_estimator")
            self.critic.load_checkpoint(critic_dir)
        state = ckpt_lib.load_trainer_state(os.path.join(path, "trainer_state"))
        self.sampler.load_state_dict(state["task_sampler"])
        skills_dir = os.path.join(path, "skills")
        if self.evolver is not None and os.path.isdir(skills_dir):
            self.evolver.load(skills_dir)
            self.evolver.save(os.path.join(self.run_dir, "skills"))  # the live log loses steps after the checkpoint
        elif self.skills is not None and os.path.isdir(skills_dir):
            components.load_bank_into(self.skills, os.path.join(skills_dir, BANK_FILE))
        sync_weights(self.actor, self.rollout_worker.workers)  # the engine still holds the initial weights
        self.global_step = int(state["global_step"])
        return self.global_step

    def export_model(self) -> Optional[str]:
        if not self.config.trainer.export_hf_model:
            return None
        final = os.path.join(self.run_dir, "hf_model")
        with ckpt_lib.atomic_dir(final) as tmp:
            self.actor.export_hf(tmp)
        logger.info("exported the trained model to %s", final)
        return final

    def _result(self, hf_dir: Optional[str]) -> Dict[str, Any]:
        latest = self.ckpt.latest()
        skills = os.path.join(self.run_dir, "skills", "skills.json")
        if self.skills is not None:  # always this one place, whether or not evolution wrote it
            self._save_skills(os.path.dirname(skills))
        tracker = self.tracker
        return {
            "global_step": self.global_step, "steps_this_run": self.global_step - self.start_step,
            "run_dir": self.run_dir,
            "metrics_file": tracker.jsonl_path if tracker is not None else None,
            "tensorboard_dir": os.path.join(self.run_dir, "tensorboard") if "tensorboard" in self.config.trainer.logger else None,
            "checkpoint": latest, "hf_model": hf_dir,
            "skill_bank": skills if os.path.exists(skills) else None,
        }

    def shutdown(self) -> None:
        """Stop workers and environments (best effort; called from ``finally``)."""
        if self.tracker is not None:
            self.tracker.close()
        for name, fn in (("environments", lambda: self.manager.close()),
                         ("rollout workers", lambda: self.rollout_worker.shutdown()),
                         ("critic workers", lambda: self.critic is not None and self.critic.shutdown()),
                         ("actor workers", lambda: self.actor.shutdown())):
            try:
                fn()
            except Exception as e:  # shutting down must not mask the error that got us here
                logger.warning("shutting down %s failed: %s", name, e)


# --------------------------------------------------------------------------------- helpers


def _due(freq: int, step: int, total: int) -> bool:
    return step == total or (freq is not None and freq > 0 and step % freq == 0)


def _compute_advantage(batch: Any, algo_cfg: Any) -> Any:
    from skillrl.algorithms import compute_advantage

    return compute_advantage(batch, algo_cfg)


def _policy_kl(batch: Any, kl_type: str, update_metrics: Dict[str, float]) -> Dict[str, float]:
    """KL of the rollout policy from the reference on this batch's tokens (when computed)."""
    b = batch.batch
    if "ref_log_prob" not in b:
        return {}
    if "old_log_probs" not in b:  # on-policy update: its KL loss was computed with the rollout policy
        return {"actor/kl_to_ref": update_metrics["actor/kl_loss"]} if "actor/kl_loss" in update_metrics else {}
    from skillrl.algorithms import kl_penalty, masked_mean

    kl = kl_penalty(b["old_log_probs"].float(), b["ref_log_prob"].float(), kl_type)
    return {"actor/kl_to_ref": float(masked_mean(kl, b["response_mask"].float()))}


def _config_dict(config: Any) -> Dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(config)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


def _step_bar(start: int, total: int, enabled: bool):
    import sys

    if not enabled:
        return _NoBar()
    if not sys.stderr.isatty():  # a bar is invisible in a log file: one line per step instead
        return ProgressLine(start, total)
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=start, desc="training steps", unit="step")
