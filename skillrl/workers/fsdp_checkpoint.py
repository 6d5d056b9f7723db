"""Actor checkpoints: sharded per rank with torch.distributed.checkpoint, plus a HF export.

Layout of ``<dir>`` (the trainer puts it at ``global_step_<n>/actor``):

* ``*.distcp`` + ``.metadata``: model and optimizer shards, one file per rank (DCP can reload
  them at another world size);
* ``extra_state_rank_<r>.pt``: that rank's LR-scheduler state and CPU/CUDA RNG states;
* ``huggingface/`` (``export_hf``): full weights as a normal transformers directory, with the
  tokenizer and generation config copied from the source model. LoRA adapters are merged.
"""
from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

import numpy as np
import torch

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
                    "merges.txt", "chat_template.jinja", "generation_config.json", "tokenizer.model")


def rng_state() -> Dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def save_sharded(ckpt_dir: str, model, optimizer, scheduler, rank: int, extra: Optional[Dict[str, Any]] = None) -> None:
    """Collective: every rank writes its shards of model + optimizer, and its own extra state."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    os.makedirs(ckpt_dir, exist_ok=True)
    model_sd, optim_sd = get_state_dict(model, optimizer)
    dcp.save({"model": model_sd, "optim": optim_sd}, checkpoint_id=ckpt_dir)
    torch.save({"scheduler": scheduler.state_dict() if scheduler is not None else None,
                "rng": rng_state(), "extra": extra or {}},
               os.path.join(ckpt_dir, f"extra_state_rank_{rank}.pt"))


def load_sharded(ckpt_dir: str, model, optimizer, scheduler, rank: int) -> Dict[str, Any]:
    """Collective: restore model, optimizer, scheduler and RNG; returns the saved ``extra`` dict."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    if not os.path.isfile(os.path.join(ckpt_dir, ".metadata")):
        raise FileNotFoundError(f"{ckpt_dir} is not an actor checkpoint (no .metadata from "
                                "torch.distributed.checkpoint); point resume at a global_step_<n>/actor directory")
    model_sd, optim_sd = get_state_dict(model, optimizer)
    state = {"model": model_sd, "optim": optim_sd}
    dcp.load(state, checkpoint_id=ckpt_dir)
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
    extra_path = os.path.join(ckpt_dir, f"extra_state_rank_{rank}.pt")
    if not os.path.isfile(extra_path):
        raise FileNotFoundError(f"{extra_path} is missing: the checkpoint was written by fewer ranks "
                                "than this run has; resume with the same trainer.n_gpus_per_node x nnodes")
    extra = torch.load(extra_path, weights_only=False)
    if scheduler is not None and extra.get("scheduler") is not None:
        scheduler.load_state_dict(extra["scheduler"])
    set_rng_state(extra["rng"])
    return extra.get("extra", {})


def export_hf(out_dir: str, named: Iterator[Tuple[str, torch.Tensor]], source_dir: str, rank: int,
              trust_remote_code: bool = False) -> Optional[str]:
    """Write full weights as a transformers model directory (rank 0 writes; all ranks iterate)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    state = {}
    for name, tensor in named:  # every rank must drain the iterator: gathering is collective
        if rank == 0:
            state[name] = tensor
    if rank != 0:
        return None
    config = AutoConfig.from_pretrained(source_dir, trust_remote_code=trust_remote_code)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise RuntimeError(f"exported weights do not match {type(model).__name__}: "
                           f"missing={sorted(set(missing) - tied)[:5]} unexpected={sorted(unexpected)[:5]}")
    model.tie_weights()
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp), safe_serialization=True)
    for fname in _TOKENIZER_FILES:
        src = Path(source_dir, fname)
        if src.is_file():
            shutil.copy2(src, tmp / fname)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return str(out)
