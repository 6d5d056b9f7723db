"""``python -m skillrl.main_sft``: cold-start SFT on skill-augmented demonstrations (Hydra).

    python -m skillrl.collect collect.policy=expert collect.output=demos.jsonl
    python -m skillrl.main_sft sft.train_file=demos.jsonl sft.output_dir=outputs/sft
    python -m skillrl.main_ppo actor_rollout_ref.model.path=outputs/sft/huggingface

Each step of a successful demonstration becomes one example: the prompt exactly as the
environment manager builds it at RL time (skills included), and the target
``<think>..</think><action>..</action>``; only the target's tokens carry loss. Training runs on
the same FSDP actor code as RL (see :mod:`skillrl.sft.trainer`). Keys: ``sft.*`` (configs/
sft_trainer.yaml, schema ``SFTConfig``), plus ``actor_rollout_ref.model.*``, ``data.max_prompt_length``
/ ``data.truncation`` (as in RL), ``env.*`` (for prompt replay) and ``trainer.*`` (ranks, device).
"""
from __future__ import annotations

import json
import logging
import sys

logger = logging.getLogger("skillrl.sft")


def run_sft(config) -> dict:
    from skillrl.sft.trainer import SFTTrainer

    summary = SFTTrainer(config).fit()
    print(json.dumps({k: summary[k] for k in ("hf_model", "steps", "examples")} |
                     {"final_loss": summary["final"].get("sft/loss"), "val_loss": summary["final"].get("val/loss")}),
          flush=True)
    return summary


def main() -> None:
    from skillrl.config import CONFIG_DIR, hydra_argv, to_dataclass
    from skillrl.config.schema import SFTConfig

    hydra_argv()
    if not any(a.startswith("hydra.run.dir=") for a in sys.argv[1:]):
        sys.argv.append("hydra.run.dir=${sft.output_dir}/hydra")
    import hydra

    @hydra.main(config_path=CONFIG_DIR, config_name="sft_trainer", version_base=None)
    def _entry(cfg) -> None:
        run_sft(to_dataclass(cfg, SFTConfig))

    _entry()


if __name__ == "__main__":
    main()
