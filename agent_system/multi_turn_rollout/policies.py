"""Policies for the episode driver (:class:`~agent_system.multi_turn_rollout.rollout_loop.MultiTurnRollout`).

A policy answers one turn of the environments still playing: ``act(observations, keys)`` gets
their :class:`~agent_system.environments.base.Observation` records and, for each, the
:class:`EpisodeKey` (task, play, turn) that seeds its sampling, and returns one :class:`Action`
each. Token policies also return the prompt and response token ids (training needs them).

* :class:`ExpertPolicy`: the family's expert (household planner, ALFWorld walkthrough), its
  action written by ``family.wrap_expert_action`` so it passes the same projection as a model's.
* :class:`EnginePolicy`: a model through a rollout engine (``hf``/``vllm``, in-process or a Ray
  worker's ``generate``), with the chat template and ``data.max_prompt_length`` truncation.
* :class:`ChatPolicy`: any OpenAI-compatible endpoint through ``TeacherClient``; a failed call
  yields an empty output (an invalid action for that step) instead of stopping the run.

Heavy libraries (transformers, openai) are imported only when a policy is built.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence

import numpy as np

from agent_system.environments.base import EnvFamily, Observation
from agent_system.environments.projection import wrap_action  # noqa: F401  (the default action format)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpisodeKey:
    """Which sample of which episode a turn is: the unit of seeding."""

    task_id: str
    play: int  # how many times this task was played before in the same run (group member / repeat)
    turn: int  # the driver's turn (== steps taken by every environment still playing)


@dataclass
class Action:
    """A policy's answer for one environment."""

    text: str
    prompt_ids: Optional[List[int]] = None  # the tokens the model saw (token policies only)
    token_ids: Optional[List[int]] = None  # the tokens it generated, stop token included


class Policy:
    """The interface the episode driver plays."""

    def act(self, observations: Sequence[Observation], keys: Sequence[EpisodeKey]) -> List[Action]:
        raise NotImplementedError


class ExpertPolicy(Policy):
    """``family.expert_action`` for each environment, written as the family's model output."""

    def __init__(self, family: EnvFamily):
        self.family = family

    def act(self, observations: Sequence[Observation], keys: Sequence[EpisodeKey]) -> List[Action]:
        return [Action(self.text(ob)) for ob in observations]

    def text(self, ob: Observation) -> str:
        fam = self.family
        action = fam.expert_action(ob.spec, ob.anchor, ob.info)
        if not action:
            return fam.wrap_expert_action(fam.no_expert_action, "The expert has no plan for this state.")
        return fam.wrap_expert_action(action, fam.expert_thought(ob.spec, action, ob.info))


def turn_seed(seed: int, step: int, turn: int, gen_batch: int = 0) -> int:
    """Training's seed for one generation call: per (step, generation batch, turn), shared by the
    call's prompts. A step plays several generation batches only with DAPO's dynamic sampling."""
    return int(np.random.SeedSequence([seed, step, gen_batch, turn]).generate_state(1)[0] >> 1)


class EnginePolicy(Policy):
    """Chat template -> token ids (truncated per ``data.truncation``) -> engine -> text and ids.

    ``generate(prompt_ids, sampling)`` is an engine's ``generate`` or a Ray worker's. Seeding:
    ``per_episode`` (evaluation and validation) gives each prompt the seed of its (task, play,
    turn), so an episode's samples do not depend on which episodes share its batch: validation
    during training and ``main_eval`` then play the same episodes, at any batch size. Otherwise
    (training rollouts, ``train_step`` and ``gen_batch``) one seed per (step, generation batch,
    turn) for the whole call, as before.
    """

    def __init__(self, generate: Callable[[List[List[int]], Any], Sequence[Any]], encoder: Any, sampling: Any,
                 per_episode: bool = True, train_step: int = 0, gen_batch: int = 0):
        self.generate = generate
        self.encoder = encoder  # agent_system.multi_turn_rollout.rollout_loop.PromptEncoder
        self.sampling = sampling
        self.per_episode = per_episode
        self.train_step = int(train_step)
        self.gen_batch = int(gen_batch)

    def act(self, observations: Sequence[Observation], keys: Sequence[EpisodeKey]) -> List[Action]:
        ids = self.encoder.encode([ob.prompt for ob in observations])
        outs = self.generate(ids, self.sampling_for(keys))
        if len(outs) != len(ids):
            raise RuntimeError(f"generation returned {len(outs)} outputs for {len(ids)} prompts")
        return [Action(o.text, p, list(o.token_ids)) for p, o in zip(ids, outs)]

    def sampling_for(self, keys: Sequence[EpisodeKey]) -> Any:
        from skillrl.workers.rollout.base import episode_seed

        s = self.sampling
        if s.seed is None or not keys:
            return s
        if self.per_episode:
            return s.with_updates(seeds=[episode_seed(s.seed, k.task_id, k.play, k.turn) for k in keys])
        return s.with_updates(seed=turn_seed(s.seed, self.train_step, keys[0].turn, self.gen_batch))

    @classmethod
    def from_config(cls, cfg: Any, backend: str, device: str = "cpu") -> "EnginePolicy":
        """An in-process engine for an EvalConfig/CollectConfig, with validation sampling
        (``rollout.val_kwargs``) and the training's response length."""
        from dataclasses import replace

        from transformers import AutoTokenizer

        from agent_system.multi_turn_rollout.prompt_encoder import PromptEncoder
        from skillrl.utils.tiny_model import resolve_model_path
        from skillrl.workers.rollout.base import SamplingParams, make_engine

        m, r = cfg.actor_rollout_ref.model, cfg.actor_rollout_ref.rollout
        path = resolve_model_path(m.path)
        engine = make_engine(replace(r, name=backend), path, device, tokenizer_path=m.tokenizer_path,
                             trust_remote_code=m.trust_remote_code)
        tokenizer = AutoTokenizer.from_pretrained(m.tokenizer_path or path, trust_remote_code=m.trust_remote_code)
        max_tokens = r.response_length or cfg.data.max_response_length
        sampling = SamplingParams.from_rollout_config(r, max_tokens=max_tokens, validate=True).with_updates(n=1)
        encoder = PromptEncoder(tokenizer, cfg.data.max_prompt_length, cfg.data.truncation)
        return cls(engine.generate, encoder, sampling.check())


class ChatPolicy(Policy):
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

    def act(self, observations: Sequence[Observation], keys: Sequence[EpisodeKey]) -> List[Action]:
        prompts = [ob.prompt for ob in observations]
        if len(prompts) <= 1:
            return [Action(self._one(p)) for p in prompts]
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(prompts))) as ex:
            return [Action(t) for t in ex.map(self._one, prompts)]
