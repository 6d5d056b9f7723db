"""A tiny random-weight Qwen2 causal LM with its own tokenizer, built offline for tests.

``build_tiny_model(out_dir, seed)`` writes a normal Hugging Face model directory (config,
safetensors weights, generation config, fast tokenizer with a ChatML chat template) that both
transformers and vLLM load. Nothing is downloaded: the byte-level BPE tokenizer is trained here on
text produced by :func:`corpus_lines`, which imitates what the framework feeds a model (household
observations and actions, ``<think>``/``<action>`` tags, skill prompts, WebShop and search tool
calls). The tokenizer depends only on the corpus (fixed), the weights only on ``seed``; the same
seed gives byte-identical files.

The model is the smallest shape vLLM's CPU attention accepts: head_dim 64 (it rejects 16),
2 layers, 2 query heads sharing 1 key/value head, tied embeddings. Its weights are drawn with a
larger spread than Qwen2's default (``initializer_range`` 0.2 instead of 0.02) so greedy decoding
has clear winners; near-ties would make engine-vs-trainer greedy comparisons flaky.

Command line: ``python -m skillrl.utils.tiny_model --output_dir DIR [--seed N]``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, List

TINY_MODEL_ALIAS = "builtin:tiny"
# Bumped whenever the builder's output changes, so stale cache directories are rebuilt.
BUILD_VERSION = "2"
_VERSION_FILE = "skillrl_tiny_model.json"

IM_START, IM_END, EOT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
SPECIAL_TOKENS = [EOT, IM_START, IM_END]
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# ------------------------------------------------------------------------------------- corpus

_OBJECTS = [
    "apple", "bowl", "bread", "butterknife", "cd", "cellphone", "cloth", "creditcard", "cup",
    "desklamp", "dishsponge", "egg", "fork", "glassbottle", "kettle", "keychain", "knife",
    "ladle", "laptop", "lettuce", "mug", "newspaper", "pan", "pen", "pencil", "peppershaker",
    "pillow", "plate", "pot", "potato", "remotecontrol", "saltshaker", "soapbar", "soapbottle",
    "spatula", "spoon", "spraybottle", "statue", "tomato", "towel", "vase", "watch", "book",
    "alarmclock", "baseballbat", "basketball", "candle", "floorlamp", "houseplant", "tissuebox",
]
_RECEPTACLES = [
    "armchair", "bathtubbasin", "bed", "cabinet", "coffeemachine", "coffeetable", "countertop",
    "desk", "diningtable", "drawer", "dresser", "fridge", "garbagecan", "handtowelholder",
    "microwave", "ottoman", "safe", "shelf", "sidetable", "sinkbasin", "sofa", "stoveburner",
    "toaster", "toilet", "toiletpaperhanger", "towelholder", "tvstand", "laundryhamper",
]
_TASKS = [
    ("pick_and_place_simple", "put a {o} in {r}"),
    ("look_at_obj_in_light", "look at {o} under the desklamp"),
    ("pick_clean_then_place_in_recep", "put a clean {o} in {r}"),
    ("pick_heat_then_place_in_recep", "put a hot {o} in {r}"),
    ("pick_cool_then_place_in_recep", "put a cool {o} in {r}"),
    ("pick_two_obj_and_place", "put two {o} in {r}"),
]
_PRODUCTS = [
    "men's running shoes", "wireless bluetooth headphones", "organic green tea", "women's summer dress",
    "stainless steel water bottle", "gluten free snack bars", "usb c charging cable",
    "memory foam pillow", "cotton t-shirt", "hair conditioner for dry hair",
]
_QUESTIONS = [
    "who wrote the novel on which the film was based", "when was the bridge completed",
    "what is the capital of the country where the river starts", "which band released the album first",
    "how many people live in the city that hosted the games",
]
_SKILL_TITLES = [
    "Search before acting", "Check receptacles systematically", "Verify the object state",
    "Use the right appliance", "Avoid repeated actions", "Return to the target location",
]


def _obj(rng: random.Random) -> str:
    return f"{rng.choice(_OBJECTS)} {rng.randint(1, 9)}"


def _rec(rng: random.Random) -> str:
    return f"{rng.choice(_RECEPTACLES)} {rng.randint(1, 9)}"


def _household_actions(rng: random.Random) -> List[str]:
    o, r, r2 = _obj(rng), _rec(rng), _rec(rng)
    return [
        f"go to {r}", f"take {o} from {r}", f"put {o} in/on {r2}", f"open {r}", f"close {r}",
        f"heat {o} with microwave 1", f"cool {o} with fridge 1", f"clean {o} with sinkbasin 1",
        f"use desklamp {rng.randint(1, 3)}", f"examine {o}", f"examine {r}", "inventory", "look",
    ]


def _household_episode(rng: random.Random) -> List[str]:
    recs = sorted({_rec(rng) for _ in range(rng.randint(4, 10))})
    task_type, goal = rng.choice(_TASKS)
    goal = goal.format(o=rng.choice(_OBJECTS), r=rng.choice(_RECEPTACLES))
    lines = [
        "-= Welcome to TextWorld, ALFRED! =-",
        f"You are in the middle of a room. Looking quickly around you, you see a {', a '.join(recs)}.",
        f"Your task is to: {goal}.",
        f"Task type: {task_type.replace('_', ' ')}.",
    ]
    for _ in range(rng.randint(2, 5)):
        actions = _household_actions(rng)
        act = rng.choice(actions)
        lines.append(f"Your admissible actions of the current situation are: [{', '.join(actions)}].")
        lines.append(f"<think>I should {act} because the {rng.choice(_OBJECTS)} may be there.</think>"
                     f"<action>{act}</action>")
        lines.append(rng.choice([
            f"You arrive at {_rec(rng)}. On the {_rec(rng)}, you see a {_obj(rng)}, and a {_obj(rng)}.",
            f"You pick up the {_obj(rng)} from the {_rec(rng)}.",
            f"You open the {_rec(rng)}. The {_rec(rng)} is open. In it, you see nothing.",
            f"You heat the {_obj(rng)} using the microwave 1.",
            "Nothing happens.", "You are carrying: nothing.",
        ]))
    return lines


def _skill_prompt(rng: random.Random) -> List[str]:
    title = rng.choice(_SKILL_TITLES)
    return [
        "## Relevant skills from past experience",
        f"- **{title}**: {rng.choice(['First', 'Always', 'Before acting,'])} "
        f"look in the {rng.choice(_RECEPTACLES)} and the {rng.choice(_RECEPTACLES)}; "
        f"apply when the goal mentions a {rng.choice(_OBJECTS)}.",
        f"## Mistakes to avoid\n- Do not {rng.choice(['repeat', 'skip', 'guess'])} the same action "
        f"more than {rng.randint(2, 4)} times.",
        f"Step {rng.randint(1, 50)} of {rng.randint(20, 50)}. You should first reason step-by-step "
        "inside <think> </think> tags, then give exactly one action inside <action> </action> tags.",
    ]


def _webshop_and_search(rng: random.Random) -> List[str]:
    product, question = rng.choice(_PRODUCTS), rng.choice(_QUESTIONS)
    price = f"{rng.randint(5, 99)}.{rng.randint(0, 99):02d}"
    return [
        f"Instruction: i need {product}, and price lower than {price} dollars",
        f"<action>search[{product}]</action>",
        f"<action>click[b0{rng.randint(10000000, 99999999)}]</action>",
        f"<action>click[{rng.choice(['buy now', 'next >', '< prev', 'back to search', 'description'])}]</action>",
        f"Question: {question}?",
        f"<think>I need more facts.</think><search>{question}</search>",
        f"<information>Doc {rng.randint(1, 3)}: ...</information><answer>{rng.choice(_OBJECTS)}</answer>",
    ]


def corpus_lines(n_episodes: int = 600, seed: int = 1234) -> Iterator[str]:
    """Deterministic text resembling the framework's prompts and model outputs."""
    rng = random.Random(seed)
    for _ in range(n_episodes):
        yield from _household_episode(rng)
        yield from _skill_prompt(rng)
        yield from _webshop_and_search(rng)
        yield f"{IM_START}system\nYou are an expert agent.{IM_END}\n{IM_START}user\n"
        yield f"{IM_END}\n{IM_START}assistant\n"


# ---------------------------------------------------------------------------------- builders


def build_tokenizer(vocab_size: int = 2048):
    """Train a byte-level BPE on :func:`corpus_lines` and wrap it as a PreTrainedTokenizerFast."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(corpus_lines(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=IM_END, pad_token=EOT, unk_token=None,
        additional_special_tokens=[IM_START], model_max_length=4096,
        padding_side="left", clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_qwen2_config(vocab_size: int, eos_id: int, pad_id: int, **overrides):
    from transformers import Qwen2Config

    kwargs = dict(
        vocab_size=vocab_size, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=64, max_position_embeddings=4096,
        tie_word_embeddings=True, rms_norm_eps=1e-6, rope_theta=10000.0, initializer_range=0.2,
        bos_token_id=pad_id, eos_token_id=eos_id, pad_token_id=pad_id, use_cache=True,
    )
    kwargs.update(overrides)
    return Qwen2Config(**kwargs)


def build_tiny_model(output_dir: str, seed: int = 0, vocab_size: int = 2048, **config_overrides) -> str:
    """Write the tiny model + tokenizer to ``output_dir`` (created if missing); return the path.

    ``vocab_size`` is the BPE training target; the model's vocabulary is the tokenizer's actual
    size (at most that). ``config_overrides`` go to ``Qwen2Config`` (e.g. ``num_hidden_layers``).
    """
    import torch
    from transformers import GenerationConfig, Qwen2ForCausalLM

    if vocab_size < 300:
        raise ValueError(f"vocab_size={vocab_size} is too small: the byte alphabet alone needs 256 "
                         "tokens plus merges; use at least 300")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(vocab_size)
    eos_id = tokenizer.convert_tokens_to_ids(IM_END)
    pad_id = tokenizer.convert_tokens_to_ids(EOT)
    # The corpus may not fill the requested vocabulary; sizing the embedding to the tokenizer
    # keeps every id the model can emit decodable (vLLM's detokenizer rejects unknown ids).
    config = tiny_qwen2_config(len(tokenizer), eos_id, pad_id, **config_overrides)
    # Seed a private generator state so building does not disturb the caller's RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=pad_id, eos_token_id=eos_id, pad_token_id=pad_id, do_sample=False,
    )
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    (out / _VERSION_FILE).write_text(json.dumps({"build_version": BUILD_VERSION, "seed": seed,
                                                 "vocab_size": vocab_size}))
    return str(out)


# ---------------------------------------------------------------------------- path resolution


def cache_root() -> Path:
    return Path(os.environ.get("SKILLRL_CACHE", Path.home() / ".cache" / "skillrl"))


def _is_current_build(path: Path) -> bool:
    try:
        info = json.loads((path / _VERSION_FILE).read_text())
    except (OSError, ValueError):
        return False
    return info.get("build_version") == BUILD_VERSION and (path / "config.json").is_file()


def ensure_builtin_tiny() -> str:
    """Build the cached tiny model once (guarded by a file lock across processes); return its dir."""
    from filelock import FileLock

    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / "tiny_model"
    with FileLock(str(root / "tiny_model.lock")):
        if _is_current_build(target):
            return str(target)
        # Build beside the target and swap in, so a crash never leaves a half-written model.
        tmp = Path(tempfile.mkdtemp(prefix="tiny_model.", dir=str(root)))
        try:
            build_tiny_model(str(tmp), seed=0)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return str(target)


def resolve_model_path(path: str, field_name: str = "actor_rollout_ref.model.path") -> str:
    """Turn a configured model path into a local directory; ``builtin:tiny`` builds on first use."""
    if path == TINY_MODEL_ALIAS:
        return ensure_builtin_tiny()
    p = Path(os.path.expanduser(str(path)))
    if not p.is_dir():
        raise FileNotFoundError(
            f"{field_name}={path!r}: no such directory. Point it at a local Hugging Face model "
            f"directory (with config.json), or use {TINY_MODEL_ALIAS!r} for the built-in tiny model.")
    if not (p / "config.json").is_file():
        raise FileNotFoundError(f"{field_name}={path!r}: the directory has no config.json; "
                                "it must be a Hugging Face model directory.")
    return str(p)


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the tiny random Qwen2 test model offline.")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vocab_size", type=int, default=2048)
    args = parser.parse_args(argv)
    print(build_tiny_model(args.output_dir, seed=args.seed, vocab_size=args.vocab_size))


if __name__ == "__main__":
    main()
