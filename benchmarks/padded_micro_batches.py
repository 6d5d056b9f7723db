"""Padded forward + backward on CPU: consecutive micro-batches at the batch's full width, against
length-sorted micro-batches each trimmed to its own longest row (what the actor and SFT do now).

    .venv/bin/python benchmarks/padded_micro_batches.py [--rows 64] [--micro 8] [--repeats 3]

The model is the quick start's (level two) tiny Qwen2, 2 layers of 256, 4 heads of 64; the rows
have that run's shapes: prompts of 600-850 tokens left-padded to the longest, responses of 20-48
tokens right-padded. Each micro-batch runs the actor's padded path (mask-derived positions, logits
of the response positions only) and a backward of the summed log-probs. Both plans run on the same
rows, alternating, ``--repeats`` times. Prints one JSON line per plan and repeat, then
``{"bench": "padded_summary", "tokens_ratio", "time_ratio"}``: trimmed over full width, padded
tokens computed and the best seconds of each.

Only the ratio is meant to be compared; absolute seconds depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from skillrl.workers.micro_batch import fixed_micro_batches, position_ids_from_mask, trim_left_padding  # noqa: E402


def _rows(n: int, vocab: int, seed: int) -> Dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    p_len = torch.randint(600, 851, (n,), generator=g)
    r_len = torch.randint(20, 49, (n,), generator=g)
    P, R = int(p_len.max()), int(r_len.max())
    ids = torch.randint(3, vocab, (n, P + R), generator=g)
    cols = torch.arange(P + R)
    mask = ((cols >= P - p_len[:, None]) & (cols < P + r_len[:, None])).long()
    return {"input_ids": ids * mask, "attention_mask": mask, "R": R}


def _pass(model, ids: torch.Tensor, mask: torch.Tensor, R: int, trim: bool) -> int:
    if trim:
        ids, mask = trim_left_padding(ids, mask, R)
    out = model(input_ids=ids, attention_mask=mask, position_ids=position_ids_from_mask(mask),
                use_cache=False, logits_to_keep=R + 1)
    logp = torch.log_softmax(out.logits[:, :-1].float(), -1).gather(-1, ids[:, -R:, None]).squeeze(-1)
    (logp * mask[:, -R:]).sum().backward()
    return ids.numel()


def _run(model, rows: Dict[str, torch.Tensor], plan: List[List[int]], trim: bool) -> Dict[str, float]:
    model.zero_grad(set_to_none=True)
    t0, tokens = time.perf_counter(), 0
    for idx in plan:
        i = torch.tensor(idx)
        tokens += _pass(model, rows["input_ids"][i], rows["attention_mask"][i], rows["R"], trim)
    return {"seconds": time.perf_counter() - t0, "padded_tokens": tokens}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--micro", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from transformers import AutoModelForCausalLM

    from skillrl.pipeline import Settings
    from skillrl.utils.tiny_model import build_tiny_model

    s = Settings()
    with tempfile.TemporaryDirectory() as d:
        build_tiny_model(d, seed=args.seed, hidden_size=s.hidden, intermediate_size=2 * s.hidden,
                         num_hidden_layers=s.layers, num_attention_heads=s.heads, num_key_value_heads=s.heads,
                         head_dim=64, initializer_range=0.02)
        model = AutoModelForCausalLM.from_pretrained(d).train()
    rows = _rows(args.rows, model.config.vocab_size, args.seed)
    lengths = rows["attention_mask"].sum(-1).tolist()
    plans = {"full_width": (fixed_micro_batches(args.rows, args.micro), False),
             "sorted_trimmed": (fixed_micro_batches(args.rows, args.micro, lengths), True)}
    _run(model, rows, plans["full_width"][0][:1], False)  # warm-up
    best: Dict[str, Dict[str, float]] = {}
    for rep in range(args.repeats):
        for name, (plan, trim) in plans.items():
            r = _run(model, rows, plan, trim)
            print(json.dumps({"bench": "padded_forward_backward", "plan": name, "repeat": rep, "rows": args.rows,
                              "micro": args.micro, "real_tokens": int(sum(lengths)), **r}), flush=True)
            if name not in best or r["seconds"] < best[name]["seconds"]:
                best[name] = r
    a, b = best["full_width"], best["sorted_trimmed"]
    print(json.dumps({"bench": "padded_summary", "tokens_ratio": round(b["padded_tokens"] / a["padded_tokens"], 4),
                      "time_ratio": round(b["seconds"] / a["seconds"], 4),
                      "real_over_full_width_tokens": round(sum(lengths) / a["padded_tokens"], 4)}), flush=True)


if __name__ == "__main__":
    main()
