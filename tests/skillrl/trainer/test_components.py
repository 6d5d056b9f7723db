"""Which memory the trainer, main_eval and collect build, and what the raw-trajectory memory counts with."""
import json

from agent_system.environments.base import make_env_family
from agent_system.memory import RawTrajectoryMemory, SkillsOnlyMemory
from skillrl.config import load_config
from skillrl.trainer.components import build_memories, build_memory, memory_tokenizer, skill_memory


def test_raw_memory_replaces_the_bank_and_counts_with_the_model_tokenizer(tmp_path, tiny_model_dir):
    path = tmp_path / "m.json"
    path.write_text(json.dumps([{"tags": {"outcome": "Success"}, "content": {"task_meta": {"original_goal": "x"}}}]))
    cfg = load_config("eval", ["eval.policy=model", f"actor_rollout_ref.model.path={tiny_model_dir}",
                               "env.use_retrieval_memory=true", f"env.retrieval_memory.json_path={path}",
                               f"env.retrieval_memory.save_dir={tmp_path / 'new'}"])
    family = make_env_family(cfg.env)
    tok = memory_tokenizer(cfg)
    train, val = build_memories(cfg.env, family, tok)
    assert isinstance(train, RawTrajectoryMemory) and val is train and skill_memory(train) is None
    text = "put a clean mug in the coffeemachine"
    assert train.count_tokens(text) == len(tok.encode(text, add_special_tokens=False)) != len(text) // 4
    assert (tmp_path / "new").is_dir() and not any((tmp_path / "new").iterdir())

    off = load_config("eval", ["eval.policy=model", f"actor_rollout_ref.model.path={tiny_model_dir}"])
    assert memory_tokenizer(off) is None
    bank = build_memory(off.env, family)
    assert isinstance(bank, SkillsOnlyMemory) and skill_memory(bank) is bank
