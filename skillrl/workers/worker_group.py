"""Single-controller plumbing: a group of FSDP ranks as Ray actors, driven by the trainer.

``RayWorkerGroup`` places its ranks as :func:`skillrl.workers.layout.plan_layout` says (one
placement group per node, ``trainer.n_gpus_per_node`` ranks on each of ``trainer.nnodes``),
starts an :class:`ActorRefWorker` in each, joins them into one process group, and dispatches: a
batch is padded to a multiple of the world size, split into equal parts (one per rank, balanced by
real tokens: :func:`~skillrl.workers.micro_batch.balanced_rank_split`), and the results are put back
in row order and unpadded. Rows added as padding get an all-zero ``response_mask`` before an update,
so they add nothing to the loss.

If a rank fails, the others would wait in a collective until the process-group timeout; the
group therefore watches all ranks' results, and on the first error kills the whole group and
raises that error instead of hanging.

:func:`create_rollout_workers` starts one rollout engine per tensor-parallel group of the layout,
in the actor's placement groups (hybrid engine) or in a pool of their own;
:class:`CriticWorkerGroup` puts the value model's ranks (PPO with GAE) in the actor's bundles;
:class:`RolloutWorkers` spreads each generate call over them. :func:`ray_options` is the one place
that turns a layout request into Ray options, for the real workers and the placement tests alike.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from skillrl.protocol import DataProto
from skillrl.workers.micro_batch import balanced_rank_split

logger = logging.getLogger("skillrl.workers")


def collect_results(refs: Sequence[Any], on_error, timeout_s: Optional[float] = None, grace_s: float = 10.0) -> List[Any]:
    """ray.get on all refs, failing fast instead of hanging.

    On the first error the other ranks get ``grace_s`` to finish (an input check fails on every
    rank alike, and the group stays usable); if some are still running they are stuck in a
    collective, so ``on_error`` stops the group. The error is re-raised either way.
    """
    import ray

    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1, timeout=timeout_s)
        if not done:
            on_error()
            raise TimeoutError(f"worker ranks did not answer within {timeout_s} s; the group was stopped")
        try:
            ray.get(done[0])
        except Exception:
            if pending and len(ray.wait(pending, num_returns=len(pending), timeout=grace_s)[1]) > 0:
                logger.error("a rank failed while others are still running; stopping the worker group")
                on_error()
            raise
    return ray.get(list(refs))


_FORWARD_KEYS = ("input_ids", "attention_mask", "responses")
_UPDATE_KEYS = _FORWARD_KEYS + ("response_mask", "advantages")  # old_log_probs: absent when on-policy


class RayWorkerGroup:
    def __init__(self, config, trainer_cfg, role: str = "actor", model_path: Optional[str] = None,
                 name: str = "actor", ready_timeout_s: float = 300.0, with_critic: bool = False):
        """``with_critic``: leave room in each rank's bundle for a :class:`CriticWorkerGroup` rank."""
        import ray

        from skillrl.workers.actor_worker import ActorRefWorker
        from skillrl.workers.layout import plan_layout

        self.device = cluster_device(trainer_cfg.device)
        self.layout = plan_layout(trainer_cfg, config, self.device, critic=with_critic)
        self.world_size = len(self.layout.ranks)
        self.role, self.name, self.config = role, name, config
        self.placement_groups = create_placement_groups(self.layout, "actor", name, ready_timeout_s)
        self.workers = []
        for rank, req in enumerate(self.layout.ranks):
            opts = ray_options(req, self.placement_groups)
            self.workers.append(ActorRefWorker.options(**opts).remote(config, role, rank, self.world_size, self.device))
        addr, port = ray.get(self.workers[0].rendezvous_address.remote())
        self._run([w.init_model.remote(addr, port, model_path) for w in self.workers])
        logger.info("%s: %d %s ranks ready (role %s); %s", name, self.world_size, self.device, role,
                    self.layout.describe())

    # ---------------------------------------------------------------------------- plumbing

    def _run(self, refs: Sequence[Any]) -> List[Any]:
        return collect_results(refs, self.kill)

    def _call_all(self, method: str, *args) -> List[Any]:
        return self._run([getattr(w, method).remote(*args) for w in self.workers])

    def _dispatch(self, method: str, data: DataProto):
        padded, pad = data.pad_to_divisor(self.world_size)
        chunks, order = self._split(padded)
        outs = DataProto.concat(self._run([getattr(w, method).remote(c) for w, c in zip(self.workers, chunks)]))
        return (outs if order is None else outs[np.argsort(order)]), pad

    def _split(self, padded: DataProto):
        """One part per rank, balanced by real tokens; the row order the parts concatenate to (None: as is).

        ``meta_info['balance_ranks']=False`` keeps contiguous chunks (tests that place rows on ranks).
        """
        if self.world_size == 1 or not padded.meta_info.get("balance_ranks", True):
            return padded.chunk(self.world_size), None
        parts = balanced_rank_split(padded.batch["attention_mask"].sum(-1).tolist(), self.world_size)
        return [padded[np.asarray(p, dtype=np.int64)] for p in parts], [i for p in parts for i in p]

    # ------------------------------------------------------------------------- the interface

    def _require(self, data: DataProto, keys: Sequence[str], method: str) -> None:
        missing = [k for k in keys if k not in data.batch]
        if missing:
            raise ValueError(f"{method}: the batch has no {missing}; it has {sorted(data.batch)} "
                             "(see skillrl/protocol.py for the standard fields)")
        if len(data) == 0:
            raise ValueError(f"{method}: the batch is empty")

    def compute_log_prob(self, data: DataProto) -> DataProto:
        """``old_log_probs`` and ``entropys`` [bs, R] under the current policy."""
        self._require(data, _FORWARD_KEYS, "compute_log_prob")
        outs, pad = self._dispatch("compute_log_prob", data)
        return outs.unpad(pad)

    def compute_ref_log_prob(self, data: DataProto) -> DataProto:
        """``ref_log_prob`` [bs, R] under the reference policy."""
        self._require(data, _FORWARD_KEYS, "compute_ref_log_prob")
        outs, pad = self._dispatch("compute_ref_log_prob", data)
        return outs.unpad(pad)

    def update_policy(self, data: DataProto) -> Dict[str, float]:
        """One PPO/GRPO update on the batch; metrics are averaged over ranks."""
        keys = _UPDATE_KEYS + (("ref_log_prob",) if self.config.actor.use_kl_loss else ())
        self._require(data, keys, "update_policy")
        return self._update("update_policy", data)

    def _update(self, method: str, data: DataProto) -> Dict[str, float]:
        padded, pad = data.pad_to_divisor(self.world_size)
        if pad:
            mask = padded.batch["response_mask"].clone()
            mask[len(data):] = 0
            padded.batch["response_mask"] = mask
        chunks, _ = self._split(padded)
        metrics = self._run([getattr(w, method).remote(c) for w, c in zip(self.workers, chunks)])
        keys = sorted(set().union(*metrics))
        return {k: float(np.mean([m[k] for m in metrics if k in m])) for k in keys}

    def rollout_weights_refs(self):
        """(rank 0's ObjectRef of the full weights, all ranks' refs). Pass the first to a rollout
        worker directly, so the weights never go through the driver; wait on the second."""
        refs = [w.state_dict_for_rollout.remote() for w in self.workers]
        return refs[0], refs

    def get_rollout_weights(self) -> Dict[str, Any]:
        """The full weights in the driver (small models, tests)."""
        return self._run(self.rollout_weights_refs()[1])[0]

    def save_checkpoint(self, ckpt_dir: str) -> None:
        self._call_all("save_checkpoint", ckpt_dir)

    def load_checkpoint(self, ckpt_dir: str) -> None:
        self._call_all("load_checkpoint", ckpt_dir)

    def export_hf(self, out_dir: str) -> str:
        return self._call_all("export_hf", out_dir)[0]

    def state_checksums(self) -> List[Dict[str, float]]:
        """Per rank: parameter, optimizer-state and scheduler checksums."""
        return self._call_all("state_checksums")

    def greedy_generate(self, prompt_token_ids: List[List[int]], max_tokens: int, eos_ids: List[int]) -> List[List[int]]:
        return self._call_all("greedy_generate", prompt_token_ids, max_tokens, eos_ids)[0]

    def gpu_ids(self) -> List[List[str]]:
        """Per rank, the GPU ids Ray gave it (``ray.get_gpu_ids()``; empty on CPU)."""
        return self._call_all("gpu_ids")

    def call(self, method: str, *args, **kwargs) -> List[Any]:
        return self._run([w.call.remote(method, *args, **kwargs) for w in self.workers])

    def kill(self) -> None:
        import ray

        for w in self.workers:
            ray.kill(w, no_restart=True)
        remove_placement_groups(self.placement_groups)
        self.workers = []

    def shutdown(self) -> None:
        import ray

        if not self.workers:
            return
        try:
            ray.get([w.shutdown.remote() for w in self.workers], timeout=60)
        except Exception as exc:  # a dead rank must not keep the others alive
            logger.warning("%s: shutdown error %s; killing the ranks", self.name, exc)
        self.kill()


class CriticWorkerGroup(RayWorkerGroup):
    """The value model's ranks, one in each bundle of an actor group planned ``with_critic``.

    Same dispatch as the actor's (padding, token-balanced split, fail-fast); its own process
    group; the placement groups stay the actor group's (stopping the critic leaves them).
    """

    def __init__(self, critic_cfg, actor: RayWorkerGroup, model_path: str, ready_timeout_s: float = 300.0):
        import ray

        from skillrl.workers.critic_worker import CriticWorker

        if not actor.layout.critic_ranks:
            raise ValueError("the actor group was planned without critic ranks; build it with with_critic=True")
        self.device, self.layout, self.config = actor.device, actor.layout, critic_cfg
        self.world_size, self.role, self.name = len(self.layout.critic_ranks), "critic", "critic"
        self.placement_groups = actor.placement_groups
        self.workers = [CriticWorker.options(**ray_options(req, self.placement_groups)).remote(
            critic_cfg, rank, self.world_size, self.device) for rank, req in enumerate(self.layout.critic_ranks)]
        addr, port = ray.get(self.workers[0].rendezvous_address.remote(), timeout=ready_timeout_s)
        self._run([w.init_model.remote(addr, port, model_path) for w in self.workers])
        logger.info("critic: %d %s ranks ready beside the actor's", self.world_size, self.device)

    def compute_values(self, data: DataProto) -> DataProto:
        """``values`` [bs, R] of the responses under the current value model."""
        self._require(data, _FORWARD_KEYS, "compute_values")
        outs, pad = self._dispatch("compute_values", data)
        return outs.unpad(pad)

    def update_critic(self, data: DataProto) -> Dict[str, float]:
        """Clipped value-loss updates toward ``returns``; metrics averaged over ranks."""
        self._require(data, _FORWARD_KEYS + ("response_mask", "values", "returns"), "update_critic")
        return self._update("update_critic", data)

    def kill(self) -> None:
        import ray

        for w in self.workers:
            ray.kill(w, no_restart=True)
        self.workers = []


def cluster_device(device: str) -> str:
    """``auto`` looks at the Ray cluster (the driver itself may have no GPU)."""
    import ray

    if device == "auto":
        return "cuda" if ray.cluster_resources().get("GPU", 0) > 0 else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"trainer.device={device!r} is not supported; use auto, cpu or cuda")
    return device


def create_placement_groups(layout, pool: str, name: str, timeout_s: float) -> List[Any]:
    """One placement group per node of ``pool`` (STRICT_PACK on GPUs: a node's GPUs on one machine)."""
    import ray

    strategy = "STRICT_PACK" if layout.device == "cuda" else "PACK"
    pgs = [ray.util.placement_group(bundles, strategy=strategy, name=f"{name}_{pool}_node{i}")
           for i, bundles in enumerate(layout.pools[pool])]
    try:
        ray.get([pg.ready() for pg in pgs], timeout=timeout_s)
    except ray.exceptions.GetTimeoutError:
        remove_placement_groups(pgs)
        raise RuntimeError(
            f"Ray could not reserve the {pool} pool ({len(pgs)} node(s) x {layout.pools[pool][0]}) within "
            f"{timeout_s:.0f} s (cluster has {ray.cluster_resources()}); {layout.describe()}. Lower "
            "trainer.n_gpus_per_node / trainer.nnodes (or rollout.n_gpus_per_node / rollout.nnodes) or give "
            "Ray more resources (ray_init.num_cpus)") from None
    return pgs


def remove_placement_groups(pgs: Sequence[Any]) -> None:
    import ray

    for pg in pgs:
        ray.util.remove_placement_group(pg)


def ray_options(req, pgs: Sequence[Any]) -> Dict[str, Any]:
    """Ray actor options for one layout request (:class:`skillrl.workers.layout.Request`)."""
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    opts: Dict[str, Any] = {"num_cpus": req.num_cpus}
    if req.num_gpus:
        opts["num_gpus"] = req.num_gpus
    if req.bundle >= 0:
        # capture_child_tasks: vLLM's GPU workers (TP>1) find the group through the engine's actor
        opts["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
            pgs[req.node], placement_group_bundle_index=req.bundle, placement_group_capture_child_tasks=True)
    return opts


PINNED_GPUS_ENV = "SKILLRL_PINNED_GPUS"  # tells the engine its devices were pinned (vllm_engine: mp executor)


def engine_env(plan, rank_gpu_ids: Optional[Sequence[Sequence[str]]] = None) -> Dict[str, str]:
    """Environment of one rollout engine's actor, read when the engine is built.

    Hybrid engine on GPUs (``plan.ranks``): ``CUDA_VISIBLE_DEVICES`` set to the GPU ids its ranks
    report (``rank_gpu_ids[k]``: rank k's ``ray.get_gpu_ids()``), not the one Ray picked for the
    engine. Separate pool with TP>1: the variables that make vLLM's ``ray`` executor put one GPU
    worker in each bundle of the engine's TP group."""
    if plan.ranks:
        if rank_gpu_ids is None:
            raise ValueError("engine_env: a hybrid engine shares its ranks' GPUs; pass the ranks' GPU ids")
        devices = ",".join(pinned_devices(plan, rank_gpu_ids))
        return {"CUDA_VISIBLE_DEVICES": devices, PINNED_GPUS_ENV: devices}
    if not plan.gpu_workers:
        return {}
    return {"VLLM_RAY_BUNDLE_INDICES": plan.bundle_indices,
            "VLLM_RAY_PER_WORKER_GPUS": str(plan.gpu_workers[0].num_gpus)}


def pinned_devices(plan, rank_gpu_ids: Sequence[Sequence[str]]) -> List[str]:
    """The GPU ids of ``plan.ranks``, one per rank; RuntimeError when a rank has none or several
    ranks of the group report the same GPU (the group would not get ``tp`` distinct devices)."""
    ids = []
    for k in plan.ranks:
        got = [str(g) for g in rank_gpu_ids[k]]
        if len(got) != 1:
            raise RuntimeError(f"FSDP rank {k} reports GPU ids {got} (ray.get_gpu_ids()); a hybrid engine needs "
                               "exactly one per rank to share it")
        ids.append(got[0])
    if len(set(ids)) != len(ids):
        raise RuntimeError(f"the ranks {list(plan.ranks)} of one tensor-parallel group report GPU ids {ids}; "
                           "they must be distinct")
    return ids


class RolloutWorkers:
    """The rollout engines of a run; ``generate`` splits the prompts over them in contiguous chunks.

    Prompt ``i`` keeps seed ``seed + i`` whichever engine serves it (an engine numbers its prompts
    from 0), so the samples do not depend on the number of engines.
    """

    def __init__(self, workers: Sequence[Any], placement_groups: Sequence[Any] = ()):
        self.workers = list(workers)
        self.placement_groups = list(placement_groups)

    def generate(self, prompt_token_ids, sampling) -> List[Any]:
        import ray

        n = len(self.workers)
        if n == 1 or len(prompt_token_ids) < 2:
            return ray.get(self.workers[0].generate.remote(prompt_token_ids, sampling))
        bounds = np.linspace(0, len(prompt_token_ids), min(n, len(prompt_token_ids)) + 1).astype(int)
        seeds = sampling.seeds_for(len(prompt_token_ids))
        refs = []
        for w, (a, b) in zip(self.workers, zip(bounds[:-1], bounds[1:])):
            part = sampling.with_updates(seeds=seeds[a:b] if seeds is not None else
                                         (None if sampling.seed is None else list(range(sampling.seed + a, sampling.seed + b))))
            refs.append(w.generate.remote(prompt_token_ids[a:b], part))
        outputs = []
        for a, res in zip(bounds[:-1], ray.get(refs)):
            for o in res:
                o.prompt_index += int(a)
                outputs.append(o)
        return outputs

    def sleep(self) -> None:
        """Release the engines' GPU memory for training (no-op unless ``rollout.free_cache_engine``)."""
        import ray

        ray.get([w.sleep.remote() for w in self.workers])

    def kill(self) -> None:
        import ray

        for w in self.workers:
            ray.kill(w, no_restart=True)
        remove_placement_groups(self.placement_groups)
        self.workers, self.placement_groups = [], []

    def shutdown(self) -> None:
        """Close the engines (their temporary files), then stop the actors and free the rollout pool."""
        import ray

        try:
            ray.get([w.shutdown.remote() for w in self.workers], timeout=60)
        finally:
            self.kill()


def create_rollout_workers(arr_cfg, model_path: str, group: RayWorkerGroup, max_model_len: Optional[int] = None,
                           ready_timeout_s: float = 900.0) -> RolloutWorkers:
    """One :class:`RolloutWorker` per engine of ``group.layout``: in the actor's placement groups
    (hybrid engine) or in a rollout pool of their own."""
    from skillrl.workers.rollout_worker import RolloutWorker

    layout, own = group.layout, []
    if "rollout" in layout.pools:
        own = create_placement_groups(layout, "rollout", group.name, ready_timeout_s)
    pgs = {"actor": group.placement_groups, "rollout": own}
    # a hybrid engine uses its ranks' GPUs, whichever GPU Ray names for the engine itself
    rank_gpus = group.gpu_ids() if any(plan.ranks for plan in layout.engines) else None
    workers = []
    for i, plan in enumerate(layout.engines):
        opts, env = ray_options(plan.host, pgs.get(plan.host.pool, [])), engine_env(plan, rank_gpus)
        if plan.ranks:
            logger.info("rollout engine %d: GPUs %s of ranks %s", i, env["CUDA_VISIBLE_DEVICES"], list(plan.ranks))
        workers.append(RolloutWorker.options(**opts).remote(arr_cfg.rollout, model_path, layout.device, max_model_len,
                                                            arr_cfg.model.tokenizer_path, arr_cfg.model.trust_remote_code,
                                                            env=env))
    for i, w in enumerate(workers):
        _wait_actor(w, f"rollout engine {i}", ready_timeout_s)
    return RolloutWorkers(workers, own)


def create_rollout_worker(rollout_cfg, model_path: str, device: str, max_model_len: Optional[int] = None,
                          tokenizer_path: Optional[str] = None, trust_remote_code: bool = False,
                          num_cpus: float = 1.0, ready_timeout_s: float = 900.0):
    """A single :class:`RolloutWorker` outside any placement group (tools and tests)."""
    from skillrl.workers.rollout_worker import RolloutWorker

    opts: Dict[str, Any] = {"num_cpus": num_cpus}
    if device == "cuda":
        opts["num_gpus"] = int(rollout_cfg.tensor_model_parallel_size)
    worker = RolloutWorker.options(**opts).remote(rollout_cfg, model_path, device, max_model_len, tokenizer_path,
                                                  trust_remote_code)
    _wait_actor(worker, "the rollout worker", ready_timeout_s)
    return worker


def _wait_actor(actor: Any, what: str, timeout_s: float) -> None:
    """Block until ``actor`` has started (its engine loaded): an actor Ray cannot place never starts,
    and every call to it would wait forever."""
    import ray

    try:
        ray.get(actor.engine_name.remote(), timeout=timeout_s)
    except ray.exceptions.GetTimeoutError:
        ray.kill(actor, no_restart=True)
        raise RuntimeError(
            f"{what} did not start within {timeout_s:.0f} s (cluster {ray.cluster_resources()}, free "
            f"{ray.available_resources()}); if CPUs are short, raise ray_init.num_cpus or lower "
            "env.resources_per_worker.num_cpus") from None
