"""The copy warm-up grows in-context copying (induction) in the pipeline's tiny model."""
from __future__ import annotations

import json

import pytest
import torch

from examples.pipeline.copy_warmup import copy_accuracy, repeat_batch, warm_up_copying
from skillrl.utils.hardware import cpu_has_fast_bf16


def test_repeat_batches_repeat_their_first_span_at_varying_offsets():
    gen = torch.Generator().manual_seed(0)
    shapes = set()
    for _ in range(20):
        ids, L = repeat_batch(gen, 500, 4)
        assert torch.equal(ids[:, :L], ids[:, -L:]) and int(ids.min()) >= 3 and int(ids.max()) < 500
        shapes.add(ids.shape[1] - L)  # where the repeat starts
    assert len(shapes) > 5


@pytest.mark.slow(seconds=36)
def test_warm_up_turns_a_random_model_into_a_copier(tmp_path):
    """Copying grows from ~1% to >90%: on the pipeline's model shape at half its width (2 layers,
    128 wide, 2 heads of 64) and half its batch, where it jumps between steps 300 and 400 (here
    ~25 s). The pipeline's own model and DEFAULT_STEPS are checked where they run:
    ``level2.check_copy_warmup`` stops a pipeline whose warm-up did not reach copying."""
    from transformers import AutoModelForCausalLM

    from examples.pipeline.level2 import Settings, _build_model

    d = str(tmp_path / "model")
    _build_model(Settings(hidden=128, heads=2), d)
    steps = 500
    out = warm_up_copying(d, steps, batch_size=32, progress=False)
    assert out["copy_accuracy_before"] < 0.1 and out["copy_accuracy_after"] > 0.9, out
    reloaded = AutoModelForCausalLM.from_pretrained(d)
    assert copy_accuracy(reloaded) == out["copy_accuracy_after"]
    saved = json.loads((tmp_path / "model" / "copy_warmup.json").read_text())
    assert saved["steps"] == steps and saved["bf16_autocast"] is cpu_has_fast_bf16()
