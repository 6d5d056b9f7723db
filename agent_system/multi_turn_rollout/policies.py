"""Text policies for :func:`~agent_system.multi_turn_rollout.episode_runner.run_episodes`.

* :func:`expert_policy`: the family's expert (household planner, ALFWorld walkthrough), its
  action wrapped as ``<think>..</think><action>..</action>`` (or by the family's
  ``wrap_expert_action``) so it passes through the same projection as a model's output.
* :class:`EnginePolicy`: a local model through a rollout engine (``hf`` or ``vllm``), with the
  tokenizer's chat template and ``data.max_prompt_length`` truncation.
* :class:`ChatPolicy`: any OpenAI-compatible endpoint through ``TeacherClient``; a failed call
  yields an empty output (an invalid action for that step) instead of stopping the run.

Heavy libraries (torch, transformers, openai) are imported only when a policy is built.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional, Tuple

logger = logging.getLogger(__name__)

NO_EXPERT_ACTION = "look"


def wrap_action(action: str, reason: str) -> str:
    return f"<think>{reason}</think>\n<action>{action}</action>"


def expert_policy(manager: Any):
    """A policy that asks ``manager.family.expert_action`` for each environment's next action.

    A family whose output format is not <think>/<action> (search: <search>/<answer>) provides
    ``wrap_expert_action(action, reason)``; its actions carry their own tags, so the reasoning
    then does not repeat them.
    """
    family_wrap = getattr(manager.family, "wrap_expert_action", None)
    wrap = family_wrap or wrap_action
    fallback = getattr(manager.family, "no_expert_action", NO_EXPERT_ACTION)

    def reason(action: str) -> str:
        if family_wrap is not None:
            return "Following the known solution."
        return f"Following the known solution, the next step is: {action}."

    thought = getattr(manager.family, "expert_thought", None)  # the family's own reasoning, if it has one

    def policy(prompts: List[str], observations: List[Dict[str, Any]]) -> List[str]:
        out = []
        for ob in observations:
            i = int(ob["env_index"])
            task, info = manager.task_spec(i), manager.last_info(i)
            action = manager.family.expert_action(task, ob["anchor"], info)
            if not action:
                out.append(wrap(fallback, "The expert has no plan for this state."))
            else:
                out.append(wrap(action, (thought and thought(task, info)) or reason(action)))
        return out

    return policy


class EnginePolicy:
    """Chat template -> token ids (truncated per ``data.truncation``) -> engine -> text."""

    def __init__(self, engine: Any, tokenizer: Any, sampling: Any, max_prompt_length: int, truncation: str = "left"):
        from agent_system.multi_turn_rollout.rollout_loop import PromptEncoder

        self.engine = engine
        self.sampling = sampling
        self.encoder = PromptEncoder(tokenizer, max_prompt_length, truncation)
        self._episode: Dict[int, Tuple[str, int]] = {}  # env_index -> (task_id, how many times played before)
        self._plays: Dict[str, int] = {}

    def __call__(self, prompts: List[str], observations: List[Dict[str, Any]]) -> List[str]:
        ids = self.encoder.encode(prompts)
        sampling = self.sampling
        seeds = self.episode_seeds(observations)
        if seeds is not None:
            sampling = sampling.with_updates(seeds=seeds)
        outs = self.engine.generate(ids, sampling)
        return [o.text for o in outs]

    def episode_seeds(self, observations: List[Dict[str, Any]]) -> Optional[List[int]]:
        """One seed per (task, play of it, turn), or None without a seed or the manager's keys.

        A seed per batch would make each episode's samples depend on which episodes share its
        batch (and its turn); this way an evaluation gives the same episodes at any
        ``eval.batch_size``, and two models see the same random numbers on the same task.
        """
        from skillrl.workers.rollout.base import episode_seed

        keys = ("env_index", "task_id", "step")
        if self.sampling.seed is None or not all(k in ob for ob in observations for k in keys):
            return None
        seeds = []
        for ob in observations:
            i = int(ob["env_index"])
            if int(ob["step"]) == 0 or i not in self._episode:  # a new episode in this slot
                task_id = str(ob["task_id"])
                self._episode[i] = (task_id, self._plays.get(task_id, 0))
                self._plays[task_id] = self._episode[i][1] + 1
            task_id, play = self._episode[i]
            seeds.append(episode_seed(self.sampling.seed, task_id, play, int(ob["step"])))
        return seeds

    @classmethod
    def from_config(cls, cfg: Any, backend: str, device: str = "cpu") -> "EnginePolicy":
        """Build from an EvalConfig/CollectConfig: model at ``actor_rollout_ref.model.path``."""
        from dataclasses import replace

        from transformers import AutoTokenizer

        from skillrl.utils.tiny_model import resolve_model_path
        from skillrl.workers.rollout.base import SamplingParams, make_engine

        m, r = cfg.actor_rollout_ref.model, cfg.actor_rollout_ref.rollout
        rollout_cfg = replace(r, name=backend)
        path = resolve_model_path(m.path)
        engine = make_engine(rollout_cfg, path, device, tokenizer_path=m.tokenizer_path,
                             trust_remote_code=m.trust_remote_code)
        tokenizer = AutoTokenizer.from_pretrained(m.tokenizer_path or path, trust_remote_code=m.trust_remote_code)
        max_tokens = r.response_length or cfg.data.max_response_length
        sampling = SamplingParams.from_rollout_config(r, max_tokens=max_tokens, validate=True).with_updates(n=1)
        return cls(engine, tokenizer, sampling.check(), cfg.data.max_prompt_length, cfg.data.truncation)


class ChatPolicy:
    """One chat call per prompt to an OpenAI-compatible endpoint (``TeacherConfig``), in parallel."""

    def __init__(self, client: Any, max_workers: int = 8):
        self.client = client
        self.max_workers = max(1, int(max_workers))
        self.failures = 0

    @classmethod
    def from_config(cls, teacher_cfg: Any, max_workers: int = 8) -> "ChatPolicy":
        from skillrl.skills.teacher import TeacherClient

        return cls(TeacherClient(teacher_cfg), max_workers)

    def _one(self, prompt: str) -> str:
        try:
            return self.client.chat([{"role": "user", "content": prompt}])
        except Exception as e:  # the step becomes an invalid action; the episode goes on
            self.failures += 1
            logger.warning("chat policy call failed (%d so far): %s", self.failures, e)
            return ""

    def __call__(self, prompts: List[str], observations: List[Dict[str, Any]]) -> List[str]:
        if len(prompts) <= 1:
            return [self._one(p) for p in prompts]
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(prompts))) as ex:
            return list(ex.map(self._one, prompts))
