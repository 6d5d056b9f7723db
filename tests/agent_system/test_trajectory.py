"""Admissibility as the action-rate metrics and env.inadmissible_is_invalid see it."""
from agent_system.trajectory import Step, Trajectory, action_rates, is_admissible, note_rejection

SEARCH_PAGE = ["search[<your query>]"]
RESULTS_PAGE = ["click[back to search]", "click[next >]", "click[B07XYZ]"]


def test_an_entry_is_admissible_case_aside():
    assert is_admissible("go to shelf 1", ["go to shelf 1", "look"])
    assert is_admissible("click[b07xyz]", RESULTS_PAGE)  # projections lower-case the action
    assert not is_admissible("go to shelf 2", ["go to shelf 1", "look"])
    assert not is_admissible("click[b07abc]", RESULTS_PAGE)


def test_a_template_entry_admits_any_filled_argument_of_its_verb():
    assert is_admissible("search[red running shoes under 50 dollars]", SEARCH_PAGE)
    assert not is_admissible("search[]", SEARCH_PAGE)  # nothing filled in
    assert not is_admissible("click[red shoes]", SEARCH_PAGE)  # another verb
    assert not is_admissible("search[shoes]", RESULTS_PAGE)  # no template on that page
    assert not is_admissible("search shoes", SEARCH_PAGE)


def _step(action, admissible, valid=True):
    return Step(observation="", admissible_actions=admissible, model_output="", action=action, reward=0.0, valid=valid)


def test_webshop_searches_are_not_counted_inadmissible_and_end_a_retry_run():
    t = Trajectory(task="buy shoes", task_type="webshop", task_id="0", steps=[
        _step("search[shoes]", SEARCH_PAGE),
        _step("click[b07abc]", RESULTS_PAGE),  # not on the page
        _step("click[b07abc]", RESULTS_PAGE),  # the same refused action again: a retry
        _step("click[b07xyz]", RESULTS_PAGE),
    ])
    rates = action_rates([t])
    assert rates["inadmissible_action_rate"] == 2 / 4
    assert rates["retry_rate"] == 1 / 4
    rejected = {"click[b07abc]"}
    note_rejection(rejected, "search[socks]", SEARCH_PAGE)
    assert rejected == set()
