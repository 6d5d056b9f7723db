"""Prompt templates and action projection for the search family (Search-R1's action format).

Two rule sets for a valid output, chosen by ``env.action_validity``:

**original** (the default, as the original SkillRL's ``search_projection``): the output is cut
after its first ``</search>`` (or, if it has none, after its first ``</answer>``), both written in
lower case; the action is the first ``<search>...</search>`` block of what is left, else its first
``<answer>...</answer>`` block (tags matched in any case), rewritten as ``<search>TEXT</search>`` /
``<answer>TEXT</answer>`` with TEXT stripped and its case kept. The output is invalid when it has
no such block (the action is then ""), when it holds both a ``<search>`` and an ``<answer>`` tag,
or more than one of either (counted over the whole output, any case). Neither ``<think>`` nor the
absence of CJK is required, and empty TEXT is valid (the environment answers it as an invalid
action).

**strict** (the project's): an optional ``<think>...</think>`` block followed by exactly one
``<search>query</search>`` or ``<answer>text</answer>`` with non-empty text, nothing else around
them, and no CJK characters; TEXT has its whitespace collapsed. Everything else is invalid; the
output (trimmed, at most its last 300 characters) is still passed on as the action, and the
environment answers it with an "Invalid action" observation.
"""
from __future__ import annotations

import re
from typing import List, Optional, Sequence, Tuple

from agent_system.environments.projection import check_projection_args, has_cjk
from agent_system.environments.prompts.base import PromptTemplates

_INSTRUCTIONS = (
    "Before every action, reason inside <think> </think>. If you are missing knowledge, search for it "
    "by writing <search> query </search>; the top passages come back between <information> and "
    "</information>, and you may search again. When you know the answer, write it inside "
    "<answer> </answer> with no explanation, for example <answer> Paris </answer>. "
    "Write exactly one <search> or <answer> per turn and nothing after it."
)

SEARCH_TEMPLATES = PromptTemplates(
    first_step=(
        "Answer the question below using a search engine.\n"
        "Question: {task}\n\n"
        "{skills}" + _INSTRUCTIONS
    ),
    # As the original: the question, the skills, then each past turn as what was written and what
    # came back (the latest result is the last item), then the instructions.
    with_history=(
        "Answer the question below using a search engine.\n"
        "Question: {task}\n\n"
        "{skills}"
        "You have taken {step_count} turn(s); the last {history_length}, each with what you wrote and what came back:\n"
        "{history}\n\n" + _INSTRUCTIONS
    ),
    history_item="Turn {index}: {action}\n{observation}",
    skills_section="Skills that may help with this kind of question:\n{skills_text}\n\n",
    admissible_section="",
)

_FORMAT = re.compile(
    r"\A(?:<think>.*?</think>\s*)?<(?P<kind>search|answer)>(?P<arg>.*?)</(?P=kind)>\Z", re.S
)
_MAX_FALLBACK = 300


def project_one(text: str) -> Tuple[str, bool]:
    text = "" if text is None else str(text)
    stripped = text.strip()
    m = _FORMAT.match(stripped)
    tags_once = all(stripped.count(t) <= 1 for t in ("<think>", "</think>", "<search>", "<answer>"))
    if m is None or not tags_once or has_cjk(text):
        return stripped[-_MAX_FALLBACK:], False
    arg = " ".join(m["arg"].split())
    if not arg:
        return stripped[-_MAX_FALLBACK:], False
    return f"<{m['kind']}>{arg}</{m['kind']}>", True


_SEARCH_BLOCK = re.compile(r"<search>(.*?)</search>", re.I | re.S)
_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.I | re.S)
_SEARCH_TAG = re.compile(r"<search>", re.I)
_ANSWER_TAG = re.compile(r"<answer>", re.I)


def _cut_after_first_close(text: str) -> str:
    # as the original: a literal, lower-case match, so one output holding several actions yields its first
    for close in ("</search>", "</answer>"):
        if close in text:
            return text.split(close, 1)[0] + close
    return text


def project_one_original(text: str) -> Tuple[str, bool]:
    text = "" if text is None else str(text)
    cut = _cut_after_first_close(text)
    m = _SEARCH_BLOCK.search(cut)
    if m:
        action = f"<search>{m.group(1).strip()}</search>"
    else:
        m = _ANSWER_BLOCK.search(cut)
        action = f"<answer>{m.group(1).strip()}</answer>" if m else ""
    n_search, n_answer = len(_SEARCH_TAG.findall(text)), len(_ANSWER_TAG.findall(text))
    valid = bool(action) and not (n_search and n_answer) and n_search <= 1 and n_answer <= 1
    return action, valid


def project_actions(model_outputs: Sequence[str], admissible: Optional[Sequence[Optional[Sequence[str]]]] = None,
                    validity: str = "original") -> Tuple[List[str], List[bool]]:
    """(actions, valids) for a batch; ``admissible`` is accepted for interface parity and unused,
    ``validity`` the rule set (see the module docstring)."""
    check_projection_args(model_outputs, admissible, validity)
    one = project_one_original if validity == "original" else project_one
    out = [one(t) for t in model_outputs]
    return [a for a, _ in out], [v for _, v in out]
