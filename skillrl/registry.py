"""Name -> implementation tables: the only lists of the names a config may use.

Each :class:`Registry` maps the strings a config names (``algorithm.adv_estimator``,
``actor_rollout_ref.actor.policy_loss.loss_mode``, ``actor_rollout_ref.rollout.name``, ...) to the
function or factory that implements them. The built-in entries are registered where they are
defined, by a decorator; a registry imports its *provider* modules (given by name) the first time
it is read, so config validation sees every built-in name without importing the layers above it.

A user's own estimators, losses, KL estimators, aggregation modes or rollout engines live in their
own module, registered with the same decorators, and ``actor_rollout_ref.model.external_lib`` names
that module (a dotted name or a ``.py`` path; several separated by commas): the entry points import
it before validating the config, and every Ray worker imports it when it starts (see
:func:`skillrl.utils.ray_init.init_ray`), as verl does with the same key.

Stdlib only: this module sits in the core layer.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

__all__ = [
    "Registry",
    "ADVANTAGE_ESTIMATORS",
    "POLICY_LOSSES",
    "KL_ESTIMATORS",
    "LOSS_AGGREGATIONS",
    "ROLLOUT_ENGINES",
    "KL_CONTROLLERS",
    "FILTER_METRICS",
    "ENV_FAMILIES",
    "ENV_CONFIGS",
    "SKILL_DOMAINS",
    "EXTERNAL_LIB_ENV",
    "import_external_libs",
    "import_external_libs_from_env",
]

# Ray workers read the user's modules from here (set by init_ray for the job's runtime env).
EXTERNAL_LIB_ENV = "SKILLRL_EXTERNAL_LIB"


class Registry:
    """One table of named implementations.

    ``kind`` names what is registered (for messages), ``key`` the config key that picks an entry,
    ``providers`` the modules whose import registers the built-in entries.
    """

    def __init__(self, kind: str, key: str, providers: Sequence[str] = ()):
        self.kind, self.key, self.providers = kind, key, tuple(providers)
        self._table: Dict[str, Any] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[Any], Any]:
        """Decorator: make ``fn`` available as ``<key>=<name>``. A name taken by another object is refused."""

        def deco(fn: Any) -> Any:
            old = self._table.get(name)
            if old is not None and old is not fn and _definition(old) != _definition(fn):
                where = f"{getattr(old, '__module__', '?')}.{getattr(old, '__qualname__', old)}"
                raise ValueError(f"{self.kind} {name!r} is already registered by {where}")
            self._table[name] = fn
            return fn

        return deco

    def unregister(self, name: str) -> None:
        """Forget ``name`` (a test's own entry, so that later configs in the same process do not carry it)."""
        self._table.pop(name, None)

    def _load_providers(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self.providers:
                importlib.import_module(module)

    def get(self, name: str) -> Any:
        if name not in self._table:  # a name already registered needs no provider imported
            self._load_providers()
        if name not in self._table:
            raise ValueError(f"unknown {self.kind} {name!r} ({self.key}); known: {', '.join(self.names())}. "
                             "A name of your own must be registered by a module named in "
                             "actor_rollout_ref.model.external_lib")
        return self._table[name]

    def names(self) -> List[str]:
        self._load_providers()
        return sorted(self._table)

    def __contains__(self, name: str) -> bool:
        self._load_providers()
        return name in self._table


def _definition(obj: Any) -> Any:
    """Where ``obj`` was defined: a module imported twice (by name and by path) registers again, harmlessly."""
    code = getattr(obj, "__code__", None)
    return (code.co_filename if code else None, getattr(obj, "__qualname__", None)) if code else id(obj)


ADVANTAGE_ESTIMATORS = Registry("advantage estimator", "algorithm.adv_estimator", ("skillrl.algorithms",))
POLICY_LOSSES = Registry("policy loss", "actor_rollout_ref.actor.policy_loss.loss_mode", ("skillrl.algorithms",))
KL_ESTIMATORS = Registry("KL estimator", "actor_rollout_ref.actor.kl_loss_type / algorithm.kl_penalty",
                         ("skillrl.algorithms",))
LOSS_AGGREGATIONS = Registry("loss aggregation mode", "actor_rollout_ref.actor.loss_agg_mode", ("skillrl.algorithms",))
# Factories (rollout_cfg, model_path, device, max_model_len, tokenizer_path, trust_remote_code) -> engine.
ROLLOUT_ENGINES = Registry("rollout engine", "actor_rollout_ref.rollout.name", ("skillrl.workers.rollout.engines",))
# Classes (init_kl_coef, target_kl, horizon) -> controller with ``value`` and ``update(kl, n)``.
KL_CONTROLLERS = Registry("KL controller", "algorithm.kl_ctrl.type", ("skillrl.algorithms.kl",))
# DAPO dynamic sampling: functions (batch) -> one float per row, the value whose spread decides
# whether a group is kept.
FILTER_METRICS = Registry("dynamic-sampling metric", "algorithm.filter_groups.metric",
                          ("skillrl.algorithms.dynamic_sampling",))
# Environment family classes, under their names and aliases; the built-in ones are the folders of
# agent_system/environments that hold a family.py (imported only when a name is not known yet).
ENV_FAMILIES = Registry("environment", "env.env_name", ("agent_system.environments.builtin",))
# Environment families' config groups: dataclasses registered under the family's name, each the
# ``env.<name>.*`` group of the structured config (skillrl.config.schema.build_env_config). The
# built-in ones are the ``config.py`` files of those family folders, loaded alone (dataclasses and
# the stdlib), without the family packages.
ENV_CONFIGS = Registry("environment config group", "env.<family>", ("agent_system.environments.builtin_configs",))
# Skill-bank domains (skillrl.skills.task_types.SkillDomain: task types, detector, bank category
# names, teacher prompt facts) under their canonical names; each family registers its own from its
# folder, so they load with the built-in families. A family's name or alias also finds its domain
# through its ``skill_domain`` (household -> alfworld).
SKILL_DOMAINS = Registry("skill domain", "the family's skill_domain / skill_generation --domain",
                         ("agent_system.environments.builtin",))


def _module_names(spec: Union[None, str, Iterable[str]]) -> List[str]:
    if not spec:
        return []
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    return [str(s).strip() for s in items if str(s).strip()]


def import_external_libs(spec: Union[None, str, Iterable[str]], key: str = "actor_rollout_ref.model.external_lib") -> None:
    """Import each module of ``spec`` (dotted names or ``.py`` paths) so that what it registers can be named."""
    for name in _module_names(spec):
        try:
            if name.endswith(".py"):
                path = os.path.abspath(name)
                mod_name = os.path.splitext(os.path.basename(path))[0]
                if mod_name in sys.modules and getattr(sys.modules[mod_name], "__file__", None) == path:
                    continue
                loader_spec = importlib.util.spec_from_file_location(mod_name, path)
                if loader_spec is None or not os.path.isfile(path):
                    raise FileNotFoundError(path)
                module = importlib.util.module_from_spec(loader_spec)
                sys.modules[mod_name] = module
                loader_spec.loader.exec_module(module)
            else:
                importlib.import_module(name)
        except (ImportError, FileNotFoundError) as exc:
            raise ValueError(f"{key}: cannot import {name!r} ({exc}); give a module on PYTHONPATH "
                             "(dotted name) or the path of a .py file") from exc


def import_external_libs_from_env() -> None:
    """Ray's ``worker_process_setup_hook``: import the modules the driver named in ``$SKILLRL_EXTERNAL_LIB``."""
    import_external_libs(os.environ.get(EXTERNAL_LIB_ENV), EXTERNAL_LIB_ENV)


def external_lib_env(spec: Optional[Any]) -> Dict[str, str]:
    """The runtime-env additions that make every Ray worker import ``spec`` at start-up ({} if none)."""
    names = _module_names(spec)
    if not names:
        return {}
    return {EXTERNAL_LIB_ENV: ",".join(os.path.abspath(n) if n.endswith(".py") else n for n in names)}
