"""DAPO dynamic sampling: keep the groups whose metric varies, roll out more until the batch is full.

A group (``uid``) whose members all score the same gives every member a zero group-relative
advantage, so it only dilutes the update. :func:`groups_with_varying_metric` marks the rows of the
groups to keep; :class:`DynamicSampler` accumulates kept groups over generation batches until it
has ``target_groups`` (``data.train_batch_size``), at most ``max_num_gen_batches`` batches.

The metric (``algorithm.filter_groups.metric``) is a name of :data:`skillrl.registry.FILTER_METRICS`:
``seq_reward`` (row sum of ``token_level_scores``: the episode return here), ``seq_final_reward``
(row sum of ``token_level_rewards``: after the invalid-action penalty), ``episode_rewards`` or
``won`` (the rollout's own fields); a module named in ``actor_rollout_ref.model.external_lib``
may register more.

Same rule as verl 0.9.1's DAPO recipe (``recipe/dapo/dapo_ray_trainer.py``: keep a group when the
metric's std is above 0 or it has a single member; ``max_num_gen_batches <= 0`` means no bound; the
kept batch is cut to ``train_batch_size`` groups). Departures: a group's size counts trajectories
(``traj_uid``), not rows, since one row is one turn here; the batch is cut at whole groups, never
inside one (verl cuts at ``train_batch_size * n`` rows); generation batches padded to different
widths are re-padded (:func:`skillrl.protocol.concat_step_samples`); a negative bound is refused
instead of meaning "none". When the bound is reached short of the target, ``exhausted="keep"``
(default) adds the last batch unfiltered and logs a warning, as the original SkillRL / verl-agent
rollout loop does (verl raises; ``exhausted="error"`` does that).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Hashable, List, Optional, Sequence

import numpy as np

from skillrl.protocol import DataProto, concat_step_samples
from skillrl.registry import FILTER_METRICS

__all__ = ["filter_metric_values", "groups_with_varying_metric", "DynamicSampler"]

logger = logging.getLogger("skillrl.algorithms")

EXHAUSTED_MODES = ("keep", "error")


def _row_sum(batch: DataProto, metric: str, key: str) -> np.ndarray:
    if key not in batch.batch:
        raise ValueError(f"algorithm.filter_groups.metric={metric} needs batch['{key}'], which this batch "
                         f"does not have (batch keys: {sorted(batch.batch)})")
    return batch.batch[key].detach().to("cpu").double().sum(dim=-1).numpy()


def _field(batch: DataProto, metric: str) -> np.ndarray:
    if metric not in batch.non_tensor_batch:
        raise ValueError(f"algorithm.filter_groups.metric={metric} needs the rollout field '{metric}', which this "
                         f"batch does not have ({', '.join(sorted(batch.non_tensor_batch))})")
    return np.asarray(batch.non_tensor_batch[metric], dtype=np.float64)


@FILTER_METRICS.register("seq_reward")
def seq_reward(batch: DataProto) -> np.ndarray:
    return _row_sum(batch, "seq_reward", "token_level_scores")


@FILTER_METRICS.register("seq_final_reward")
def seq_final_reward(batch: DataProto) -> np.ndarray:
    return _row_sum(batch, "seq_final_reward", "token_level_rewards")


@FILTER_METRICS.register("episode_rewards")
def episode_rewards(batch: DataProto) -> np.ndarray:
    return _field(batch, "episode_rewards")


@FILTER_METRICS.register("won")
def won(batch: DataProto) -> np.ndarray:
    return _field(batch, "won")


def filter_metric_values(batch: DataProto, metric: str) -> np.ndarray:
    """One float per row of ``batch`` for ``algorithm.filter_groups.metric`` (see the module doc)."""
    return np.asarray(FILTER_METRICS.get(metric)(batch), dtype=np.float64)


def groups_with_varying_metric(group_ids: Sequence[Hashable], metric_values: Sequence[float],
                               traj_ids: Optional[Sequence[Hashable]] = None) -> np.ndarray:
    """Bool [bs]: the rows of groups whose metric is not constant, or that have one trajectory."""
    values = np.asarray(metric_values, dtype=np.float64)
    if len(group_ids) != len(values) or (traj_ids is not None and len(traj_ids) != len(values)):
        raise ValueError(f"group ids ({len(group_ids)}), metric values ({len(values)}) and trajectory ids "
                         f"({'-' if traj_ids is None else len(traj_ids)}) must have one entry per row")
    rows_of: dict = {}
    for row, g in enumerate(group_ids):
        rows_of.setdefault(g, []).append(row)
    keep = np.zeros(len(values), dtype=bool)
    for rows in rows_of.values():
        members = len(rows) if traj_ids is None else len({traj_ids[r] for r in rows})
        if members == 1 or np.std(values[rows]) > 0:
            keep[rows] = True
    return keep


class DynamicSampler:
    """Accumulates the kept groups of successive generation batches (see the module doc).

    Use: ``while not sampler.done: sampler.add(rollout(), metric)``, then ``sampler.batch()`` and
    ``sampler.metrics()``. ``max_num_gen_batches=0``: no bound.
    """

    def __init__(self, target_groups: int, max_num_gen_batches: int = 0, exhausted: str = "keep",
                 pad_token_id: int = 0):
        if target_groups <= 0:
            raise ValueError(f"dynamic sampling needs a positive target group count (data.train_batch_size), got {target_groups}")
        if max_num_gen_batches < 0:
            raise ValueError(f"algorithm.filter_groups.max_num_gen_batches={max_num_gen_batches} must be >= 0: "
                             "it bounds how many batches are rolled out to fill one training batch (0: no bound)")
        if exhausted not in EXHAUSTED_MODES:
            raise ValueError(f"exhausted={exhausted!r} is not supported; use one of {', '.join(EXHAUSTED_MODES)}")
        self.target_groups, self.max_num_gen_batches, self.exhausted = target_groups, max_num_gen_batches, exhausted
        self.pad_token_id = pad_token_id
        self.num_gen_batches = 0
        self.groups_played = self.groups_filtered = 0
        self.bound_hit = False
        self._parts: List[DataProto] = []
        self._groups: List[Hashable] = []  # kept group ids, in order of arrival

    @property
    def num_groups(self) -> int:
        return len(self._groups)

    @property
    def done(self) -> bool:
        bounded = self.max_num_gen_batches > 0 and self.num_gen_batches >= self.max_num_gen_batches
        return self.num_groups >= self.target_groups or bounded

    def add(self, batch: Optional[DataProto], metric: str) -> Optional[DataProto]:
        """Filter ``batch`` by ``metric`` and keep its surviving groups; returns the kept rows.

        ``None`` (a rollout that produced no step sample) counts as a generation batch, keeping nothing.
        """
        if self.done:
            raise RuntimeError("DynamicSampler.add called after the sampler is done; call batch()")
        self.num_gen_batches += 1
        if batch is None or len(batch) == 0:
            return None
        nt = batch.non_tensor_batch
        keep = groups_with_varying_metric(nt["uid"], filter_metric_values(batch, metric), nt.get("traj_uid"))
        played = self._count(nt["uid"], np.ones_like(keep))
        if self.num_gen_batches == self.max_num_gen_batches and self.num_groups + self._count(nt["uid"], keep) < self.target_groups:
            keep = self._exhausted(batch, keep)
        kept = batch[np.flatnonzero(keep)]
        self._parts.append(kept)
        seen = set(self._groups)
        self._groups.extend(g for g in dict.fromkeys(_ids(kept.non_tensor_batch["uid"])) if g not in seen)
        self.groups_played += played
        self.groups_filtered += played - self._count(nt["uid"], keep)
        logger.info("dynamic sampling: generation batch %d/%s kept %d of %d rows; %d/%d groups",
                    self.num_gen_batches, self.max_num_gen_batches or "unbounded", int(keep.sum()), len(keep),
                    self.num_groups, self.target_groups)
        return kept

    def _exhausted(self, batch: DataProto, keep: np.ndarray) -> np.ndarray:
        self.bound_hit = True
        total = self.num_groups + self._count(batch.non_tensor_batch["uid"], keep)
        message = (f"dynamic sampling: {total} groups with a varying metric after {self.num_gen_batches} generation "
                   f"batches, fewer than the {self.target_groups} a training batch needs "
                   "(algorithm.filter_groups.max_num_gen_batches)")
        if self.exhausted == "error":
            raise ValueError(message + "; raise that bound, or check whether the tasks are too hard or too easy")
        logger.warning("%s; keeping the last batch unfiltered", message)
        return np.ones_like(keep)

    @staticmethod
    def _count(group_ids: Any, keep: np.ndarray) -> int:
        return len({g for g, k in zip(_ids(group_ids), keep) if k})

    def batch(self) -> Optional[DataProto]:
        """The kept rows, cut after the first ``target_groups`` groups (whole groups only); None if none."""
        if self.num_gen_batches == 0:
            raise RuntimeError("DynamicSampler.batch called before any add")
        if not any(len(part) for part in self._parts):
            return None
        merged = concat_step_samples(self._parts, self.pad_token_id)
        allowed = set(self._groups[: self.target_groups])
        rows = [i for i, g in enumerate(_ids(merged.non_tensor_batch["uid"])) if g in allowed]
        return merged[np.asarray(rows, dtype=np.int64)]

    def metrics(self) -> Dict[str, float]:
        """What this step's sampling did: ``train/num_gen_batches`` as verl logs it, and group counts."""
        return {
            "train/num_gen_batches": float(self.num_gen_batches),
            "train/groups_played": float(self.groups_played),
            "train/groups_filtered": float(self.groups_filtered),  # dropped: the metric did not vary
            "train/groups_kept": float(min(self.num_groups, self.target_groups)),  # in the training batch
            "train/gen_batch_bound_hit": float(self.bound_hit),
        }


def _ids(values: Any) -> List[Hashable]:
    return [v.item() if isinstance(v, np.generic) else v for v in values]
