"""Cold-start SFT examples from collected trajectories, tokenized exactly as RL will see them.

One example per step of a kept trajectory:

* **prompt**: the user message the environment manager built for that step at collection time
  (``Step.prompt``: task, skills retrieved into the prompt, history, admissible actions), or,
  for trajectories that lack it (converted ETO data), the prompt rebuilt by replaying the
  trajectory's actions through the manager (:mod:`skillrl.sft.replay`). It goes through
  :class:`~agent_system.multi_turn_rollout.rollout_loop.PromptEncoder`, the same chat template
  and truncation the RL rollout uses, so SFT and RL see identical prompt tokens.
* **response**: ``<think>REASONING</think><action>ACTION</action>`` followed by the end-of-turn
  token, tokenized on its own as the rollout engine would have produced it. REASONING is the
  demonstration's own (or the teacher's, see :mod:`skillrl.sft.reasoning`); ACTION is the action
  that was executed, so a demonstration whose text was sloppy still teaches the action that worked.

The loss covers only response tokens: batches use the rollout layout (left-padded prompts,
right-padded responses, ``response_mask``), and only ``response_mask`` positions carry loss.

Departure from the paper: the paper does not say how the SFT prompts were built; here they are the
RL prompts themselves, so cold start and RL share one distribution.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

import torch

from agent_system.trajectory import Step, Trajectory

logger = logging.getLogger("skillrl.sft")

IGNORE_INDEX = -100
_THINK = re.compile(r"<think>(.*?)</think>", re.S)
_TAGS = re.compile(r"</?(?:think|action)>")

# (trajectory) -> one prompt per step, or None where the step cannot be used
PromptSource = Callable[[Trajectory], List[Optional[str]]]


@dataclass
class SFTExample:
    prompt_ids: List[int]
    response_ids: List[int]
    source: str = ""  # "<task_id>#<step>", for error messages and logs

    @property
    def labels(self) -> List[int]:
        """Causal-LM labels over ``prompt_ids + response_ids``: the prompt is ignored."""
        return [IGNORE_INDEX] * len(self.prompt_ids) + list(self.response_ids)

    def __len__(self) -> int:
        return len(self.prompt_ids) + len(self.response_ids)


@dataclass
class BuildStats:
    trajectories: int = 0
    kept_trajectories: int = 0
    examples: int = 0
    skipped_invalid_steps: int = 0
    skipped_noise_steps: int = 0
    skipped_no_prompt: int = 0
    skipped_too_long: int = 0
    response_tokens: int = 0
    by_task_type: Dict[str, int] = field(default_factory=dict)


def demonstration_target(step: Step) -> str:
    """The assistant text SFT teaches for one step: its reasoning plus the executed action."""
    m = _THINK.search(step.model_output or "")
    think = _TAGS.sub("", m.group(1)).strip() if m else ""
    action = _TAGS.sub("", step.action or "").strip()
    if not action:
        raise ValueError("the step has no executed action")
    return f"<think>{think}</think><action>{action}</action>"


def stored_prompts(traj: Trajectory) -> List[Optional[str]]:
    return [s.prompt for s in traj.steps]


def response_token_ids(tokenizer: Any, target: str) -> List[int]:
    """Target tokens plus the end-of-turn token the engine stops on (what RL samples and scores)."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no eos_token; SFT needs it to end each assistant turn")
    return list(tokenizer(target, add_special_tokens=False)["input_ids"]) + [int(eos)]


def select_trajectories(trajs: Iterable[Trajectory], only_successful: bool) -> List[Trajectory]:
    return [t for t in trajs if t.won or not only_successful]


def build_examples(trajectories: Sequence[Trajectory], encoder: Any, max_length: int,
                   prompt_source: PromptSource = stored_prompts) -> tuple:
    """Tokenize every usable step; returns ``(examples, BuildStats)``.

    ``encoder`` is a :class:`PromptEncoder` (chat template, ``data.max_prompt_length``, truncation).
    Steps the environment marked invalid are skipped (a malformed demonstration turn teaches
    nothing useful), so are the random steps of a noisy expert (``meta.noise_steps``); steps
    longer than ``max_length`` tokens are skipped and counted.
    """
    stats = BuildStats(trajectories=len(trajectories))
    examples: List[SFTExample] = []
    tok = encoder.tokenizer
    for traj in trajectories:
        prompts = prompt_source(traj)
        if len(prompts) != len(traj.steps):
            raise RuntimeError(f"prompt source gave {len(prompts)} prompts for {len(traj.steps)} steps "
                               f"of task {traj.task_id}")
        todo = []
        noise = set(traj.meta.get("noise_steps") or [])  # random actions of a noisy expert
        for k, (step, prompt) in enumerate(zip(traj.steps, prompts)):
            if k in noise:
                stats.skipped_noise_steps += 1
            elif not step.valid:
                stats.skipped_invalid_steps += 1
            elif not prompt:
                stats.skipped_no_prompt += 1
            else:
                todo.append((k, prompt, demonstration_target(step)))
        if not todo:
            continue
        stats.kept_trajectories += 1
        prompt_ids = encoder.encode([p for _, p, _ in todo])
        for (k, _, target), p_ids in zip(todo, prompt_ids):
            ex = SFTExample(list(p_ids), response_token_ids(tok, target), f"{traj.task_id}#{k}")
            if len(ex) > max_length:
                stats.skipped_too_long += 1
                continue
            examples.append(ex)
            stats.response_tokens += len(ex.response_ids)
            stats.by_task_type[traj.task_type] = stats.by_task_type.get(traj.task_type, 0) + 1
    stats.examples = len(examples)
    return examples, stats


def collate(examples: Sequence[SFTExample], pad_token_id: int) -> Dict[str, torch.Tensor]:
    """The rollout's tensor layout: ``input_ids``/``attention_mask`` [b, P+R], ``responses``,
    ``response_mask`` [b, R]. Loss is taken where ``response_mask`` is 1 and nowhere else."""
    from agent_system.multi_turn_rollout.rollout_loop import pack_step_samples

    if not examples:
        raise ValueError("cannot collate an empty batch")
    return pack_step_samples([e.prompt_ids for e in examples], [e.response_ids for e in examples], pad_token_id)


def labels_from_batch(batch: Dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-position next-token labels [b, P+R] implied by a collated batch (IGNORE_INDEX off-target).

    ``labels[:, t]`` is the token at position ``t`` when that position is a response token; this
    is what the loss is taken against (the logit at ``t - 1`` predicts it).
    """
    ids, R = batch["input_ids"], batch["responses"].shape[1]
    labels = torch.full_like(ids, IGNORE_INDEX)
    resp = batch["response_mask"].bool()
    labels[:, -R:] = torch.where(resp, ids[:, -R:], torch.full_like(ids[:, -R:], IGNORE_INDEX))
    return labels
