"""Turning a model's text into an environment action, for the household / ALFWorld grammar.

Two rule sets, chosen by ``env.action_validity``; each output is judged on its own.

**original** (the default, as the original SkillRL's ``alfworld_projection``): the output is valid
when ``<think>`` and ``</think>`` appear in it as written, ``<action>`` and ``</action>`` appear in
its lower-cased text, and it holds no CJK ideograph (U+4E00..U+9FFF). The action is the lower-cased
text between the first ``<action>`` and the first ``</action>``, stripped, and nothing else is done
to it; without both action tags it is the last 30 characters of the lower-cased output.

**strict** (the project's grammar):

1. **Format.** After trimming surrounding whitespace the text must be exactly
   ``<think>REASONING</think>`` then ``<action>ACTION</action>``, with only whitespace between and
   nothing before or after; each tag appears once. Otherwise the output is invalid.
2. **Language.** Any CJK character (ideographs, kana, hangul, CJK and full-width punctuation)
   anywhere in the text makes the output invalid (as in verl-agent: no language mixing).
3. **Action.** ACTION is lower-cased, inner whitespace collapsed, and stripped of surrounding
   quotes, of brackets enclosing the whole action and of a trailing period. It must be non-empty
   and parseable: one of ``go to X``, ``take X from Y``, ``move X to Y``, ``put X in/on/into Y``,
   ``open X``, ``close X``, ``heat|cool|clean|slice X with Y``, ``use X``, ``examine X``,
   ``inventory``, ``look``, ``help``, or literally one of the admissible actions when a list is
   given (so other families' grammars pass through it too).
4. **put -> move.** ``put X in/on Y`` is rewritten to ALFWorld's ``move X to Y`` unless the text as
   written is itself admissible, or an admissible list is given that lacks ``move X to Y``.

Admissibility is *not* required for validity: a well-formed action the state does not allow is
valid and the environment answers "Nothing happens." (``env.inadmissible_is_invalid=true`` makes
the environment manager count it as invalid too). Every output yields an action string, so
nothing downstream crashes: the ACTION text if the action tags are present, else the last
non-empty line of the raw text (at most 200 characters), which the environment treats like any
other unknown command.
"""
from __future__ import annotations

import re
from typing import List, Optional, Sequence, Tuple

_FORMAT = re.compile(r"\A<think>(?P<think>.*?)</think>\s*<action>(?P<action>.*?)</action>\Z", re.S)
_ACTION_TAG = re.compile(r"<action>(.*?)</action>", re.S | re.I)
_CJK = re.compile("[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0002ffff]")
_GRAMMAR = re.compile(
    r"\A(?:go to \S.*|take \S.* from \S.*|move \S.* to \S.*|put \S.* (?:in|on|into) \S.*|open \S.*|close \S.*"
    r"|(?:heat|cool|clean|slice) \S.* with \S.*|use \S.*|examine \S.*|inventory|look|help)\Z"
)
_PUT = re.compile(r"\Aput (?P<obj>.+?) (?:in|on|into) (?P<recep>.+)\Z")
_MAX_FALLBACK = 200
_TAGS = ("<think>", "</think>", "<action>", "</action>")
_ORIGINAL_CJK = re.compile("[\u4e00-\u9fff]")
_ORIGINAL_TAIL = 30
VALIDITY_RULES = ("original", "strict")


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def normalize_action(text: str) -> str:
    a = " ".join(text.lower().split())
    a = a.strip("\"'`").strip()
    if len(a) >= 2 and (a[0], a[-1]) in (("[", "]"), ("(", ")")):  # only brackets around the whole action
        a = a[1:-1].strip()
    a = a[:-1] if a.endswith(".") else a
    return a.strip()


def _fallback(text: str) -> str:
    tagged = _ACTION_TAG.findall(text)
    if tagged:
        return normalize_action(tagged[-1])[:_MAX_FALLBACK]
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return normalize_action(lines[-1])[:_MAX_FALLBACK] if lines else ""


def _canonical(action: str, admissible: Optional[Sequence[str]]) -> str:
    if admissible is not None and action in admissible:
        return action
    m = _PUT.match(action)
    if m:
        moved = f"move {m['obj']} to {m['recep']}"
        if admissible is None or moved in admissible:
            return moved
    return action


def project_one(text: str, admissible: Optional[Sequence[str]] = None) -> Tuple[str, bool]:
    text = "" if text is None else str(text)
    stripped = text.strip()
    m = _FORMAT.match(stripped)
    if m is None or any(stripped.count(t) != 1 for t in _TAGS) or has_cjk(text):
        return _fallback(text), False
    action = normalize_action(m["action"])
    adm = set(admissible) if admissible is not None else None
    if not action or not (_GRAMMAR.match(action) or (adm is not None and action in adm)):
        return action or _fallback(text), False
    return _canonical(action, adm), True


def project_one_original(text: str, tail: int = _ORIGINAL_TAIL) -> Tuple[str, bool]:
    """The original SkillRL's rule: tags present, no CJK; the action as written, lower-cased.
    Without both action tags the action is the last ``tail`` characters (30 in the original's
    ALFWorld projection, 20 in its WebShop one)."""
    text = "" if text is None else str(text)
    low = text.lower()
    start, end = low.find("<action>"), low.find("</action>")
    if start == -1 or end == -1:
        return low[-tail:], False
    action = low[start + len("<action>"):end].strip()
    valid = "<think>" in text and "</think>" in text and _ORIGINAL_CJK.search(text) is None
    return action, valid


def check_projection_args(model_outputs: Sequence[Optional[str]],
                          admissible: Optional[Sequence[Optional[Sequence[str]]]], validity: str) -> None:
    """ValueError for a batch every family's ``project_actions`` refuses alike."""
    if admissible is not None and len(admissible) != len(model_outputs):
        raise ValueError(f"project_actions: {len(model_outputs)} outputs but {len(admissible)} admissible lists")
    if validity not in VALIDITY_RULES:
        raise ValueError(f"project_actions: validity={validity!r}; use one of {VALIDITY_RULES} (env.action_validity)")


def project_actions(
    model_outputs: Sequence[str], admissible: Optional[Sequence[Optional[Sequence[str]]]] = None,
    validity: str = "original",
) -> Tuple[List[str], List[bool]]:
    """Map outputs to (actions, valids); ``admissible`` is one list (or None) per output and
    ``validity`` the rule set (``original`` or ``strict``, see the module docstring)."""
    check_projection_args(model_outputs, admissible, validity)
    actions, valids = [], []
    for i, text in enumerate(model_outputs):
        if validity == "original":
            a, ok = project_one_original(text)
        else:
            a, ok = project_one(text, admissible[i] if admissible is not None else None)
        actions.append(a)
        valids.append(ok)
    return actions, valids


def wrap_action(action: str, reason: str) -> str:
    """An action written in the format :func:`project_actions` parses (used for expert actions)."""
    return f"<think>{reason}</think>\n<action>{action}</action>"
