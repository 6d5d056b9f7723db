"""WebShop's pages as plain text, and the clickable elements of each.

Pages: ``search`` (a search bar), ``results`` (10 hits per page, with paging), ``item`` (title,
price, options to choose, links to description / features / reviews, "Buy Now"), the three
``sub`` pages, and ``done`` after a purchase. Elements are separated by `` [SEP] `` as in
WebShop's text observation mode; clickable names are matched case-insensitively.

Each element is written in single quotes, as the original SkillRL's WebShop manager rewrites
WebShop's text observation (``'Back to Search' [SEP] 'Page 1 (Total results: 50)' [SEP] ...``).

Departure: the chosen options are listed on the item page ("Selected: ...") instead of being
marked inside an HTML button, and observations do not repeat the instruction (the environment
manager puts the task in every prompt; the original's manager cut it out of each observation).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from agent_system.environments.webshop.engine import PAGE_SIZE

SEP = " [SEP] "
BACK, NEXT, PREV, BUY = "back to search", "next >", "< prev", "buy now"
SUB_PAGES = ("description", "features", "reviews")
SEARCH_TEMPLATE = "search[<your query>]"


@dataclass
class ShopState:
    page: str = "search"  # search | results | item | sub | done
    query: str = ""
    results: List[str] = field(default_factory=list)  # ASINs of the last search
    page_num: int = 1
    asin: Optional[str] = None
    sub: Optional[str] = None  # which sub page
    options: Dict[str, str] = field(default_factory=dict)  # option name -> chosen value

    def visible_results(self) -> List[str]:
        start = (self.page_num - 1) * PAGE_SIZE
        return self.results[start:start + PAGE_SIZE]

    def last_page(self) -> int:
        return max(1, -(-len(self.results) // PAGE_SIZE))


def clickables(state: ShopState, product: Optional[Dict[str, Any]]) -> List[str]:
    """Lower-case names of what can be clicked on the current page."""
    if state.page == "results":
        out = [BACK]
        if state.page_num > 1:
            out.append(PREV)
        if state.page_num < state.last_page():
            out.append(NEXT)
        return out + [a.lower() for a in state.visible_results()]
    if state.page == "item" and product is not None:
        values = [v for vals in product["options"].values() for v in vals]
        return [BACK, PREV] + list(dict.fromkeys(values)) + list(SUB_PAGES) + [BUY]
    if state.page == "sub":
        return [BACK, PREV]
    return []


def admissible_actions(state: ShopState, product: Optional[Dict[str, Any]]) -> List[str]:
    if state.page == "search":
        return [SEARCH_TEMPLATE]
    return [f"click[{c}]" for c in clickables(state, product)]


def render(state: ShopState, by_asin: Dict[str, Dict[str, Any]], score: Optional[float] = None) -> str:
    return SEP.join(f"'{part}'" for part in _elements(state, by_asin, score))


def _elements(state: ShopState, by_asin: Dict[str, Dict[str, Any]], score: Optional[float]) -> List[str]:
    if state.page == "search":
        return ["Search"]
    if state.page == "results":
        return _render_results(state, by_asin)
    product = by_asin[state.asin]
    if state.page == "item":
        return _render_item(state, product)
    if state.page == "sub":
        return ["Back to Search", "< Prev"] + _sub_page_lines(state.sub, product)
    shown = score if score is not None else 0.0
    return ["Thank you for shopping with us!", "Your score (min 0.0, max 1.0)", f"{shown:.4f}"]


def _render_results(state: ShopState, by_asin: Dict[str, Dict[str, Any]]) -> List[str]:
    parts = ["Back to Search", f"Page {state.page_num} (Total results: {len(state.results)})"]
    if state.page_num > 1:
        parts.append("< Prev")
    if state.page_num < state.last_page():
        parts.append("Next >")
    for asin in state.visible_results():
        p = by_asin[asin]
        parts += [asin, p["Title"], p["Price"]]
    if not state.results:
        parts.append(f"No products match {state.query!r}; go back to search and try other words.")
    return parts


def _render_item(state: ShopState, p: Dict[str, Any]) -> List[str]:
    parts = ["Back to Search", "< Prev"]
    for name, values in p["options"].items():
        parts += [name] + values
    parts += [p["Title"], f"Price: {p['Price']}", f"Rating: {p['Rating']}", "Description", "Features", "Reviews",
              "Buy Now"]
    if state.options:
        parts.append("Selected: " + ", ".join(f"{k}: {v}" for k, v in state.options.items()))
    return parts


def _sub_page_lines(sub: Optional[str], p: Dict[str, Any]) -> List[str]:
    if sub == "description":
        return [p["Description"] or "No description."]
    if sub == "features":
        return [str(b) for b in p["BulletPoints"] if str(b).strip()] or ["No features listed."]
    reviews = [f"{r['title']} (score {r['score']}): {r['body']}".strip() for r in p["Reviews"]]
    return reviews or ["No reviews yet."]


def option_name_for(product: Dict[str, Any], value: str) -> Optional[str]:
    for name, values in product["options"].items():
        if value in values:
            return name
    return None
