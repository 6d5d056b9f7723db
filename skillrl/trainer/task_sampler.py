"""Which tasks each training step plays, in a deterministic, checkpointable order.

Departure from the original SkillRL/verl-agent code: there the tasks of a step were drawn by the
environment from its own random stream and a dummy parquet file only fixed the batch size, so a
resumed run replayed different tasks. Here the trainer owns the order: epoch ``e`` is a
permutation seeded by ``(seed, e)``, and the sampler's position (epoch, offset) is part of every
checkpoint, so a resumed run continues with exactly the tasks the killed run would have played.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence

import numpy as np

from agent_system.environments.base import TaskSpec


class TaskSampler:
    """Hands out ``batch_size`` tasks per call, walking shuffled epochs of ``tasks``."""

    def __init__(self, tasks: Sequence[TaskSpec], batch_size: int, seed: int = 0, shuffle: bool = True):
        if not tasks:
            raise ValueError("the training split has no tasks; check env.env_name and its data settings")
        if batch_size <= 0:
            raise ValueError(f"data.train_batch_size={batch_size} must be > 0")
        self.tasks = list(tasks)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.shuffle = bool(shuffle)
        self.epoch = 0
        self.offset = 0  # index into the current epoch's order
        self._order = self._order_for(0)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.tasks) / self.batch_size)

    def _order_for(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.tasks))
        # A fresh generator per epoch makes the order a pure function of (seed, epoch).
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.tasks))

    def next_batch(self) -> List[TaskSpec]:
        """The next ``batch_size`` tasks; a batch that runs past the end of an epoch continues in the next."""
        out: List[TaskSpec] = []
        while len(out) < self.batch_size:
            if self.offset >= len(self._order):
                self.epoch += 1
                self.offset = 0
                self._order = self._order_for(self.epoch)
            take = min(self.batch_size - len(out), len(self._order) - self.offset)
            out.extend(self.tasks[i] for i in self._order[self.offset:self.offset + take])
            self.offset += take
        return out

    def state_dict(self) -> Dict[str, Any]:
        return {"epoch": self.epoch, "offset": self.offset, "seed": self.seed, "shuffle": self.shuffle,
                "num_tasks": len(self.tasks), "batch_size": self.batch_size}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if int(state["num_tasks"]) != len(self.tasks):
            raise ValueError(
                f"the checkpoint's task sampler saw {state['num_tasks']} training tasks but this run has "
                f"{len(self.tasks)}; resume with the same env settings or set trainer.resume_mode=disable"
            )
        self.seed, self.shuffle = int(state["seed"]), bool(state["shuffle"])
        self.epoch, self.offset = int(state["epoch"]), int(state["offset"])
        self._order = self._order_for(self.epoch)


def validation_tasks(tasks: Sequence[TaskSpec], val_batch_size: int, seed: int = 0) -> List[TaskSpec]:
    """A fixed validation subset (the same every validation, so runs and steps are comparable).

    ``val_batch_size=-1`` (or more than there are) takes the whole split.
    """
    tasks = list(tasks)
    if not tasks:
        raise ValueError("the validation split has no tasks; check env.env_name and its data settings")
    if val_batch_size < 0 or val_batch_size >= len(tasks):
        return tasks
    idx = np.sort(np.random.default_rng([seed, 7919]).permutation(len(tasks))[:val_batch_size])
    return [tasks[i] for i in idx]


def total_training_steps(trainer_cfg: Any, data_cfg: Any, num_tasks: int) -> int:
    """``trainer.total_training_steps`` if set, else epochs over the task list.

    Original recipes sized an epoch with a dummy parquet holding one batch of rows, so when
    ``data.train_files`` is given an epoch counts as one step, as it did there.
    Zero steps is allowed: the run only validates (the original search recipe did this with
    ``trainer.total_epochs=0``).
    """
    if trainer_cfg.total_training_steps is not None:
        if trainer_cfg.total_training_steps < 0:
            raise ValueError(f"trainer.total_training_steps={trainer_cfg.total_training_steps} must be >= 0")
        return int(trainer_cfg.total_training_steps)
    if trainer_cfg.total_epochs < 0:
        raise ValueError(f"trainer.total_epochs={trainer_cfg.total_epochs} must be >= 0")
    per_epoch = 1 if data_cfg.train_files else math.ceil(num_tasks / data_cfg.train_batch_size)
    return int(trainer_cfg.total_epochs) * per_epoch
