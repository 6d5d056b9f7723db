"""Prompt templates and action projection for the WebShop family.

Two rule sets for a valid output, chosen by ``env.action_validity``:

**original** (the default, as the original SkillRL's ``webshop_projection``): ``<think>`` and
``</think>`` appear in the output as written, ``<action>`` and ``</action>`` in its lower-cased
text, and it holds no CJK ideograph (U+4E00..U+9FFF). The action is the lower-cased text between
the first ``<action>`` and the first ``</action>``, stripped; it need not be admissible nor even a
WebShop action (the environment answers an unknown one with "Nothing happened"). Without both
action tags the action is the last 20 characters of the lower-cased output.

**strict** (the project's): the output is exactly ``<think>...</think><action>ACTION</action>``
(whitespace between the two blocks only), free of any CJK character, where ACTION is
``search[query]`` while the page offers ``search[<your query>]``, or ``click[element]`` for one of
the page's admissible clicks (compared case-insensitively). Every other output is invalid; it
still yields an action string (the tagged text, or the last line of the output).

The prompt's layout is the original's (task, skills, then the last ``env.history_length`` steps as
``[Observation n: '...', Action n: '...']`` with the page each action was taken on, the current
page, the admissible actions one per line), in the project's own words.
"""
from __future__ import annotations

import re
from typing import List, Optional, Sequence, Tuple

from agent_system.environments.projection import check_projection_args, has_cjk, project_one_original
from agent_system.environments.prompts.base import PromptTemplates
from agent_system.environments.webshop.env import parse_action
from agent_system.environments.webshop.pages import SEARCH_TEMPLATE

_INSTRUCTIONS = (
    "Think step by step about what to do next and write that reasoning inside <think> </think>. "
    "Then write exactly one action inside <action> </action>: search[your query] when the page has a "
    "search box, or click[element] with an element from the admissible actions, for example "
    "<action>click[buy now]</action>. Write nothing after </action>."
)
_INTRO = "You are a shopping agent in the WebShop online store.\n"

# As the original's WebShop templates: the task, the skills, the history, the current page, the
# admissible actions one per line each followed by a comma, between "[" and "]" lines.
WEBSHOP_TEMPLATES = PromptTemplates(
    first_step=(
        _INTRO + "Your task: {task}\n\n"
        "{skills}"
        "The current page: {observation}\n"
        "{admissible}\n" + _INSTRUCTIONS
    ),
    with_history=(
        _INTRO + "Your task: {task}\n\n"
        "{skills}"
        "You have taken {step_count} step(s). The last {history_length} page(s) you saw and the action "
        "taken on each:\n{history}\n\n"
        "Step {current_step}. The current page: {observation}\n"
        "{admissible}\n" + _INSTRUCTIONS
    ),
    history_item="[Observation {index}: '{observation}', Action {index}: '{action}']",
    skills_section="Skills that may help with this kind of purchase:\n{skills_text}\n\n",
    admissible_section="Admissible actions on this page:\n[\n{actions}\n]\n",
    admissible_separator="\n",
    admissible_item="'{action}',",
)

_FORMAT = re.compile(r"\A<think>.*?</think>\s*<action>(?P<action>.*?)</action>\Z", re.S)
_ACTION_TAG = re.compile(r"<action>(.*?)</action>", re.S | re.I)
_TAGS = ("<think>", "</think>", "<action>", "</action>")
_MAX_FALLBACK = 200
_ORIGINAL_TAIL = 20  # the original WebShop projection keeps the last 20 characters of an untagged output


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


def project_actions(model_outputs: Sequence[str], admissible: Optional[Sequence[Optional[Sequence[str]]]] = None,
                    validity: str = "original") -> Tuple[List[str], List[bool]]:
    """(actions, valids) for a batch; ``admissible`` is one list (or None) per output (read by the
    strict rule only), ``validity`` the rule set (see the module docstring)."""
    check_projection_args(model_outputs, admissible, validity)
    if validity == "original":
        out = [project_one_original(t, tail=_ORIGINAL_TAIL) for t in model_outputs]
    else:
        out = [project_one(t, admissible[i] if admissible is not None else None) for i, t in enumerate(model_outputs)]
    return [a for a, _ in out], [v for _, v in out]
