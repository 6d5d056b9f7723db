"""Prompt templates and action projection for the WebShop family.

A valid model output is exactly ``<think>...</think><action>ACTION</action>`` (whitespace between
the two blocks only), free of CJK characters, where ACTION is ``search[query]`` while the page
offers ``search[<your query>]``, or ``click[element]`` for one of the page's admissible clicks
(compared case-insensitively). Every other output is invalid; it still yields an action string
(the tagged text, or the last line of the output) which the environment answers with
"Nothing happened", so malformed outputs never crash a rollout.
"""
from __future__ import annotations

import re
from typing import List, Optional, Sequence, Tuple

from agent_system.environments.projection import has_cjk
from agent_system.environments.prompts.base import PromptTemplates
from agent_system.environments.webshop.env import parse_action
from agent_system.environments.webshop.pages import SEARCH_TEMPLATE

_INSTRUCTIONS = (
    "Think step by step about what to do next and write that reasoning inside <think> </think>. "
    "Then write exactly one action inside <action> </action>: search[your query] when the page has a "
    "search box, or click[element] with an element from the admissible actions, for example "
    "<action>click[buy now]</action>. Write nothing after </action>."
)

WEBSHOP_TEMPLATES = PromptTemplates(
    first_step=(
        "You are a shopping agent in the WebShop online store.\n"
        "{skills}"
        "Your task: {task}\n\n"
        "The current page: {observation}\n"
        "{admissible}\n" + _INSTRUCTIONS
    ),
    with_history=(
        "You are a shopping agent in the WebShop online store.\n"
        "{skills}"
        "Your task: {task}\n\n"
        "You have taken {step_count} step(s). The last {history_length} page(s) you saw and the action "
        "taken on each:\n{history}\n\n"
        "Step {current_step}. The current page: {observation}\n"
        "{admissible}\n" + _INSTRUCTIONS
    ),
    history_item="[Step {index}] Page: {observation} | Action: {action}",
    skills_section="Skills that may help with this kind of purchase:\n{skills_text}\n\n",
    admissible_section="Admissible actions on this page: [{actions}]\n",
)

_FORMAT = re.compile(r"\A<think>.*?</think>\s*<action>(?P<action>.*?)</action>\Z", re.S)
_ACTION_TAG = re.compile(r"<action>(.*?)</action>", re.S | re.I)
_TAGS = ("<think>", "</think>", "<action>", "</action>")
_MAX_FALLBACK = 200


def _fallback(text: str) -> str:
    tagged = _ACTION_TAG.findall(text)
    if tagged:
        return " ".join(tagged[-1].split())[:_MAX_FALLBACK]
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " ".join(lines[-1].split())[:_MAX_FALLBACK] if lines else ""


def _admitted(action: str, admissible: Optional[Sequence[str]]) -> Optional[str]:
    """The canonical action string if the page admits it, else None."""
    parsed = parse_action(action)
    if parsed is None:
        return None
    verb, arg = parsed
    if verb == "search":
        ok = admissible is None or SEARCH_TEMPLATE in admissible
        return f"search[{arg}]" if ok else None
    canonical = f"click[{arg.lower()}]"
    ok = admissible is None or canonical in {a.lower() for a in admissible}
    return canonical if ok else None


def project_one(text: str, admissible: Optional[Sequence[str]] = None) -> Tuple[str, bool]:
    text = "" if text is None else str(text)
    stripped = text.strip()
    m = _FORMAT.match(stripped)
    if m is None or any(stripped.count(t) != 1 for t in _TAGS) or has_cjk(text):
        return _fallback(text), False
    action = " ".join(m["action"].split())
    canonical = _admitted(action, admissible)
    return (canonical, True) if canonical else (action or _fallback(text), False)


def project_actions(model_outputs: Sequence[str],
                    admissible: Optional[Sequence[Optional[Sequence[str]]]] = None) -> Tuple[List[str], List[bool]]:
    """(actions, valids) for a batch; ``admissible`` is one list (or None) per output."""
    if admissible is not None and len(admissible) != len(model_outputs):
        raise ValueError(f"project_actions: {len(model_outputs)} outputs but {len(admissible)} admissible lists")
    out = [project_one(t, admissible[i] if admissible is not None else None) for i, t in enumerate(model_outputs)]
    return [a for a, _ in out], [v for _, v in out]
