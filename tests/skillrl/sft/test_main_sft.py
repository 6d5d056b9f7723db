"""A 2-step cold-start SFT run on CPU with the tiny model, and the checkpoint RL starts from."""
from __future__ import annotations

import json
import math

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from skillrl.config import load_config


def _sft_cfg(tmp_path, demos_file, tiny_model_dir, small_env_overrides, *extra):
    tmp_path.mkdir(parents=True, exist_ok=True)
    val = tmp_path / "val.jsonl"  # two demonstrations keep the per-step validation cheap
    if not val.exists() and demos_file.endswith("demos.jsonl"):
        val.write_text("".join(open(demos_file).readlines()[:2]))
    return load_config("sft_trainer", [
        *small_env_overrides, f"sft.train_file={demos_file}", f"sft.val_file={val}", "sft.test_freq=1",
        "sft.total_training_steps=2", "sft.train_batch_size=4", "sft.micro_batch_size_per_gpu=2",
        "sft.lr=1e-3", "sft.warmup_style=constant", f"sft.output_dir={tmp_path / 'sft'}",
        f"actor_rollout_ref.model.path={tiny_model_dir}", "actor_rollout_ref.model.use_remove_padding=false",
        "trainer.device=cpu", "data.max_prompt_length=512", "sft.in_process=true", *extra])  # later keys win


def test_two_step_sft_writes_a_checkpoint_rl_starts_from(tmp_path, demos_file, tiny_model_dir, small_env_overrides):
    from skillrl.main_sft import run_sft
    from skillrl.utils.tiny_model import resolve_model_path
    from skillrl.workers.rollout.base import SamplingParams, make_engine

    cfg = _sft_cfg(tmp_path, demos_file, tiny_model_dir, small_env_overrides)
    summary = run_sft(cfg)
    hf = summary["hf_model"]
    assert hf == str(tmp_path / "sft" / "huggingface") and summary["steps"] == 2

    lines = [json.loads(x) for x in open(tmp_path / "sft" / "metrics.jsonl")]
    assert [x["step"] for x in lines] == [1, 2]
    assert all(math.isfinite(x["sft/loss"]) and x["sft/tokens"] > 0 for x in lines)
    # Evaluated after each update on the same demonstrations: two Adam steps at 1e-3 lower it.
    assert lines[1]["val/loss"] < lines[0]["val/loss"]

    # A normal transformers directory with changed weights and the chat template.
    before = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    after = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32)
    diff = sum(float((a - b).abs().sum()) for a, b in zip(after.state_dict().values(), before.state_dict().values()))
    assert diff > 0
    tok = AutoTokenizer.from_pretrained(hf)
    assert tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)

    # main_ppo accepts it as its model, and the rollout engine generates from it.
    ppo = load_config("ppo_trainer", [f"actor_rollout_ref.model.path={hf}"])
    assert resolve_model_path(ppo.actor_rollout_ref.model.path) == hf
    engine = make_engine(ppo.actor_rollout_ref.rollout.__class__(name="hf"), hf, "cpu")
    out = engine.generate([tok("hello", add_special_tokens=False)["input_ids"]],
                          SamplingParams(max_tokens=4, do_sample=False))
    assert 1 <= len(out[0].token_ids) <= 4


def test_bad_inputs_name_the_key(tmp_path, demos_file, tiny_model_dir, small_env_overrides):
    from skillrl.sft.trainer import SFTTrainer

    with pytest.raises(ValueError, match="sft.train_file is empty"):
        SFTTrainer(load_config("sft_trainer", [f"actor_rollout_ref.model.path={tiny_model_dir}"]))
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        SFTTrainer(_sft_cfg(tmp_path, str(tmp_path / "nope.jsonl"), tiny_model_dir, small_env_overrides,
                            "sft.val_file=null")).fit()
    failed_only = tmp_path / "failed.jsonl"
    failed_only.write_text("".join(line.replace('"won": true', '"won": false') for line in open(demos_file)))
    with pytest.raises(ValueError, match="no usable SFT example"):
        SFTTrainer(_sft_cfg(tmp_path, str(failed_only), tiny_model_dir, small_env_overrides,
                            "sft.val_file=null")).fit()
    with pytest.raises(ValueError, match="sft.prompt_source='guess'"):
        load_config("sft_trainer", ["sft.prompt_source=guess"])


@pytest.mark.slow
def test_two_ray_ranks_take_the_same_step_as_one_rank(tmp_path, demos_file, tiny_model_dir, small_env_overrides,
                                                      ray_local):
    """FSDP over 2 CPU ranks (Ray actors, gloo) = 1 rank: the loss is the global token mean."""
    from skillrl.sft.trainer import SFTTrainer

    runs = {}
    # the third run turns the shared prompt prefix (instructions and skills, run once) off
    for key, world, in_process, share in ((1, 1, "true", "true"), (2, 2, "false", "true"), ("unshared", 1, "true", "false")):
        cfg = _sft_cfg(tmp_path / f"w{key}", demos_file, tiny_model_dir, small_env_overrides,
                       "sft.total_training_steps=1", "sft.val_file=null", "sft.train_batch_size=6",
                       f"sft.in_process={in_process}", f"trainer.n_gpus_per_node={world}",
                       f"actor_rollout_ref.model.share_prompt_prefix={share}",
                       "data.max_prompt_length=2048")  # untruncated: every prompt starts with the skills
        runs[key] = SFTTrainer(cfg).fit()["final"]
    assert runs[2]["sft/tokens"] == runs[1]["sft/tokens"] == runs["unshared"]["sft/tokens"] > 0
    assert runs[1]["sft/prefix_tokens_shared"] > 0 and runs["unshared"]["sft/prefix_tokens_shared"] == 0
    for other in (2, "unshared"):
        assert runs[other]["sft/loss"] == pytest.approx(runs[1]["sft/loss"], rel=1e-5)
        # A wrong per-rank scale would change the gradient (and its norm) by the world size.
        assert runs[other]["sft/grad_norm"] == pytest.approx(runs[1]["sft/grad_norm"], rel=1e-4)
