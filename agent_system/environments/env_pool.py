"""Pools of environments that reset and step side by side.

:class:`EnvPool` runs one :data:`~agent_system.environments.env_worker.EnvWorker` Ray actor per
environment (``env.resources_per_worker``). Every call waits at most a bounded time: a worker
whose actor died, or that did not answer within ``env.step_timeout_s`` (reset: plus
``startup_timeout_s`` for a fresh actor; the pool waits for its first workers to start before
anything is timed), is killed and replaced by a new actor, and its episode
ends as failed: ``done=True``, ``won=False``, reward 0, ``info["error"]`` says why. An exception
raised by the environment itself ends the episode the same way but keeps the actor.

:class:`LocalEnvPool` has the same interface and runs the environments in this process one after
the other (tests, benchmarks, evaluation without Ray). It catches environment exceptions the same
way but cannot interrupt a hung environment, so it has no timeout.

Both return, for ``reset(tasks)``, one ``(observation, info)`` per environment (``info["error"]``
set when the reset failed) and, for ``step(actions)`` with ``None`` for environments to leave
alone, one :class:`~agent_system.environments.base.StepResult` or ``None`` per environment.
"""
from __future__ import annotations

import logging
import time
from typing import Any, List, Optional, Sequence, Tuple

from agent_system.environments.base import EnvFamily, StepResult, TaskSpec
from agent_system.environments.env_worker import EnvWorkerCore

logger = logging.getLogger(__name__)

ResetResult = Tuple[str, dict]


def failed_step(reason: str) -> StepResult:
    return StepResult(observation="", reward=0.0, done=True,
                      info={"won": False, "admissible_actions": [], "error": reason})


def failed_reset(task: TaskSpec, reason: str) -> ResetResult:
    return "", {"won": False, "admissible_actions": [], "error": reason, "task_description": "",
                "task_type": task.task_type}


def _check_len(what: str, got: int, want: int) -> None:
    if got != want:
        raise ValueError(f"{what}: got {got} entries for a pool of {want} environments")


class LocalEnvPool:
    """``num_envs`` environments in this process (no Ray, no timeouts)."""

    def __init__(self, family: EnvFamily, num_envs: int, env_cfg: Any = None):
        if num_envs < 1:
            raise ValueError(f"LocalEnvPool needs num_envs >= 1, got {num_envs}")
        cfg = env_cfg if env_cfg is not None else family.env_cfg
        self.num_envs = int(num_envs)
        self._workers = [EnvWorkerCore(family.make_env, cfg.seed) for _ in range(self.num_envs)]

    def reset(self, tasks: Sequence[TaskSpec]) -> List[ResetResult]:
        _check_len("LocalEnvPool.reset", len(tasks), self.num_envs)
        out = []
        for w, task in zip(self._workers, tasks):
            try:
                out.append(w.reset(task))
            except Exception as e:  # a broken task ends its episode, not the run
                logger.warning("environment reset failed for %s: %r", task.task_id, e)
                out.append(failed_reset(task, f"reset raised {type(e).__name__}: {e}"))
        return out

    def step(self, actions: Sequence[Optional[str]]) -> List[Optional[StepResult]]:
        _check_len("LocalEnvPool.step", len(actions), self.num_envs)
        out: List[Optional[StepResult]] = []
        for w, a in zip(self._workers, actions):
            if a is None:
                out.append(None)
                continue
            try:
                out.append(w.step(a))
            except Exception as e:
                logger.warning("environment step failed: %r", e)
                out.append(failed_step(f"step raised {type(e).__name__}: {e}"))
        return out

    def close(self) -> None:
        for w in self._workers:
            try:
                w.close()
            except Exception:  # closing is best effort
                pass


class EnvPool:
    """``num_envs`` environments, one Ray actor each; see the module docstring for failures."""

    def __init__(self, family: EnvFamily, num_envs: int, env_cfg: Any = None, startup_timeout_s: float = 120.0):
        import ray

        if num_envs < 1:
            raise ValueError(f"EnvPool needs num_envs >= 1, got {num_envs}")
        if not ray.is_initialized():
            raise RuntimeError("EnvPool needs a running Ray: call ray.init() first (the trainer and main_eval do)")
        self.env_cfg = env_cfg if env_cfg is not None else family.env_cfg
        self.num_envs = int(num_envs)
        self.step_timeout_s = float(self.env_cfg.step_timeout_s)
        self.startup_timeout_s = float(startup_timeout_s)
        self.restarts = 0
        self._factory_ref = ray.put(family.make_env)
        self._workers = [self._spawn() for _ in range(self.num_envs)]
        self._await_startup()

    def _await_startup(self) -> None:
        """Wait until every worker answers a ping, while they keep coming up.

        Ray starts only about as many worker processes at a time as there are CPUs, so on a
        2-core machine 32 workers take minutes to come up; that time must not count against the
        first reset's timeout (it did: the last workers were killed as hung). Waiting stops once
        no worker has come up for ``startup_timeout_s``; those still missing are restarted.
        """
        import ray
        from ray.exceptions import RayError

        t0 = time.perf_counter()
        pending = {w.ping.remote(): i for i, w in enumerate(self._workers)}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=self.startup_timeout_s)
            if not ready:
                break
            for ref in ready:
                i = pending.pop(ref)
                try:
                    ray.get(ref, timeout=0)
                except RayError as e:
                    self._restart(i, f"env worker died while starting ({type(e).__name__})")
        for i in pending.values():
            self._restart(i, f"env worker did not start: no worker came up for {self.startup_timeout_s:.0f}s")
        logger.info("env pool: %d workers up in %.1fs", self.num_envs, time.perf_counter() - t0)

    def _spawn(self):
        from agent_system.environments.env_worker import EnvWorker

        res = self.env_cfg.resources_per_worker
        opts = dict(num_cpus=float(res.num_cpus), max_restarts=0)
        if float(res.num_gpus) > 0:
            opts["num_gpus"] = float(res.num_gpus)
        return EnvWorker.options(**opts).remote(self._factory_ref, int(self.env_cfg.seed))

    def _restart(self, i: int, reason: str) -> None:
        import ray

        logger.warning("env worker %d: %s; starting a new one", i, reason)
        try:
            ray.kill(self._workers[i], no_restart=True)
        except Exception:  # already gone
            pass
        self._workers[i] = self._spawn()
        self.restarts += 1

    def _gather(self, calls: List[Tuple[int, Any]], timeout: float) -> dict:
        """Wait for all calls (bounded); returns index -> (ok, value or reason)."""
        import ray
        from ray.exceptions import RayError, RayTaskError

        refs = [ref for _, ref in calls]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout) if refs else ([], [])
        ready_set = set(ready)
        out = {}
        for i, ref in calls:
            if ref not in ready_set:
                out[i] = (False, f"env worker timed out after {timeout:.1f}s")
                self._restart(i, out[i][1])
                continue
            try:
                out[i] = (True, ray.get(ref, timeout=0))
            except RayTaskError as e:
                cause = e.cause if getattr(e, "cause", None) is not None else e
                out[i] = (False, f"environment raised {type(cause).__name__}: {cause}")
            except RayError as e:  # the actor died (or is unreachable)
                out[i] = (False, f"env worker died ({type(e).__name__})")
                self._restart(i, out[i][1])
        return out

    def reset(self, tasks: Sequence[TaskSpec]) -> List[ResetResult]:
        _check_len("EnvPool.reset", len(tasks), self.num_envs)
        t0 = time.perf_counter()
        calls = [(i, w.reset.remote(t)) for i, (w, t) in enumerate(zip(self._workers, tasks))]
        got = self._gather(calls, self.step_timeout_s + self.startup_timeout_s)
        logger.debug("pool reset of %d envs took %.2fs", self.num_envs, time.perf_counter() - t0)
        return [got[i][1] if got[i][0] else failed_reset(tasks[i], got[i][1]) for i in range(self.num_envs)]

    def step(self, actions: Sequence[Optional[str]]) -> List[Optional[StepResult]]:
        _check_len("EnvPool.step", len(actions), self.num_envs)
        calls = [(i, self._workers[i].step.remote(a)) for i, a in enumerate(actions) if a is not None]
        got = self._gather(calls, self.step_timeout_s)
        out: List[Optional[StepResult]] = [None] * self.num_envs
        for i, (ok, value) in got.items():
            out[i] = value if ok else failed_step(value)
        return out

    def actor(self, i: int):
        """The Ray actor handle of environment ``i`` (tests kill it to check recovery)."""
        return self._workers[i]

    def close(self) -> None:
        import ray

        for w in self._workers:
            try:
                ray.kill(w, no_restart=True)
            except Exception:  # already gone
                pass
        self._workers = []


def make_pool(family: EnvFamily, num_envs: int, env_cfg: Any = None, use_ray: bool = True):
    return EnvPool(family, num_envs, env_cfg) if use_ray else LocalEnvPool(family, num_envs, env_cfg)
