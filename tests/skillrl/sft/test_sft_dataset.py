"""SFT examples: RL-identical prompt tokens, and loss on the assistant's tokens only."""
from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from agent_system.multi_turn_rollout.rollout_loop import PromptEncoder
from agent_system.trajectory import Step, read_jsonl
from skillrl.sft.dataset import (IGNORE_INDEX, build_examples, collate, demonstration_target, labels_from_batch,
                                 select_trajectories)


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def _examples(tok, demos_file, max_length=4096, max_prompt=4096):
    trajs = select_trajectories(read_jsonl(demos_file), only_successful=True)
    return trajs, *build_examples(trajs, PromptEncoder(tok, max_prompt, "left"), max_length)


def _assistant_span(ids, tok):
    """Token positions of the last assistant message's content + end-of-turn, per the chat template."""
    header = tok("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
    starts = [i for i in range(len(ids) - len(header) + 1) if ids[i:i + len(header)] == header]
    begin = starts[-1] + len(header)
    end = ids.index(tok.eos_token_id, begin) + 1
    return begin, end


def test_labels_are_exactly_the_chat_templates_assistant_span(tok, demos_file):
    trajs, examples, stats = _examples(tok, demos_file)
    steps = [s for t in trajs for s in t.steps]
    assert stats.examples == len(examples) == len(steps) > 0 and stats.skipped_too_long == 0
    for ex, step in zip(examples, steps):
        target = demonstration_target(step)
        chat = [{"role": "user", "content": step.prompt}, {"role": "assistant", "content": target}]
        full = tok(tok.apply_chat_template(chat, tokenize=False), add_special_tokens=False)["input_ids"]
        ids = ex.prompt_ids + ex.response_ids
        begin, end = _assistant_span(full, tok)
        labelled = [i for i, lab in enumerate(ex.labels) if lab != IGNORE_INDEX]
        assert full[:end] == ids  # same tokens as the template renders the whole conversation
        assert labelled == list(range(begin, end)) and [ex.labels[i] for i in labelled] == full[begin:end]
        assert tok.decode(full[begin:end]) == target + "<|im_end|>"
        # The prompt tokens are the rollout's: PromptEncoder with add_generation_prompt.
        assert ex.prompt_ids == PromptEncoder(tok, 4096).encode([step.prompt])[0]


def test_collated_batch_marks_only_response_tokens(tok, demos_file):
    _, examples, _ = _examples(tok, demos_file)
    batch = collate(examples[:5], tok.pad_token_id)
    labels = labels_from_batch(batch)
    for row, ex in enumerate(examples[:5]):
        got = [int(x) for x in labels[row] if x != IGNORE_INDEX]
        assert got == ex.response_ids
    assert int((labels != IGNORE_INDEX).sum()) == int(batch["response_mask"].sum())


def test_target_uses_the_executed_action_and_strips_stray_tags():
    s = Step(observation="o", admissible_actions=[], model_output="<think>go <action>x</action> now</think>\n"
             "<action>put apple 1 in fridge 1</action>", action="move apple 1 to fridge 1", reward=0.0)
    assert demonstration_target(s) == "<think>go x now</think><action>move apple 1 to fridge 1</action>"
    s.model_output = "Think: no tags"
    assert demonstration_target(s) == "<think></think><action>move apple 1 to fridge 1</action>"


def test_length_limits_follow_rl_truncation(tok, demos_file):
    _, full, _ = _examples(tok, demos_file)
    _, cut, stats = _examples(tok, demos_file, max_prompt=64)
    assert all(len(e.prompt_ids) == 64 for e in cut) and stats.examples == len(full)
    assert [e.prompt_ids[-10:] for e in cut] == [e.prompt_ids[-10:] for e in full]  # cut on the left
    _, none, stats = _examples(tok, demos_file, max_length=10)
    assert none == [] and stats.skipped_too_long == len(full)


@pytest.mark.parametrize("remove_padding, bf16", [(True, False), (False, False), (False, True)])
def test_worker_loss_is_the_nll_of_labelled_tokens(tok, demos_file, tiny_model_dir, remove_padding, bf16):
    """The FSDP worker's loss equals a plain transformers cross-entropy over the labels above."""
    from skillrl.config import load_config
    from skillrl.sft.worker import SFTWorker

    _, examples, _ = _examples(tok, demos_file)
    batch = collate(examples[:3], tok.pad_token_id)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    ref_sum, ref_tokens = 0.0, 0
    for ex in examples[:3]:
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ex.prompt_ids + ex.response_ids])).logits[0, :-1]
        labels = torch.tensor(ex.labels[1:])
        ref_sum += float(torch.nn.functional.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX,
                                                           reduction="sum"))
        ref_tokens += int((labels != IGNORE_INDEX).sum())
    cfg = load_config("sft_trainer", [f"actor_rollout_ref.model.use_remove_padding={remove_padding}",
                                      "sft.micro_batch_size_per_gpu=2", f"sft.cpu_bf16_autocast={bf16}"])
    worker = SFTWorker(cfg.actor_rollout_ref, cfg.sft, 1, "cpu", tiny_model_dir)
    try:
        got = worker.eval_nll(batch)
    finally:
        worker.shutdown()
    assert got["tokens"] == ref_tokens
    assert got["nll_sum"] == pytest.approx(ref_sum, rel=2e-2 if bf16 else 1e-4)


def test_prompt_loss_weight_scores_the_prompt_tokens_too(tok, demos_file, tiny_model_dir):
    """With sft.prompt_loss_weight > 0 the same pass also scores every prompt token after the first."""
    from skillrl.config import load_config
    from skillrl.sft.worker import SFTWorker

    _, examples, _ = _examples(tok, demos_file)
    rows = examples[:3]
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    ref = {"prompt": [0.0, 0], "response": [0.0, 0]}
    for ex in rows:
        ids = torch.tensor([ex.prompt_ids + ex.response_ids])
        with torch.no_grad():
            nll = torch.nn.functional.cross_entropy(model(input_ids=ids).logits[0, :-1], ids[0, 1:], reduction="none")
        P = len(ex.prompt_ids)
        ref["prompt"][0] += float(nll[:P - 1].sum())
        ref["prompt"][1] += P - 1
        ref["response"][0] += float(nll[P - 1:].sum())
        ref["response"][1] += len(ex.response_ids)
    cfg = load_config("sft_trainer", ["sft.micro_batch_size_per_gpu=2", "sft.prompt_loss_weight=0.5", "sft.lr=1e-9"])
    worker = SFTWorker(cfg.actor_rollout_ref, cfg.sft, 1, "cpu", tiny_model_dir)
    try:
        got = worker.train_step(collate(rows, tok.pad_token_id), ref["response"][1], ref["prompt"][1])
    finally:
        worker.shutdown()
    assert got["prompt_tokens"] == ref["prompt"][1] and got["tokens"] == ref["response"][1]
    assert got["prompt_nll_sum"] == pytest.approx(ref["prompt"][0], rel=1e-4)
    assert got["nll_sum"] == pytest.approx(ref["response"][0], rel=1e-4)
    with pytest.raises(ValueError, match="sft.prompt_loss_weight"):
        load_config("sft_trainer", ["sft.prompt_loss_weight=-1"])
