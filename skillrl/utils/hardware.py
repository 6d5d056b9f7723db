"""What the CPU can do fast, so CPU-only paths pick their precision by measurement, not by hope."""
from __future__ import annotations

import functools
import os

import torch


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when oneDNN has native bf16 kernels on this CPU (AVX512 or AMX).

    On AVX2-only CPUs bf16 autocast falls back to emulation: measured on a 2-core AMD EPYC (AVX2),
    one copy warm-up step of the pipeline's tiny model took 8.8 s in bf16 against 0.45 s in fp32.
    """
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


def host_cpus() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def cpu_threads_per_rank(ranks_on_host: int) -> int:
    """Torch threads for one of ``ranks_on_host`` processes that compute at the same time on this host.

    The trainer runs its phases one after another (rollout, log-probs, update), so a worker that
    computes alone (the rollout worker) gets every core and the FSDP ranks split them. Measured on
    2 cores: one thread per worker left a core idle and a GRPO step took 191 s.
    """
    return max(1, host_cpus() // max(1, int(ranks_on_host)))
