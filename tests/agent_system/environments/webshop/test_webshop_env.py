"""The WebShop environment on a small catalog: pages, actions, splits, the expert, errors."""
from __future__ import annotations

import json
import os

import pytest

from agent_system.environments.base import TaskSpec
from agent_system.environments.webshop.catalog import load_catalog
from agent_system.environments.webshop.env import Shop, WebShopEnv
from agent_system.environments.webshop.goals import build_goals


def _play_expert(family, env, task, max_steps=15):
    obs, info = env.reset(task)
    for _ in range(max_steps):
        action = family.expert_action(task, obs, info)
        assert action is not None, f"expert has no action on page {info['page']} for {task.task_id}"
        res = env.step(action)
        obs, info = res.observation, res.info
        assert not info["invalid_action"], (action, info.get("invalid_reason"))
        if res.done:
            return res
    raise AssertionError(f"expert did not finish {task.task_id}")


def test_expert_buys_the_goal_with_full_score_on_every_split(webshop_family):
    env = webshop_family.make_env()
    for split in ("train", "valid", "test"):
        tasks = webshop_family.tasks(split)
        assert tasks
        for task in tasks:
            res = _play_expert(webshop_family, env, task)
            assert res.reward == 10.0 and res.info["won"] and res.info["task_score"] == pytest.approx(1.0)
            assert res.info["purchased_asin"] == task.payload["asin"]


def test_default_split_is_skillrl_s_validation_0_500_training_500_end():
    from agent_system.environments.webshop.goals import split_range
    from agent_system.environments.webshop.config import WebshopConfig

    cfg = WebshopConfig()
    assert cfg.human_goals is False and cfg.reward_type == "success"
    n = 12087  # the synthetic goals of the 1000-product files: any size past 500 behaves alike
    assert split_range("valid", n, cfg.num_test_goals, cfg.num_valid_goals) == range(0, 500)
    assert split_range("valid_unseen", n, cfg.num_test_goals, cfg.num_valid_goals) == range(0, 500)
    assert split_range("test", n, cfg.num_test_goals, cfg.num_valid_goals) == range(0, 500)
    assert split_range("train", n, cfg.num_test_goals, cfg.num_valid_goals) == range(500, n)
    # WebShop's baselines' split on request
    assert split_range("valid", n, 500, 1000) == range(500, 1500)
    assert split_range("train", n, 500, 1000) == range(1500, n)


def test_splits_are_webshop_index_ranges_of_the_shuffled_goals(webshop_family, webshop_env_cfg):
    ids = {s: [t.task_id for t in webshop_family.tasks(s)] for s in ("test", "valid", "train")}
    n = len(webshop_family._goals)
    assert ids["test"] == [f"webshop/{i}" for i in range(3)]
    assert ids["valid"] == [f"webshop/{i}" for i in range(3, 6)]
    assert ids["train"] == [f"webshop/{i}" for i in range(6, n)]
    webshop_env_cfg.webshop.num_valid_goals = 0  # SkillRL's split: validation on the test goals
    assert [t.task_id for t in webshop_family.tasks("valid")] == ids["test"]
    assert [t.task_id for t in webshop_family.tasks("train")] == [f"webshop/{i}" for i in range(3, n)]
    webshop_env_cfg.webshop.num_valid_goals = 3
    assert [t.task_id for t in webshop_family.tasks("valid_seen")] == ids["valid"]
    with pytest.raises(ValueError, match="split 'dev'"):
        webshop_family.tasks("dev")
    webshop_env_cfg.webshop.num_valid_goals = n
    with pytest.raises(ValueError, match=f"split 'train' is empty.*num_valid_goals={n}"):
        webshop_family.tasks("train")
    # The order is WebShop's seeded shuffle: the same on every load, not the catalog order.
    instr = [t.payload["instruction_text"] for t in webshop_family.tasks("test")]
    catalog = load_catalog(webshop_env_cfg.webshop.data_path)
    again = build_goals(catalog.products, catalog.prices, human=False, seed=0)
    assert [g["instruction_text"] for g in again[:3]] == instr
    assert [g["asin"] for g in again] != [p["asin"] for p in catalog.products]


def test_task_types_and_payload_are_json(webshop_family):
    for task in webshop_family.tasks("train"):
        assert task.task_type in ("apparel", "footwear", "electronics", "accessories", "home_decor",
                                  "beauty_health", "other")
        json.dumps(task.payload)
        assert "price lower than" in task.payload["instruction_text"]


def test_pages_and_admissible_actions(webshop_family):
    env = webshop_family.make_env()
    task = webshop_family.tasks("train")[0]
    obs, info = env.reset(task)
    assert obs == "'Search'" and info["admissible_actions"] == ["search[<your query>]"]
    assert info["task_description"] == task.payload["instruction_text"]
    res = env.step("search[men's crew neck t-shirt]")
    assert res.info["page"] == "results" and "click[b0demo0001]" in res.info["admissible_actions"]
    assert "B0DEMO0001" in res.observation and "$15.99" in res.observation
    # each element quoted, as the original's manager rewrites WebShop's text observation
    assert res.observation.startswith("'Back to Search' [SEP] 'Page 1 (Total results: ")
    assert "[SEP] 'B0DEMO0001' [SEP] " in res.observation
    res = env.step("Click[B0DEMO0001]")  # case-insensitive
    acts = res.info["admissible_actions"]
    for a in ("click[black]", "click[large]", "click[description]", "click[features]", "click[reviews]",
              "click[buy now]", "click[< prev]", "click[back to search]"):
        assert a in acts
    env.step("click[large]")
    res = env.step("click[reviews]")
    assert res.info["page"] == "sub" and "Happy with this" in res.observation
    assert res.info["admissible_actions"] == ["click[back to search]", "click[< prev]"]
    res = env.step("click[< prev]")
    assert res.info["page"] == "item" and res.info["selected_options"] == {"size": "large"}
    assert "Selected: size: large" in res.observation
    res = env.step("click[< prev]")
    assert res.info["page"] == "results"
    res = env.step("click[back to search]")
    assert res.info["page"] == "search" and res.info["admissible_actions"] == ["search[<your query>]"]


def _widget_catalog(path, n=25):
    items = [{"asin": f"B0WIDG{i:04d}", "name": f"Blue widget model {i}", "pricing": f"${5 + i}.00",
              "full_description": "a blue widget", "small_description": ["blue widget"], "category": "tools",
              "query": "widgets", "product_category": "Tools › Widgets", "customization_options": {}}
             for i in range(n)]
    attrs = {it["asin"]: {"attributes": ["blue"]} for it in items}
    human = {items[0]["asin"]: [{"instruction": "i want a blue widget", "instruction_attributes": ["blue"],
                                 "instruction_options": []}]}
    for name, data in (("items_shuffle_1000.json", items), ("items_ins_v2_1000.json", attrs),
                       ("items_human_ins.json", human)):
        with open(os.path.join(path, name), "w") as f:
            json.dump(data, f)
    return str(path)


def test_results_are_paged_ten_at_a_time(tmp_path):
    env = WebShopEnv(Shop(load_catalog(_widget_catalog(tmp_path), human_goals=True)))
    goals = build_goals(env.shop.catalog.products, env.shop.catalog.prices, human=True, seed=0)
    env.reset(TaskSpec("webshop/0", "test", "other", dict(goals[0])))
    res = env.step("search[blue widget]")
    assert "Page 1 (Total results: 25)" in res.observation
    assert "click[next >]" in res.info["admissible_actions"] and "click[< prev]" not in res.info["admissible_actions"]
    assert sum(a.startswith("click[b0widg") for a in res.info["admissible_actions"]) == 10
    res = env.step("click[next >]")
    res = env.step("click[next >]")
    assert "Page 3 (Total results: 25)" in res.observation
    assert "click[next >]" not in res.info["admissible_actions"]
    assert sum(a.startswith("click[b0widg") for a in res.info["admissible_actions"]) == 5
    assert env.step("click[next >]").info["invalid_action"]
    assert "Page 2" in env.step("click[< prev]").observation


def test_malformed_and_inadmissible_actions_are_invalid_not_crashes(webshop_family):
    env = webshop_family.make_env()
    task = webshop_family.tasks("train")[0]
    env.reset(task)
    for bad in (None, "", "buy now", "click[]", "search[]", "search[ ]", "click[buy now]", "<action>x</action>",
                "jump[high]", "x" * 5000, "点击[购买]"):
        res = env.step(bad)
        assert res.info["invalid_action"] and not res.done and res.reward == 0.0
        assert res.info["page"] == "search" and res.info["invalid_reason"] and "error" not in res.info
    env.step("search[usb c cable]")
    res = env.step("click[b0nothere1]")
    assert res.info["invalid_action"] and res.info["page"] == "results"


def test_search_works_from_every_page_as_in_webshop(webshop_family):
    env = webshop_family.make_env()
    env.reset(webshop_family.tasks("train")[0])
    env.step("search[usb c cable]")
    res = env.step("search[men's crew neck t-shirt]")  # from a results page
    assert not res.info["invalid_action"] and res.info["page"] == "results"
    assert "click[b0demo0001]" in res.info["admissible_actions"]
    env.step("click[b0demo0001]")
    env.step("click[large]")
    res = env.step("click[description]")
    assert res.info["page"] == "sub"
    res = env.step("search[wireless bluetooth headphones]")  # from a product's sub page
    assert not res.info["invalid_action"] and res.info["page"] == "results"
    assert res.info["asin"] is None and res.info["selected_options"] == {}  # the open product is left
    assert "click[b0demo0005]" in res.info["admissible_actions"]
    # the admissible list still offers search only on the search page, as WebShop's does
    assert not any(a.startswith("search[") for a in res.info["admissible_actions"])


def test_wrong_purchase_and_reward_types(webshop_family, webshop_env_cfg):
    task = next(t for t in webshop_family.tasks("train") if t.payload["asin"] != "B0DEMO0006")
    for reward_type in ("success", "score"):
        webshop_env_cfg.webshop.reward_type = reward_type
        env = WebShopEnv(webshop_family.shop, reward_type=reward_type)
        env.reset(task)
        env.step("search[braided usb c charging cable]")
        env.step("click[b0demo0006]")
        res = env.step("click[buy now]")
        assert res.done and not res.info["won"] and 0.0 <= res.info["task_score"] < 1.0
        assert res.reward == (0.0 if reward_type == "success" else pytest.approx(res.info["task_score"]))
        after = env.step("click[buy now]")
        assert after.done and after.info["invalid_action"] and after.reward == 0.0
    with pytest.raises(ValueError, match="reward_type"):
        WebShopEnv(webshop_family.shop, reward_type="dense")


def test_missing_files_name_the_file_and_how_to_get_it(tmp_path, monkeypatch, webshop_env_cfg):
    from agent_system.environments.webshop.family import WebShopFamily

    with pytest.raises(FileNotFoundError, match="items_shuffle_1000.json.*setup"):
        load_catalog(str(tmp_path))
    monkeypatch.delenv("WEBSHOP_DATA", raising=False)
    webshop_env_cfg.webshop.data_path = None
    with pytest.raises(FileNotFoundError, match="WEBSHOP_DATA"):
        WebShopFamily(webshop_env_cfg).tasks("train")
    (tmp_path / "items_shuffle_1000.json").write_text("{not json")
    (tmp_path / "items_ins_v2_1000.json").write_text("{}")
    (tmp_path / "items_human_ins.json").write_text("{}")
    with pytest.raises(ValueError, match="items_shuffle_1000.json: not valid JSON"):
        load_catalog(str(tmp_path))
    (tmp_path / "items_shuffle_1000.json").write_text(json.dumps([{"name": "no asin"}]))
    with pytest.raises(ValueError, match=r"\[0\]: product is missing 'asin'"):
        load_catalog(str(tmp_path))


def test_family_pickles_without_its_catalog(webshop_family):
    import pickle

    webshop_family.tasks("train")
    clone = pickle.loads(pickle.dumps(webshop_family))
    assert clone._shop is None
    assert clone.make_env().reset(webshop_family.tasks("train")[0])[0] == "'Search'"
