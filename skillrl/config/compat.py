"""Keys accepted only so that the original SkillRL / verl-agent recipes run as written.

Each has no effect here: its schema default is None, and :func:`warn_recipe_keys` says why, once
per key and process, when a config sets it (in its YAML or on the command line). Every other declared key is read somewhere
(tests/skillrl/config/test_keys_are_read.py checks it). A key that becomes real leaves this table.
"""
from __future__ import annotations

import warnings
from typing import Any, Dict, Set

__all__ = ["NO_EFFECT", "RecipeKeyWarning", "warn_recipe_keys"]

_DATASET = ("tasks come from the environment (env.env_name), not from a dataset file; data.train_batch_size "
            "and data.val_batch_size set how many per step")

# key -> why it has no effect here
NO_EFFECT: Dict[str, str] = {
    "data.train_files": _DATASET,
    "data.val_files": _DATASET,
    "data.filter_overlong_prompts": "there is no prompt dataset to filter: each turn's prompt is built from the "
                                    "environment and cut to data.max_prompt_length as data.truncation says",
    "data.return_raw_chat": "the multi-turn loop always keeps the chat messages and applies the chat template itself",
    "actor_rollout_ref.rollout.enable_chunked_prefill": "vLLM's own default is used, and the hf engine does not "
                                                        "chunk its prefill",
    "critic.model.use_remove_padding": "the critic always runs padded rows (skillrl/workers/critic.py has no "
                                       "remove-padding packing); its values are the same either way",
}


class RecipeKeyWarning(UserWarning):
    """A config key from the original recipes that this implementation accepts and ignores."""


_warned: Set[str] = set()


def _lookup(values: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(values, dict) or part not in values:
            return _MISSING
        values = values[part]
    return values


_MISSING = object()


def warn_recipe_keys(values: Dict[str, Any]) -> None:
    """Warn once for each key of :data:`NO_EFFECT` that ``values`` (a composed config as a dict) sets."""
    for key, why in NO_EFFECT.items():
        value = _lookup(values, key)
        if value is _MISSING or value is None or key in _warned:
            continue
        _warned.add(key)
        warnings.warn(f"{key}={value!r} has no effect here: {why}", RecipeKeyWarning, stacklevel=3)
