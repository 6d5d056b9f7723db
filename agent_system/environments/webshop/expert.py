"""An oracle shopper: it knows the goal's product and options and walks the pages to buy them.

It searches the product's title, pages through results until the product shows, opens it, picks
for each goal option the product's closest option value, and buys. It reads only the goal and
the step's ``info`` (page, admissible actions, current product, chosen options), so it works the
same through the environment manager and in a Ray worker.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from agent_system.environments.webshop import pages
from agent_system.environments.webshop.reward import MATCH_THRESHOLD, fuzzy_ratio, goal_option_values, normalize_color


def search_query(goal: Dict[str, Any]) -> str:
    # Brackets would end the action early; a title query ranks the product first in practice.
    return " ".join(str(goal["name"]).replace("[", " ").replace("]", " ").split())


def best_option_value(product_options: Dict[str, List[str]], wanted: str) -> Optional[str]:
    """The product's option value that best matches ``wanted`` (above the reward's threshold)."""
    target = normalize_color(wanted)
    best, best_score = None, float(MATCH_THRESHOLD)
    for values in product_options.values():
        for v in values:
            score = fuzzy_ratio(normalize_color(v), target)
            if v == wanted.lower():
                score += 1  # an exact value wins over a value of equal fuzzy score
            if score > best_score:
                best, best_score = v, score
    return best


def desired_options(goal: Dict[str, Any], product: Dict[str, Any]) -> Dict[str, str]:
    """Option name -> value to choose; a later goal option for the same name wins."""
    out: Dict[str, str] = {}
    for wanted in goal_option_values(goal.get("goal_options")):
        value = best_option_value(product["options"], wanted)
        if value is not None:
            out[pages.option_name_for(product, value)] = value
    return out


def expert_action(goal: Dict[str, Any], info: Dict[str, Any], by_asin: Dict[str, Dict[str, Any]]) -> Optional[str]:
    page, admissible = info.get("page", "search"), info.get("admissible_actions", [])
    target = str(goal["asin"]).lower()
    if page == "search":
        return f"search[{search_query(goal)}]"
    if page == "results":
        for act in (f"click[{target}]", f"click[{pages.NEXT}]"):
            if act in admissible:
                return act
        return None  # the product is not among the results; an oracle does not guess
    if page == "sub":
        return f"click[{pages.PREV}]"
    if page == "item":
        if str(info.get("asin", "")).lower() != target:
            return f"click[{pages.PREV}]"
        selected = info.get("selected_options") or {}
        for name, value in desired_options(goal, by_asin[goal["asin"]]).items():
            if selected.get(name) != value and f"click[{value}]" in admissible:
                return f"click[{value}]"
        return f"click[{pages.BUY}]"
    return None
