"""The GPU layout (skillrl/workers/layout.py) placed on Ray's logical GPUs: no CUDA needed.

The original recipe (Qwen2.5-7B-Instruct, trainer.n_gpus_per_node=4, trainer.nnodes=1, TP 4,
hybrid engine) and its neighbours (TP 1, 2, 4 on 4 and 8 GPUs, one or two nodes, a separate
rollout pool) are placed with probe actors that make exactly the requests the real workers make:
:func:`ray_options` for FSDP ranks and engine actors; a hybrid engine gets :func:`engine_env` from
the GPU ids its ranks report (as :func:`create_rollout_workers` does), and in a separate pool with
TP>1 the probe starts the per-GPU workers vLLM's ``ray`` executor starts from those variables in the
engine's placement group. Every probe stays alive until all have reported, so they fit at once.
"""
from __future__ import annotations

import os
from collections import Counter

import pytest

from skillrl.config.schema import ActorRolloutRefConfig, TrainerConfig
from skillrl.workers.layout import plan_layout


def _cfgs(n: int, nodes: int, tp: int, hybrid: bool = True, rollout_gpus: int = 0, rollout_nodes: int = 0):
    trainer = TrainerConfig(device="cuda", n_gpus_per_node=n, nnodes=nodes)
    arr = ActorRolloutRefConfig()
    arr.hybrid_engine = hybrid
    arr.rollout.tensor_model_parallel_size = tp
    arr.rollout.n_gpus_per_node, arr.rollout.nnodes = rollout_gpus, rollout_nodes
    return trainer, arr


# ----------------------------------------------------------------------------- the plan alone


@pytest.mark.parametrize("n,tp", [(4, 1), (4, 2), (4, 4), (8, 1), (8, 2), (8, 4)])
def test_hybrid_plan_puts_one_rank_on_every_gpu_and_pins_each_engine_to_its_group(n, tp):
    layout = plan_layout(*_cfgs(n, 1, tp), "cuda")
    assert len(layout.ranks) == n and len(layout.engines) == n // tp
    gpu_use, cpu_use = Counter(), Counter()
    for r in layout.ranks:
        gpu_use[r.bundle] += r.num_gpus
        cpu_use[r.bundle] += r.num_cpus
    for i, e in enumerate(layout.engines):
        cpu_use[e.host.bundle] += e.host.num_cpus
        gpu_use[e.host.bundle] += e.host.num_gpus
        assert e.gpu_workers == () and e.ranks == tuple(range(i * tp, (i + 1) * tp))
        assert e.host.bundle == layout.ranks[e.ranks[0]].bundle  # in its group's first rank's bundle
    bundles = layout.pools["actor"][0]
    assert all(r.num_gpus == 0.5 for r in layout.ranks)
    # Ray's books: the engine's half on its group's first GPU; the others carry their rank's half
    assert all(abs(gpu_use[b] - (1.0 if b % tp == 0 else 0.5)) < 1e-9 for b in range(n))
    assert all(cpu_use[b] == bundles[b]["CPU"] for b in range(n))


def test_engine_env_pins_a_hybrid_engine_to_its_ranks_gpus():
    from skillrl.workers.worker_group import engine_env

    layout = plan_layout(*_cfgs(4, 2, 2), "cuda")
    reported = [["3"], ["1"], ["0"], ["2"], ["1"], ["0"], ["3"], ["2"]]  # as Ray may number them
    envs = [engine_env(e, reported) for e in layout.engines]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["3,1", "0,2", "1,0", "3,2"]
    assert all(e["SKILLRL_PINNED_GPUS"] == e["CUDA_VISIBLE_DEVICES"] and "VLLM_RAY_BUNDLE_INDICES" not in e
               for e in envs)
    with pytest.raises(RuntimeError, match=r"ranks \[0, 1\] .* report GPU ids \['1', '1'\]"):
        engine_env(layout.engines[0], [["1"], ["1"]] + reported[2:])
    with pytest.raises(RuntimeError, match="FSDP rank 1 reports GPU ids \\[\\]"):
        engine_env(layout.engines[0], [["1"], []] + reported[2:])
    with pytest.raises(ValueError, match="pass the ranks' GPU ids"):
        engine_env(layout.engines[0])
    separate = plan_layout(*_cfgs(2, 1, 2, hybrid=False, rollout_gpus=2, rollout_nodes=1), "cuda")
    assert engine_env(separate.engines[0]) == {"VLLM_RAY_BUNDLE_INDICES": "0,1", "VLLM_RAY_PER_WORKER_GPUS": "0.9"}


def test_a_tp_that_does_not_divide_the_node_names_the_keys():
    with pytest.raises(ValueError, match="tensor_model_parallel_size=3 does not divide trainer.n_gpus_per_node=4"):
        plan_layout(*_cfgs(4, 1, 3), "cuda")
    with pytest.raises(ValueError, match="rollout.n_gpus_per_node"):
        plan_layout(*_cfgs(4, 1, 2, hybrid=False), "cuda")
    with pytest.raises(ValueError, match="needs GPUs; use 1 on CPU"):
        plan_layout(*_cfgs(2, 1, 2), "cpu")


def test_nnodes_means_nodes_on_cpu_too():
    layout = plan_layout(*_cfgs(2, 3, 1), "cpu")
    assert [(r.node, r.bundle) for r in layout.ranks] == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    assert len(layout.pools["actor"]) == 3


# ------------------------------------------------------------------------ placed on logical GPUs


@pytest.fixture(scope="module")
def gpu_cluster():
    """Two nodes of 4 logical GPUs each (a 4-GPU recipe node, and 8 GPUs across two); the session's
    plain Ray comes back afterwards."""
    import ray
    from ray.cluster_utils import Cluster

    from tests.support.ray_session import REPO_ROOT, init_session_ray

    had_session = ray.is_initialized()
    ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 10, "num_gpus": 4})
    cluster.add_node(num_cpus=10, num_gpus=4)
    ray.init(address=cluster.address, include_dashboard=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO_ROOT)}})
    yield cluster
    ray.shutdown()
    cluster.shutdown()
    if had_session:
        init_session_ray()


def _probe_classes():
    import ray
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    def where():
        return {"node": ray.get_runtime_context().get_node_id(), "gpus": [str(g) for g in ray.get_gpu_ids()]}

    @ray.remote
    class RankProbe:
        def where(self):
            return where()

    @ray.remote
    class GpuWorkerProbe:
        def where(self):
            return where()

    @ray.remote
    class EngineProbe:
        def __init__(self, env):
            os.environ.update(env)  # as RolloutWorker does before building the engine
            self.workers = []
            if os.environ.get("VLLM_RAY_BUNDLE_INDICES"):
                # what vLLM's ray executor does (vllm/v1/executor/ray_executor.py, _init_workers_ray)
                pg = ray.util.get_current_placement_group()
                share = float(os.environ["VLLM_RAY_PER_WORKER_GPUS"])
                for b in map(int, os.environ["VLLM_RAY_BUNDLE_INDICES"].split(",")):
                    strategy = PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=b,
                                                                placement_group_capture_child_tasks=True)
                    self.workers.append(GpuWorkerProbe.options(num_cpus=0, num_gpus=share,
                                                               scheduling_strategy=strategy).remote())

        def where(self):
            info = where()
            info["visible"] = os.environ.get("CUDA_VISIBLE_DEVICES", "")
            info["pinned"] = bool(os.environ.get("SKILLRL_PINNED_GPUS"))
            info["workers"] = ray.get([w.where.remote() for w in self.workers], timeout=120)
            return info

    return RankProbe, EngineProbe


def _place(layout, name):
    """Start every probe of ``layout`` as the real workers start (ranks, their GPU ids, then the
    engines); returns (rank infos, engine infos) while all of them hold their resources."""
    import ray

    from skillrl.workers.worker_group import create_placement_groups, engine_env, ray_options

    RankProbe, EngineProbe = _probe_classes()
    pgs = {pool: create_placement_groups(layout, pool, name, timeout_s=60) for pool in layout.pools}
    actors = []
    try:
        actors += [RankProbe.options(**ray_options(r, pgs[r.pool])).remote() for r in layout.ranks]
        ranks = ray.get([a.where.remote() for a in actors], timeout=180)
        rank_gpus = [r["gpus"] for r in ranks]
        engines = [EngineProbe.options(**ray_options(e.host, pgs[e.host.pool])).remote(engine_env(e, rank_gpus))
                   for e in layout.engines]
        actors += engines
        return ranks, ray.get([e.where.remote() for e in engines], timeout=180)
    finally:
        from skillrl.workers.worker_group import remove_placement_groups

        for a in actors:
            ray.kill(a)
        for groups in pgs.values():
            remove_placement_groups(groups)


def _engine_gpus(info):
    """(node, GPU id) of every device the engine computes on: its pinned devices, its vLLM workers'
    GPUs, or the GPU Ray gave it."""
    if info["pinned"]:
        return [(info["node"], g) for g in info["visible"].split(",")]
    return [(w["node"], w["gpus"][0]) for w in info["workers"]] or [(info["node"], info["gpus"][0])]


@pytest.mark.parametrize("n,nodes,tp", [(4, 1, 4), (4, 1, 2), (4, 1, 1), (4, 2, 1), (4, 2, 2), (4, 2, 4)])
def test_the_hybrid_layout_places_every_actor(gpu_cluster, n, nodes, tp):
    layout = plan_layout(*_cfgs(n, nodes, tp), "cuda")
    ranks, engines = _place(layout, f"h{n}x{nodes}tp{tp}")
    rank_gpus = [(r["node"], r["gpus"][0]) for r in ranks]
    assert len(set(rank_gpus)) == n * nodes  # one GPU per rank
    for k in range(nodes):  # a node's ranks on one machine
        assert len({r["node"] for r in ranks[k * n:(k + 1) * n]}) == 1
    assert len({r["node"] for r in ranks}) == nodes  # the machines have 4 GPUs: 8 ranks need both
    engine_gpus = [g for e in engines for g in _engine_gpus(e)]
    assert sorted(engine_gpus) == sorted(rank_gpus)  # engines cover exactly the ranks' GPUs
    for plan, e in zip(layout.engines, engines):
        # pinned to its own ranks' GPUs, on their machine (its actor sits in its first rank's bundle)
        assert e["pinned"] and _engine_gpus(e) == [rank_gpus[k] for k in plan.ranks]


def test_a_separate_rollout_pool_places_beside_the_actor(gpu_cluster):
    layout = plan_layout(*_cfgs(2, 1, 2, hybrid=False, rollout_gpus=2, rollout_nodes=1), "cuda")
    ranks, engines = _place(layout, "separate")
    rank_gpus = {(r["node"], r["gpus"][0]) for r in ranks}
    engine_gpus = {g for e in engines for g in _engine_gpus(e)}
    assert len(rank_gpus) == 2 and len(engine_gpus) == 2 and not rank_gpus & engine_gpus


def test_a_layout_larger_than_the_cluster_fails_clearly(gpu_cluster):
    from skillrl.workers.worker_group import create_placement_groups

    layout = plan_layout(*_cfgs(8, 1, 4), "cuda")  # 8 GPUs on one node; the machines have 4
    with pytest.raises(RuntimeError, match="could not reserve the actor pool .*trainer.n_gpus_per_node"):
        create_placement_groups(layout, "actor", "too_big", timeout_s=3)


def test_a_critic_rank_shares_each_actor_rank_bundle():
    """PPO with GAE: critic rank k asks for actor rank k's bundle, its GPU sliver taken from the actor's share."""
    from skillrl.workers.layout import ACTOR_GPU_SHARE, CRITIC_GPU_SHARE

    plain = plan_layout(*_cfgs(2, 2, 1), "cuda")
    layout = plan_layout(*_cfgs(2, 2, 1), "cuda", critic=True)
    assert plain.critic_ranks == () and layout.pools == plain.pools and layout.engines == plain.engines
    assert [(c.pool, c.node, c.bundle) for c in layout.critic_ranks] == [(r.pool, r.node, r.bundle) for r in layout.ranks]
    for rank, critic in zip(layout.ranks, layout.critic_ranks):
        assert critic.num_cpus == 0.0 and critic.num_gpus == CRITIC_GPU_SHARE
        assert rank.num_gpus + critic.num_gpus == pytest.approx(ACTOR_GPU_SHARE)
    cpu = plan_layout(*_cfgs(2, 1, 1), "cpu", critic=True)
    assert [(c.bundle, c.num_cpus, c.num_gpus) for c in cpu.critic_ranks] == [(0, 0.0, 0.0), (1, 0.0, 0.0)]
