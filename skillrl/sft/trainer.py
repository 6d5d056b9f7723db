"""The cold-start SFT driver: examples in, a Hugging Face model that ``main_ppo`` starts from out.

``SFTTrainer(cfg).fit()`` reads ``sft.train_file`` (trajectories JSONL from ``python -m
skillrl.collect`` or ``python -m skillrl.data.eto``), keeps successful ones
(``sft.only_successful``), builds one example per step (:mod:`skillrl.sft.dataset`), and trains
the FSDP ranks (:mod:`skillrl.sft.worker`: Ray actors, one per ``trainer.n_gpus_per_node x
trainer.nnodes`` rank, or the driver itself with ``sft.in_process=true``). Each step takes
``sft.train_batch_size`` examples from a per-epoch shuffled order (seeded by ``sft.seed`` and the
epoch), splits them over the ranks and minimises the token-mean NLL of the response tokens.

Written to ``sft.output_dir``: ``huggingface/`` (the model, tokenizer and chat template: pass it
as ``actor_rollout_ref.model.path``), ``metrics.jsonl`` (per step: ``sft/loss``, ``sft/lr``,
``sft/grad_norm``, tokens, and ``val/loss`` when ``sft.val_file`` is set) and ``summary.json``;
with ``sft.save_freq`` also ``global_step_<n>/huggingface/`` every n steps.
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np

from skillrl.sft.dataset import SFTExample, build_examples, collate, select_trajectories

logger = logging.getLogger("skillrl.sft")


# ------------------------------------------------------------------------------------ ranks


class LocalRanks:
    """A single rank in this process (``sft.in_process``): no Ray, same code path."""

    def __init__(self, arr_cfg: Any, sft_cfg: Any, total_steps: int, device: str, model_path: str):
        from skillrl.sft.worker import SFTWorker

        self.world_size = 1
        self.worker = SFTWorker(arr_cfg, sft_cfg, total_steps, device, model_path)

    def train_step(self, shards: Sequence[Optional[dict]], global_tokens: int,
                   global_prompt_tokens: int = 0) -> List[Dict[str, float]]:
        return [self.worker.train_step(shards[0], global_tokens, global_prompt_tokens)]

    def eval_nll(self, shards: Sequence[Optional[dict]]) -> List[Dict[str, float]]:
        return [self.worker.eval_nll(shards[0])]

    def export_hf(self, out_dir: str) -> str:
        return self.worker.export_hf(out_dir)

    def shutdown(self) -> None:
        self.worker.shutdown()


class RayRanks:
    """``world_size`` :class:`SFTRankActor` s joined into one process group; fails fast on an error."""

    def __init__(self, arr_cfg: Any, sft_cfg: Any, total_steps: int, device: str, model_path: str,
                 world_size: int, cpus_per_worker: float = 1.0):
        import ray

        from skillrl.sft.sft_worker_actor import SFTRankActor
        from skillrl.utils.hardware import cpu_threads_per_rank

        self.world_size = int(world_size)
        opts: Dict[str, Any] = {"num_cpus": cpus_per_worker}
        if device == "cuda":
            opts["num_gpus"] = 1
        threads = cpu_threads_per_rank(self.world_size) if device == "cpu" else 0
        self.actors = [SFTRankActor.options(**opts).remote(threads) for _ in range(self.world_size)]
        addr, port = ray.get(self.actors[0].rendezvous_address.remote())
        self._run([a.init_model.remote(arr_cfg, sft_cfg, total_steps, device, model_path, r, self.world_size,
                                       addr, port) for r, a in enumerate(self.actors)])

    def _run(self, refs: Sequence[Any]) -> List[Any]:
        from skillrl.workers.worker_group import collect_results

        return collect_results(refs, self.kill)

    def train_step(self, shards: Sequence[Optional[dict]], global_tokens: int,
                   global_prompt_tokens: int = 0) -> List[Dict[str, float]]:
        return self._run([a.train_step.remote(s, global_tokens, global_prompt_tokens)
                          for a, s in zip(self.actors, shards)])

    def eval_nll(self, shards: Sequence[Optional[dict]]) -> List[Dict[str, float]]:
        return self._run([a.eval_nll.remote(s) for a, s in zip(self.actors, shards)])

    def export_hf(self, out_dir: str) -> str:
        return self._run([a.export_hf.remote(out_dir) for a in self.actors])[0]

    def kill(self) -> None:
        import ray

        for a in self.actors:
            ray.kill(a, no_restart=True)
        self.actors = []

    def shutdown(self) -> None:
        import ray

        if not self.actors:
            return
        try:
            ray.get([a.shutdown.remote() for a in self.actors], timeout=60)
        except Exception as e:  # a dead rank must not keep the others alive
            logger.warning("SFT ranks: shutdown error %s; killing them", e)
        self.kill()


# ---------------------------------------------------------------------------------- batches


def shard(examples: Sequence[SFTExample], world_size: int, pad_token_id: int) -> List[Optional[dict]]:
    """Split a batch over the ranks (equal row counts, each padded to its own longest row)."""
    parts = np.array_split(np.arange(len(examples)), world_size)
    return [collate([examples[i] for i in p], pad_token_id) if len(p) else None for p in parts]


def batch_stream(n: int, batch_size: int, seed: int, shuffle: bool) -> Iterator[List[int]]:
    """Endless batches of example indices, epoch after epoch (each epoch its own permutation)."""
    epoch = 0
    while True:
        order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
        for start in range(0, n, batch_size):
            yield order[start:start + batch_size].tolist()
        epoch += 1


def planned_steps(sft_cfg: Any, num_examples: int) -> int:
    if sft_cfg.total_training_steps:
        return int(sft_cfg.total_training_steps)
    return int(sft_cfg.epochs) * math.ceil(num_examples / sft_cfg.train_batch_size)


def _reduce(results: Sequence[Dict[str, float]], prefix: str) -> Dict[str, float]:
    tokens = sum(r["tokens"] for r in results)
    out = {f"{prefix}/loss": sum(r["nll_sum"] for r in results) / tokens if tokens else float("nan"),
           f"{prefix}/tokens": tokens}
    p_tokens = sum(r.get("prompt_tokens", 0.0) for r in results)
    if p_tokens:
        out[f"{prefix}/prompt_loss"] = sum(r["prompt_nll_sum"] for r in results) / p_tokens
    if "prefix_tokens_shared" in results[0]:  # prompt tokens a shared prefix spared (model.share_prompt_prefix)
        out[f"{prefix}/prefix_tokens_shared"] = sum(r["prefix_tokens_shared"] for r in results)
    if "grad_norm" in results[0]:
        out[f"{prefix}/grad_norm"] = results[0]["grad_norm"]  # the same on every rank (a global norm)
        out[f"{prefix}/lr"] = results[0]["lr"]
    return out


# ---------------------------------------------------------------------------------- trainer


class SFTTrainer:
    def __init__(self, cfg: Any):
        from transformers import AutoTokenizer

        from agent_system.multi_turn_rollout.rollout_loop import PromptEncoder
        from skillrl.utils.tiny_model import resolve_model_path

        if not cfg.sft.train_file:
            raise ValueError("sft.train_file is empty; give a trajectories JSONL from `python -m skillrl.collect` "
                             "or `python -m skillrl.data.eto`")
        self.cfg = cfg
        m = cfg.actor_rollout_ref.model
        self.model_path = resolve_model_path(m.path)
        self.tokenizer = AutoTokenizer.from_pretrained(m.tokenizer_path or self.model_path,
                                                       trust_remote_code=m.trust_remote_code)
        self.encoder = PromptEncoder(self.tokenizer, cfg.data.max_prompt_length, cfg.data.truncation)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        self.out_dir = os.path.abspath(cfg.sft.output_dir)
        self._prompt_source = None

    # ------------------------------------------------------------------------------- data
    def _source(self):
        if self._prompt_source is None:
            from skillrl.sft.replay import PromptReplayer, prompt_source_for

            env_cfg = self.cfg.env
            self._prompt_source = prompt_source_for(self.cfg.sft.prompt_source,
                                                    lambda: PromptReplayer.from_config(env_cfg, self.tokenizer))
        return self._prompt_source

    def load_examples(self, path: str, role: str) -> tuple:
        from agent_system.trajectory import read_jsonl

        trajs = select_trajectories(read_jsonl(path), self.cfg.sft.only_successful)
        examples, stats = build_examples(trajs, self.encoder, self.cfg.sft.max_length, self._source())
        logger.info("SFT %s: %d examples from %d of %d trajectories (%s)", role, stats.examples,
                    stats.kept_trajectories, stats.trajectories, path)
        if not examples:
            raise ValueError(f"{path}: no usable SFT example ({stats}); check sft.only_successful, that the file "
                             "has successful trajectories, and sft.prompt_source")
        return examples, stats

    # ------------------------------------------------------------------------------ ranks
    def _ranks(self, total_steps: int):
        t = self.cfg.trainer
        arr = self.cfg.actor_rollout_ref
        if self.cfg.sft.in_process:
            from skillrl.workers.distributed import resolve_device

            return LocalRanks(arr, self.cfg.sft, total_steps, resolve_device(t.device), self.model_path)
        from skillrl.utils.ray_init import init_ray
        from skillrl.workers.worker_group import cluster_device

        init_ray(self.cfg.ray_init, external_lib=self.cfg.actor_rollout_ref.model.external_lib)
        return RayRanks(arr, self.cfg.sft, total_steps, cluster_device(t.device), self.model_path,
                        int(t.n_gpus_per_node) * int(t.nnodes))

    # -------------------------------------------------------------------------------- fit
    def fit(self) -> Dict[str, Any]:
        from tqdm.auto import tqdm

        from skillrl.trainer.tracking import Tracking

        s = self.cfg.sft
        train, stats = self.load_examples(s.train_file, "train")
        val = self.load_examples(s.val_file, "val")[0] if s.val_file else None
        total = planned_steps(s, len(train))
        ranks = self._ranks(total)
        backends = [b for b in self.cfg.trainer.logger if b != "console"]
        tracker = Tracking(backends, self.out_dir, self.cfg.trainer.project_name, "sft")
        batches = batch_stream(len(train), s.train_batch_size, s.seed, s.shuffle)
        last: Dict[str, float] = {}
        bar = tqdm(total=total, desc="sft", unit="step")
        try:
            for step in range(1, total + 1):
                t0 = time.perf_counter()
                rows = [train[i] for i in next(batches)]
                tokens = sum(len(e.response_ids) for e in rows)
                p_tokens = sum(len(e.prompt_ids) - 1 for e in rows)
                last = _reduce(ranks.train_step(shard(rows, ranks.world_size, self.pad_id), tokens, p_tokens), "sft")
                last["timing/step"] = time.perf_counter() - t0
                if val is not None and ((s.test_freq > 0 and step % s.test_freq == 0) or step == total):
                    last.update(self.validate(ranks, val))
                tracker.log(last, step)
                if s.save_freq > 0 and step % s.save_freq == 0 and step < total:
                    ranks.export_hf(os.path.join(self.out_dir, f"global_step_{step}", "huggingface"))
                bar.update(1)
                bar.set_postfix(loss=f"{last['sft/loss']:.3f}")
            hf_dir = ranks.export_hf(os.path.join(self.out_dir, "huggingface"))
        finally:
            bar.close()
            tracker.close()
            ranks.shutdown()
            self._close_source()
        summary = {"hf_model": hf_dir, "steps": total, "examples": stats.examples,
                   "trajectories_used": stats.kept_trajectories, "skipped_too_long": stats.skipped_too_long,
                   "skipped_no_prompt": stats.skipped_no_prompt, "final": last, "metrics_file": tracker.jsonl_path}
        with open(os.path.join(self.out_dir, "summary.json"), "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2, default=str)
        return summary

    def validate(self, ranks: Any, val: Sequence[SFTExample]) -> Dict[str, float]:
        results: List[Dict[str, float]] = []
        bs = self.cfg.sft.train_batch_size
        for start in range(0, len(val), bs):
            results.extend(ranks.eval_nll(shard(val[start:start + bs], ranks.world_size, self.pad_id)))
        return _reduce(results, "val")

    def _close_source(self) -> None:
        holder = getattr(self._prompt_source, "replayer", None) or {}
        if "r" in holder:
            logger.info("prompt replay: %s", holder["r"].stats)
            holder["r"].close()
