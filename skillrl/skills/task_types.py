"""Template-mode task typing: goal text -> task type -> the bank's category name.

Three domains:

* ALFWorld / household: the six ALFWorld task types, detected from the goal sentence.
* WebShop: product categories (apparel, footwear, electronics, ...), from product words.
* Search: query types (direct_retrieval, multi_hop_reasoning, entity_attribute_lookup,
  comparison), from the shape of the question.

Banks name their categories differently (the original ALFWorld bank uses ``heat``, ``clean``,
``pick_and_place``...), so :func:`resolve_category` maps a canonical type to whichever alias the
bank has.

Departures from the original keyword rules: "find two X and put them in Y" is
``pick_two_obj_and_place`` (the original sent any goal containing "find" to ``examine``, which is
a desk-lamp category); words are matched on word boundaries ("hot" does not fire inside "shot");
and the goal is taken from the "Your task is to:" line when a whole observation is passed.
"""
from __future__ import annotations

import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

ALFWORLD_TYPES = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)
WEBSHOP_TYPES = ("apparel", "footwear", "electronics", "accessories", "home_decor", "beauty_health", "other")
SEARCH_TYPES = ("direct_retrieval", "multi_hop_reasoning", "entity_attribute_lookup", "comparison")
DOMAIN_TYPES = {"alfworld": ALFWORLD_TYPES, "webshop": WEBSHOP_TYPES, "search": SEARCH_TYPES}
DOMAIN_ALIASES = {"household": "alfworld", "alfworld/AlfredTWEnv": "alfworld"}

# Bank category names accepted for each canonical type, most specific first. pick-two falls back
# to pick-and-place (whose skills cover counting several objects) when a bank has no own category.
CATEGORY_ALIASES: Dict[str, Tuple[str, ...]] = {
    "pick_and_place_simple": ("pick_and_place_simple", "pick_and_place", "pick_place", "place", "put"),
    "look_at_obj_in_light": ("look_at_obj_in_light", "look_at_obj", "look_at", "look", "examine_in_light", "examine"),
    "pick_clean_then_place_in_recep": ("pick_clean_then_place_in_recep", "pick_clean", "clean"),
    "pick_heat_then_place_in_recep": ("pick_heat_then_place_in_recep", "pick_heat", "heat"),
    "pick_cool_then_place_in_recep": ("pick_cool_then_place_in_recep", "pick_cool", "cool"),
    "pick_two_obj_and_place": ("pick_two_obj_and_place", "pick_two_obj", "pick_two", "two_objects",
                               "pick_and_place_simple", "pick_and_place"),
    "apparel": ("apparel", "clothing", "fashion"),
    "footwear": ("footwear", "shoes"),
    "electronics": ("electronics", "electronic"),
    "accessories": ("accessories", "jewelry"),
    "home_decor": ("home_decor", "home", "home_and_kitchen", "furniture"),
    "beauty_health": ("beauty_health", "beauty", "health", "personal_care"),
    "other": ("other", "grocery", "misc"),
    "direct_retrieval": ("direct_retrieval", "direct", "factoid", "single_hop"),
    "multi_hop_reasoning": ("multi_hop_reasoning", "multi_hop", "multihop"),
    "entity_attribute_lookup": ("entity_attribute_lookup", "attribute_lookup", "entity_lookup"),
    "comparison": ("comparison", "compare", "comparative"),
}

_TASK_LINE = re.compile(r"your task is to\s*:?\s*(.+)", re.IGNORECASE)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _has(pattern: str, text: str) -> bool:
    return re.search(pattern, text) is not None


def extract_goal(text: str) -> str:
    """The goal sentence of an ALFWorld observation (text after "Your task is to:"), else the text."""
    m = _TASK_LINE.search(text)
    goal = m.group(1) if m else text
    return goal.strip().splitlines()[0].strip() if goal.strip() else ""


# ---------------------------------------------------------------------------------- ALFWorld


def detect_alfworld_type(text: str) -> str:
    """One of :data:`ALFWORLD_TYPES` for an ALFWorld goal such as "put a clean apple in fridge"."""
    g = extract_goal(text).lower()
    # "two" is checked first: pick-two goals are phrased "find two X and put them in Y" or
    # "put two X in Y", and "find" must not be read as an examine/look task.
    if _has(r"\btwo\b", g):
        return "pick_two_obj_and_place"
    if _has(r"\blook at\b|\bexamine\b|\b(desk|floor)?lamp\b", g):
        return "look_at_obj_in_light"
    if _has(r"\b(clean|cleaned|wash|washed|rinse|rinsed)\b", g):
        return "pick_clean_then_place_in_recep"
    if _has(r"\b(heat|heated|hot|warm|warmed|microwaved)\b", g):
        return "pick_heat_then_place_in_recep"
    if _has(r"\b(cool|cooled|cold|chill|chilled)\b", g):
        return "pick_cool_then_place_in_recep"
    return "pick_and_place_simple"


# ---------------------------------------------------------------------------------- WebShop

# Checked in this order: footwear before apparel ("dress shoes"), accessories before electronics
# ("watch band"), and so on. Each entry is a regex of word stems matched on word boundaries.
_WEBSHOP_RULES: Sequence[Tuple[str, str]] = (
    ("footwear", r"shoes?|boots?|sneakers?|sandals?|slippers?|heels?|loafers?|slip-ons?|flip[- ]flops?|clogs?|"
                 r"footwear|oxfords?|pumps|mules|wedges?"),
    ("apparel", r"shirts?|t-shirts?|tees?|tops?|blouses?|dress|dresses|jackets?|coats?|pants|jeans|shorts|"
                r"sweaters?|hoodies?|sweatshirts?|leggings|skirts?|suits?|vests?|swimsuits?|swimwear|bikinis?|"
                r"lingerie|bras?|underwear|briefs|boxers|socks|pajamas?|sleepwear|activewear|jumpsuits?|"
                r"rompers?|cardigans?|clothing|clothes|apparel|outfits?|tunics?|polos?"),
    ("accessories", r"necklaces?|rings?|bracelets?|earrings?|jewelry|jewellery|watch|watches|watch bands?|"
                    r"wallets?|purses?|handbags?|backpacks?|bags?|belts?|sunglasses|hats?|caps?|scarf|scarves|"
                    r"gloves|ties|keychains?|phone cases?|cases?|covers?"),
    ("electronics", r"laptops?|phones?|smartphones?|computers?|tablets?|chargers?|cables?|headphones?|earbuds?|"
                    r"speakers?|cameras?|monitors?|keyboards?|mouse|routers?|tv|television|projectors?|batter(?:y|ies)|"
                    r"adapters?|usb|hdmi|bluetooth|microphones?|electronic|electronics|drives?|ssd|memory cards?"),
    ("home_decor", r"furniture|lamps?|curtains?|window coverings?|drapes|pillows?|pillowcases?|bedding|sheets|"
                   r"blankets?|throws?|comforters?|duvets?|rugs?|mats?|candles?|vases?|decor|wall art|mirrors?|"
                   r"shelves|shelf|tables?|chairs?|sofas?|couch|ottomans?|armoires?|cabinets?|desks?|"
                   r"towels?|shower curtains?|storage|organizers?|frames?"),
    ("beauty_health", r"cream|creams|lotions?|shampoos?|conditioners?|moisturi[sz]ers?|serums?|makeup|lipsticks?|"
                      r"mascara|foundation|eyeliner|nail polish|perfumes?|fragrances?|beauty|skin care|skincare|"
                      r"hair|vitamins?|supplements?|toothpaste|toothbrush(?:es)?|deodorants?|sunscreen|soap|"
                      r"body wash|face wash|cleansers?|masks?|razors?|wigs?|extensions"),
)


def detect_webshop_category(text: str) -> str:
    """One of :data:`WEBSHOP_TYPES` for a WebShop instruction ("Find me men's loafers ...")."""
    g = text.lower()
    for category, words in _WEBSHOP_RULES:
        if _has(rf"\b(?:{words})\b", g):
            return category
    return "other"


# ---------------------------------------------------------------------------------- search

_COMPARATIVE = r"(earlier|later|first|older|younger|longer|shorter|larger|bigger|smaller|higher|lower|more|fewer|" \
               r"less|taller|closer|farther|further|newer|oldest|youngest)"
_RELATIONS = r"(director|father|mother|spouse|wife|husband|son|daughter|child|parent|sibling|brother|sister|" \
             r"grandfather|grandmother|author|writer|founder|creator|composer|producer|performer|screenwriter|" \
             r"owner|publisher|successor|predecessor|coach|captain|host|singer|actor|actress|star|team|" \
             r"headquarters|birthplace|employer|manufacturer|developer|designer)"
_ATTRIBUTES = r"(occupation|profession|nationality|citizenship|religion|place of birth|date of birth|birthplace|" \
              r"birth date|date of death|place of death|population|height|elevation|area|capital|currency|" \
              r"language|genre|instrument|position|award|official language|founding year|cause of death)"


def detect_search_type(text: str) -> str:
    """One of :data:`SEARCH_TYPES` for a question (NQ / HotpotQA / 2Wiki style)."""
    q = " ".join(text.lower().split())
    if (_has(rf"\b{_COMPARATIVE}\b.*,.*\bor\b", q) or _has(r"^(which|who|what)\b[^,]*,[^,]+\bor\b", q)
            or _has(r"^(are|were|is|was|do|does|did|have|has)\b.*\b(both|same|either)\b", q)
            or _has(r"\b(compare|comparison|difference between|in common)\b", q)):
        return "comparison"
    relation_chain = _has(rf"\b{_RELATIONS}\b (of|for)\b", q) and _has(r"\b(film|song|album|book|novel|"
                                                                         r"show|series|band|company|the)\b", q)
    # "the person who ...", "the state that ...": an entity described by another fact.
    nested_clause = _has(r"\bthe (\w+ ){1,3}(who|that|which|whose)\b", q) or _has(
        r"\s(who|which|that|whose)\s(was|is|were|are|has|had|played|wrote|directed|founded|starred|created|won|"
        r"born)\b", q[8:])
    possessive_relation = _has(rf"'s\s{_RELATIONS}\b", q)
    if relation_chain or nested_clause or possessive_relation:
        return "multi_hop_reasoning"
    if _has(rf"\b{_ATTRIBUTES}\b", q):
        return "entity_attribute_lookup"
    return "direct_retrieval"


# ---------------------------------------------------------------------------------- banks

_DETECTORS = {"alfworld": detect_alfworld_type, "webshop": detect_webshop_category, "search": detect_search_type}


def canonical_domain(name: Optional[str]) -> Optional[str]:
    if name is None:
        return None
    name = DOMAIN_ALIASES.get(name, name).split("/")[0].lower()
    if name not in DOMAIN_TYPES:
        raise ValueError(f"unknown skill domain {name!r}; use one of {sorted(DOMAIN_TYPES)} or household")
    return name


def detect_domain(categories: Iterable[str]) -> Optional[str]:
    """Which domain a bank belongs to, from its category names (None when nothing matches)."""
    cats = {_norm(c) for c in categories}
    best, best_hits = None, 0
    for domain, types in DOMAIN_TYPES.items():
        aliases = {a for t in types for a in CATEGORY_ALIASES[t]}
        hits = len(cats & aliases)
        if hits > best_hits:
            best, best_hits = domain, hits
    return best


def detect_task_type(text: str, domain: str) -> str:
    return _DETECTORS[canonical_domain(domain)](text)


def canonical_type(name: str) -> Optional[str]:
    """The canonical type a category name or alias stands for (``heat`` -> pick_heat_...)."""
    n = _norm(name)
    for canon, aliases in CATEGORY_ALIASES.items():
        if n == canon or n == aliases[0]:
            return canon
    for canon, aliases in CATEGORY_ALIASES.items():
        if n in aliases:
            return canon
    return None


def resolve_category(task_type: str, categories: Iterable[str]) -> Optional[str]:
    """The bank category to use for ``task_type`` (canonical type or alias), or None if absent."""
    cats: List[str] = list(categories)
    if task_type in cats:
        return task_type
    by_norm = {_norm(c): c for c in cats}
    canon = canonical_type(task_type) or _norm(task_type)
    for alias in CATEGORY_ALIASES.get(canon, (canon,)):
        if alias in by_norm:
            return by_norm[alias]
    return None
