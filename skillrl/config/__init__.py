"""Configuration: typed schema, Hydra registration, validation.

Entry points call :func:`hydra_entry` (which registers the schemas and accepts the original
recipes' ``+key=value`` flags) and then :func:`to_dataclass` to get a validated, typed config.
Tests and scripts that do not go through ``@hydra.main`` use :func:`load_config`.
"""
from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path
from typing import Any, List, Optional, Sequence, Type, TypeVar

from skillrl.config.compat import warn_recipe_keys
from skillrl.config.schema import CollectConfig, EvalConfig, PPOConfig, SFTConfig, build_env_config
from skillrl.config.validate import validate
from skillrl.registry import import_external_libs

__all__ = [
    "CONFIG_DIR",
    "EvalConfig",
    "PPOConfig",
    "SFTConfig",
    "load_config",
    "normalize_overrides",
    "register_schemas",
    "to_dataclass",
    "validate",
]

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")
# ConfigStore name -> schema; a YAML names its schema as its first `defaults` entry.
_SCHEMAS = {
    "ppo_schema": PPOConfig,
    "eval_schema": EvalConfig,
    "sft_schema": SFTConfig,
    "collect_schema": CollectConfig,
}
T = TypeVar("T")


def register_schemas() -> None:
    """Put the dataclass schemas in Hydra's ConfigStore so YAML can name them in `defaults`."""
    from hydra.core.config_store import ConfigStore

    build_env_config()  # env.<family> groups registered since the last schema use
    cs = ConfigStore.instance()
    for name, node in _SCHEMAS.items():
        cs.store(name=name, node=node)


def normalize_overrides(argv: Sequence[str]) -> List[str]:
    """Make the original recipes' ``+env.skills_only_memory.x=...`` flags work.

    Those keys were not in verl-agent's schema, so its users wrote them with ``+`` (append). Here
    they are declared, and Hydra refuses ``+`` for an existing key; ``++`` (add or override) is what
    those flags mean, so a single leading ``+`` is rewritten to ``++``.
    """
    out = []
    for arg in argv:
        if arg.startswith("+") and not arg.startswith("++") and "=" in arg:
            arg = "+" + arg
        out.append(arg)
    return out


def to_dataclass(cfg: Any, schema: Type[T] = PPOConfig) -> T:
    """Resolve interpolations, convert a DictConfig to the schema dataclass and validate it."""
    from omegaconf import OmegaConf

    if isinstance(cfg, schema):
        obj = cfg
    else:
        container = OmegaConf.to_container(cfg, resolve=False) if OmegaConf.is_config(cfg) else dict(cfg)
        build_env_config()
        check_unknown_keys(container, schema)
        warn_recipe_keys(container)
        merged = OmegaConf.merge(OmegaConf.structured(schema), cfg)
        obj = OmegaConf.to_object(merged)
    # the user's modules register their names before validation looks them up
    import_external_libs(obj.actor_rollout_ref.model.external_lib)
    validate(obj)
    return obj


def check_unknown_keys(values: Any, schema: type, prefix: str = "") -> None:
    """Reject keys the schema does not declare (``++key=`` and YAML typos bypass Hydra's check)."""
    import dataclasses

    if not isinstance(values, dict) or not dataclasses.is_dataclass(schema):
        return
    fields = {f.name: f for f in dataclasses.fields(schema)}
    for key, value in values.items():
        if key == "hydra":
            continue
        if key not in fields:
            near = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"; did you mean {prefix}{near[0]}?" if near else ""
            raise ValueError(f"unknown config key {prefix}{key}{hint} (known keys: {', '.join(sorted(fields))})")
        sub = fields[key].type
        sub_cls = getattr(sys.modules[schema.__module__], sub, None) if isinstance(sub, str) else sub
        check_unknown_keys(value, sub_cls, f"{prefix}{key}.")


def _field_types(schema: type) -> dict:
    """Field name -> the dataclass it holds (or None for a leaf / free-form value)."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(schema)
    out = {}
    for f in dataclasses.fields(schema):
        t = hints.get(f.name)
        args = [a for a in typing.get_args(t) if a is not type(None)]
        if args and typing.get_origin(t) is typing.Union and len(args) == 1:
            t = args[0]  # Optional[X]
        out[f.name] = t if dataclasses.is_dataclass(t) else None
    return out


def _all_keys(schema: type, prefix: str = "") -> List[str]:
    keys = []
    for name, sub in _field_types(schema).items():
        keys.append(prefix + name)
        if sub is not None:
            keys.extend(_all_keys(sub, f"{prefix}{name}."))
    return keys


def nearest_key(key: str, schema: type) -> Optional[str]:
    """The declared key a mistyped dotted ``key`` most likely meant (None: nothing close)."""
    parts = key.split(".")
    node, prefix = schema, ""
    for part in parts[:-1]:  # the closest sibling of the first unknown part, under its real parent
        fields = _field_types(node)
        if part not in fields or fields[part] is None:
            break
        node, prefix = fields[part], f"{prefix}{part}."
    everything = _all_keys(schema)
    rest = key[len(prefix):]
    siblings = [k[len(prefix):] for k in everything if k.startswith(prefix)]
    near = difflib.get_close_matches(rest, siblings, n=1, cutoff=0.75)
    if near:
        return prefix + near[0]
    same_name = [k for k in everything if k.rsplit(".", 1)[-1] == parts[-1]]  # right name, wrong group
    if same_name:
        return same_name[0]
    near = difflib.get_close_matches(key, everything, n=1, cutoff=0.6)
    return near[0] if near else None


def check_override_keys(argv: Sequence[str], schema: type) -> None:
    """Command-line ``key=value`` overrides must name declared keys, with or without ``+``.

    Hydra's own error for ``trainer.totl_training_steps=2`` advises appending with ``+``, and
    only then would the schema check say what was meant; this says it first.
    """
    build_env_config()
    for arg in argv:
        if arg.startswith("-") or ("=" not in arg and not arg.startswith("~")):
            continue  # Hydra's flags and their values (--cfg job, -m, --config-name x)
        key = arg.lstrip("+~").split("=", 1)[0]
        if not key or key.startswith("hydra") or "/" in key or "@" in key:
            continue  # Hydra's own settings and config-group choices
        node = schema
        for i, part in enumerate(key.split(".")):
            fields = _field_types(node)
            if part not in fields:
                near = nearest_key(key, schema)
                where = ".".join(key.split(".")[:i]) or "the top level"
                hint = f"did you mean {near}?" if near else f"keys under {where}: {', '.join(sorted(fields))}"
                raise ValueError(f"unknown config key {key!r} in {arg!r}; {hint}")
            node = fields[part]
            if node is None:
                break  # a leaf, or a free-form mapping whose keys are not declared


def load_config(
    config_name: str = "ppo_trainer",
    overrides: Optional[Sequence[str]] = None,
    config_dir: Optional[str] = None,
    schema: Optional[Type[T]] = None,
):
    """Compose a YAML from ``configs/`` (or ``config_dir``) with overrides, outside @hydra.main."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    import_override_libs(overrides or [])
    register_schemas()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=os.path.abspath(config_dir or CONFIG_DIR), version_base=None):
        cfg = compose(config_name=config_name, overrides=normalize_overrides(overrides or []))
    schema = schema or _schema_for(config_name, config_dir or CONFIG_DIR)
    return to_dataclass(cfg, schema)


EXTERNAL_LIB_KEY = "actor_rollout_ref.model.external_lib"


def import_override_libs(argv: Sequence[str]) -> None:
    """Import the modules an ``actor_rollout_ref.model.external_lib=`` override names (the last one
    wins), before the schema is built: a family they define brings its ``env.<name>`` group, which
    the other overrides may set. A module named only in a YAML is imported later, at validation,
    too late to declare a group."""
    values = [arg.split("=", 1)[1].strip("\"'") for arg in argv if arg.lstrip("+").split("=", 1)[0] == EXTERNAL_LIB_KEY]
    if values and values[-1] not in ("", "null"):
        import_external_libs(values[-1], EXTERNAL_LIB_KEY)


def _schema_for(config_name: str, config_dir: str) -> type:
    """The schema a YAML names in its `defaults` list (PPOConfig if it names none)."""
    import yaml

    path = Path(config_dir) / f"{config_name}.yaml"
    defaults = (yaml.safe_load(path.read_text()) or {}).get("defaults", []) if path.exists() else []
    for entry in defaults:
        if isinstance(entry, str) and entry in _SCHEMAS:
            return _SCHEMAS[entry]
    return PPOConfig


def hydra_argv(schema: Optional[type] = None) -> None:
    """Rewrite ``sys.argv`` in place before ``@hydra.main`` parses it; with ``schema``, an unknown
    override key ends the program with one line naming the nearest declared key (exit status 2)."""
    try:
        import_override_libs(sys.argv[1:])
        if schema is not None:
            check_override_keys(sys.argv[1:], schema)
    except ValueError as e:
        sys.exit(f"error: {e}")
    sys.argv[1:] = normalize_overrides(sys.argv[1:])
    register_schemas()
