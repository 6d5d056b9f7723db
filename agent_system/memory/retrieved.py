"""The typed record a memory's ``retrieve`` returns and its ``format_for_prompt`` reads."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, Iterator, List, Optional


@dataclass
class RetrievedSkills:
    """Skills retrieved for one task.

    Skills and mistakes are bank entries (dicts in the bank's JSON format, see
    :mod:`skillrl.skills.bank`). From the raw-trajectory memory (``retrieval_mode="trajectory"``)
    every list holds entries with ``memory_id``, ``score``, the rendered ``text`` and its ``tokens``:
    planning patterns in ``general_skills``, similar solved episodes in ``task_specific_examples``,
    failed episodes' mistakes in ``mistakes_to_avoid``. Read access by key (``retrieved["general_skills"]``,
    ``retrieved.get("task_type")``) is kept because the original SkillRL ``retrieve`` returned a
    dict with these keys and user code indexes it.
    """

    general_skills: List[Dict[str, Any]] = field(default_factory=list)
    task_specific_skills: List[Dict[str, Any]] = field(default_factory=list)
    mistakes_to_avoid: List[Dict[str, Any]] = field(default_factory=list)
    task_type: str = "unknown"  # the canonical type used (the environment's, else detected)
    category: Optional[str] = None  # the bank category used; None when the bank lacks one for task_type
    retrieval_mode: str = "template"  # template | embedding | trajectory
    # empty from the skill bank, as in the original; stored episodes from the raw-trajectory memory
    task_specific_examples: List[Dict[str, Any]] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        if key not in _FIELDS:
            raise KeyError(f"RetrievedSkills has no field {key!r}; fields: {', '.join(_FIELDS)}")
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in _FIELDS else default

    def keys(self) -> List[str]:
        return list(_FIELDS)

    def __iter__(self) -> Iterator[str]:
        return iter(_FIELDS)

    def __contains__(self, key: object) -> bool:
        return key in _FIELDS

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "RetrievedSkills":
        """A record from the original dict shape; keys that are not fields are ignored."""
        return cls(**{k: v for k, v in data.items() if k in _FIELDS})

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


_FIELDS = tuple(f.name for f in fields(RetrievedSkills))
