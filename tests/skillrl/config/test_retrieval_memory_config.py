"""``env.use_retrieval_memory`` and ``env.retrieval_memory.*``: the original recipes' keys, checked
only when the memory is on, with errors that name the key and the file."""
import re

import pytest

from skillrl.config import load_config

RECIPE_FLAGS = ["+env.retrieval_memory.json_path=/home/someone/verl-agent/memory_data/alfworld/x.json",
                "+env.retrieval_memory.embedding_model=Qwen/Qwen3-Embedding-0.6B", "+env.retrieval_memory.device=cuda",
                "+env.retrieval_memory.top_k=10", "+env.retrieval_memory.similarity_threshold=0.7",
                "+env.retrieval_memory.max_tokens=2000", "+env.retrieval_memory.save_dir=/home/someone/new_memories"]


def test_the_recipe_flags_compose_while_the_memory_is_off():
    cfg = load_config("ppo_trainer", ["+env.use_retrieval_memory=False", *RECIPE_FLAGS])
    r = cfg.env.retrieval_memory
    assert cfg.env.use_retrieval_memory is False
    assert (r.embedding_model, r.top_k, r.similarity_threshold, r.max_tokens, r.device) == \
        ("Qwen/Qwen3-Embedding-0.6B", 10, 0.7, 2000, "cuda")


def test_on_with_a_readable_file(tmp_path):
    path = tmp_path / "m.json"
    path.write_text("[]")
    cfg = load_config("ppo_trainer", ["+env.use_retrieval_memory=True", f"+env.retrieval_memory.json_path={path}"])
    assert cfg.env.use_retrieval_memory and cfg.env.retrieval_memory.json_path == str(path)


@pytest.mark.parametrize("overrides, message", [
    ([], "env.use_retrieval_memory=true needs env.retrieval_memory.json_path"),
    (["env.retrieval_memory.json_path=/nowhere/mem.json"], "env.retrieval_memory.json_path='/nowhere/mem.json' is not a readable file"),
    (["env.retrieval_memory.top_k=0"], "env.retrieval_memory.top_k=0 must be > 0"),
    (["env.retrieval_memory.max_tokens=-1"], "env.retrieval_memory.max_tokens=-1 must be > 0"),
    (["env.retrieval_memory.similarity_threshold=1.5"], "env.retrieval_memory.similarity_threshold=1.5"),
    (["env.retrieval_memory.device=tpu"], "env.retrieval_memory.device='tpu'"),
])
def test_bad_values_name_the_key(tmp_path, overrides, message):
    path = tmp_path / "m.json"
    path.write_text("[]")
    base = [] if not overrides or "json_path" in overrides[0] else [f"env.retrieval_memory.json_path={path}"]
    with pytest.raises(ValueError, match=re.escape(message)):
        load_config("ppo_trainer", ["env.use_retrieval_memory=true", *base, *overrides])
