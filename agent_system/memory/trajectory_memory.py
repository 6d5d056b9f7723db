"""RawTrajectoryMemory: stored episodes retrieved into the prompt, the paper's baseline against skills.

``env.use_retrieval_memory=true`` (the original's ``RetrievalMemory``, its trajectory path). The
memories are a JSON list in the original's format (``generated_memories_*.json``): each has
``tags.outcome`` (Success, or Failure/Failed) and ``content.task_meta.original_goal``; successes
carry ``content.refined_trajectory.refined_trajectory`` (steps with ``action`` and
``critical_observation``) and ``content.strategic_guidelines.planning_pattern``; failures carry
``content.strategic_guidelines.mistakes_to_avoid``.

For a task, as the original: the goals of successes and of failures are embedded (unit-norm) and
ranked by cosine similarity to the task description; the ``top_k`` best successes and the
``min(top_k // 2, 5)`` best failures with similarity ``>= similarity_threshold`` are kept. They
fill three sections: the distinct planning patterns of the kept successes, the successes
themselves (goal, similarity, first five steps with what was observed) and the failures' mistakes.
The ``max_tokens`` budget is split as the original's 500 / 300 / 1200 of 2000 (a quarter for
patterns, 15 % for mistakes, the rest for examples); each section takes its entries best first and
stops at the first that does not fit.

Departures from the original:

* Tokens are counted on the rendered text, with the run's tokenizer when one is given (else the
  original's estimate, characters // 4); the original estimated ``len(json.dumps(memory)) // 4`` of
  the whole stored memory, far more than what reaches the prompt, so two examples and often no
  mistakes fitted its 2,000. Each section's header counts against its share.
* The original's ``RetrievalMemory`` served the skill bank instead when a
  ``claude_style_skills.json`` lay beside ``json_path`` (its recipes' layout); here this memory
  always serves trajectories; the skill bank is ``env.use_skills_only_memory``.
* The block is in the prompt from the first step on, where the skills go (see env_manager).
* Nothing is written to ``save_dir`` (created at start), as in the original, whose
  ``save_episode_trajectories`` never wrote and was never called.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from agent_system.memory.retrieved import RetrievedSkills
from skillrl.skills.retrieval import EmbeddingIndex, resolve_embedding_model

logger = logging.getLogger("skillrl.skills")

SUCCESS = ("Success",)
FAILURE = ("Failure", "Failed")
STEPS_SHOWN = 5  # steps of each example in the prompt, as the original
MAX_FAILURES = 5
PATTERN_SHARE, MISTAKE_SHARE = 0.25, 0.15  # of max_tokens; examples get the rest (the original's 500/300/1200)
HEADERS = {"patterns": "Planning patterns of similar solved tasks:",
           "examples": "Similar solved tasks:",
           "mistakes": "Mistakes made in similar failed tasks:"}
NOTHING = "No stored episode is similar enough to this task."


def char_estimate(text: str) -> int:
    """The original's token estimate: four characters a token."""
    return len(text) // 4


class TokenizerCounter:
    """Tokens of a text with a Hugging Face tokenizer (a class, not a lambda: the memory pickles)."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))


def load_memories(path: str) -> List[Dict[str, Any]]:
    """The memories at ``path``, checked for the fields retrieval reads (errors name the file and entry)."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"env.retrieval_memory.json_path: {path} does not exist") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"env.retrieval_memory.json_path: {path} is not valid JSON ({e})") from None
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of memories (generated_memories_*.json), got "
                         f"{type(data).__name__}")
    for i, m in enumerate(data):
        outcome = (m.get("tags") or {}).get("outcome") if isinstance(m, dict) else None
        goal = ((m.get("content") or {}).get("task_meta") or {}).get("original_goal") if isinstance(m, dict) else None
        if outcome not in SUCCESS + FAILURE or not isinstance(goal, str):
            raise ValueError(f"{path}: memory {i} needs tags.outcome (Success or Failure) and "
                             f"content.task_meta.original_goal (got outcome={outcome!r}, goal={goal!r})")
    return data


class RawTrajectoryMemory:
    """Successful and failed stored episodes, retrieved by goal similarity; see the module docstring."""

    def __init__(self, memories: Sequence[Dict[str, Any]], top_k: int = 10, similarity_threshold: float = 0.7,
                 max_tokens: int = 2000, index: Optional[EmbeddingIndex] = None,
                 count_tokens: Optional[Callable[[str], int]] = None, source: str = ""):
        self.memories = list(memories)
        self.success = [m for m in self.memories if m["tags"]["outcome"] in SUCCESS]
        self.failure = [m for m in self.memories if m["tags"]["outcome"] in FAILURE]
        self.top_k = int(top_k)
        self.similarity_threshold = float(similarity_threshold)
        self.max_tokens = int(max_tokens)
        self.index = index if index is not None else EmbeddingIndex(None)
        self.count_tokens = count_tokens or char_estimate
        self.source = source
        self._matrices: Optional[Tuple[np.ndarray, np.ndarray]] = None

    @classmethod
    def from_config(cls, cfg: Any, tokenizer: Any = None, encoder: Any = None) -> "RawTrajectoryMemory":
        """From ``env.retrieval_memory`` (skillrl.config.schema.RetrievalMemoryConfig); tokens are
        counted with ``tokenizer`` when given."""
        memories = load_memories(cfg.json_path)
        model = resolve_embedding_model(cfg.embedding_model, "env.retrieval_memory.embedding_model")
        index = EmbeddingIndex(model, encoder=encoder, device=_device(cfg.device))
        if cfg.save_dir:
            os.makedirs(cfg.save_dir, exist_ok=True)
        memory = cls(memories, cfg.top_k, cfg.similarity_threshold, cfg.max_tokens, index,
                     TokenizerCounter(tokenizer) if tokenizer is not None else None, source=cfg.json_path)
        logger.info("retrieval memory %s: %d successful, %d failed episodes (top_k=%d, threshold=%.2f, "
                    "max_tokens=%d, tokens counted %s)", cfg.json_path, len(memory.success), len(memory.failure),
                    memory.top_k, memory.similarity_threshold, memory.max_tokens,
                    "with the run's tokenizer" if tokenizer is not None else "as characters // 4")
        return memory

    def copy(self) -> "RawTrajectoryMemory":
        """The same memory: it is read-only, so training and validation may share it."""
        return self

    def __len__(self) -> int:
        return len(self.memories)

    # ------------------------------------------------------------------------------ retrieval
    def _goal_matrices(self) -> Tuple[np.ndarray, np.ndarray]:
        if self._matrices is None:
            goals = [_goal(m) for m in self.success + self.failure]
            rows = self.index.queries(goals) if goals else np.zeros((0, 1), dtype=np.float32)
            self._matrices = (rows[: len(self.success)], rows[len(self.success):])
        return self._matrices

    def prefetch(self, task_descriptions: Sequence[str]) -> None:
        """Encode the stored goals (first call) and the batch's task descriptions in few model calls."""
        self._goal_matrices()
        self.index.queries([t for t in task_descriptions if t])

    def rank(self, task_description: str, top_k: Optional[int] = None
             ) -> Tuple[List[Tuple[Dict[str, Any], float]], List[Tuple[Dict[str, Any], float]]]:
        """(successes, failures) as (memory, similarity), best first, above the threshold."""
        k = self.top_k if top_k is None else int(top_k)
        succ_mat, fail_mat = self._goal_matrices()
        q = self.index.query(task_description)
        return (_top(self.success, succ_mat, q, k, self.similarity_threshold),
                _top(self.failure, fail_mat, q, min(k // 2, MAX_FAILURES), self.similarity_threshold))

    def retrieve(self, task_description: str, top_k: Optional[int] = None, task_type: Optional[str] = None,
                 **_: Any) -> RetrievedSkills:
        """The entries for one task, rendered and cut to the token budget (``task_type`` is not used:
        similarity of the goals decides, as in the original)."""
        successes, failures = self.rank(task_description, top_k)
        shares = self.budgets()
        patterns = self._fit("patterns", _pattern_entries(successes), shares["patterns"])
        examples = self._fit("examples", [_example_entry(m, s) for m, s in successes], shares["examples"])
        mistakes = self._fit("mistakes", [e for e in (_mistake_entry(m, s) for m, s in failures) if e],
                             shares["mistakes"])
        return RetrievedSkills(general_skills=patterns, task_specific_examples=examples, mistakes_to_avoid=mistakes,
                               task_type=task_type or "unknown", retrieval_mode="trajectory")

    def budgets(self) -> Dict[str, int]:
        patterns, mistakes = int(self.max_tokens * PATTERN_SHARE), int(self.max_tokens * MISTAKE_SHARE)
        return {"patterns": patterns, "examples": self.max_tokens - patterns - mistakes, "mistakes": mistakes}

    def _fit(self, section: str, entries: List[Dict[str, Any]], budget: int) -> List[Dict[str, Any]]:
        """Entries best first while the header and the entries so far fit ``budget`` tokens."""
        used = self.count_tokens(HEADERS[section])
        kept = []
        for entry in entries:
            entry["tokens"] = self.count_tokens(entry["text"])
            if used + entry["tokens"] > budget:
                break
            used += entry["tokens"]
            kept.append(entry)
        return kept

    def format_for_prompt(self, retrieved: RetrievedSkills) -> str:
        """The kept entries under their section headers (the text the prompt's skills block holds)."""
        if isinstance(retrieved, dict):
            retrieved = RetrievedSkills.from_dict(retrieved)
        sections = []
        for name, entries in (("patterns", retrieved.general_skills), ("examples", retrieved.task_specific_examples),
                              ("mistakes", retrieved.mistakes_to_avoid)):
            if entries:
                sections.append("\n".join([HEADERS[name]] + [e["text"] for e in entries]))
        return "\n\n".join(sections) if sections else NOTHING


def _device(device: str) -> str:
    if str(device).startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            logger.info("env.retrieval_memory.device=%s but no GPU is visible: embedding on the CPU", device)
            return "cpu"
    return str(device)


def _goal(memory: Dict[str, Any]) -> str:
    return memory["content"]["task_meta"]["original_goal"]


def _top(memories: List[Dict[str, Any]], matrix: np.ndarray, query: np.ndarray, k: int,
         threshold: float) -> List[Tuple[Dict[str, Any], float]]:
    if k <= 0 or not memories:
        return []
    sims = matrix @ query
    order = np.argsort(-sims, kind="stable")[:k]
    return [(memories[i], float(sims[i])) for i in order if sims[i] >= threshold]


def _pattern_entries(successes: List[Tuple[Dict[str, Any], float]]) -> List[Dict[str, Any]]:
    """The distinct planning patterns, each with the most similar task that used it."""
    seen, out = set(), []
    for memory, score in successes:
        pattern = (memory["content"].get("strategic_guidelines") or {}).get("planning_pattern")
        if pattern and pattern not in seen:
            seen.add(pattern)
            out.append({"memory_id": memory.get("memory_id"), "score": score, "pattern": pattern,
                        "text": f"- {pattern} (as in: {_goal(memory)})"})
    return out


def _example_entry(memory: Dict[str, Any], score: float) -> Dict[str, Any]:
    traj = memory["content"].get("refined_trajectory") or {}
    steps = (traj.get("refined_trajectory") or []) if isinstance(traj, dict) else []
    lines = [f"- Task: {_goal(memory)} (similarity {score:.2f})"]
    for step in steps[:STEPS_SHOWN]:
        lines.append(f"  Action: {step.get('action', '')}")
        if step.get("critical_observation"):
            lines.append(f"  Observed: {step['critical_observation']}")
    if len(steps) > STEPS_SHOWN:
        lines.append(f"  ({len(steps) - STEPS_SHOWN} more steps)")
    return {"memory_id": memory.get("memory_id"), "score": score, "text": "\n".join(lines)}


def _mistake_entry(memory: Dict[str, Any], score: float) -> Optional[Dict[str, Any]]:
    mistakes = (memory["content"].get("strategic_guidelines") or {}).get("mistakes_to_avoid") or []
    lines = []
    for m in mistakes:
        if isinstance(m, dict) and m.get("trigger_condition") and m.get("bad_action"):
            lines.append(f"- Situation: {m['trigger_condition']} Mistake: {m['bad_action']}")
        elif isinstance(m, str) and m.strip():
            lines.append(f"- {m.strip()}")
    if not lines:
        return None
    return {"memory_id": memory.get("memory_id"), "score": score, "text": "\n".join(lines)}
