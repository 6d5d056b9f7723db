"""Pools of environments that reset and step side by side.

:class:`EnvPool` spreads its environments over
:data:`~agent_system.environments.env_worker.EnvWorker` Ray actors, several per actor
(``num_actors``, default: one per CPU, at most one per environment; ``env.resources_per_worker``
per actor), and resets or steps all environments of an actor in one Ray call. Every call waits at
most a bounded time: ``env.step_timeout_s`` per environment the busiest actor runs in it (reset:
plus ``startup_timeout_s``; the pool waits for its actors to start before anything is timed). An
actor that died or did not answer in time is killed and replaced by a new one, and the episodes of
all its environments end as failed: ``done=True``, ``won=False``, reward 0, ``info["error"]`` says
why (one it held whose episode was paused fails on its next step). An exception raised by one
environment ends that episode the same way and keeps the actor and its other environments.

:class:`LocalEnvPool` has the same interface and runs the environments in this process one after
the other (tests, benchmarks, evaluation without Ray). It catches environment exceptions the same
way but cannot interrupt a hung environment, so it has no timeout.

Both return, for ``reset(tasks)``, one ``(observation, info)`` per environment (``info["error"]``
set when the reset failed) and, for ``step(actions)`` with ``None`` for environments to leave
alone, one :class:`~agent_system.environments.base.StepResult` or ``None`` per environment.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any, List, Optional, Sequence, Tuple

from agent_system.environments.base import EnvFamily, StepResult, TaskSpec
from agent_system.environments.env_worker import EnvWorkerCore, unpack_reset, unpack_step

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


def default_num_actors(num_envs: int) -> int:
    """One actor per CPU this process may use, never more actors than environments.

    An actor steps its environments one after the other, so more actors than CPUs only adds
    processes and round trips; fewer leaves CPUs idle while environments wait.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(int(num_envs), cpus))


class EnvPool:
    """``num_envs`` environments spread over ``num_actors`` Ray actors (contiguous blocks, so the
    members of a GRPO group share an actor and its engine caches); see the module docstring."""

    def __init__(self, family: EnvFamily, num_envs: int, env_cfg: Any = None, startup_timeout_s: float = 120.0,
                 num_actors: Optional[int] = None):
        import ray

        if num_envs < 1:
            raise ValueError(f"EnvPool needs num_envs >= 1, got {num_envs}")
        if not ray.is_initialized():
            raise RuntimeError("EnvPool needs a running Ray: call ray.init() first (the trainer and main_eval do)")
        num_actors = default_num_actors(num_envs) if num_actors is None else int(num_actors)
        if not 1 <= num_actors <= num_envs:
            raise ValueError(f"EnvPool: num_actors={num_actors} must be between 1 and num_envs={num_envs}")
        self.env_cfg = env_cfg if env_cfg is not None else family.env_cfg
        self.num_envs, self.num_actors = int(num_envs), num_actors
        self.step_timeout_s = float(self.env_cfg.step_timeout_s)
        self.startup_timeout_s = float(startup_timeout_s)
        self.restarts = 0
        # actor a holds environments bounds[a] .. bounds[a+1]-1, in slots 0..
        self._bounds = [a * self.num_envs // num_actors for a in range(num_actors + 1)]
        self._owner = [a for a in range(num_actors) for _ in range(self._bounds[a], self._bounds[a + 1])]
        self._lost: dict = {}  # env index -> why its actor was replaced while its episode was paused
        self._factory_ref = ray.put(family.make_env)
        self._workers = [self._spawn(a) for a in range(num_actors)]
        self._await_startup()

    def _await_startup(self) -> None:
        """Wait until every actor answers a ping, while they keep coming up.

        Ray starts only about as many worker processes at a time as there are CPUs, so on a
        2-core machine 32 actors take minutes to come up; that time must not count against the
        first reset's timeout (it did: the last workers were killed as hung). Waiting stops once
        no actor has come up for ``startup_timeout_s``; those still missing are restarted.
        """
        import ray
        from ray.exceptions import RayError

        t0 = time.perf_counter()
        pending = {w.ping.remote(): a for a, w in enumerate(self._workers)}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=self.startup_timeout_s)
            if not ready:
                break
            for ref in ready:
                a = pending.pop(ref)
                try:
                    ray.get(ref, timeout=0)
                except RayError as e:
                    self._restart(a, f"env worker died while starting ({type(e).__name__})")
        for a in pending.values():
            self._restart(a, f"env worker did not start: no worker came up for {self.startup_timeout_s:.0f}s")
        logger.info("env pool: %d envs on %d actors up in %.1fs", self.num_envs, self.num_actors,
                    time.perf_counter() - t0)

    def _spawn(self, a: int):
        from agent_system.environments.env_worker import EnvWorker

        res = self.env_cfg.resources_per_worker
        opts = dict(num_cpus=float(res.num_cpus), max_restarts=0)
        if float(res.num_gpus) > 0:
            opts["num_gpus"] = float(res.num_gpus)
        size = self._bounds[a + 1] - self._bounds[a]
        return EnvWorker.options(**opts).remote(self._factory_ref, int(self.env_cfg.seed), size)

    def _restart(self, a: int, reason: str) -> None:
        import ray

        logger.warning("env worker %d: %s; starting a new one", a, reason)
        try:
            ray.kill(self._workers[a], no_restart=True)
        except Exception:  # already gone
            pass
        self._workers[a] = self._spawn(a)
        self.restarts += 1
        for i in range(self._bounds[a], self._bounds[a + 1]):
            self._lost.setdefault(i, reason)  # the new actor's environments know no episode

    def _call(self, method: str, args: Sequence[Any], timeout_per_env: float,
              extra_timeout: float = 0.0) -> List[Optional[Tuple[bool, Any]]]:
        """One ``method`` call per actor with work, bounded in time; per env: None (no work),
        (True, result) or (False, reason)."""
        import ray
        from ray.exceptions import RayError, RayTaskError

        calls, busiest = [], 1
        for a, w in enumerate(self._workers):
            part = list(args[self._bounds[a]:self._bounds[a + 1]])
            if any(x is not None for x in part):
                calls.append((a, getattr(w, method).remote(part)))
                busiest = max(busiest, sum(x is not None for x in part))
        timeout = extra_timeout + timeout_per_env * busiest  # an actor runs its environments one by one
        refs = [ref for _, ref in calls]
        ready = set(ray.wait(refs, num_returns=len(refs), timeout=timeout)[0]) if refs else set()
        out: List[Optional[Tuple[bool, Any]]] = [None] * self.num_envs
        for a, ref in calls:
            lo, hi = self._bounds[a], self._bounds[a + 1]
            try:
                if ref not in ready:
                    raise TimeoutError(f"env worker timed out after {timeout:.1f}s")
                out[lo:hi] = ray.get(ref, timeout=0)
                continue
            except TimeoutError as e:
                reason = str(e)
            except RayTaskError as e:  # the group itself raised (environment errors are caught inside)
                cause = e.cause if getattr(e, "cause", None) is not None else e
                reason, a = f"environment raised {type(cause).__name__}: {cause}", None
            except RayError as e:  # the actor died (or is unreachable)
                reason = f"env worker died ({type(e).__name__})"
            if a is not None:
                self._restart(a, reason)
            out[lo:hi] = [None if x is None else (False, reason) for x in args[lo:hi]]
        return out

    def reset(self, tasks: Sequence[TaskSpec]) -> List[ResetResult]:
        _check_len("EnvPool.reset", len(tasks), self.num_envs)
        t0 = time.perf_counter()
        self._lost.clear()
        got = self._call("reset", list(tasks), self.step_timeout_s, self.startup_timeout_s)
        logger.debug("pool reset of %d envs took %.2fs", self.num_envs, time.perf_counter() - t0)
        return [unpack_reset(value) if ok else failed_reset(tasks[i], value) for i, (ok, value) in enumerate(got)]

    def step(self, actions: Sequence[Optional[str]]) -> List[Optional[StepResult]]:
        _check_len("EnvPool.step", len(actions), self.num_envs)
        lost = {i: self._lost.pop(i) for i, a in enumerate(actions) if a is not None and i in self._lost}
        got = self._call("step", [None if i in lost else a for i, a in enumerate(actions)], self.step_timeout_s)
        out: List[Optional[StepResult]] = [None] * self.num_envs
        for i, g in enumerate(got):
            if i in lost:
                out[i] = failed_step(f"env worker was replaced while this episode waited ({lost[i]})")
            elif g is not None:
                out[i] = unpack_step(g[1]) if g[0] else failed_step(g[1])
        return out

    def actor(self, i: int):
        """The Ray actor handle hosting environment ``i`` (tests kill it to check recovery)."""
        return self._workers[self._owner[i]]

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
