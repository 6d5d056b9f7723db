"""A training step's rollout under DAPO's dynamic sampling (``algorithm.filter_groups.enable``).

Generation batches of ``data.train_batch_size`` fresh tasks are played one after another; each
is scored (what the filter metric reads), its groups whose metric does not vary are dropped
(:class:`skillrl.algorithms.DynamicSampler`), and playing stops once ``data.train_batch_size``
groups are kept or after ``max_num_gen_batches`` batches (0: no bound).

Departures: every generation batch takes new tasks from the trainer's sampler, as verl's DAPO
trainer takes the next dataloader batch (verl-agent re-plays the same tasks), so an epoch passes in
fewer training steps; the step's episode metrics count every episode played, kept or not; a
generation batch in which no environment produced a step sample ends the step's sampling (with
no bound it would otherwise loop on broken environments).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Tuple

from agent_system.multi_turn_rollout.rollout_loop import RolloutResult, merge_rollouts
from skillrl.algorithms.dynamic_sampling import DynamicSampler

logger = logging.getLogger("skillrl.trainer")


def roll_out_filtered(play: Callable[[int], RolloutResult], score: Callable[[Any], None], filter_cfg: Any,
                      target_groups: int, pad_token_id: int) -> Tuple[RolloutResult, Dict[str, float]]:
    """Play generation batches until ``target_groups`` groups with a varying metric are kept.

    ``play(k)`` plays generation batch ``k`` (0-based) and returns its rollout; ``score(batch)``
    adds the fields the metric reads (``token_level_scores`` / ``token_level_rewards``). Returns
    one rollout holding every trajectory played and the kept rows as its batch, and the sampling
    metrics (``train/num_gen_batches``, ``train/groups_*``).
    """
    sampler = DynamicSampler(target_groups, filter_cfg.max_num_gen_batches, pad_token_id=pad_token_id)
    results: List[RolloutResult] = []
    while not sampler.done:
        result = play(sampler.num_gen_batches)
        results.append(result)
        if result.batch is None:
            sampler.add(None, filter_cfg.metric)
            logger.warning("dynamic sampling: generation batch %d produced no step sample; training on the %d "
                           "groups kept so far", sampler.num_gen_batches, sampler.num_groups)
            break
        score(result.batch)
        sampler.add(result.batch, filter_cfg.metric)
    return merge_rollouts(results, sampler.batch()), sampler.metrics()
