"""Prompt encoding and step-sample packing of the rollout loop (tiny model's real tokenizer)."""
import pytest
import torch

from agent_system.multi_turn_rollout.rollout_loop import PromptEncoder, pack_step_samples


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_chat_template_and_truncation(tokenizer):
    long_prompt = "go to the countertop 1 and take the apple 2 " * 40
    full = PromptEncoder(tokenizer, 10_000).encode(["hi", long_prompt])
    assert tokenizer.decode(full[0]).startswith("<|im_start|>user\nhi")
    assert tokenizer.decode(full[1]).endswith("<|im_start|>assistant\n")
    left = PromptEncoder(tokenizer, 32, "left").encode([long_prompt])[0]
    right = PromptEncoder(tokenizer, 32, "right").encode([long_prompt])[0]
    assert left == full[1][-32:] and right == full[1][:32]
    with pytest.raises(ValueError, match="data.max_prompt_length=32"):
        PromptEncoder(tokenizer, 32, "error").encode([long_prompt])
    with pytest.raises(ValueError, match="data.truncation"):
        PromptEncoder(tokenizer, 32, "middle")


def test_count_tokens_is_cached(tokenizer):
    enc = PromptEncoder(tokenizer, 100)
    n = enc.count_tokens("Check receptacles systematically")
    assert n > 0 and enc.count_tokens("Check receptacles systematically") == n
    assert enc.count_tokens(None) == 0 and enc.count_tokens("") == 0


def test_pack_step_samples():
    t = pack_step_samples([[5, 6, 7], [8]], [[1], [2, 3]], pad_id=0)
    assert t["prompts"].tolist() == [[5, 6, 7], [0, 0, 8]]
    assert t["responses"].tolist() == [[1, 0], [2, 3]]
    assert t["response_mask"].tolist() == [[1, 0], [1, 1]]
    assert t["input_ids"].tolist() == [[5, 6, 7, 1, 0], [0, 0, 8, 2, 3]]
    assert t["attention_mask"].tolist() == [[1, 1, 1, 1, 0], [0, 0, 1, 1, 1]]
    assert t["position_ids"].tolist() == [[0, 1, 2, 3, 3], [0, 0, 0, 1, 2]]
    assert all(v.dtype == torch.long for v in t.values())
