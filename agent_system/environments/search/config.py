"""``env.search.*``, checked by ``SearchFamily.check_config``. Stdlib only: the config schema loads this
file alone (agent_system/environments/builtin_configs.py)."""
from dataclasses import dataclass, field
from typing import List, Optional

from skillrl.registry import ENV_CONFIGS


@ENV_CONFIGS.register("search")
@dataclass
class SearchConfig:
    data_path: Optional[str] = None  # None: $SEARCH_DATA
    datasets: List[str] = field(default_factory=lambda: ["nq", "hotpotqa"])  # training (Search-R1's mix)
    # validation and test: the seven datasets of Search-R1's test file, as SkillRL validates
    val_datasets: List[str] = field(default_factory=lambda: [
        "nq", "triviaqa", "popqa", "hotpotqa", "2wikimultihopqa", "musique", "bamboogle"])
    val_max_tasks: int = -1  # validation questions per training run's validation; -1: all (SkillRL)
    retrieval_url: str = "http://127.0.0.1:8000/retrieve"
    search_url: Optional[str] = None  # the original recipes' name for retrieval_url; wins when set
    topk: int = 3
    timeout_s: float = 10.0
    max_retries: int = 2
