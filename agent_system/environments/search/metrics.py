"""Answer scoring for open-domain QA: exact match (the reward) and token F1 (a metric).

Normalisation is the usual one from SQuAD-style evaluation, which Search-R1 also uses: lower
case, drop punctuation and the articles a/an/the, squeeze whitespace. A prediction scores against
the best of its gold answers.
"""
from __future__ import annotations

import re
import string
from collections import Counter
from typing import Iterable, Optional

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_YES_NO = ("yes", "no", "noanswer")


def normalize_answer(text: str) -> str:
    text = "".join(ch for ch in str(text).lower() if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: Optional[str], golds: Iterable[str]) -> float:
    if prediction is None:
        return 0.0
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in golds))


def _f1(pred_tokens, gold_tokens) -> float:
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: Optional[str], golds: Iterable[str]) -> float:
    if prediction is None:
        return 0.0
    pred = normalize_answer(prediction).split()
    best = 0.0
    for g in golds:
        gold = normalize_answer(g).split()
        if not pred or not gold:
            best = max(best, float(pred == gold))
            continue
        # yes/no/noanswer must match exactly, as in HotpotQA's official scorer
        if (" ".join(pred) in _YES_NO or " ".join(gold) in _YES_NO) and pred != gold:
            continue
        best = max(best, _f1(pred, gold))
    return best
