"""The WebShop paper's reward: attribute, option, price and type matching."""
from __future__ import annotations

import pytest

from agent_system.environments.webshop.catalog import clean_product, parse_pricing
from agent_system.environments.webshop.reward import normalize_color, purchase_reward, type_reward


def _product(**kw):
    raw = {"asin": "B0TEST0001", "name": "Women's Waterproof Rain Jacket with Hood", "pricing": "$30.00",
           "full_description": "A light rain jacket that packs small.", "small_description": ["Adjustable hood"],
           "customization_options": {"Color": [{"value": "Navy Blue"}], "Size": [{"value": "Small"}]},
           "query": "women's rain jackets", "product_category": "Clothing › Women › Coats › Rain Jackets"}
    raw.update(kw)
    p = clean_product(raw, "test")
    p["Attributes"] = ["waterproof", "packable"]
    return p


def _goal(**kw):
    g = {"asin": "B0TEST0001", "name": "Women's Waterproof Rain Jacket with Hood", "query": "women's rain jackets",
         "product_category": "Clothing › Women › Coats › Rain Jackets", "attributes": ["waterproof", "hood"],
         "goal_options": ["navy blue", "small"], "price_upper": 40.0}
    g.update(kw)
    return g


def test_perfect_purchase_scores_one():
    score, parts = purchase_reward(_product(), _goal(), 30.0, {"color": "navy blue", "size": "small"})
    assert score == pytest.approx(1.0) and parts["r_type"] == 1.0 and parts["r_price"]


def test_each_missing_part_costs_its_share():
    p, g = _product(), _goal()
    # 2 attributes + 2 options + price = 5 parts
    assert purchase_reward(p, g, 30.0, {"color": "navy blue"})[0] == pytest.approx(4 / 5)
    assert purchase_reward(p, g, 45.0, {"color": "navy blue", "size": "small"})[0] == pytest.approx(4 / 5)
    assert purchase_reward(p, _goal(attributes=["waterproof", "fleece lined"]), 30.0,
                           {"color": "navy blue", "size": "small"})[0] == pytest.approx(4 / 5)
    # "hood" is matched through the title/features text, not the attribute list
    assert purchase_reward(p, g, 30.0, {})[0] == pytest.approx(3 / 5)


def test_colour_normalisation_and_fuzzy_options():
    assert normalize_color("Dark Navy Blue") == "navy"
    assert normalize_color("x-large") == "x-large"
    score, _ = purchase_reward(_product(), _goal(goal_options=["navy"]), 30.0, {"color": "navy blue"})
    assert score == pytest.approx(1.0)
    score, _ = purchase_reward(_product(), _goal(goal_options={"color": "navy blue"}), 30.0, {"color": "navy blue"})
    assert score == pytest.approx(1.0)  # synthetic goals give options as a dict


def test_type_reward_penalises_a_different_kind_of_product():
    other = _product(name="Stainless Steel Garlic Press", query="garlic press",
                     product_category="Home & Kitchen › Kitchen Utensils")
    t = type_reward(other, _goal())
    assert t["r_type"] == 0.0 and t["title_score"] == 0.0
    score, _ = purchase_reward(other, _goal(), 10.0, {})
    assert score == 0.0
    similar = _product(name="Men's Rain Jacket Lightweight", query="men's rain jackets",
                       product_category="Clothing › Men › Coats › Rain Jackets")
    t = type_reward(similar, _goal())
    assert t["category_match"] and 0 < t["title_score"] < 1 and t["r_type"] == 1.0


def test_pricing_parsing():
    assert parse_pricing("$12.99") == [12.99]
    assert parse_pricing("$5.00 - $9.50") == [5.0, 9.5]
    assert parse_pricing("$1,299.00") == [1299.0]
    assert parse_pricing("") == [] and parse_pricing(None) == []
    assert parse_pricing([3, 4, 5]) == [3.0, 4.0]
    assert clean_product({"asin": "A", "name": "n", "pricing": ""}, "t")["pricing"] == [100.0]
