"""The one batch object that workers, the trainer and the algorithms exchange: :class:`DataProto`.

A ``DataProto`` holds three things:

* ``batch``: ``dict[str, torch.Tensor]``, every tensor with the same first dimension (the rows);
* ``non_tensor_batch``: ``dict[str, np.ndarray]``, numeric or object arrays with that same first
  dimension (ids, strings, flags, arbitrary Python objects);
* ``meta_info``: a plain ``dict`` of batch-wide values (temperature, step counters, metrics).

Standard fields of a training batch. One row is one *step sample*: the prompt the policy saw at one
turn of one trajectory and the response it produced (bs = step samples, P = prompt length,
R = response length):

=================== ============ =============================================================
key                 shape        meaning
=================== ============ =============================================================
input_ids           [bs, P+R]    prompt then response token ids
attention_mask      [bs, P+R]    1 on real tokens, 0 on padding
position_ids        [bs, P+R]    positions (cumsum of attention_mask - 1, clipped at 0)
prompts             [bs, P]      prompt ids, left padded
responses           [bs, R]      response ids, right padded
response_mask       [bs, R]      1 on response tokens that count for the loss
old_log_probs       [bs, R]      log-prob of each response token under the rollout policy
ref_log_prob        [bs, R]      the same under the frozen reference policy
entropys            [bs, R]      entropy of the policy's token distribution
token_level_scores  [bs, R]      reward from the reward manager (at the last response token)
token_level_rewards [bs, R]      scores after KL / invalid-action penalties
advantages          [bs, R]      from :mod:`skillrl.algorithms.advantages`
returns             [bs, R]      likewise
=================== ============ =============================================================

Non-tensor fields (each ``[bs]``): ``uid`` (group id: all members playing the same task instance),
``traj_uid`` (one id per trajectory), ``step_index`` (0-based turn within the trajectory),
``task_type``, ``is_action_valid`` (bool), ``anchor_obs`` (str, the observation GiGPO groups on),
``step_rewards`` (float, the environment's reward at that step), ``episode_rewards`` (float),
``won`` (bool).

Departures from verl's ``DataProto``: there is no TensorDict dependency (a plain dict of tensors
is enough and pickles through Ray unchanged); ``union`` and ``pop`` return new objects / the
removed part and never alias in surprising ways; fully padded copies added by
:meth:`DataProto.pad_to_divisor` are reported as a count so callers can drop them with
:meth:`DataProto.unpad`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

__all__ = ["DataProto", "concat_step_samples"]

IndexLike = Union[int, slice, Sequence[int], np.ndarray, torch.Tensor]


def _to_object_array(values: Any, key: str) -> np.ndarray:
    """Lists become arrays: numeric ones keep their dtype, anything else becomes ``object``.

    Object dtype keeps strings at full length (a fixed-width ``<U`` array would truncate on
    assignment) and allows ragged lists or dicts per row.
    """
    if isinstance(values, np.ndarray):
        arr = values
    else:
        values = list(values)
        try:
            arr = np.asarray(values)
        except (ValueError, TypeError):  # ragged nested lists
            arr = None
        if arr is None or arr.dtype.kind not in "biuf" or arr.ndim != 1:
            # element-wise so that rows which are lists stay whole objects
            arr = np.empty(len(values), dtype=object)
            for i, v in enumerate(values):
                arr[i] = v
    if arr.ndim == 0:
        raise ValueError(f"non_tensor_batch[{key!r}] is a scalar; give one value per row (an array of shape [bs])")
    return arr


def _same_values(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a.cpu(), b.cpu()))
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        if a.shape != b.shape:
            return False
        try:
            return bool(np.array_equal(a, b))
        except (ValueError, TypeError):  # object rows that are themselves arrays
            return all(_same_values(x, y) for x, y in zip(a.tolist(), b.tolist()))
    try:
        return bool(a == b)
    except (ValueError, TypeError, RuntimeError):
        return a is b


def _index_rows(index: IndexLike, n: int) -> Union[slice, np.ndarray]:
    """Normalise an index to a slice or an int64 position array; bool masks must have length n."""
    if isinstance(index, slice):
        return index
    if isinstance(index, torch.Tensor):
        index = index.detach().cpu().numpy()
    arr = np.asarray(index)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise IndexError(f"boolean mask of shape {arr.shape} does not match batch length {n}")
        return np.nonzero(arr)[0]
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise IndexError(f"index must be an int, a slice, a 1-D integer array or a bool mask; got {arr.dtype} {arr.shape}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.max() >= n or arr.min() < -n):
        raise IndexError(f"index out of range for batch length {n}: {arr.min()}..{arr.max()}")
    return arr


@dataclass
class DataProto:
    batch: Dict[str, torch.Tensor] = field(default_factory=dict)
    non_tensor_batch: Dict[str, np.ndarray] = field(default_factory=dict)
    meta_info: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.check_consistency()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(
        cls,
        tensors: Optional[Mapping[str, torch.Tensor]] = None,
        non_tensors: Optional[Mapping[str, Any]] = None,
        meta_info: Optional[Mapping[str, Any]] = None,
    ) -> "DataProto":
        """Build from plain dicts; lists in ``non_tensors`` become numpy arrays (see module doc)."""
        batch = {}
        for k, v in (tensors or {}).items():
            if not isinstance(v, torch.Tensor):
                raise TypeError(f"tensors[{k!r}] is a {type(v).__name__}; put non-tensor data in non_tensors")
            batch[k] = v
        non = {k: _to_object_array(v, k) for k, v in (non_tensors or {}).items()}
        return cls(batch=batch, non_tensor_batch=non, meta_info=dict(meta_info or {}))

    @classmethod
    def from_single_dict(cls, data: Mapping[str, Any], meta_info: Optional[Mapping[str, Any]] = None) -> "DataProto":
        """Split one dict by value type: tensors go to ``batch``, everything else to ``non_tensor_batch``."""
        tensors = {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}
        others = {k: v for k, v in data.items() if not isinstance(v, torch.Tensor)}
        return cls.from_dict(tensors, others, meta_info)

    # ------------------------------------------------------------------ checks
    def check_consistency(self) -> None:
        """Raise ``ValueError`` naming the key whose first dimension disagrees with the others."""
        sizes: Dict[str, int] = {}
        for k, v in self.batch.items():
            if not isinstance(v, torch.Tensor):
                raise TypeError(f"batch[{k!r}] is a {type(v).__name__}, expected a torch.Tensor")
            if v.dim() == 0:
                raise ValueError(f"batch[{k!r}] is a 0-d tensor; batch tensors need a first (row) dimension")
            sizes[f"batch[{k!r}]"] = v.shape[0]
        for k, v in self.non_tensor_batch.items():
            if not isinstance(v, np.ndarray):
                raise TypeError(f"non_tensor_batch[{k!r}] is a {type(v).__name__}, expected a numpy array")
            if v.ndim == 0:
                raise ValueError(f"non_tensor_batch[{k!r}] is 0-d; it needs one value per row")
            sizes[f"non_tensor_batch[{k!r}]"] = v.shape[0]
        if len(set(sizes.values())) > 1:
            shapes = ", ".join(f"{name}: {n}" for name, n in sizes.items())
            raise ValueError(f"DataProto fields disagree on the batch size (first dimension): {shapes}")
        if not isinstance(self.meta_info, dict):
            raise TypeError(f"meta_info must be a dict, got {type(self.meta_info).__name__}")

    def __len__(self) -> int:
        for v in self.batch.values():
            return int(v.shape[0])
        for v in self.non_tensor_batch.values():
            return int(v.shape[0])
        return 0

    def __repr__(self) -> str:
        t = ", ".join(f"{k}: {tuple(v.shape)} {str(v.dtype).replace('torch.', '')}" for k, v in self.batch.items())
        n = ", ".join(f"{k}: {v.dtype}" for k, v in self.non_tensor_batch.items())
        return f"DataProto(len={len(self)}, batch={{{t}}}, non_tensor_batch={{{n}}}, meta_info={list(self.meta_info)})"

    # ------------------------------------------------------------------ indexing
    def __getitem__(self, index: IndexLike) -> "DataProto":
        """Rows by int (a batch of one), slice, integer array or bool mask; meta_info is shared."""
        n = len(self)
        if isinstance(index, (int, np.integer)):
            i = int(index)
            if not -n <= i < n:
                raise IndexError(f"row {i} out of range for batch length {n}")
            i = i % n
            rows: Union[slice, np.ndarray] = slice(i, i + 1)
        else:
            rows = _index_rows(index, n)
        return self._take(rows)

    def _take(self, rows: Union[slice, np.ndarray]) -> "DataProto":
        if isinstance(rows, slice):
            batch = {k: v[rows] for k, v in self.batch.items()}
        else:
            idx = torch.from_numpy(rows)
            batch = {k: v.index_select(0, idx.to(v.device)) for k, v in self.batch.items()}
        non = {k: v[rows] for k, v in self.non_tensor_batch.items()}
        return DataProto(batch, non, dict(self.meta_info))

    def select(
        self,
        batch_keys: Optional[Iterable[str]] = None,
        non_tensor_batch_keys: Optional[Iterable[str]] = None,
        meta_info_keys: Optional[Iterable[str]] = None,
    ) -> "DataProto":
        """A new DataProto with only the named keys (None keeps all of that part); tensors are shared."""
        batch = self._pick(self.batch, batch_keys, "batch")
        non = self._pick(self.non_tensor_batch, non_tensor_batch_keys, "non_tensor_batch")
        meta = self._pick(self.meta_info, meta_info_keys, "meta_info")
        return DataProto(batch, non, meta)

    @staticmethod
    def _pick(part: Mapping[str, Any], keys: Optional[Iterable[str]], name: str) -> Dict[str, Any]:
        if keys is None:
            return dict(part)
        keys = [keys] if isinstance(keys, str) else list(keys)
        missing = [k for k in keys if k not in part]
        if missing:
            raise KeyError(f"{name} has no key(s) {missing}; available: {sorted(part)}")
        return {k: part[k] for k in keys}

    def pop(
        self,
        batch_keys: Optional[Iterable[str]] = None,
        non_tensor_batch_keys: Optional[Iterable[str]] = None,
        meta_info_keys: Optional[Iterable[str]] = None,
    ) -> "DataProto":
        """Remove the named keys from this object and return them as a new DataProto."""
        out = self.select(batch_keys or [], non_tensor_batch_keys or [], meta_info_keys or [])
        for k in out.batch:
            del self.batch[k]
        for k in out.non_tensor_batch:
            del self.non_tensor_batch[k]
        for k in out.meta_info:
            del self.meta_info[k]
        return out

    # ------------------------------------------------------------------ combining
    def union(self, other: "DataProto") -> "DataProto":
        """All keys of both (same length); a key present in both must hold equal values."""
        if len(self) != len(other) and self._has_rows() and other._has_rows():
            raise ValueError(f"union of DataProto of different lengths: {len(self)} vs {len(other)}")
        parts = []
        for name in ("batch", "non_tensor_batch", "meta_info"):
            mine, theirs = getattr(self, name), getattr(other, name)
            for k in mine.keys() & theirs.keys():
                if not _same_values(mine[k], theirs[k]):
                    raise ValueError(f"union conflict: {name}[{k!r}] differs between the two DataProto; "
                                     "pop or rename it on one side first")
            parts.append({**mine, **theirs})
        return DataProto(*parts)

    def _has_rows(self) -> bool:
        return bool(self.batch) or bool(self.non_tensor_batch)

    @staticmethod
    def concat(items: Sequence["DataProto"]) -> "DataProto":
        """Rows of all items in order; all must have the same keys. meta_info comes from the first."""
        items = list(items)
        if not items:
            raise ValueError("DataProto.concat needs at least one DataProto")
        first = items[0]
        _check_same_keys(items, "DataProto.concat")
        batch = {k: torch.cat([d.batch[k] for d in items], dim=0) for k in first.batch}
        non = {k: np.concatenate([d.non_tensor_batch[k] for d in items], axis=0) for k in first.non_tensor_batch}
        return DataProto(batch, non, dict(first.meta_info))

    def chunk(self, chunks: int) -> List["DataProto"]:
        """Split into ``chunks`` equal parts (e.g. one per rank); the length must divide evenly."""
        n = len(self)
        if chunks <= 0:
            raise ValueError(f"chunk count must be > 0, got {chunks}")
        if n % chunks:
            raise ValueError(f"cannot chunk a batch of {n} rows into {chunks} equal parts; "
                             f"pad it first with pad_to_divisor({chunks})")
        size = n // chunks
        return [self[slice(i * size, (i + 1) * size)] for i in range(chunks)]

    def split(self, split_size: int) -> List["DataProto"]:
        """Consecutive pieces of ``split_size`` rows (the last may be shorter), e.g. micro-batches."""
        if split_size <= 0:
            raise ValueError(f"split_size must be > 0, got {split_size}")
        return [self[slice(i, i + split_size)] for i in range(0, len(self), split_size)]

    def repeat(self, repeat_times: int = 2, interleave: bool = True) -> "DataProto":
        """Each row ``repeat_times`` times: interleaved ``a a b b`` (groups) or tiled ``a b a b``."""
        if repeat_times < 1:
            raise ValueError(f"repeat_times must be >= 1, got {repeat_times}")
        n = len(self)
        if interleave:
            rows = np.repeat(np.arange(n), repeat_times)
        else:
            rows = np.tile(np.arange(n), repeat_times)
        return self._take(rows.astype(np.int64))

    # ------------------------------------------------------------------ world-size padding
    def pad_to_divisor(self, divisor: int) -> Tuple["DataProto", int]:
        """Append copies of the first rows so the length divides ``divisor``; return (padded, pad_size).

        The copies are real rows (so every rank computes on valid data); drop their results with
        :meth:`unpad` before they reach a loss or a metric.
        """
        if divisor <= 0:
            raise ValueError(f"divisor must be > 0, got {divisor}")
        n = len(self)
        if n == 0:
            raise ValueError("cannot pad an empty DataProto: there is no row to copy")
        pad = (-n) % divisor
        if pad == 0:
            return self, 0
        rows = np.concatenate([np.arange(n), np.arange(pad) % n]).astype(np.int64)
        return self._take(rows), pad

    def unpad(self, pad_size: int) -> "DataProto":
        """Drop the last ``pad_size`` rows (undo :meth:`pad_to_divisor`)."""
        if pad_size < 0 or pad_size > len(self):
            raise ValueError(f"pad_size={pad_size} must be in [0, {len(self)}]")
        return self if pad_size == 0 else self[slice(0, len(self) - pad_size)]

    # ------------------------------------------------------------------ misc
    def to(self, device: Union[str, torch.device]) -> "DataProto":
        """A new DataProto with every tensor on ``device`` (non-tensor data stays on the host)."""
        return DataProto({k: v.to(device) for k, v in self.batch.items()}, dict(self.non_tensor_batch),
                         dict(self.meta_info))

    def copy(self) -> "DataProto":
        """A deep copy of tensors and arrays (meta_info is copied shallowly)."""
        return DataProto({k: v.clone() for k, v in self.batch.items()},
                         {k: v.copy() for k, v in self.non_tensor_batch.items()}, dict(self.meta_info))


def _check_same_keys(items: Sequence[DataProto], who: str) -> None:
    first = items[0]
    for i, d in enumerate(items[1:], 1):
        if set(d.batch) != set(first.batch) or set(d.non_tensor_batch) != set(first.non_tensor_batch):
            raise ValueError(
                f"{who}: item {i} has keys batch={sorted(d.batch)} non_tensor={sorted(d.non_tensor_batch)} "
                f"but item 0 has batch={sorted(first.batch)} non_tensor={sorted(first.non_tensor_batch)}"
            )


# Step-sample layout (the table above): which tensors hold the prompt, both parts, or token ids.
_PROMPT_SIDE = ("prompts",)
_JOINED = ("input_ids", "attention_mask", "position_ids")
_TOKEN_IDS = ("input_ids", "prompts", "responses")


def concat_step_samples(items: Sequence[DataProto], pad_token_id: int = 0) -> DataProto:
    """:meth:`DataProto.concat` for step-sample batches padded to different widths.

    Each rollout pads to its own longest prompt (P) and response (R), so two rollouts' tensors do
    not stack. Here every item is re-padded to the longest *real* prompt and response over all
    items: prompt-side columns on the left, response-side ones on the right (token ids with
    ``pad_token_id``, everything else with 0), columns that hold only padding are dropped, and
    ``position_ids`` are recomputed from the new attention mask. Every 2-d tensor other than
    ``prompts`` and the ``[bs, P+R]`` ones must be response-shaped ``[bs, R]``. Batches without
    ``prompts`` are concatenated as they are.
    """
    items = list(items)
    if not items:
        raise ValueError("concat_step_samples needs at least one DataProto")
    items = [d for d in items if len(d) > 0] or items[:1]
    _check_same_keys(items, "concat_step_samples")
    if "prompts" not in items[0].batch:
        return DataProto.concat(items)  # no token layout to re-pad
    if "attention_mask" not in items[0].batch:
        raise ValueError("concat_step_samples needs batch['attention_mask'] to tell real tokens from padding")
    widths = [int(d.batch["prompts"].shape[1]) for d in items]
    real = [(d.batch["attention_mask"][:, :p].sum(1), d.batch["attention_mask"][:, p:].sum(1)) for d, p in zip(items, widths)]
    p_len = max(1, max(int(a.max()) if a.numel() else 0 for a, _ in real))
    r_len = max(1, max(int(b.max()) if b.numel() else 0 for _, b in real))
    parts = [_repad(d, p, p_len, r_len, pad_token_id) for d, p in zip(items, widths)]
    out = DataProto.concat(parts)
    if "position_ids" in out.batch:
        out.batch["position_ids"] = (out.batch["attention_mask"].long().cumsum(dim=1) - 1).clamp(min=0)
    return out


def _repad(d: DataProto, p: int, p_len: int, r_len: int, pad_token_id: int) -> DataProto:
    r = int(d.batch["attention_mask"].shape[1]) - p
    batch = {}
    for key, t in d.batch.items():
        value = pad_token_id if key in _TOKEN_IDS else 0
        if t.dim() < 2:
            batch[key] = t
        elif key in _PROMPT_SIDE:
            batch[key] = _fit(t, p_len, value, left=True)
        elif key in _JOINED:
            batch[key] = torch.cat([_fit(t[:, :p], p_len, value, left=True), _fit(t[:, p:], r_len, value, left=False)], 1)
        elif t.shape[1] == r:
            batch[key] = _fit(t, r_len, value, left=False)
        else:
            raise ValueError(f"concat_step_samples: batch[{key!r}] is {tuple(t.shape)}, neither response-shaped "
                             f"[bs, {r}] nor a known prompt-side or prompt+response field")
    return DataProto(batch, dict(d.non_tensor_batch), dict(d.meta_info))


def _fit(t: torch.Tensor, width: int, value: int, left: bool) -> torch.Tensor:
    """Crop or pad dimension 1 to ``width`` on the padding side (left for prompts, right for responses)."""
    have = int(t.shape[1])
    if have >= width:
        return t[:, have - width:] if left else t[:, :width]
    pad = torch.full((t.shape[0], width - have, *t.shape[2:]), value, dtype=t.dtype, device=t.device)
    return torch.cat([pad, t] if left else [t, pad], dim=1)
