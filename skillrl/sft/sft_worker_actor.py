"""Ray actor hosting one rank of cold-start SFT (:class:`skillrl.sft.worker.SFTWorker`).

The logic is in the plain class; this wrapper picks the rendezvous address, builds the rank once
every rank knows it, and forwards calls.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple

import ray


@ray.remote
class SFTRankActor:
    def __init__(self, cpu_threads: int = 1):
        self.impl = None
        if cpu_threads > 0:
            import torch

            # Ranks share the host's cores; a fixed thread count each avoids oversubscription.
            torch.set_num_threads(int(cpu_threads))
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    def rendezvous_address(self) -> Tuple[str, int]:
        from skillrl.workers.distributed import rendezvous_address

        return rendezvous_address()

    def init_model(self, arr_cfg: Any, sft_cfg: Any, total_steps: int, device: str, model_path: Optional[str],
                   rank: int, world_size: int, master_addr: str, master_port: int) -> bool:
        from skillrl.sft.worker import SFTWorker

        self.impl = SFTWorker(arr_cfg, sft_cfg, total_steps, device, model_path, rank, world_size,
                              master_addr, master_port)
        return True

    def train_step(self, batch: Optional[Dict[str, Any]], global_tokens: int,
                   global_prompt_tokens: int = 0) -> Dict[str, float]:
        return self.impl.train_step(batch, global_tokens, global_prompt_tokens)

    def eval_nll(self, batch: Optional[Dict[str, Any]]) -> Dict[str, float]:
        return self.impl.eval_nll(batch)

    def export_hf(self, out_dir: str) -> Optional[str]:
        return self.impl.export_hf(out_dir)

    def shutdown(self) -> None:
        if self.impl is not None:
            self.impl.shutdown()
