"""Ray actor hosting one rank of the FSDP actor / reference (:class:`skillrl.workers.actor.FSDPActor`).

The logic is in the plain class; this wrapper only joins the process group and forwards calls.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import ray

from skillrl.protocol import DataProto
from skillrl.workers.distributed import RankProcess


@ray.remote
class ActorRefWorker(RankProcess):
    def __init__(self, config, role: str, rank: int, world_size: int, device: str, cpu_threads: int = 0):
        super().__init__(rank, world_size, device, cpu_threads)
        self.config, self.role = config, role

    def init_model(self, master_addr: str, master_port: int, model_path: Optional[str] = None) -> bool:
        from skillrl.workers.actor import FSDPActor

        self.join(master_addr, master_port)
        self.impl = FSDPActor(self.config, self.role, self.device, model_path)
        return True

    def compute_log_prob(self, data: DataProto) -> DataProto:
        return self.impl.compute_log_prob(data)

    def compute_ref_log_prob(self, data: DataProto) -> DataProto:
        return self.impl.compute_ref_log_prob(data)

    def update_policy(self, data: DataProto) -> Dict[str, float]:
        return self.impl.update_policy(data)

    def state_dict_for_rollout(self):
        return self.impl.state_dict_for_rollout()

    def rollout_weight_buckets(self, bucket_bytes: int):
        """A generator (call with ``num_returns="streaming"``): rank 0 yields buckets, the others none."""
        yield from self.impl.rollout_buckets(bucket_bytes)

    def export_hf(self, out_dir: str) -> Optional[str]:
        return self.impl.export_hf(out_dir)

    def state_checksums(self) -> Dict[str, float]:
        from skillrl.workers.actor_checks import state_checksums

        return state_checksums(self.impl)

    def greedy_generate(self, prompt_token_ids, max_tokens: int, eos_ids):
        from skillrl.workers.actor_checks import greedy_generate

        return greedy_generate(self.impl.model, self.device, prompt_token_ids, max_tokens, eos_ids)

    def gpu_ids(self) -> List[str]:
        """The GPU ids Ray assigned this rank; a hybrid rollout engine is pinned to them."""
        return [str(g) for g in ray.get_gpu_ids()]

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Any other method of the plain class (for tools and tests)."""
        return getattr(self.impl, method)(*args, **kwargs)
