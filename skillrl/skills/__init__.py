"""The skill bank: format, task typing, retrieval, the teacher client and recursive evolution.

Module-level imports stay light (stdlib, numpy); ``sentence_transformers`` and ``openai`` are
imported inside the functions that use them. ``teacher`` and ``evolution`` are imported from
their modules (``from skillrl.skills.evolution import SkillEvolver``).
"""
from skillrl.skills.bank import (MISTAKE_FIELDS, SKILL_FIELDS, SkillBank, SkillBankError, is_evolved, load_bank,
                                 save_bank, write_json_atomic)
from skillrl.skills.task_types import (ALFWORLD_TYPES, SEARCH_TYPES, WEBSHOP_TYPES, detect_alfworld_type,
                                       detect_domain, detect_search_type, detect_task_type, detect_webshop_category,
                                       resolve_category)

__all__ = [
    "ALFWORLD_TYPES", "MISTAKE_FIELDS", "SEARCH_TYPES", "SKILL_FIELDS", "WEBSHOP_TYPES", "SkillBank",
    "SkillBankError", "detect_alfworld_type", "detect_domain", "detect_search_type", "detect_task_type",
    "detect_webshop_category", "is_evolved", "load_bank", "resolve_category", "save_bank", "write_json_atomic",
]
