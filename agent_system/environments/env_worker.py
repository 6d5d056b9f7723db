"""The environment worker: a group of ``TextEnv``s hosted in one Ray actor, stepped in one call.

The logic lives in :class:`EnvWorkerCore` (one environment, usable in-process, e.g. by
``LocalEnvPool``) and :class:`EnvGroupCore` (several of them, reset or stepped together: one Ray
round trip per actor and pool step instead of one per environment, which cost ~1 ms each, far more
than a household step). :data:`EnvWorker` is the thin ``ray.remote`` wrapper of ``EnvGroupCore``
(built on first access, so importing this module does not import Ray) that
:class:`~agent_system.environments.env_pool.EnvPool` starts, ``env.resources_per_worker.num_cpus``
CPUs each.

Wire format: an actor answers with plain tuples, not ``StepResult`` objects, and each admissible
list travels as one string (``pack_step`` / ``unpack_step``, ``pack_reset`` / ``unpack_reset``):
pickling a list of 15-50 short strings per environment was most of what a step's answer cost.
The pool unpacks into the same records, so callers see no difference.
"""
from __future__ import annotations

import hashlib
import random
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from agent_system.environments.base import StepResult, TaskSpec, TextEnv


def episode_seed(base_seed: int, task_id: str) -> int:
    """Members of a group get the same seed (same task), so their worlds match exactly."""
    h = hashlib.blake2b(f"{base_seed}/episode/{task_id}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") & ((1 << 63) - 1)


class EnvWorkerCore:
    """Builds its environment lazily from ``env_factory`` (a picklable zero-argument callable)."""

    def __init__(self, env_factory: Callable[[], TextEnv], base_seed: int = 0):
        self._factory = env_factory
        self._base_seed = int(base_seed)
        self._env: TextEnv | None = None

    @property
    def env(self) -> TextEnv:
        if self._env is None:
            self._env = self._factory()
        return self._env

    def reset(self, task: TaskSpec) -> Tuple[str, Dict[str, Any]]:
        # Families that draw from the global RNGs (ALFWorld's engine does) stay reproducible.
        seed = episode_seed(self._base_seed, task.task_id)
        random.seed(seed)
        try:
            import numpy as np

            np.random.seed(seed % (2**32))
        except ImportError:  # numpy is optional for pure-Python families
            pass
        return self.env.reset(task)

    def step(self, action: str) -> StepResult:
        return self.env.step(action)

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None


Outcome = Tuple[bool, Any]  # (True, packed result) or (False, "environment raised <Type>: <message>")

_SEP = "\x1f"  # ASCII unit separator: joins an admissible list into one string on the wire


def _pack_info(info: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of ``info`` whose admissible list is one string, when that round-trips exactly."""
    adm = info.get("admissible_actions")
    if type(adm) is not list or not adm:
        return info
    try:
        joined = _SEP.join(adm)
    except TypeError:  # not all strings: sent as it is
        return info
    if not all(adm) or joined.count(_SEP) != len(adm) - 1:  # "" or the separator inside an action
        return info
    packed = dict(info)
    packed["admissible_actions"] = joined  # same key, same place: the unpacked dict keeps its order
    return packed


def _unpack_info(info: Dict[str, Any]) -> Dict[str, Any]:
    adm = info.get("admissible_actions")
    if type(adm) is str:  # packed: environments report a list
        info["admissible_actions"] = adm.split(_SEP)
    return info


def pack_step(res: StepResult) -> tuple:
    return res.observation, res.reward, res.done, _pack_info(res.info)


def unpack_step(packed: tuple) -> StepResult:
    obs, reward, done, info = packed
    return StepResult(observation=obs, reward=reward, done=done, info=_unpack_info(info))


def pack_reset(result: Tuple[str, Dict[str, Any]]) -> tuple:
    return result[0], _pack_info(result[1])


def unpack_reset(packed: tuple) -> Tuple[str, Dict[str, Any]]:
    return packed[0], _unpack_info(packed[1])


def _run(call: Callable[[], Any]) -> Outcome:
    try:
        return True, call()
    except Exception as e:  # one environment's failure ends its episode, not its neighbours'
        return False, f"environment raised {type(e).__name__}: {e}"


class EnvGroupCore:
    """``num_envs`` environments of one actor; slot ``j`` of every call is environment ``j``."""

    def __init__(self, env_factory: Callable[[], TextEnv], base_seed: int = 0, num_envs: int = 1):
        if num_envs < 1:
            raise ValueError(f"EnvGroupCore needs num_envs >= 1, got {num_envs}")
        self._envs = [EnvWorkerCore(env_factory, base_seed) for _ in range(int(num_envs))]

    def reset(self, tasks: Sequence[Optional[TaskSpec]]) -> List[Optional[Outcome]]:
        """One outcome per slot, results packed (``pack_reset``); ``None`` tasks leave their
        environment alone."""
        return [None if t is None else _run(lambda w=w, t=t: pack_reset(w.reset(t)))
                for w, t in zip(self._envs, tasks)]

    def step(self, actions: Sequence[Optional[str]]) -> List[Optional[Outcome]]:
        """One outcome per slot, results packed (``pack_step``)."""
        return [None if a is None else _run(lambda w=w, a=a: pack_step(w.step(a)))
                for w, a in zip(self._envs, actions)]

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        for w in self._envs:
            w.close()


_REMOTE = None


def __getattr__(name: str):
    # ``EnvWorker`` is created on first use so that importing this module (LocalEnvPool does)
    # does not import Ray.
    global _REMOTE
    if name == "EnvWorker":
        if _REMOTE is None:
            import ray

            _REMOTE = ray.remote(EnvGroupCore)
        return _REMOTE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
