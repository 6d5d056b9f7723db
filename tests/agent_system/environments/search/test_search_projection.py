"""Model text -> search action: <search>/<answer> after optional <think>, anything else invalid."""
from __future__ import annotations

from agent_system.environments.prompts.base import build_prompt
from agent_system.environments.search.prompts import SEARCH_TEMPLATES, project_actions


def test_valid_search_and_answer():
    outs = ["<think>need facts</think>\n<search>  capital of\nfrance </search>", "<answer>Paris</answer>",
            " <think>done</think><answer> Paris </answer> "]
    actions, valids = project_actions(outs)
    assert actions == ["<search>capital of france</search>", "<answer>Paris</answer>", "<answer>Paris</answer>"]
    assert valids == [True, True, True]


def test_everything_else_is_invalid():
    outs = ["Paris", "<search></search>", "<think>x</think>", "<search>a</search><answer>b</answer>",
            "<answer>a</answer> because", "<search>q</search><search>r</search>", "<answer>巴黎</answer>",
            "preamble <search>q</search>", "<search>q</answer>", "", None]
    actions, valids = project_actions(outs, [None] * len(outs))
    assert valids == [False] * len(outs)
    assert actions[0] == "Paris" and all(isinstance(a, str) and len(a) <= 300 for a in actions)


def test_prompt_carries_question_history_and_latest_result():
    p = build_prompt(SEARCH_TEMPLATES, task="who wrote hamlet?", observation="Question: who wrote hamlet?")
    assert "Question: who wrote hamlet?" in p and "<search>" in p and "<answer>" in p
    p2 = build_prompt(SEARCH_TEMPLATES, task="who wrote hamlet?", observation="<information>Doc 1 ...</information>",
                      history=[(1, "Question: who wrote hamlet?", "<search>hamlet author</search>")], step_count=1)
    assert "You wrote: <search>hamlet author</search>" in p2 and "Latest result: <information>Doc 1" in p2
