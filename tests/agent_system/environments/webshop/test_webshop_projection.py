"""Model text -> WebShop action: format, admissibility, invalid outputs."""
from __future__ import annotations

from agent_system.environments.prompts.base import build_prompt
from agent_system.environments.webshop.prompts import WEBSHOP_TEMPLATES, project_actions

RESULTS = ["click[back to search]", "click[next >]", "click[b0demo0001]"]
SEARCH = ["search[<your query>]"]


def test_valid_outputs_are_canonicalised():
    outs = ["<think>find shirts</think><action>search[ men's  cotton t-shirt ]</action>",
            "  <think>it is the first hit</think>\n<action>Click[B0DEMO0001]</action>  ",
            "<think>more</think><action>click[next >]</action>"]
    actions, valids = project_actions(outs, [SEARCH, RESULTS, RESULTS])
    assert actions == ["search[men's cotton t-shirt]", "click[b0demo0001]", "click[next >]"]
    assert valids == [True, True, True]


def test_invalid_outputs():
    cases = [
        ("<think>x</think><action>click[b0other]</action>", RESULTS),  # not on this page
        ("<think>x</think><action>search[shirt]</action>", RESULTS),  # no search box here
        ("<think>x</think><action>click[b0demo0001]</action>", SEARCH),  # nothing to click
        ("<action>click[b0demo0001]</action>", RESULTS),  # no reasoning block
        ("<think>x</think><action>click[b0demo0001]</action> and then buy", RESULTS),  # trailing text
        ("<think>x</think><action>click[next >]</action><action>click[b0demo0001]</action>", RESULTS),
        ("<think>选择第一个</think><action>click[b0demo0001]</action>", RESULTS),  # CJK
        ("<think>x</think><action>buy it</action>", RESULTS),
        ("just text", RESULTS),
        ("", RESULTS),
        (None, RESULTS),
    ]
    actions, valids = project_actions([c[0] for c in cases], [c[1] for c in cases])
    assert valids == [False] * len(cases)
    assert actions[0] == "click[b0other]" and actions[8] == "just text" and actions[9] == ""
    assert all(isinstance(a, str) and len(a) <= 200 for a in actions)


def test_prompt_shows_task_page_and_admissible_actions():
    p = build_prompt(WEBSHOP_TEMPLATES, task="buy a shirt", observation="Search", admissible=SEARCH,
                     skills_text="- search with the product type first")
    assert "buy a shirt" in p and "'search[<your query>]'" in p and "search with the product type" in p
    p2 = build_prompt(WEBSHOP_TEMPLATES, task="buy a shirt", observation="Back to Search [SEP] ...",
                      admissible=RESULTS, history=[(1, "Search", "search[shirt]")], step_count=1)
    assert "[Step 1] Page: Search | Action: search[shirt]" in p2 and "Step 2." in p2
