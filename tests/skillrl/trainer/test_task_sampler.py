from types import SimpleNamespace

import pytest

from agent_system.environments.base import TaskSpec
from skillrl.trainer.task_sampler import TaskSampler, total_training_steps, validation_tasks


def _tasks(n):
    return [TaskSpec(task_id=f"t{i}", split="train", task_type=f"type{i % 3}") for i in range(n)]


def test_epoch_covers_every_task_once_and_wraps():
    s = TaskSampler(_tasks(10), batch_size=4, seed=1)
    ids = [t.task_id for _ in range(3) for t in s.next_batch()]
    assert len(ids) == 12
    assert sorted(ids[:10]) == sorted(f"t{i}" for i in range(10))
    assert s.epoch == 1 and s.offset == 2
    assert s.steps_per_epoch == 3


def test_order_depends_on_seed_only():
    a = [t.task_id for t in TaskSampler(_tasks(20), 20, seed=3).next_batch()]
    b = [t.task_id for t in TaskSampler(_tasks(20), 20, seed=3).next_batch()]
    c = [t.task_id for t in TaskSampler(_tasks(20), 20, seed=4).next_batch()]
    assert a == b and a != c
    assert [t.task_id for t in TaskSampler(_tasks(5), 5, shuffle=False).next_batch()] == [f"t{i}" for i in range(5)]


def test_resume_continues_the_same_sequence():
    full = TaskSampler(_tasks(7), batch_size=3, seed=0)
    seq = [[t.task_id for t in full.next_batch()] for _ in range(6)]
    first = TaskSampler(_tasks(7), batch_size=3, seed=0)
    for _ in range(4):
        first.next_batch()
    resumed = TaskSampler(_tasks(7), batch_size=3, seed=99)
    resumed.load_state_dict(first.state_dict())
    assert [[t.task_id for t in resumed.next_batch()] for _ in range(2)] == seq[4:]


def test_batch_larger_than_split_and_bad_input():
    s = TaskSampler(_tasks(2), batch_size=5)
    assert len(s.next_batch()) == 5
    with pytest.raises(ValueError, match="no tasks"):
        TaskSampler([], 2)
    with pytest.raises(ValueError, match="train_batch_size"):
        TaskSampler(_tasks(2), 0)
    other = TaskSampler(_tasks(3), 2)
    with pytest.raises(ValueError, match="resume_mode=disable"):
        other.load_state_dict(s.state_dict())


def test_validation_subset_is_fixed():
    tasks = _tasks(30)
    a, b = validation_tasks(tasks, 8, seed=0), validation_tasks(tasks, 8, seed=0)
    assert [t.task_id for t in a] == [t.task_id for t in b] and len(a) == 8
    assert len(validation_tasks(tasks, -1)) == 30 and len(validation_tasks(tasks, 100)) == 30


def test_total_training_steps():
    tr = SimpleNamespace(total_training_steps=None, total_epochs=2)
    assert total_training_steps(tr, SimpleNamespace(train_files=None, train_batch_size=4), 10) == 6
    # original recipes: a dummy parquet held one batch, so an epoch was one step
    assert total_training_steps(tr, SimpleNamespace(train_files="x.parquet", train_batch_size=4), 10) == 2
    tr.total_training_steps = 5
    assert total_training_steps(tr, SimpleNamespace(train_files=None, train_batch_size=4), 10) == 5
    tr.total_training_steps = -1
    with pytest.raises(ValueError, match="total_training_steps"):
        total_training_steps(tr, SimpleNamespace(train_files=None, train_batch_size=4), 10)
