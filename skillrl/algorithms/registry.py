"""Name -> function tables for advantage estimators and policy losses.

The trainer looks functions up by the config strings (``algorithm.adv_estimator``, a policy-loss
name), so a new estimator is one decorated function, with no edit to the trainer.
"""
from __future__ import annotations

from typing import Callable, Dict

__all__ = [
    "register_advantage",
    "get_advantage_fn",
    "list_advantages",
    "register_policy_loss",
    "get_policy_loss_fn",
    "list_policy_losses",
]

_ADVANTAGES: Dict[str, Callable] = {}
_POLICY_LOSSES: Dict[str, Callable] = {}


def _register(table: Dict[str, Callable], kind: str, name: str) -> Callable[[Callable], Callable]:
    def deco(fn: Callable) -> Callable:
        if name in table and table[name] is not fn:
            raise ValueError(f"{kind} {name!r} is already registered by {table[name].__module__}.{table[name].__name__}")
        table[name] = fn
        return fn

    return deco


def _get(table: Dict[str, Callable], kind: str, name: str, key: str) -> Callable:
    if name not in table:
        raise ValueError(f"unknown {kind} {name!r} ({key}); known: {', '.join(sorted(table))}")
    return table[name]


def register_advantage(name: str) -> Callable[[Callable], Callable]:
    """Decorator: make an advantage estimator available as ``algorithm.adv_estimator=<name>``."""
    return _register(_ADVANTAGES, "advantage estimator", name)


def get_advantage_fn(name: str) -> Callable:
    return _get(_ADVANTAGES, "advantage estimator", name, "algorithm.adv_estimator")


def list_advantages() -> list:
    return sorted(_ADVANTAGES)


def register_policy_loss(name: str) -> Callable[[Callable], Callable]:
    """Decorator: make a policy loss available by name."""
    return _register(_POLICY_LOSSES, "policy loss", name)


def get_policy_loss_fn(name: str) -> Callable:
    return _get(_POLICY_LOSSES, "policy loss", name, "policy loss name")


def list_policy_losses() -> list:
    return sorted(_POLICY_LOSSES)
