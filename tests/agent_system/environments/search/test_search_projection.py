"""Model text -> search action under both rule sets (env.action_validity), and the prompt's layout."""
from __future__ import annotations

from agent_system.environments.prompts.base import build_prompt
from agent_system.environments.search.prompts import SEARCH_TEMPLATES, project_actions


def test_strict_valid_search_and_answer():
    outs = ["<think>need facts</think>\n<search>  capital of\nfrance </search>", "<answer>Paris</answer>",
            " <think>done</think><answer> Paris </answer> "]
    actions, valids = project_actions(outs, validity="strict")
    assert actions == ["<search>capital of france</search>", "<answer>Paris</answer>", "<answer>Paris</answer>"]
    assert valids == [True, True, True]


def test_strict_everything_else_is_invalid():
    outs = ["Paris", "<search></search>", "<think>x</think>", "<search>a</search><answer>b</answer>",
            "<answer>a</answer> because", "<search>q</search><search>r</search>", "<answer>巴黎</answer>",
            "preamble <search>q</search>", "<search>q</answer>", "", None]
    actions, valids = project_actions(outs, [None] * len(outs), validity="strict")
    assert valids == [False] * len(outs)
    assert actions[0] == "Paris" and all(isinstance(a, str) and len(a) <= 300 for a in actions)


# ---- the original SkillRL rule (the default): the first <search> block (else the first <answer>
# block) of the output cut after its first </search> (else </answer>); invalid without a block, with
# both a <search> and an <answer> tag, or with two of either. No <think>, no CJK check.


def test_original_rule_by_hand():
    cases = [
        # (output, expected action, valid)
        ("<think>need facts</think>\n<search>  capital of\nfrance </search>", "<search>capital of\nfrance</search>", True),
        ("<answer>Paris</answer>", "<answer>Paris</answer>", True),
        # valid under the original, invalid under strict
        ("<search></search>", "<search></search>", True),
        ("<answer>a</answer> because", "<answer>a</answer>", True),
        ("<answer>巴黎</answer>", "<answer>巴黎</answer>", True),
        ("preamble <search>q</search>", "<search>q</search>", True),
        ("<SEARCH>Capital</SEARCH>", "<search>Capital</search>", True),
        ("<think>a</think><think>b</think><search>q</search>", "<search>q</search>", True),
        # invalid under both: no block, both kinds, two of one kind
        ("Paris", "", False),
        ("<think>x</think>", "", False),
        ("<search>q</answer>", "", False),
        ("<search>a</search><answer>b</answer>", "<search>a</search>", False),
        ("<answer>b</answer> or <search>a</search>", "<search>a</search>", False),  # a search block wins
        ("<search>q</search><search>r</search>", "<search>q</search>", False),
        ("<answer>x</answer><answer>y</answer>", "<answer>x</answer>", False),
        ("", "", False),
        (None, "", False),
    ]
    actions, valids = project_actions([c[0] for c in cases])
    assert list(zip(actions, valids)) == [(c[1], c[2]) for c in cases]


def test_an_output_valid_only_under_strict():
    # A tag named inside the reasoning: strict judges the <think> block as text, the original counts
    # every <search>/<answer> tag of the output.
    out = "<think>no need to <search> again</think><answer>Paris</answer>"
    assert project_actions([out], validity="strict") == (["<answer>Paris</answer>"], [True])
    assert project_actions([out]) == (["<answer>Paris</answer>"], [False])


def test_prompt_pairs_each_turn_with_its_result_as_the_original():
    # The original's search history: "Step n:<action> <information>" (the result the action got).
    p = build_prompt(SEARCH_TEMPLATES, task="who wrote hamlet?", observation="Question: who wrote hamlet?",
                     skills_text="- rephrase")
    assert p.index("Question: who wrote hamlet?") < p.index("- rephrase") < p.index("<answer>")
    p2 = build_prompt(SEARCH_TEMPLATES, task="who wrote hamlet?", observation="<information>Doc 1</information>",
                      history=[(1, "<information>Doc 0</information>", "<search>hamlet</search>"),
                               (2, "<information>Doc 1</information>", "<search>hamlet author</search>")],
                      step_count=2)
    assert "Turn 1: <search>hamlet</search>\n<information>Doc 0</information>" in p2
    assert p2.index("Turn 1:") < p2.index("Turn 2: <search>hamlet author</search>\n<information>Doc 1")
    assert p2.count("Doc 1") == 1  # the latest result is the last history item, not repeated
