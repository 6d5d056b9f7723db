"""The token-level multi-turn rollout loop that produces GRPO training batches.

``tasks x env.rollout.n`` environments (members of a group play the same task) run side by
side. Each turn: the environment manager renders one prompt per environment (with retrieved
skills), the chat template and tokenizer turn them into token ids (over-long prompts are cut on
the left/right or rejected, per ``data.truncation``), ONE batched generation call serves the
environments still active, and the manager steps them. The loop ends when every environment is
done or after ``env.max_steps`` turns.

Every turn of every trajectory becomes one *step sample* (a row of the returned DataProto with
the standard fields of :mod:`skillrl.protocol`); the same turns are also returned as
:class:`~agent_system.trajectory.Trajectory` records (for skill evolution and logs). Wall time is
split into generation, environment and everything else, the framework overhead.

Departure from verl-agent: prompts and responses are padded to the longest in the batch rather
than to ``max_prompt_length``/``max_response_length``, so short rollouts cost short sequences in
the log-prob and update passes; the episode return is attached by
:class:`agent_system.reward_manager.EpisodeRewardManager` afterwards, not inside the loop.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from agent_system.environments.base import Observation, Transition
from agent_system.multi_turn_rollout.policies import Action, EpisodeKey, Policy
from agent_system.multi_turn_rollout.prompt_encoder import PromptEncoder
from agent_system.trajectory import Step, Trajectory, keep_outcome

logger = logging.getLogger("skillrl.rollout")


@dataclass
class RolloutResult:
    batch: Any  # skillrl.protocol.DataProto, one row per step sample; None when nothing was played
    trajectories: List[Trajectory]
    metrics: Dict[str, float] = field(default_factory=dict)
    # seconds: total, generate, env (inside the environments), manager (calls into the environment
    # manager, env included), tokenize, overhead (total - generate - env)
    timing: Dict[str, float] = field(default_factory=dict)


def _rollout_metrics(num_rows: int, skill_tokens: float) -> Dict[str, float]:
    return {"rollout/num_step_samples": float(num_rows),
            "skills/prompt_tokens_mean": float(skill_tokens) / num_rows if num_rows else 0.0,
            "skills/prompt_tokens_total": float(skill_tokens)}


def merge_rollouts(results: Sequence[RolloutResult], batch: Any) -> RolloutResult:
    """Several rollouts of one training step (DAPO's generation batches) as one: every trajectory
    played, metrics and timing over all of them, and ``batch``, the rows kept for training."""
    rows = sum(r.metrics.get("rollout/num_step_samples", 0.0) for r in results)
    tokens = sum(r.metrics.get("skills/prompt_tokens_total", 0.0) for r in results)
    timing = {k: sum(r.timing.get(k, 0.0) for r in results) for k in (results[0].timing if results else {})}
    return RolloutResult(batch=batch, trajectories=[t for r in results for t in r.trajectories],
                         metrics=_rollout_metrics(int(rows), tokens), timing=timing)


def pack_step_samples(prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]], pad_id: int) -> Dict[str, torch.Tensor]:
    """Left-padded prompts + right-padded responses -> the standard token tensors."""
    n = len(prompts)
    p_len = max(1, max(len(p) for p in prompts))
    r_len = max(1, max(len(r) for r in responses))
    prompt_ids = torch.full((n, p_len), pad_id, dtype=torch.long)
    prompt_mask = torch.zeros((n, p_len), dtype=torch.long)
    resp_ids = torch.full((n, r_len), pad_id, dtype=torch.long)
    resp_mask = torch.zeros((n, r_len), dtype=torch.long)
    for i, (p, r) in enumerate(zip(prompts, responses)):
        if p:
            prompt_ids[i, p_len - len(p):] = torch.as_tensor(p, dtype=torch.long)
            prompt_mask[i, p_len - len(p):] = 1
        if r:
            resp_ids[i, : len(r)] = torch.as_tensor(r, dtype=torch.long)
            resp_mask[i, : len(r)] = 1
    attention_mask = torch.cat([prompt_mask, resp_mask], dim=1)
    position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
    return {
        "input_ids": torch.cat([prompt_ids, resp_ids], dim=1),
        "attention_mask": attention_mask,
        "position_ids": position_ids,
        "prompts": prompt_ids,
        "responses": resp_ids,
        "response_mask": resp_mask,
    }


@dataclass
class _EnvTrack:
    """What one environment has produced so far."""

    task: Any
    uid: str
    traj_uid: str
    play: int = 0  # how many times this task was played before in the same run (seeding)
    prompt_ids: List[List[int]] = field(default_factory=list)
    response_ids: List[List[int]] = field(default_factory=list)
    anchors: List[str] = field(default_factory=list)
    steps: List[Step] = field(default_factory=list)
    skill_tokens: List[int] = field(default_factory=list)
    won: bool = False
    done: bool = False
    task_text: str = ""
    task_type: str = ""
    error: Optional[str] = None
    skills_text: str = ""
    outcome: Dict[str, Any] = field(default_factory=dict)  # agent_system.trajectory.OUTCOME_KEYS


class MultiTurnRollout:
    """The one episode driver: plays a batch of tasks with a policy (see the module docstring).

    Training rollouts, validation, ``main_eval`` and ``collect`` all play through :meth:`run`
    (the last three through :func:`play_tasks`, which cuts many tasks into pool-sized batches).
    ``encoder`` only counts the skill tokens of each prompt (``skills/prompt_tokens_*``).
    """

    def __init__(self, manager: Any, encoder: Optional[PromptEncoder] = None, env_name: str = "",
                 max_steps: Optional[int] = None, pad_token_id: int = 0, progress: bool = False):
        self.manager = manager
        self.encoder = encoder
        self.env_name = env_name
        self.max_steps = int(manager.max_steps if max_steps is None else max_steps)
        self.pad_token_id = int(pad_token_id)
        self.progress = progress

    def run(self, tasks: Sequence[Any], group_size: int, policy: Policy, desc: str = "rollout",
            build_batch: bool = True, plays: Optional[Sequence[int]] = None,
            on_done: Optional[Callable[[int], None]] = None) -> RolloutResult:
        """Play each task ``group_size`` times; ``policy.act`` is called once per turn.

        ``plays`` numbers each environment's play of its task (default: its index in the group);
        ``on_done(n)`` is told as ``n`` episodes finish. ``build_batch=False`` (evaluation) skips
        packing the step samples into tensors, which needs a token policy.
        """
        clock = {"generate": 0.0, "manager": 0.0, "tokenize": 0.0}
        env_time_before = self._env_time()
        start = time.perf_counter()
        tracks = self._start(tasks, group_size, plays)
        obs = self._timed(clock, "manager", self.manager.reset, [t.task for t in tracks])
        self._read_reset(tracks, obs)
        _tell(on_done, sum(t.done for t in tracks))
        bar = _progress(self.max_steps, desc) if self.progress else None
        for turn in range(self.max_steps):
            active = [i for i, t in enumerate(tracks) if not t.done]
            if not active:
                break
            obs = self._turn(tracks, obs, active, turn, policy, clock)
            _tell(on_done, sum(tracks[i].done for i in active))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(active=sum(not t.done for t in tracks))
        if bar is not None:
            bar.close()
        _tell(on_done, sum(not t.done for t in tracks))
        total = time.perf_counter() - start
        env = self._env_time() - env_time_before if env_time_before is not None else clock["manager"]
        timing = {"total": total, **clock, "env": env, "overhead": total - clock["generate"] - env}
        return self._finish(tracks, timing, build_batch)

    def _env_time(self) -> Optional[float]:
        """Seconds the manager spent inside the environments (its own prompt work excluded), if it counts them."""
        value = getattr(self.manager, "env_time_s", None)
        return float(value) if isinstance(value, (int, float)) else None

    @staticmethod
    def _timed(clock: Dict[str, float], key: str, fn: Callable, *args):
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            clock[key] += time.perf_counter() - t0

    @staticmethod
    def _start(tasks: Sequence[Any], group_size: int, plays: Optional[Sequence[int]]) -> List[_EnvTrack]:
        if not tasks:
            raise ValueError("rollout got no tasks")
        tracks = []
        for task in tasks:
            uid = str(uuid.uuid4())
            tracks.extend(_EnvTrack(task=task, uid=uid, traj_uid=str(uuid.uuid4()), play=k) for k in range(group_size))
        if plays is not None:
            if len(plays) != len(tracks):
                raise ValueError(f"rollout got {len(plays)} play numbers for {len(tracks)} environments")
            for t, k in zip(tracks, plays):
                t.play = int(k)
        return tracks

    @staticmethod
    def _read_reset(tracks: List[_EnvTrack], obs: Sequence[Observation]) -> None:
        if len(obs) != len(tracks):
            raise RuntimeError(f"environment manager reset returned {len(obs)} observations for {len(tracks)} environments")
        for t, o in zip(tracks, obs):
            t.task_text = o.task
            t.task_type = o.task_type or str(getattr(t.task, "task_type", ""))
            t.done = o.done  # a failed reset ends the episode before its first turn
            t.error = o.error
            t.skills_text = o.skills_text

    def _turn(self, tracks: List[_EnvTrack], obs: Sequence[Observation], active: List[int], turn: int,
              policy: Policy, clock: Dict[str, float]) -> Sequence[Observation]:
        """One turn: the policy answers every active environment at once, then they step."""
        keys = [EpisodeKey(str(getattr(tracks[i].task, "task_id", "")), tracks[i].play, turn) for i in active]
        actions = self._timed(clock, "generate", policy.act, [obs[i] for i in active], keys)
        if len(actions) != len(active):
            raise RuntimeError(f"the policy returned {len(actions)} actions for {len(active)} environments")
        texts = [""] * len(tracks)
        for j, i in enumerate(active):
            texts[i] = actions[j].text
        mask = [not t.done for t in tracks]
        new_obs, rewards, dones, infos = self._timed(clock, "manager", self.manager.step, texts, mask)
        for j, i in enumerate(active):
            self._record(tracks[i], obs[i], actions[j], float(rewards[i]), bool(dones[i]), infos[i])
        return [new if new is not None else old for new, old in zip(new_obs, obs)]

    def _record(self, track: _EnvTrack, ob: Observation, action: Action, reward: float, done: bool,
                outcome: Transition) -> None:
        track.prompt_ids.append(action.prompt_ids or [])
        track.response_ids.append(list(action.token_ids or []))
        track.anchors.append(ob.anchor)
        track.skill_tokens.append(self.encoder.count_tokens(ob.skills_text) if self.encoder is not None else 0)
        track.steps.append(Step(
            observation=ob.anchor, admissible_actions=list(ob.admissible_actions),
            model_output=action.text, action=outcome.action or "", reward=reward,
            valid=outcome.is_action_valid, prompt=ob.prompt,
        ))
        track.won = track.won or outcome.won
        keep_outcome(track.outcome, outcome.info)
        track.done = done
        if outcome.error:
            track.error = outcome.error

    def _finish(self, tracks: List[_EnvTrack], timing: Dict[str, float], build_batch: bool) -> RolloutResult:
        trajectories = [self._trajectory(t) for t in tracks]
        rows = [(t, k) for t in tracks for k in range(len(t.steps))]
        metrics = _rollout_metrics(len(rows), sum(t.skill_tokens[k] for t, k in rows))
        batch = self._batch(rows) if rows and build_batch else None
        return RolloutResult(batch=batch, trajectories=trajectories, metrics=metrics, timing=timing)

    def _trajectory(self, t: _EnvTrack) -> Trajectory:
        meta: Dict[str, Any] = {"finished": t.done, "play": t.play, **t.outcome}  # no uuids: collected files stay reproducible
        for key, value in (("error", t.error), ("skills_text", t.skills_text)):
            if value:
                meta[key] = value
        return Trajectory(
            task=t.task_text, task_type=t.task_type, task_id=str(getattr(t.task, "task_id", "")), steps=t.steps,
            won=t.won, env_name=self.env_name, split=str(getattr(t.task, "split", "")), meta=meta,
        )

    def _batch(self, rows: List[tuple]) -> Any:
        from skillrl.protocol import DataProto

        tensors = pack_step_samples([t.prompt_ids[k] for t, k in rows], [t.response_ids[k] for t, k in rows],
                                    self.pad_token_id)
        episode_return = {id(t): sum(s.reward for s in t.steps) for t, _ in rows}
        non_tensors = {
            "uid": [t.uid for t, _ in rows],
            "traj_uid": [t.traj_uid for t, _ in rows],
            "step_index": np.array([k for _, k in rows], dtype=np.int64),
            "task_type": [t.task_type for t, _ in rows],
            "is_action_valid": np.array([t.steps[k].valid for t, k in rows], dtype=bool),
            "anchor_obs": [t.anchors[k] for t, k in rows],
            "step_rewards": np.array([t.steps[k].reward for t, k in rows], dtype=np.float32),
            "episode_rewards": np.array([episode_return[id(t)] for t, _ in rows], dtype=np.float32),
            "won": np.array([t.won for t, _ in rows], dtype=bool),
            "episode_lengths": np.array([len(t.steps) for t, _ in rows], dtype=np.int64),
        }
        return DataProto.from_dict(tensors, non_tensors)


def wants_ray_pool(pool: str, family: Any) -> bool:
    """``eval.pool`` / ``collect.pool``: ray, local, or auto (local when the family hints its
    environments are cheap in-process Python, ``EnvFamily.local_pool``)."""
    return pool == "ray" or (pool == "auto" and not family.local_pool)


class DriverCache:
    """``driver_for(n)`` for :func:`play_tasks`: one pool, manager and driver per pool size
    (building a Ray pool is slow; batches of the same size reuse it)."""

    def __init__(self, env_cfg: Any, family: Any, memory: Any, use_ray: bool, encoder: Optional[PromptEncoder] = None):
        self.env_cfg, self.family, self.memory, self.use_ray, self.encoder = env_cfg, family, memory, use_ray, encoder
        self._drivers: Dict[int, MultiTurnRollout] = {}

    def __call__(self, n: int) -> MultiTurnRollout:
        if n not in self._drivers:
            from agent_system.environments.env_manager import EnvironmentManager
            from agent_system.environments.env_pool import make_pool

            pool = make_pool(self.family, n, self.env_cfg, use_ray=self.use_ray)
            manager = EnvironmentManager(self.env_cfg, self.family, pool, self.memory)
            self._drivers[n] = MultiTurnRollout(manager, self.encoder, self.family.name)
        return self._drivers[n]

    @property
    def managers(self) -> List[Any]:
        return [d.manager for d in self._drivers.values()]

    def close(self) -> None:
        for d in self._drivers.values():
            d.manager.close()
        self._drivers.clear()


def _tell(on_done: Optional[Callable[[int], None]], n: int) -> None:
    if on_done is not None and n > 0:
        on_done(int(n))


def play_tasks(driver_for: Callable[[int], MultiTurnRollout], tasks: Sequence[Any], policy: Policy,
               batch_size: int, repeats: int = 1, fill: bool = False, desc: str = "episodes",
               on_done: Optional[Callable[[int], None]] = None,
               on_batch: Optional[Callable[[List[Trajectory]], None]] = None) -> List[Trajectory]:
    """Every task ``repeats`` times, ``batch_size`` episodes at a time; one Trajectory each, in order.

    ``on_done(n)`` is told as episodes finish, ``on_batch(trajectories)`` after each batch (e.g. to
    write them at once, so an interrupted run keeps what it finished).
    ``driver_for(n)`` gives the driver of an ``n``-environment pool. ``fill`` (a pool of fixed size,
    as validation's reuse of the training pool) fills a short last batch with repeats of its first
    entries, whose results are dropped. Each episode's play number is how often its task came
    before it, so seeds do not depend on ``batch_size``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be >= 1")
    instances = [t for t in tasks for _ in range(max(1, int(repeats)))]
    seen: Dict[str, int] = {}
    plays = []
    for t in instances:
        key = str(getattr(t, "task_id", ""))
        plays.append(seen.get(key, 0))
        seen[key] = plays[-1] + 1
    out: List[Trajectory] = []
    for start in range(0, len(instances), batch_size):
        chunk, chunk_plays = instances[start:start + batch_size], plays[start:start + batch_size]
        n_real = len(chunk)
        if fill and n_real < batch_size:
            pad = [i % n_real for i in range(batch_size - n_real)]
            chunk = chunk + [chunk[i] for i in pad]
            chunk_plays = chunk_plays + [seen[str(getattr(chunk[i], "task_id", ""))] + k for k, i in enumerate(pad)]
        counted = _first(n_real, on_done)
        res = driver_for(len(chunk)).run(chunk, 1, policy, desc=desc, build_batch=False, plays=chunk_plays,
                                         on_done=counted)
        out.extend(res.trajectories[:n_real])
        if on_batch is not None:
            on_batch(res.trajectories[:n_real])
    return out


def _first(n_real: int, on_done: Optional[Callable[[int], None]]) -> Optional[Callable[[int], None]]:
    """``on_done`` capped at ``n_real`` episodes (a filled batch's extra ones are not reported)."""
    if on_done is None:
        return None
    left = [n_real]

    def tell(n: int) -> None:
        n = min(n, left[0])
        left[0] -= n
        _tell(on_done, n)

    return tell


def _progress(total: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="turn", leave=False, disable=None)  # off without a TTY
