"""One training step (``main_ppo.run_ppo`` on the session's Ray) of the household environment with
the raw-trajectory memory of the original recipes (``+env.use_retrieval_memory=True``) on CPU: the
validation prompts hold exactly the block the memory renders with the run's tokenizer."""
from __future__ import annotations

import json
import logging

import pytest

from skillrl.config import load_config, normalize_overrides
from tests.skillrl.trainer.test_algorithm_runs import TINY_RUN

pytestmark = pytest.mark.slow


def test_one_step_with_raw_trajectory_memory(tmp_path, skillrl_reference, tiny_model_dir, ray_local, caplog):
    from transformers import AutoTokenizer

    from agent_system.memory import RawTrajectoryMemory
    from skillrl.config.schema import RetrievalMemoryConfig
    from skillrl.utils.tiny_model import resolve_model_path

    run_dir, save_dir = tmp_path / "run", tmp_path / "new_memories"
    memories = str(skillrl_reference / "generated_memories_alfworld_total.json")
    flags = ["+env.use_retrieval_memory=True", f"+env.retrieval_memory.json_path={memories}",
             "+env.retrieval_memory.embedding_model=Qwen/Qwen3-Embedding-0.6B", "+env.retrieval_memory.device=cuda",
             "+env.retrieval_memory.top_k=10", "+env.retrieval_memory.similarity_threshold=0.3",
             "+env.retrieval_memory.max_tokens=2000", f"+env.retrieval_memory.save_dir={save_dir}"]
    from skillrl.main_ppo import run_ppo

    caplog.set_level(logging.INFO, logger="skillrl")
    run_ppo(load_config("ppo_trainer", normalize_overrides([
        *TINY_RUN, *flags, f"actor_rollout_ref.model.path={tiny_model_dir}", "trainer.total_training_steps=1",
        "trainer.val_before_train=True", "trainer.log_val_generations=1", f"trainer.default_local_dir={run_dir}"])))
    assert "113 successful, 110 failed episodes" in caplog.text and "using the offline MiniLM" in caplog.text

    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    step = [r for r in rows if "timing/step" in r]
    assert len(step) == 1 and step[0]["skills/bank_size"] == 0.0 and step[0]["skills/prompt_tokens_mean"] > 0
    assert save_dir.is_dir() and not any(save_dir.iterdir())  # the original writes nothing there either

    episode = json.loads((run_dir / "val_generations" / "step_0.jsonl").read_text().splitlines()[0])
    cfg = RetrievalMemoryConfig(json_path=memories, similarity_threshold=0.3, device="cpu")
    memory = RawTrajectoryMemory.from_config(cfg, tokenizer=AutoTokenizer.from_pretrained(resolve_model_path("builtin:tiny")))
    assert episode["meta"]["skills_text"] == memory.format_for_prompt(memory.retrieve(episode["task"]))
    # ALFWorld's episodes for a household task (the offline MiniLM scores their goals below the recipe's 0.7)
    assert "Similar solved tasks:\n- Task: " in episode["meta"]["skills_text"]
