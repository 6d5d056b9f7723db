"""Model text -> WebShop action under both rule sets (env.action_validity), and the prompt's layout."""
from __future__ import annotations

import pytest

from agent_system.environments.prompts.base import build_prompt
from agent_system.environments.webshop.prompts import WEBSHOP_TEMPLATES, project_actions

RESULTS = ["click[back to search]", "click[next >]", "click[b0demo0001]"]
SEARCH = ["search[<your query>]"]


def test_valid_outputs_are_canonicalised():
    outs = ["<think>find shirts</think><action>search[ men's  cotton t-shirt ]</action>",
            "  <think>it is the first hit</think>\n<action>Click[B0DEMO0001]</action>  ",
            "<think>more</think><action>click[next >]</action>"]
    actions, valids = project_actions(outs, [SEARCH, RESULTS, RESULTS], validity="strict")
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
    actions, valids = project_actions([c[0] for c in cases], [c[1] for c in cases], validity="strict")
    assert valids == [False] * len(cases)
    assert actions[0] == "click[b0other]" and actions[8] == "just text" and actions[9] == ""
    assert all(isinstance(a, str) and len(a) <= 200 for a in actions)


# ---- the original SkillRL rule (the default): <think>, </think>, <action>, </action> present, no CJK
# ideograph; the action is the lower-cased text between the first action tags, stripped.


def test_original_rule_by_hand():
    cases = [
        # (output, expected action, valid)
        ("<think>x</think><action>Click[B0DEMO0001]</action>", "click[b0demo0001]", True),
        ("<think>x</think><action> search[Red Shoes] </action>", "search[red shoes]", True),
        # valid under the original, invalid under strict: not admissible, trailing text, no search box,
        # tags repeated, tags in capitals, an action WebShop does not know, an empty action
        ("<think>x</think><action>click[b0other]</action>", "click[b0other]", True),
        ("<think>x</think><action>click[next >]</action> and then buy", "click[next >]", True),
        ("<think>x</think><action>search[shirt]</action>", "search[shirt]", True),
        ("<think>a</think><action>click[next >]</action><action>click[buy now]</action>", "click[next >]", True),
        ("<think>x</think><ACTION>click[next >]</ACTION>", "click[next >]", True),
        ("preamble <think>x</think> <action>buy it</action>", "buy it", True),
        ("<think>x</think><action></action>", "", True),
        ("<think>x</think><action>click[ B0DEMO0001 ]</action>", "click[ b0demo0001 ]", True),
        # invalid under both
        ("<action>click[b0demo0001]</action>", "click[b0demo0001]", False),  # no reasoning block
        ("<THINK>x</THINK><action>click[b0demo0001]</action>", "click[b0demo0001]", False),  # think tags as written
        ("<think>选择第一个</think><action>click[b0demo0001]</action>", "click[b0demo0001]", False),  # CJK ideograph
        ("<think>x</think> I will click[Buy Now] now", "l click[buy now] now", False),  # the last 20 characters
        ("just text", "just text", False),
        ("", "", False),
        (None, "", False),
    ]
    actions, valids = project_actions([c[0] for c in cases], [RESULTS] * len(cases))
    assert list(zip(actions, valids)) == [(c[1], c[2]) for c in cases]


def test_every_strict_valid_output_is_original_valid_not_the_reverse():
    # strict needs the exact layout, an admissible action and no CJK at all; the original only the
    # four tags and no ideograph (a full-width "！" passes it). No output is valid under strict alone.
    outs = ["<think>x</think><action>click[b0demo0001]</action> ok", "<think>x</think><action>click[b0other]</action>",
            "<think>x\uff01</think><action>click[b0demo0001]</action>",
            "<think>x</think><action>click[b0demo0001]</action>", "<think>x</think>\n<action>search[a b]</action>"]
    adm = [RESULTS, RESULTS, RESULTS, RESULTS, SEARCH]
    assert project_actions(outs, adm)[1] == [True] * 5
    assert project_actions(outs, adm, validity="strict")[1] == [False, False, False, True, True]


def test_an_unknown_rule_names_the_key():
    with pytest.raises(ValueError, match="env.action_validity"):
        project_actions(["x"], validity="lenient")


def test_prompt_layout_is_the_originals():
    # The original's WebShop template with history: task, skills, "[Observation n: '<page>', Action n:
    # '<action>']" lines (the page each action was taken on, numbered from the episode's start, the
    # last history_length of them), the current step and page, then the admissible actions one per
    # line, each followed by a comma, between "[" and "]" lines.
    first = build_prompt(WEBSHOP_TEMPLATES, task="buy a shirt", observation="Search", admissible=SEARCH,
                         skills_text="- search with the product type first")
    assert first.index("buy a shirt") < first.index("- search with the product") < first.index("Search\n")
    assert "[\n'search[<your query>]',\n]" in first
    history = [(2, "Back to Search [SEP] B0DEMO0001", "click[b0demo0001]"), (3, "Back to Search [SEP] < Prev", "click[< prev]")]
    p = build_prompt(WEBSHOP_TEMPLATES, task="buy a shirt", observation="Back to Search [SEP] Page 1",
                     admissible=RESULTS, history=history, step_count=3, skills_text="- compare prices")
    lines = ("[Observation 2: 'Back to Search [SEP] B0DEMO0001', Action 2: 'click[b0demo0001]']\n"
             "[Observation 3: 'Back to Search [SEP] < Prev', Action 3: 'click[< prev]']\n")
    assert lines in p
    assert "You have taken 3 step(s). The last 2 page(s)" in p
    admissible = "[\n'click[back to search]',\n'click[next >]',\n'click[b0demo0001]',\n]"
    assert admissible in p
    order = [p.index(x) for x in ("buy a shirt", "- compare prices", lines, "Step 4. The current page: Back to Search [SEP] Page 1",
                                  admissible, "<think>")]
    assert order == sorted(order)


def test_the_originals_webshop_template_fields_drop_in(tmp_path):
    # the original's placeholders (WebShop names its actions {available_actions}), read from a file;
    # its template writes "[\n{available_actions}\n]", which gives its list character for character
    from agent_system.environments.prompts.files import load_template_dir

    (tmp_path / "with_history.txt").write_text(
        "T={task_description}.|{step_count}/{history_length}: {action_history}|{current_step}:{current_observation}.|"
        "[\n{available_actions}\n]")
    t = load_template_dir(str(tmp_path), WEBSHOP_TEMPLATES)
    p = build_prompt(t, task="buy a shirt", observation="'Search'", admissible=RESULTS,
                     history=[(1, "'Search'", "search[shirt]")], step_count=1)
    assert p == ("T=buy a shirt.|1/1: [Observation 1: ''Search'', Action 1: 'search[shirt]']|2:'Search'.|"
                 "[\n'click[back to search]',\n'click[next >]',\n'click[b0demo0001]',\n]")
