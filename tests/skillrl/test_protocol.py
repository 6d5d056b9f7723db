"""DataProto: one test per operation, plus the error messages on misuse."""
import pickle

import numpy as np
import pytest
import torch

from skillrl.protocol import DataProto, concat_step_samples


def make(n=4):
    return DataProto.from_dict(
        tensors={"input_ids": torch.arange(n * 3).view(n, 3), "mask": torch.ones(n, 2)},
        non_tensors={"uid": [f"u{i // 2}" for i in range(n)], "step_index": list(range(n))},
        meta_info={"temperature": 1.0},
    )


def test_from_dict_converts_lists_and_reports_length():
    d = DataProto.from_dict(
        tensors={"x": torch.zeros(3, 2)},
        non_tensors={"s": ["a", "bb", "a much longer string"], "i": [1, 2, 3], "ragged": [[1], [1, 2], []],
                     "flags": [True, False, True]},
    )
    assert len(d) == 3
    assert d.non_tensor_batch["s"].dtype == object  # not a fixed-width <U that truncates on write
    assert d.non_tensor_batch["i"].dtype.kind == "i"
    assert d.non_tensor_batch["flags"].dtype == bool
    assert d.non_tensor_batch["ragged"][1] == [1, 2]
    assert len(DataProto()) == 0
    assert len(DataProto.from_dict(non_tensors={"uid": ["a", "b"]})) == 2


def test_from_single_dict_splits_by_type():
    d = DataProto.from_single_dict({"x": torch.zeros(2, 1), "uid": np.array(["a", "b"], dtype=object)})
    assert list(d.batch) == ["x"] and list(d.non_tensor_batch) == ["uid"]


def test_check_consistency_names_keys_and_sizes():
    with pytest.raises(ValueError, match=r"batch\['a'\]: 3.*non_tensor_batch\['uid'\]: 2"):
        DataProto.from_dict({"a": torch.zeros(3, 1)}, {"uid": ["x", "y"]})
    with pytest.raises(ValueError, match=r"batch\['a'\]: 3, batch\['b'\]: 4"):
        DataProto.from_dict({"a": torch.zeros(3), "b": torch.zeros(4)})
    with pytest.raises(TypeError, match="tensors\\['a'\\].*non_tensors"):
        DataProto.from_dict({"a": [1, 2]})
    with pytest.raises(ValueError, match="scalar"):
        DataProto.from_dict(non_tensors={"uid": np.array("x")})
    with pytest.raises(ValueError, match="0-d tensor"):
        DataProto.from_dict({"a": torch.tensor(1.0)})
    d = make()
    d.batch["bad"] = torch.zeros(7)
    with pytest.raises(ValueError, match="bad"):
        d.check_consistency()


def test_getitem_int_slice_array_mask():
    d = make(4)
    row = d[1]
    assert len(row) == 1 and row.batch["input_ids"].tolist() == [[3, 4, 5]] and row.non_tensor_batch["uid"][0] == "u0"
    assert d[-1].non_tensor_batch["step_index"].tolist() == [3]
    assert d[1:3].non_tensor_batch["step_index"].tolist() == [1, 2]
    assert d[np.array([3, 0])].batch["input_ids"][:, 0].tolist() == [9, 0]
    assert d[[2]].non_tensor_batch["uid"].tolist() == ["u1"]
    assert d[torch.tensor([0, 2])].non_tensor_batch["step_index"].tolist() == [0, 2]
    picked = d[np.array([True, False, False, True])]
    assert picked.non_tensor_batch["step_index"].tolist() == [0, 3]
    assert picked.meta_info == {"temperature": 1.0}
    with pytest.raises(IndexError, match="out of range"):
        d[4]
    with pytest.raises(IndexError, match="does not match batch length 4"):
        d[np.array([True, False])]
    with pytest.raises(IndexError, match="out of range"):
        d[np.array([0, 9])]


def test_select_and_missing_key_message():
    d = make()
    s = d.select(batch_keys=["mask"], non_tensor_batch_keys=["uid"], meta_info_keys=[])
    assert list(s.batch) == ["mask"] and list(s.non_tensor_batch) == ["uid"] and s.meta_info == {}
    assert s.batch["mask"] is d.batch["mask"]  # select shares storage
    all_kept = d.select()
    assert set(all_kept.batch) == {"input_ids", "mask"}
    with pytest.raises(KeyError, match=r"no key\(s\) \['nope'\]; available: \['input_ids', 'mask'\]"):
        d.select(batch_keys=["nope"])


def test_pop_removes_and_returns():
    d = make()
    out = d.pop(batch_keys=["mask"], non_tensor_batch_keys=["uid"], meta_info_keys=["temperature"])
    assert list(out.batch) == ["mask"] and list(out.non_tensor_batch) == ["uid"]
    assert out.meta_info == {"temperature": 1.0}
    assert list(d.batch) == ["input_ids"] and list(d.non_tensor_batch) == ["step_index"] and d.meta_info == {}
    with pytest.raises(KeyError, match="mask"):
        d.pop(batch_keys=["mask"])


def test_union_merges_and_rejects_conflicts():
    a = make()
    b = DataProto.from_dict({"adv": torch.ones(4, 2), "mask": a.batch["mask"].clone()},
                            {"uid": a.non_tensor_batch["uid"].copy()}, {"step": 3})
    u = a.union(b)
    assert set(u.batch) == {"input_ids", "mask", "adv"} and u.meta_info == {"temperature": 1.0, "step": 3}
    assert "adv" not in a.batch  # the inputs are not modified
    clash = DataProto.from_dict({"mask": torch.zeros(4, 2)})
    with pytest.raises(ValueError, match=r"union conflict: batch\['mask'\]"):
        a.union(clash)
    with pytest.raises(ValueError, match=r"non_tensor_batch\['uid'\]"):
        a.union(DataProto.from_dict(non_tensors={"uid": ["z"] * 4}))
    with pytest.raises(ValueError, match=r"meta_info\['temperature'\]"):
        a.union(DataProto(meta_info={"temperature": 0.5}))
    with pytest.raises(ValueError, match="different lengths: 4 vs 2"):
        a.union(make(2).select(batch_keys=["input_ids"], non_tensor_batch_keys=[], meta_info_keys=[]))
    assert a.union(DataProto(meta_info={"x": 1})).meta_info["x"] == 1  # meta-only object has no rows


def test_chunk_even_and_uneven():
    d = make(6)
    parts = d.chunk(3)
    assert [p.non_tensor_batch["step_index"].tolist() for p in parts] == [[0, 1], [2, 3], [4, 5]]
    assert all(p.meta_info == {"temperature": 1.0} for p in parts)
    with pytest.raises(ValueError, match=r"6 rows into 4 equal parts; pad it first with pad_to_divisor\(4\)"):
        d.chunk(4)
    with pytest.raises(ValueError, match="> 0"):
        d.chunk(0)


def test_split_micro_batches():
    sizes = [len(p) for p in make(5).split(2)]
    assert sizes == [2, 2, 1]


def test_concat_roundtrip_and_key_mismatch():
    d = make(6)
    back = DataProto.concat(d.chunk(3))
    assert torch.equal(back.batch["input_ids"], d.batch["input_ids"])
    assert back.non_tensor_batch["uid"].tolist() == d.non_tensor_batch["uid"].tolist()
    with pytest.raises(ValueError, match="item 1 has keys"):
        DataProto.concat([make(2), make(2).select(batch_keys=["mask"])])
    with pytest.raises(ValueError, match="at least one"):
        DataProto.concat([])


def _steps(prompts, responses, pad=9, p=0, r=0):
    """Hand-packed step samples: prompts left-padded, responses right-padded, to at least p / r columns."""
    p, r = max(p, *map(len, prompts)), max(r, *map(len, responses))
    rows_p = [[pad] * (p - len(x)) + x for x in prompts]
    rows_r = [x + [pad] * (r - len(x)) for x in responses]
    mask_p = [[0] * (p - len(x)) + [1] * len(x) for x in prompts]
    mask_r = [[1] * len(x) + [0] * (r - len(x)) for x in responses]
    attn = torch.tensor([a + b for a, b in zip(mask_p, mask_r)])
    return DataProto.from_dict({
        "prompts": torch.tensor(rows_p), "responses": torch.tensor(rows_r),
        "input_ids": torch.tensor([a + b for a, b in zip(rows_p, rows_r)]), "attention_mask": attn,
        "position_ids": (attn.cumsum(1) - 1).clamp(min=0), "response_mask": torch.tensor(mask_r),
        "token_level_scores": torch.tensor([[0.0] * (len(x) - 1) + [1.0] + [0.0] * (r - len(x)) for x in responses]),
        "seq_len": torch.tensor([len(x) for x in responses]),
    }, {"uid": ["g"] * len(prompts)})


def test_concat_step_samples_repads_to_the_longest_real_prompt_and_response():
    # a: P=3 with a column of padding only (as after dropping the rows that needed it), R=2; b: P=2, R=3
    a = _steps([[1, 2], [3]], [[4, 5], [6]], p=3)
    b = _steps([[7, 8]], [[10, 11, 12]])
    out = concat_step_samples([a, b], pad_token_id=9)
    assert out.batch["prompts"].tolist() == [[1, 2], [9, 3], [7, 8]]
    assert out.batch["responses"].tolist() == [[4, 5, 9], [6, 9, 9], [10, 11, 12]]
    assert out.batch["input_ids"].tolist() == [[1, 2, 4, 5, 9], [9, 3, 6, 9, 9], [7, 8, 10, 11, 12]]
    assert out.batch["attention_mask"].tolist() == [[1, 1, 1, 1, 0], [0, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert out.batch["position_ids"].tolist() == [[0, 1, 2, 3, 3], [0, 0, 1, 1, 1], [0, 1, 2, 3, 4]]
    assert out.batch["response_mask"].tolist() == [[1, 1, 0], [1, 0, 0], [1, 1, 1]]
    assert out.batch["token_level_scores"].tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 1]]
    assert out.batch["seq_len"].tolist() == [2, 1, 3]  # per-row tensors are stacked as they are
    same = concat_step_samples([b, b[np.array([], dtype=np.int64)]])  # empty parts are skipped
    assert torch.equal(same.batch["input_ids"], b.batch["input_ids"])


def test_concat_step_samples_rejects_an_unknown_width():
    a = _steps([[1]], [[2, 3]])
    a.batch["odd"] = torch.zeros(1, 5)
    with pytest.raises(ValueError, match=r"batch\['odd'\] is \(1, 5\), neither response-shaped \[bs, 2\]"):
        concat_step_samples([a, a])
    with pytest.raises(ValueError, match="at least one"):
        concat_step_samples([])


def test_repeat_interleaved_and_tiled():
    d = make(2)
    inter = d.repeat(3, interleave=True)
    assert inter.non_tensor_batch["step_index"].tolist() == [0, 0, 0, 1, 1, 1]
    assert inter.batch["input_ids"][:, 0].tolist() == [0, 0, 0, 3, 3, 3]
    tiled = d.repeat(2, interleave=False)
    assert tiled.non_tensor_batch["step_index"].tolist() == [0, 1, 0, 1]
    with pytest.raises(ValueError, match="repeat_times"):
        d.repeat(0)


def test_pad_to_divisor_and_unpad():
    d = make(5)
    padded, pad = d.pad_to_divisor(4)
    # 5 rows -> 8: three copies of rows 0, 1, 2
    assert pad == 3 and len(padded) == 8
    assert padded.non_tensor_batch["step_index"].tolist() == [0, 1, 2, 3, 4, 0, 1, 2]
    assert len(padded.chunk(4)) == 4
    restored = padded.unpad(pad)
    assert torch.equal(restored.batch["input_ids"], d.batch["input_ids"])
    same, zero = d.pad_to_divisor(5)
    assert zero == 0 and same is d and d.unpad(0) is d
    # pad larger than the batch cycles through it: 2 rows -> 5
    small, pad2 = make(2).pad_to_divisor(5)
    assert pad2 == 3 and small.non_tensor_batch["step_index"].tolist() == [0, 1, 0, 1, 0]
    with pytest.raises(ValueError, match="empty"):
        DataProto().pad_to_divisor(2)
    with pytest.raises(ValueError, match="pad_size=9"):
        d.unpad(9)


def test_to_device_and_copy_and_pickle():
    d = make()
    moved = d.to("meta")
    assert all(v.device.type == "meta" for v in moved.batch.values())
    assert d.batch["mask"].device.type == "cpu"
    c = d.copy()
    c.batch["mask"][0, 0] = 5.0
    c.non_tensor_batch["uid"][0] = "changed"
    assert d.batch["mask"][0, 0] == 1.0 and d.non_tensor_batch["uid"][0] == "u0"
    back = pickle.loads(pickle.dumps(d))  # what Ray does between actors
    assert torch.equal(back.batch["input_ids"], d.batch["input_ids"]) and back.meta_info == d.meta_info
    assert "len=4" in repr(d)
