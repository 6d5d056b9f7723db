"""bf16 on CPU is chosen by what the CPU can do natively."""
from __future__ import annotations

import platform

import pytest

from skillrl.utils.hardware import cpu_has_fast_bf16


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64") or not platform.system() == "Linux",
                    reason="reads x86 CPU flags from /proc/cpuinfo")
def test_fast_bf16_matches_the_cpu_flags():
    flags = set()
    for line in open("/proc/cpuinfo", encoding="utf-8"):
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    native = {"avx512bw", "avx512vl", "avx512dq"} <= flags or "amx_bf16" in flags
    assert cpu_has_fast_bf16() is native
