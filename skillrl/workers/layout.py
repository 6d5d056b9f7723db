"""Where every Ray actor of a training run goes: FSDP ranks, rollout engines, vLLM's GPU workers.

Plain data, no Ray: :func:`plan_layout` turns ``trainer.{n_gpus_per_node,nnodes,device}`` and
``actor_rollout_ref.{hybrid_engine,rollout.*}`` into resource requests, and the real workers
(:mod:`skillrl.workers.worker_group`) and the placement tests both place from it, so a test of the
layout fails when the workers' requests change.

The resources, as verl's resource pools: one placement group per node (``n_gpus_per_node``
bundles of one GPU each, STRICT_PACK), ``nnodes`` of them. FSDP rank ``r`` lives in bundle
``r % n_gpus_per_node`` of node ``r // n_gpus_per_node``. Rollout engines cover the GPUs, one per
tensor-parallel group of ``tensor_model_parallel_size`` consecutive bundles of one node:

* ``hybrid_engine=true`` (verl's hybrid engine): the engines share the ranks' GPUs by time. Ray's
  accounting splits the first GPU of each TP group between its rank (``ACTOR_GPU_SHARE``) and the
  engine's actor; the memory is shared for real, so the engines sleep during training when
  ``rollout.free_cache_engine`` is set (see :mod:`skillrl.workers.rollout.vllm_engine`).
  **Pinning**: Ray picks the GPU id of a fractional request within a bundle by itself, and on a
  cluster where other placement groups came and went it can give a bundle's rank and engine two
  different GPUs. So an engine does not use the GPU Ray names for it: it sits in its TP group's
  first bundle and sets ``CUDA_VISIBLE_DEVICES`` to the ids its group's ranks report
  (:attr:`EnginePlan.ranks`; :func:`skillrl.workers.worker_group.engine_env`). With TP>1 it runs
  vLLM's ``mp`` executor, whose GPU workers are its own subprocesses and inherit those devices;
  the other GPUs of the group carry only their rank's share in Ray's books.
* ``hybrid_engine=false``: the engines get their own pool, ``rollout.nnodes x
  rollout.n_gpus_per_node`` GPUs, and hold them whole. With TP>1 vLLM starts one Ray worker per
  GPU (its ``ray`` executor) in the bundles ``VLLM_RAY_BUNDLE_INDICES`` names, each asking
  ``VLLM_RAY_PER_WORKER_GPUS``; the engine's own actor then holds a CPU and ``HOST_GPU_SHARE`` of its
  group's first bundle. TP=1: the engine's actor holds its GPU.

On CPU (``device=cpu``) the ranks take CPU bundles and one TP=1 engine runs outside them.
Departure from verl: verl runs vLLM inside the FSDP rank's process; here the engine is its own
actor, which is why its GPU share is explicit.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, List, Tuple

ACTOR_GPU_SHARE = 0.5  # Ray bookkeeping only: a colocated rank and engine each take half a GPU
# A TP>1 engine's own actor in a separate pool takes a sliver of its group's first GPU: with no GPU
# share Ray would hide every GPU from it (CUDA_VISIBLE_DEVICES=""), and vLLM's engine core there
# still queries the device.
HOST_GPU_SHARE = 0.1
CPUS_PER_RANK = 1.0
CPUS_PER_ENGINE = 1.0
# A critic rank (PPO with GAE) shares its actor rank's bundle, as verl colocates actor and critic in
# one resource pool; this sliver of the GPU is taken from the actor rank's share.
CRITIC_GPU_SHARE = 0.1


@dataclass(frozen=True)
class Request:
    """What one Ray actor asks for: a bundle of a pool's node group (None: outside any group)."""
    pool: str
    node: int
    bundle: int  # -1: not in a placement group
    num_cpus: float
    num_gpus: float


@dataclass(frozen=True)
class EnginePlan:
    host: Request  # the engine's own actor (the rollout worker)
    gpu_workers: Tuple[Request, ...]  # vLLM's per-GPU Ray workers (separate pool, TP>1); else empty
    # hybrid engine on GPUs: the FSDP ranks whose GPUs the engine uses (pinned), in device order
    ranks: Tuple[int, ...] = ()

    @property
    def bundle_indices(self) -> str:
        """``VLLM_RAY_BUNDLE_INDICES`` for this engine."""
        return ",".join(str(w.bundle) for w in self.gpu_workers)


@dataclass(frozen=True)
class Layout:
    device: str
    tp: int
    colocated: bool
    pools: Dict[str, List[List[Dict[str, float]]]]  # pool -> per node -> bundles
    ranks: Tuple[Request, ...]
    engines: Tuple[EnginePlan, ...]
    critic_ranks: Tuple[Request, ...] = ()  # critic rank k in actor rank k's bundle (no CPU of its own)

    def describe(self) -> str:
        gpus = {p: sum(b.get("GPU", 0) for node in nodes for b in node) for p, nodes in self.pools.items()}
        return (f"{len(self.ranks)} FSDP ranks, {len(self.engines)} rollout engine(s) at TP={self.tp} "
                f"({'sharing the ranks GPUs' if self.colocated else 'own pool'}); GPUs per pool {gpus}")


def plan_layout(trainer_cfg, arr_cfg, device: str, critic: bool = False) -> Layout:
    """The layout for ``device`` ('cpu' or 'cuda'); ValueError naming the keys when it cannot fit.
    ``critic``: also place one critic rank beside each actor rank."""
    n, nodes = int(trainer_cfg.n_gpus_per_node), int(trainer_cfg.nnodes)
    r = arr_cfg.rollout
    tp = int(r.tensor_model_parallel_size)
    if n < 1 or nodes < 1 or tp < 1:
        raise ValueError(f"trainer.n_gpus_per_node={n}, trainer.nnodes={nodes} and "
                         f"actor_rollout_ref.rollout.tensor_model_parallel_size={tp} must all be >= 1")
    if device == "cpu":
        return _with_critic(_cpu_layout(n, nodes, tp), critic)
    if device != "cuda":
        raise ValueError(f"trainer.device={device!r}: the layout needs cpu or cuda")
    colocated = bool(arr_cfg.hybrid_engine)
    share = ACTOR_GPU_SHARE if colocated else 1.0
    rank_share = round(share - CRITIC_GPU_SHARE, 6) if critic else share
    ranks = tuple(Request("actor", k // n, k % n, CPUS_PER_RANK, rank_share) for k in range(n * nodes))
    if colocated:
        _check_tp(tp, n, "trainer.n_gpus_per_node")
        engines = _pinned_engines(nodes, n, tp, 1.0 - share)
        pools = {"actor": _bundles(nodes, n, tp, CPUS_PER_RANK, CPUS_PER_ENGINE)}
    else:
        rn, rnodes = int(r.n_gpus_per_node), int(r.nnodes)
        if rn < 1 or rnodes < 1:
            raise ValueError("actor_rollout_ref.hybrid_engine=false gives the rollout its own GPUs: set "
                             "actor_rollout_ref.rollout.n_gpus_per_node and actor_rollout_ref.rollout.nnodes "
                             f"(>= 1; got {rn} and {rnodes}), or set hybrid_engine=true to share the actor's GPUs")
        _check_tp(tp, rn, "actor_rollout_ref.rollout.n_gpus_per_node")
        engines = _engines("rollout", rnodes, rn, tp, 1.0)
        pools = {"actor": _bundles(nodes, n, 1, CPUS_PER_RANK, 0.0),
                 "rollout": _bundles(rnodes, rn, tp, 0.0, CPUS_PER_ENGINE)}
    return _with_critic(Layout("cuda", tp, colocated, pools, ranks, engines), critic)


def _with_critic(layout: Layout, critic: bool) -> Layout:
    if not critic:
        return layout
    gpu = CRITIC_GPU_SHARE if layout.device == "cuda" else 0.0
    ranks = tuple(Request(r.pool, r.node, r.bundle, 0.0, gpu) for r in layout.ranks)
    return dataclasses.replace(layout, critic_ranks=ranks)


def _check_tp(tp: int, per_node: int, key: str) -> None:
    if per_node % tp:
        raise ValueError(f"actor_rollout_ref.rollout.tensor_model_parallel_size={tp} does not divide {key}="
                         f"{per_node}: a tensor-parallel group must lie on one node; use a TP that divides "
                         f"{per_node} (e.g. {max(d for d in range(1, per_node + 1) if per_node % d == 0 and d <= tp)})")


def _bundles(nodes: int, per_node: int, tp: int, rank_cpus: float, engine_cpus: float) -> List[List[Dict[str, float]]]:
    """Per node, one GPU bundle per GPU; the first bundle of each TP group also holds an engine's CPU."""
    def bundle(b: int) -> Dict[str, float]:
        cpus = rank_cpus + (engine_cpus if b % tp == 0 else 0.0)
        return {"CPU": cpus, "GPU": 1.0} if cpus else {"GPU": 1.0}

    return [[bundle(b) for b in range(per_node)] for _ in range(nodes)]


def _engines(pool: str, nodes: int, per_node: int, tp: int, gpu_share: float) -> Tuple[EnginePlan, ...]:
    plans = []
    for node in range(nodes):
        for first in range(0, per_node, tp):
            if tp == 1:
                plans.append(EnginePlan(Request(pool, node, first, CPUS_PER_ENGINE, gpu_share), ()))
            else:
                workers = tuple(Request(pool, node, b, 0.0, round(gpu_share - HOST_GPU_SHARE, 6))
                                for b in range(first, first + tp))
                plans.append(EnginePlan(Request(pool, node, first, CPUS_PER_ENGINE, HOST_GPU_SHARE), workers))
    return tuple(plans)


def _pinned_engines(nodes: int, per_node: int, tp: int, gpu_share: float) -> Tuple[EnginePlan, ...]:
    """Hybrid engine: each engine's actor in its TP group's first bundle, using its group's ranks' GPUs."""
    return tuple(EnginePlan(Request("actor", node, first, CPUS_PER_ENGINE, gpu_share), (),
                            tuple(node * per_node + b for b in range(first, first + tp)))
                 for node in range(nodes) for first in range(0, per_node, tp))


def _cpu_layout(n: int, nodes: int, tp: int) -> Layout:
    if tp != 1:
        raise ValueError(f"actor_rollout_ref.rollout.tensor_model_parallel_size={tp}: tensor parallelism "
                         "needs GPUs; use 1 on CPU")
    ranks = tuple(Request("actor", k // n, k % n, CPUS_PER_RANK, 0.0) for k in range(n * nodes))
    pools = {"actor": [[{"CPU": CPUS_PER_RANK} for _ in range(n)] for _ in range(nodes)]}
    return Layout("cpu", 1, False, pools, ranks, (EnginePlan(Request("", 0, -1, CPUS_PER_ENGINE, 0.0), ()),))
