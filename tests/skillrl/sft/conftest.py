"""Expert demonstrations on the smallest household setting, collected once for the SFT tests."""
from __future__ import annotations

import pytest

# Few skills and short prompts: the tests stay fast, and the skills are still in every prompt.
SMALL_ENV = ["env.household.size=1", "env.max_steps=12", "env.skills_only_memory.top_k=1",
             "env.skills_only_memory.task_specific_top_k=1", "env.skills_only_memory.max_mistakes=1"]


@pytest.fixture(scope="session")
def small_env_overrides():
    return list(SMALL_ENV)


@pytest.fixture(scope="session")
def demos_file(tmp_path_factory) -> str:
    from skillrl.collect import collect, load_collect_config

    out = tmp_path_factory.mktemp("demos") / "demos.jsonl"
    collect(load_collect_config([*SMALL_ENV, "collect.num_episodes=6", f"collect.output={out}"]))
    return str(out)
