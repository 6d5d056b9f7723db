"""Rollout with transformers ``generate``: batched, left padded, stops at the end-of-turn token.

Slower than vLLM (no paged KV cache, no continuous batching) but needs nothing beyond
transformers and runs anywhere; it is also the reference the vLLM engine is checked against.
Log-probs (``SamplingParams.logprobs``) are those of the raw model distribution (temperature 1,
before top-p/top-k), matching what vLLM reports by default.

With ``share_prompt_prefix`` (``rollout.enable_prefix_caching``), the prompt start every row of a
batch shares (instructions and template-retrieved skills) is run once: the rows become
``[prefix | left-padded rest]`` and ``generate`` continues from the prefix's keys and values.
Logits equal the unshared pass up to floating-point order.
"""
from __future__ import annotations

import logging
from typing import Iterable, List, Optional, Sequence, Tuple

import torch

from skillrl.workers.micro_batch import MIN_SHARED_PREFIX, prefix_cache, shared_prefix_length, split_shared_prefix
from skillrl.workers.rollout.base import GenerationOutput, RolloutEngine, SamplingParams, check_prompts, episode_seed

logger = logging.getLogger("skillrl.workers")


class RowSampler:
    """A transformers logits processor that samples each row from its own generator.

    Row ``j`` (prompt ``j // n``, sample ``j % n``) draws from a generator seeded by
    ``episode_seed(seeds[j // n], j % n)``, after temperature, top-k and top-p, and returns scores
    that are 0 for the drawn token and -inf elsewhere, so greedy decoding keeps exactly that token.
    A row's tokens then do not depend on the other rows of the batch.
    """

    def __init__(self, seeds: Sequence[int], n: int, temperature: float, top_p: float = 1.0, top_k: int = -1):
        self.generators = []
        for s in seeds:
            for k in range(n):
                g = torch.Generator()
                g.manual_seed(episode_seed(s, k))
                self.generators.append(g)
        self.temperature, self.top_p, self.top_k = float(temperature), float(top_p), int(top_k)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if scores.shape[0] != len(self.generators):
            raise RuntimeError(f"RowSampler has {len(self.generators)} generators for {scores.shape[0]} rows")
        probs = self.probabilities(scores.detach().float().cpu())
        picks = torch.stack([torch.multinomial(p, 1, generator=g) for p, g in zip(probs, self.generators)])
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(1, picks.to(scores.device), 0.0)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Temperature, then top-k, then top-p (the smallest set whose mass reaches top_p)."""
        logits = logits / max(self.temperature, 1e-6)
        if 0 < self.top_k < logits.shape[-1]:
            kth = torch.topk(logits, self.top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if self.top_p < 1.0:
            sorted_logits, order = logits.sort(dim=-1, descending=True)
            p = sorted_logits.softmax(-1)
            drop = (p.cumsum(-1) - p) >= self.top_p  # the tokens after the mass already reached top_p
            logits = logits.scatter(1, order, sorted_logits.masked_fill(drop, float("-inf")))
        return logits.softmax(-1)


class HFEngine(RolloutEngine):
    name = "hf"

    def __init__(self, model_path: str, device: str = "cpu", dtype: torch.dtype = torch.float32,
                 tokenizer_path: Optional[str] = None, trust_remote_code: bool = False, max_batch_size: int = 64,
                 share_prompt_prefix: bool = True):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from skillrl.workers.fsdp_utils import attn_implementation

        self.device = device
        self.max_batch_size = max_batch_size
        self.share_prompt_prefix = share_prompt_prefix
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_path or model_path, trust_remote_code=trust_remote_code)
        self.model = AutoModelForCausalLM.from_pretrained(
            model_path, dtype=dtype, attn_implementation=attn_implementation(device),
            trust_remote_code=trust_remote_code).to(device).eval()
        self.vocab_size = int(self.model.get_input_embeddings().weight.shape[0])
        self.eos_ids = self._eos_ids()
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else self.eos_ids[0])

    def _eos_ids(self) -> List[int]:
        ids = self.model.generation_config.eos_token_id
        ids = [] if ids is None else ([ids] if isinstance(ids, int) else list(ids))
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(int(self.tokenizer.eos_token_id))
        if not ids:
            raise ValueError("the model has no end-of-sequence token (generation_config.eos_token_id and "
                             "tokenizer.eos_token are both unset); generation could not stop")
        return ids

    def generate(self, prompt_token_ids: Sequence[Sequence[int]], sampling: SamplingParams) -> List[GenerationOutput]:
        sampling.check()
        prompts = check_prompts(prompt_token_ids, self.vocab_size)
        seeds = sampling.seeds_for(len(prompts))
        # A seed makes the whole call reproducible; without one the process RNG advances.
        rng = torch.random.fork_rng(devices=[] if self.device == "cpu" else None, enabled=sampling.seed is not None)
        outputs: List[GenerationOutput] = []
        with rng:
            if sampling.seed is not None:
                torch.manual_seed(sampling.seed)
            for start in range(0, len(prompts), self.max_batch_size):
                end = start + self.max_batch_size
                outputs += self._generate_chunk(prompts[start:end], start, sampling, seeds and seeds[start:end])
        return outputs

    def _generate_chunk(self, prompts: List[List[int]], offset: int, sampling: SamplingParams,
                        seeds: Optional[List[int]] = None) -> List[GenerationOutput]:
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, p in enumerate(prompts):
            ids[i, width - len(p):] = torch.tensor(p)
            mask[i, width - len(p):] = 1
        kwargs = dict(max_new_tokens=sampling.max_tokens, eos_token_id=self.eos_ids, pad_token_id=self.pad_id,
                      return_dict_in_generate=True, output_logits=sampling.logprobs, use_cache=True)
        if sampling.greedy or seeds is not None:
            # greedy decoding returns one sequence per input row: repeat the rows for n samples
            ids, mask = ids.repeat_interleave(sampling.n, 0), mask.repeat_interleave(sampling.n, 0)
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if seeds is not None and not sampling.greedy:
            from transformers import LogitsProcessorList

            # generate's sampler draws for the whole batch from one stream; ours draws row by row
            # and hands the greedy step a one-hot choice
            rows = RowSampler(seeds, sampling.n, sampling.temperature, sampling.top_p, sampling.top_k)
            kwargs.update(logits_processor=LogitsProcessorList([rows]))
        elif not sampling.greedy:
            kwargs.update(do_sample=True, num_return_sequences=sampling.n, temperature=sampling.temperature,
                          top_p=sampling.top_p, top_k=sampling.top_k if sampling.top_k > 0 else 0)
        with torch.no_grad():
            # generate repeats the rows for num_return_sequences but not a cache: share only when
            # the rows are already one per sample
            one_row_per_sample = sampling.n == 1 or "num_return_sequences" not in kwargs
            ids, mask, cache = self._with_prefix_cache(ids.to(self.device), mask.to(self.device), one_row_per_sample)
            out = self.model.generate(input_ids=ids, attention_mask=mask, past_key_values=cache, **kwargs)
        gen = out.sequences[:, width:].cpu()
        logp = None
        if sampling.logprobs:
            logits = torch.stack(out.logits, dim=1).float().cpu()  # [B*n, T, V]
            logp = torch.gather(logits.log_softmax(-1), -1, gen.unsqueeze(-1)).squeeze(-1)
        return [self._output(gen[j], None if logp is None else logp[j], offset + j // sampling.n)
                for j in range(gen.shape[0])]

    def _with_prefix_cache(self, ids: torch.Tensor, mask: torch.Tensor, allowed: bool = True):
        """``[prefix | left-padded rest]`` rows and the prefix's cache, or the rows as given and None."""
        P = shared_prefix_length(ids, mask, 0) if self.share_prompt_prefix and allowed else 0
        if P < MIN_SHARED_PREFIX:
            return ids, mask, None
        B = ids.shape[0]
        prefix, rest, rest_mask = split_shared_prefix(ids, mask, P)
        return (torch.cat([prefix.expand(B, P), rest], 1),
                torch.cat([rest_mask.new_ones(B, P), rest_mask], 1), prefix_cache(self.model, prefix, B))

    def _output(self, row: torch.Tensor, logp: Optional[torch.Tensor], prompt_index: int) -> GenerationOutput:
        tokens = row.tolist()
        stop = next((k for k, t in enumerate(tokens) if t in self.eos_ids), None)
        finish = "length" if stop is None else "stop"
        tokens = tokens if stop is None else tokens[: stop + 1]
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        lps = None if logp is None else [float(x) for x in logp[: len(tokens)]]
        return GenerationOutput(token_ids=tokens, text=text, logprobs=lps, finish_reason=finish,
                                prompt_index=prompt_index)

    def load_weights(self, named_tensors: Iterable[Tuple[str, torch.Tensor]]) -> None:
        """Copy full weights (transformers names) into the model in place."""
        # state_dict names tied weights under both names (named_parameters lists them once).
        params = self.model.state_dict(keep_vars=True)
        unknown = []
        with torch.no_grad():
            for name, tensor in named_tensors:
                target = params.get(name)
                if target is None:
                    unknown.append(name)
                    continue
                if target.shape != tensor.shape:
                    raise ValueError(f"weight {name}: shape {tuple(tensor.shape)} does not match the engine's "
                                     f"{tuple(target.shape)}; the actor and rollout models differ")
                target.copy_(tensor.to(target.device, target.dtype))
        if unknown:
            raise ValueError(f"weights not in the rollout model: {unknown[:5]} ({len(unknown)} in all)")
