"""The FSDP2 actor on 2 gloo ranks (Ray actors) with the tiny model."""
from __future__ import annotations

import math

import pytest
import torch

from skillrl.utils.tiny_model import IM_END
from tests.support.workers import cpu_trainer, make_batch, reference_log_probs, worker_config


def _hf_model_with(weights, model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    missing, unexpected = model.load_state_dict(weights, strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}
    return model


def _pg_objective(logp, batch):
    mask = batch.batch["response_mask"].float()
    return float(-(batch.batch["advantages"] * logp * mask).sum() / mask.sum())


def _share_a_prompt_prefix(batch, rows, length: int = 40) -> None:
    """Give ``rows`` the same first ``length`` prompt tokens (after each row's left padding)."""
    ids, mask = batch.batch["input_ids"], batch.batch["attention_mask"]
    prompt_len = ids.shape[1] - batch.batch["responses"].shape[1]
    common = ids[0, :length].clone()
    for i in rows:
        first = int(prompt_len - mask[i, :prompt_len].sum())
        ids[i, first:first + length] = common
    batch.batch["responses"] = ids[:, prompt_len:]


@pytest.mark.parametrize("mode", ["padded", "padded_uneven", "packed", "dynamic_bsz", "dynamic_uneven",
                                  "shared_prefix", "shared_prefix_one_rank"])
def test_log_probs_equal_single_process_forward(actor_group, tiny_model_dir, tiny_vocab, mode):
    if mode.startswith("shared_prefix"):  # prompts of 50-80 tokens, long enough to share 40
        batch = make_batch(tiny_vocab, bs=7, prompt_len=80)
        # rank 0 holds rows 0-3, rank 1 rows 4-6 and a padding row; with one rank's rows sharing,
        # both ranks must still make the same forward calls, so neither shares
        _share_a_prompt_prefix(batch, range(4) if mode.endswith("one_rank") else range(7))
        batch.meta_info.update({"use_remove_padding": False, "share_prompt_prefix": True, "micro_batch_size": 4,
                                "balance_ranks": False})
        out = _assert_log_probs_match(actor_group, tiny_model_dir, batch)
        # the rows of each micro-batch (4 on rank 0) share 40 tokens, or nothing is shared anywhere
        assert out.meta_info["prefix_tokens_shared"] == (0 if mode.endswith("one_rank") else 40 * 3)
        return
    batch = make_batch(tiny_vocab, bs=7)  # 7 rows: one padding row for 2 ranks
    if mode.endswith("_uneven"):  # rank 0 gets short rows, rank 1 long ones: the ranks must agree on a count
        # (padded: the short rows share micro-batches, whose all-padding columns are trimmed)
        batch.batch["attention_mask"][:4, :10] = 0
        batch.batch["input_ids"][:4, :10] = 0
        batch.meta_info["balance_ranks"] = False  # keep rows 0-3 together on rank 0
    batch.meta_info.update({
        "padded": {"use_remove_padding": False},
        "padded_uneven": {"use_remove_padding": False, "micro_batch_size": 2},
        "packed": {"use_remove_padding": True},
        "dynamic_bsz": {"use_remove_padding": True, "use_dynamic_bsz": True, "max_token_len": 30},
        "dynamic_uneven": {"use_remove_padding": False, "use_dynamic_bsz": True, "max_token_len": 22},
    }[mode])
    _assert_log_probs_match(actor_group, tiny_model_dir, batch)


def _assert_log_probs_match(actor_group, tiny_model_dir, batch):
    out = actor_group.compute_log_prob(batch)
    assert out.batch["old_log_probs"].shape == (7, 9) and len(out) == 7
    model = _hf_model_with(actor_group.get_rollout_weights(), tiny_model_dir)
    ref_logp, ref_ent = reference_log_probs(model, batch)
    torch.testing.assert_close(out.batch["old_log_probs"], ref_logp, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.batch["entropys"], ref_ent, atol=1e-4, rtol=1e-4)
    return out


def test_temperature_scales_logits(actor_group, tiny_vocab):
    batch = make_batch(tiny_vocab, bs=4, seed=3)
    hot = make_batch(tiny_vocab, bs=4, seed=3)
    hot.meta_info["temperature"] = 2.0
    a = actor_group.compute_log_prob(batch).batch["entropys"]
    b = actor_group.compute_log_prob(hot).batch["entropys"]
    mask = batch.batch["response_mask"].bool()
    assert (b[mask] > a[mask]).all()  # a hotter distribution has more entropy


def test_reference_stays_at_the_initial_weights(actor_group, tiny_model_dir, tiny_vocab):
    from transformers import AutoModelForCausalLM

    batch = make_batch(tiny_vocab, bs=5, seed=1)
    ref = actor_group.compute_ref_log_prob(batch).batch["ref_log_prob"]
    expected, _ = reference_log_probs(AutoModelForCausalLM.from_pretrained(tiny_model_dir), batch)
    torch.testing.assert_close(ref, expected, atol=1e-4, rtol=1e-4)


def test_one_update_step_lowers_the_loss(actor_group, tiny_vocab):
    batch = make_batch(tiny_vocab, bs=8, seed=2)
    before = actor_group.compute_log_prob(batch)
    batch.batch["old_log_probs"] = before.batch["old_log_probs"]
    batch = batch.union(actor_group.compute_ref_log_prob(batch))
    metrics = actor_group.update_policy(batch)
    after = actor_group.compute_log_prob(batch).batch["old_log_probs"]
    assert _pg_objective(after, batch) < _pg_objective(before.batch["old_log_probs"], batch) - 1e-3
    for key in ("actor/pg_loss", "actor/pg_clipfrac", "actor/ppo_kl", "actor/entropy", "actor/kl_loss",
                "actor/grad_norm", "actor/lr"):
        assert key in metrics and math.isfinite(metrics[key]), key
    assert metrics["actor/grad_norm"] > 0 and metrics["actor/lr"] > 0


def test_ranks_report_their_gpu_ids(actor_group):
    # what a hybrid rollout engine is pinned to (worker_group.engine_env); CPU ranks hold no GPU
    assert actor_group.gpu_ids() == [[], []]


def test_update_without_ref_log_prob_is_a_clear_error(actor_group, tiny_vocab):
    batch = make_batch(tiny_vocab, bs=4)
    batch.batch["old_log_probs"] = torch.zeros(4, 9)
    with pytest.raises(Exception, match="ref_log_prob"):
        actor_group.update_policy(batch)


def test_update_with_a_shared_prompt_prefix_has_the_unshared_gradient(actor_group, tiny_vocab, tmp_path):
    """The same update from the same state, with and without the shared prefix (2 ranks): equal
    losses and gradient norm, so the rows' gradients do flow back through the one prefix pass."""
    batch = make_batch(tiny_vocab, bs=8, prompt_len=80, seed=5)
    _share_a_prompt_prefix(batch, range(8))
    batch.meta_info["use_remove_padding"] = False
    batch.batch["old_log_probs"] = actor_group.compute_log_prob(batch).batch["old_log_probs"]
    batch = batch.union(actor_group.compute_ref_log_prob(batch))
    actor_group.save_checkpoint(str(tmp_path / "before"))
    runs = {}
    for share in (True, False):
        actor_group.load_checkpoint(str(tmp_path / "before"))
        batch.meta_info["share_prompt_prefix"] = share
        runs[share] = actor_group.update_policy(batch)
    assert runs[True]["actor/prefix_tokens_shared"] > 0 and runs[False]["actor/prefix_tokens_shared"] == 0
    for key in ("actor/grad_norm", "actor/pg_loss", "actor/kl_loss", "actor/entropy"):
        assert runs[True][key] == pytest.approx(runs[False][key], rel=1e-4, abs=1e-6), key
    actor_group.load_checkpoint(str(tmp_path / "before"))


def test_checkpoint_round_trip(actor_group, tiny_vocab, tmp_path):
    saved = actor_group.state_checksums()
    actor_group.save_checkpoint(str(tmp_path / "actor"))
    batch = make_batch(tiny_vocab, bs=8, seed=4)
    batch.batch["old_log_probs"] = actor_group.compute_log_prob(batch).batch["old_log_probs"]
    batch = batch.union(actor_group.compute_ref_log_prob(batch))
    actor_group.update_policy(batch)
    changed = actor_group.state_checksums()
    assert all(c["params"] != s["params"] and c["optimizer"] != s["optimizer"] for c, s in zip(changed, saved))
    actor_group.load_checkpoint(str(tmp_path / "actor"))
    assert actor_group.state_checksums() == saved
    with pytest.raises(Exception, match="not an actor checkpoint"):
        actor_group.load_checkpoint(str(tmp_path))


def test_exported_model_reloads_with_transformers(actor_group, tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = actor_group.export_hf(str(tmp_path / "hf"))
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    weights = actor_group.get_rollout_weights()
    for name, t in model.state_dict().items():
        torch.testing.assert_close(t, weights[name], atol=0, rtol=0)
    assert tok.eos_token == IM_END
    ids = tok("go to fridge 1", return_tensors="pt").input_ids
    assert model.generate(ids, max_new_tokens=4, do_sample=False).shape[1] > ids.shape[1]


def test_lora_actor_reference_and_merged_weights(ray_local, tiny_model_dir, tiny_vocab, tmp_path):
    """LoRA on 2 ranks: the adapter-off reference is the base model; merged weights reproduce the actor.

    This group also trains on the padded path with token-budget micro-batches and gradient
    checkpointing, the options the main group leaves off.
    """
    from transformers import AutoModelForCausalLM

    from skillrl.workers.worker_group import RayWorkerGroup

    cfg = worker_config(tiny_model_dir, lora_rank=4, lora_alpha=8, use_remove_padding=False,
                        enable_gradient_checkpointing=True)
    cfg.actor.use_dynamic_bsz, cfg.actor.ppo_max_token_len_per_gpu = True, 40
    group = RayWorkerGroup(cfg, cpu_trainer(), role="actor", name="test_lora")
    try:
        batch = make_batch(tiny_vocab, bs=6, seed=5)
        base, _ = reference_log_probs(AutoModelForCausalLM.from_pretrained(tiny_model_dir), batch)
        batch.batch["old_log_probs"] = group.compute_log_prob(batch).batch["old_log_probs"]
        torch.testing.assert_close(batch.batch["old_log_probs"], base, atol=1e-4, rtol=1e-4)  # B starts at 0
        batch = batch.union(group.compute_ref_log_prob(batch))
        group.update_policy(batch)
        trained = group.compute_log_prob(batch).batch["old_log_probs"]
        assert (trained - base).abs().max() > 1e-3
        torch.testing.assert_close(group.compute_ref_log_prob(batch).batch["ref_log_prob"], base, atol=1e-4, rtol=1e-4)
        merged = AutoModelForCausalLM.from_pretrained(group.export_hf(str(tmp_path / "lora_hf")))
        torch.testing.assert_close(reference_log_probs(merged, batch)[0], trained, atol=1e-4, rtol=1e-4)
    finally:
        group.shutdown()


def test_on_policy_update_needs_no_old_log_probs(actor_group, tiny_vocab, tmp_path):
    """One epoch, one mini-batch: the actor's own detached log-probs stand in for old_log_probs."""
    actor_group.save_checkpoint(str(tmp_path / "start"))
    batches = [make_batch(tiny_vocab, bs=8, seed=5) for _ in range(2)]  # 8 rows: one mini-batch of 16
    for b in batches:
        b.batch["ref_log_prob"] = actor_group.compute_ref_log_prob(b).batch["ref_log_prob"]
    start = actor_group.compute_log_prob(batches[0]).batch["old_log_probs"]
    batches[0].batch["old_log_probs"] = start
    actor_group.update_policy(batches[0])
    with_old = actor_group.compute_log_prob(batches[0]).batch["old_log_probs"]
    actor_group.load_checkpoint(str(tmp_path / "start"))
    metrics = actor_group.update_policy(batches[1])
    without_old = actor_group.compute_log_prob(batches[1]).batch["old_log_probs"]
    assert (with_old - start).abs().max() > 1e-3  # the update moved the policy
    torch.testing.assert_close(without_old, with_old, atol=1e-5, rtol=1e-4)
    assert metrics["actor/pg_clipfrac"] == 0.0


def test_update_without_old_log_probs_over_several_mini_batches_is_a_clear_error(actor_group, tiny_vocab):
    batch = make_batch(tiny_vocab, bs=40)  # 20 rows per rank, mini-batch 8 per rank: off-policy after the first
    batch.batch["ref_log_prob"] = torch.zeros(40, 9)
    with pytest.raises(Exception, match="no 'old_log_probs' but the update takes several optimizer steps"):
        actor_group.update_policy(batch)
