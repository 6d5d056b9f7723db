"""The WebShop paper's purchase reward (Yao et al., 2022, section 3.2).

    r = r_type * (|U_att ∩ Y_att| + |U_opt ∩ Y_opt| + 1[y_price <= u_price]) / (|U_att| + |U_opt| + 1)

An attribute counts as matched when it fuzzily matches (token-set ratio > 85) one of the
product's attributes or occurs in its title, features or description; an option when it
fuzzily matches a chosen option after colour normalisation. ``r_type`` lowers the score when the
bought product is of a different kind than the goal's (same search query, two shared category
levels, or overlapping title words).

Departure: WebShop picks the title words with spaCy's part-of-speech tagger (nouns only). No
tagger model ships offline here, so :func:`type_words` keeps content words (alphabetic, not a
stop word or a common descriptive adjective); the score is identical when the right product is
bought and close otherwise.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Tuple

MATCH_THRESHOLD = 85
COLOR_WORDS = (
    "black", "white", "red", "blue", "green", "yellow", "orange", "purple", "pink", "brown", "grey", "gray",
    "silver", "gold", "beige", "navy", "teal", "turquoise", "maroon", "burgundy", "khaki", "ivory", "cream",
    "olive", "coral", "lavender", "lilac", "violet", "magenta", "fuchsia", "tan", "taupe", "charcoal", "copper",
    "bronze", "rose", "wine", "mint", "peach", "aqua", "camel", "chocolate", "coffee", "mocha", "espresso",
    "nude", "natural", "multicolor", "rainbow", "leopard", "camo", "denim", "plum", "mustard", "indigo",
    "champagne", "apricot", "sand", "stone", "slate", "walnut", "heather", "cranberry", "lemon", "lime",
)
_STOP = frozenset(
    "a an and the of for with in on to by from at or as is are be this that it its your our my you "
    "new set pack pcs piece pieces count size inch inches ft oz lb cm mm ml x large small medium extra "
    "best great premium quality high soft durable comfortable lightweight portable cute classic "
    "women womens men mens girls boys kids unisex adult adults baby".split()
)
_WORD = re.compile(r"[a-z][a-z'\-]*[a-z]|[a-z]")


def fuzzy_ratio(a: str, b: str) -> float:
    """Token-set similarity in [0, 100], the measure WebShop's reward thresholds at 85."""
    from rapidfuzz import fuzz  # imported on use so that registering the family stays cheap

    return fuzz.token_set_ratio(a, b)


_COLOR_RE = re.compile(r"\b(" + "|".join(COLOR_WORDS) + r")\b")


def normalize_color(option: str) -> str:
    """Map an option holding colour words to the first of them ('dark navy blue' -> 'navy').

    WebShop takes the alphabetically first colour word instead; reading order keeps the word the
    shopper wrote first, so 'navy' and 'navy blue' match.
    """
    text = str(option).lower()
    m = _COLOR_RE.search(text)
    return m.group(1) if m else text


def type_words(title: str) -> List[str]:
    words = [w.strip("'-") for w in _WORD.findall(str(title).lower())]
    return [w for w in words if len(w) > 2 and w not in _STOP]


def type_reward(product: Dict[str, Any], goal: Dict[str, Any]) -> Dict[str, Any]:
    query_match = bool(goal.get("query")) and product.get("query") == goal.get("query")
    cats_p = {c.strip() for c in str(product.get("product_category", "")).split("›") if c.strip()}
    cats_g = {c.strip() for c in str(goal.get("product_category", "")).split("›") if c.strip()}
    category_match = len(cats_p & cats_g) >= 2
    bought, wanted = set(type_words(product.get("name", ""))), type_words(goal.get("name", ""))
    title_score = 0.2 if not wanted else len(bought & set(wanted)) / len(set(wanted))
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return {"r_type": r_type, "query_match": query_match, "category_match": category_match,
            "title_score": title_score}


def attribute_matches(product: Dict[str, Any], goal_attrs: Iterable[str]) -> int:
    text_fields = [
        str(product.get("Title", "")).lower(),
        " ".join(map(str, product.get("BulletPoints", []))).lower(),
        str(product.get("Description", "")).lower(),
    ]
    n = 0
    for g in goal_attrs:
        g_low = str(g).lower()
        if any(fuzzy_ratio(p, g_low) > MATCH_THRESHOLD for p in product.get("Attributes", [])):
            n += 1
        elif any(g_low in t for t in text_fields):
            n += 1
    return n


def goal_option_values(goal_options: Any) -> List[str]:
    if isinstance(goal_options, dict):
        return [str(v) for v in goal_options.values()]
    return [str(v) for v in goal_options or []]


def option_matches(chosen: Iterable[str], goal_opts: Iterable[str]) -> int:
    chosen_n = [normalize_color(c) for c in chosen]
    n = 0
    for g in goal_opts:
        g_n = normalize_color(g)
        if any(fuzzy_ratio(c, g_n) > MATCH_THRESHOLD for c in chosen_n):
            n += 1
    return n


def purchase_reward(product: Dict[str, Any], goal: Dict[str, Any], price: float,
                    chosen_options: Dict[str, str]) -> Tuple[float, Dict[str, Any]]:
    """The paper's score in [0, 1] and its parts (for logging and analysis)."""
    t = type_reward(product, goal)
    goal_attrs = list(goal.get("attributes") or [])
    goal_opts = goal_option_values(goal.get("goal_options"))
    r_price = float(price <= goal["price_upper"]) if goal.get("price_upper", 0) > 0 else 0.0
    n_att = attribute_matches(product, goal_attrs)
    n_opt = option_matches(chosen_options.values(), goal_opts)
    score = (n_att + n_opt + r_price) / (len(goal_attrs) + len(goal_opts) + 1) * t["r_type"]
    parts = dict(t, r_att=n_att / len(goal_attrs) if goal_attrs else None,
                 r_option=n_opt / len(goal_opts) if goal_opts else None, r_price=bool(r_price))
    return float(score), parts
