"""The raw-trajectory memory (env.use_retrieval_memory): ranking with the offline MiniLM, the token
budget counted by hand, the prompt it fills, and bad memory files."""
import json
import os

import numpy as np
import pytest

from agent_system.environments.base import make_env_family
from agent_system.environments.env_manager import EnvironmentManager
from agent_system.environments.env_pool import LocalEnvPool
from agent_system.memory import RawTrajectoryMemory
from agent_system.memory.trajectory_memory import HEADERS, NOTHING, load_memories
from skillrl.config import load_config
from skillrl.skills.retrieval import (EmbeddingIndex, default_embedding_model_path, load_sentence_encoder,
                                      resolve_embedding_model)


@pytest.fixture(scope="module")
def minilm():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    return load_sentence_encoder(default_embedding_model_path())


def _success(mid, goal, steps=(), pattern=None):
    return {"memory_id": mid, "tags": {"outcome": "Success"},
            "content": {"task_meta": {"original_goal": goal},
                        "refined_trajectory": {"refined_trajectory": [
                            {"action": a, "critical_observation": o} for a, o in steps]},
                        "strategic_guidelines": {"planning_pattern": pattern, "mistakes_to_avoid": []}}}


def _failure(mid, goal, mistakes):
    return {"memory_id": mid, "tags": {"outcome": "Failure"},
            "content": {"task_meta": {"original_goal": goal}, "refined_trajectory": None,
                        "strategic_guidelines": {"planning_pattern": None, "mistakes_to_avoid": mistakes}}}


def _words(text):
    return len(text.split())


GOALS = ["put a clean mug in coffeemachine.", "put some mug in coffeemachine.", "heat some egg and put it in garbagecan.",
         "look at the book under the desklamp.", "put two pillow in sofa."]


def test_ranks_by_goal_similarity_and_keeps_those_above_the_threshold(minilm):
    memories = [_success(f"s{i}", g, [("go to cabinet 1", "")]) for i, g in enumerate(GOALS)]
    memories += [_failure(f"f{i}", g, ["gave up"]) for i, g in enumerate(GOALS)]
    query = "put a clean mug in the coffeemachine."
    vecs = minilm.encode(GOALS + [query], normalize_embeddings=True)
    sims = vecs[:-1] @ vecs[-1]
    threshold = float(np.sort(sims)[-3]) - 1e-4  # the three most similar goals pass
    mem = RawTrajectoryMemory(memories, top_k=4, similarity_threshold=threshold, index=EmbeddingIndex(encoder=minilm))
    successes, failures = mem.rank(query)
    expected = [GOALS[i] for i in np.argsort(-sims)[:3]]
    assert [m["content"]["task_meta"]["original_goal"] for m, _ in successes] == expected
    assert expected[0] == GOALS[0]
    assert [s for _, s in successes] == pytest.approx(sorted(sims, reverse=True)[:3], abs=1e-5)
    # failures: min(top_k // 2, 5) = 2 best, same threshold
    assert [m["memory_id"] for m, _ in failures] == [f"f{GOALS.index(g)}" for g in expected[:2]]
    assert len(mem.rank(query, top_k=1)[0]) == 1 and mem.rank(query, top_k=1)[1] == []
    far = RawTrajectoryMemory(memories, top_k=4, similarity_threshold=0.99, index=mem.index)
    assert far.format_for_prompt(far.retrieve(query)) == NOTHING


def test_budget_cut_counted_by_hand(minilm):
    # Four solved episodes of the query's own goal (similarity 1.00): each entry is
    # "- Task: put a mug in cabinet. (similarity 1.00)" (9 words) + "  Action: go to cabinet 1" (5)
    # + "  Observed: You see a mug." (5) = 19 words; the header "Similar solved tasks:" is 3.
    goal = "put a mug in cabinet."
    memories = [_success(f"m{i}", goal, [("go to cabinet 1", "You see a mug.")]) for i in range(4)]
    index = EmbeddingIndex(encoder=minilm)

    def kept(max_tokens):
        mem = RawTrajectoryMemory(memories, top_k=10, similarity_threshold=0.5, max_tokens=max_tokens,
                                  index=index, count_tokens=_words)
        return mem, mem.retrieve(goal)

    mem, out = kept(100)  # examples get 100 - int(25.0) - int(15.0) = 60 = 3 + 3 * 19
    assert mem.budgets() == {"patterns": 25, "examples": 60, "mistakes": 15}
    assert [e["memory_id"] for e in out.task_specific_examples] == ["m0", "m1", "m2"]
    assert [e["tokens"] for e in out.task_specific_examples] == [19, 19, 19]
    assert out.task_specific_examples[0]["text"] == ("- Task: put a mug in cabinet. (similarity 1.00)\n"
                                                     "  Action: go to cabinet 1\n  Observed: You see a mug.")
    _, out = kept(90)  # 90 - 22 - 13 = 55 < 60: two fit
    assert len(out.task_specific_examples) == 2
    _, out = kept(30)  # 30 - 7 - 4 = 19 < 3 + 19: none, and no header
    assert out.task_specific_examples == []


def test_sections_layout_and_step_limit(minilm):
    steps = [(f"go to shelf {i}", f"shelf {i} is empty") for i in range(1, 8)]
    memories = [_success("s", "put a mug in shelf.", steps, pattern="Search -> Take -> Place"),
                _failure("f", "put a mug in shelf.",
                         [{"trigger_condition": "the mug is held", "bad_action": "go back to the sink"}, "looped"])]
    mem = RawTrajectoryMemory(memories, top_k=2, similarity_threshold=0.5, index=EmbeddingIndex(encoder=minilm))
    text = mem.format_for_prompt(mem.retrieve("put a mug in shelf."))
    patterns, examples, mistakes = text.split("\n\n")
    assert patterns == HEADERS["patterns"] + "\n- Search -> Take -> Place (as in: put a mug in shelf.)"
    lines = examples.splitlines()
    assert lines[0] == HEADERS["examples"] and lines[1].startswith("- Task: put a mug in shelf. (similarity 1.00)")
    assert lines[2:4] == ["  Action: go to shelf 1", "  Observed: shelf 1 is empty"]
    assert "go to shelf 5" in examples and "go to shelf 6" not in examples and lines[-1] == "  (2 more steps)"
    assert mistakes.splitlines() == [HEADERS["mistakes"], "- Situation: the mug is held Mistake: go back to the sink",
                                     "- looped"]


def test_fills_the_prompt_where_the_skills_go(minilm, tmp_path):
    cfg = load_config("ppo_trainer", ["env.max_steps=3", "env.use_retrieval_memory=true",
                                      f"env.retrieval_memory.json_path={_write(tmp_path, [])}"])
    family = make_env_family(cfg.env)
    tasks = family.tasks("train")[:2]
    pool = LocalEnvPool(family, 2, cfg.env)
    probe = EnvironmentManager(cfg.env, family, pool, None)
    obs = probe.reset(tasks)
    goals = [o.task for o in obs]
    memories = [_success(f"s{i}", g, [("look", "You see a room.")]) for i, g in enumerate(goals)]
    mem = RawTrajectoryMemory(memories, top_k=cfg.env.retrieval_memory.top_k, similarity_threshold=0.99,
                              index=EmbeddingIndex(encoder=minilm))
    manager = EnvironmentManager(cfg.env, family, pool, mem)
    assert manager.top_k == 10  # env.retrieval_memory.top_k, not the skill bank's
    for ob, goal in zip(manager.reset(tasks), goals):
        block = mem.format_for_prompt(mem.retrieve(goal))
        assert ob.skills_text == block and f"- Task: {goal} (similarity 1.00)" in block
        assert "## Skills from similar tasks\n\n" + block + "\n\n" in ob.prompt
        assert ob.prompt.index(block) < ob.prompt.index("The actions you may take now")
    later = manager.step(["<think>x</think><action>look</action>"] * 2)[0]
    assert all(o is None or o.skills_text in o.prompt for o in later)
    manager.close()


def _write(tmp_path, data, name="memories.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_bad_memory_files_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="env.retrieval_memory.json_path.*nowhere.json"):
        load_memories(str(tmp_path / "nowhere.json"))
    with pytest.raises(ValueError, match="not valid JSON"):
        load_memories(_write(tmp_path, "{oops"))
    with pytest.raises(ValueError, match="expected a JSON list"):
        load_memories(_write(tmp_path, {"general_skills": []}))
    with pytest.raises(ValueError, match=r"memory 1 needs tags.outcome .*content.task_meta.original_goal"):
        load_memories(_write(tmp_path, [_success("a", "x"), {"tags": {"outcome": "Success"}}]))


def test_the_shared_alfworld_memories_load(skillrl_reference):
    memories = load_memories(str(skillrl_reference / "generated_memories_alfworld_total.json"))
    mem = RawTrajectoryMemory(memories, index=EmbeddingIndex(encoder=object()))
    assert len(mem.success) == 113 and len(mem.failure) == 110 and len(mem) == 223


def test_a_hub_name_not_on_this_machine_falls_back_to_the_offline_model(tmp_path, caplog):
    assert resolve_embedding_model(str(tmp_path), "k") == str(tmp_path)
    assert resolve_embedding_model(None, "k") == default_embedding_model_path()
    with caplog.at_level("WARNING", logger="skillrl.skills"):
        path = resolve_embedding_model("no-such-org/no-such-embedder", "env.retrieval_memory.embedding_model")
    assert path == default_embedding_model_path()
    assert "env.retrieval_memory.embedding_model='no-such-org/no-such-embedder'" in caplog.text


def test_pickles_for_ray_workers(minilm, tiny_model_dir):
    import pickle

    from transformers import AutoTokenizer

    from agent_system.memory.trajectory_memory import TokenizerCounter

    memories = [_success("a", "put a mug in shelf.", [("go to shelf 1", "a mug")]), _failure("b", "put a mug in shelf.", ["x"])]
    mem = RawTrajectoryMemory(memories, top_k=2, similarity_threshold=0.5, index=EmbeddingIndex(encoder=minilm),
                              count_tokens=TokenizerCounter(AutoTokenizer.from_pretrained(tiny_model_dir)))
    before = mem.format_for_prompt(mem.retrieve("put a mug in shelf."))
    clone = pickle.loads(pickle.dumps(mem))  # the loaded model stays behind and is reloaded there
    assert clone.format_for_prompt(clone.retrieve("put a mug in shelf.")) == before
