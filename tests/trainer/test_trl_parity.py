"""Parity with Hugging Face TRL (a test-only dependency): on the same tiny model and
batch, TRL's own loss code computes the same number as ours, to 1e-5.

Each test builds the TRL trainer around the model and calls its ``compute_loss`` on a
batch from our collators (TRL's collators produce the same keys), so the value on
the TRL side is TRL's code, not a copy of it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

# Test-only dependencies (the `dev` extra); a missing one fails the run, never skips it.
import datasets
import pytest
import torch
import trl
from transformers import AutoModelForCausalLM, AutoTokenizer

from trainer.collate import collate_pairs, collate_sft
from trainer.data import PairExample, SFTExample
from trainer.losses import (
    center_rewards_penalty,
    dpo_loss,
    margin_ranking_loss,
    sequence_logprobs,
    sft_loss,
)
from trainer.reward_model import load_reward_model, score

TOL = 1e-5


def trl_args(cls: Any, tmp_path: Path, **kwargs: Any) -> Any:
    return cls(output_dir=str(tmp_path / "trl"), report_to="none", use_cpu=True, bf16=False,
               fp16=False, per_device_train_batch_size=2, **kwargs)


def pairs_batch() -> list[PairExample]:
    # prompt tokens then completion tokens (byte ids of the tiny tokenizer)
    return [
        PairExample("a", [60, 61, 62, 97, 97, 97], 3, [60, 61, 62, 122, 122], 3, None),
        PairExample("b", [63, 64, 97, 98], 2, [63, 64, 122, 122, 122, 121], 2, None),
    ]


class TestRewardParity:
    def test_margin_loss_with_centering_equals_trl_reward_trainer(self, tiny_llama: Path,
                                                                  tmp_path: Path) -> None:
        model = load_reward_model(tiny_llama)
        tok = AutoTokenizer.from_pretrained(tiny_llama)
        ds = datasets.Dataset.from_dict({"chosen": ["aaa"], "rejected": ["zzz"]})
        trainer = trl.RewardTrainer(
            model=model, processing_class=tok, train_dataset=ds,
            args=trl_args(trl.RewardConfig, tmp_path, center_rewards_coefficient=0.01))
        batch = collate_pairs(pairs_batch(), pad_id=tok.pad_token_id)
        margin = torch.tensor([1.0, 1 / 3])
        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
                  "margin": margin}
        model.eval()
        with torch.no_grad():
            theirs = trainer.compute_loss(trainer.model, dict(inputs))
            r = score(model, batch["input_ids"], batch["attention_mask"], raw=True)[:, 0]
            r_c, r_r = r[:2], r[2:]
            ours = margin_ranking_loss(r_c, r_r, margin) + center_rewards_penalty(r_c, r_r, 0.01)
        assert ours.item() == pytest.approx(theirs.item(), abs=TOL)


class TestDPOParity:
    def test_sigmoid_loss_equals_trl_dpo_trainer(self, tiny_llama: Path, tmp_path: Path) -> None:
        torch.manual_seed(0)
        ref = AutoModelForCausalLM.from_pretrained(tiny_llama)
        policy = copy.deepcopy(ref)
        with torch.no_grad():  # move the policy away from the reference
            for p in policy.parameters():
                p.add_(0.05 * torch.randn_like(p))
        tok = AutoTokenizer.from_pretrained(tiny_llama)
        ds = datasets.Dataset.from_dict({"prompt": ["q"], "chosen": ["aaa"], "rejected": ["zzz"]})
        trainer = trl.DPOTrainer(model=copy.deepcopy(policy), ref_model=copy.deepcopy(ref),
                                 processing_class=tok, train_dataset=ds,
                                 args=trl_args(trl.DPOConfig, tmp_path, beta=0.1))
        batch = collate_pairs(pairs_batch(), pad_id=tok.pad_token_id)
        trainer.model.eval()
        with torch.no_grad():
            theirs = trainer.compute_loss(trainer.model, dict(batch))

            def logps(model: torch.nn.Module) -> torch.Tensor:
                logits = model(input_ids=batch["input_ids"],
                               attention_mask=batch["attention_mask"]).logits
                return sequence_logprobs(logits, batch["input_ids"], batch["completion_mask"])

            pol, rf = logps(policy.eval()), logps(ref.eval())
            ours, _, _ = dpo_loss(pol[:2], pol[2:], rf[:2], rf[2:], beta=0.1)
        assert abs(ours.item() - torch.log(torch.tensor(2.0)).item()) > 1e-3  # not trivial
        assert ours.item() == pytest.approx(theirs.item(), abs=TOL)


class TestSFTParity:
    def test_masked_loss_equals_trl_sft_trainer(self, tiny_llama: Path, tmp_path: Path) -> None:
        model = AutoModelForCausalLM.from_pretrained(tiny_llama)
        tok = AutoTokenizer.from_pretrained(tiny_llama)
        ds = datasets.Dataset.from_dict({"text": ["hello"]})
        trainer = trl.SFTTrainer(model=model, processing_class=tok, train_dataset=ds,
                                 args=trl_args(trl.SFTConfig, tmp_path))
        batch = collate_sft([SFTExample([60, 61, 62, 97, 97, 98], [-100, -100, -100, 97, 97, 98]),
                             SFTExample([63, 97, 99], [-100, 97, 99])], pad_id=tok.pad_token_id)
        trainer.model.eval()
        with torch.no_grad():
            theirs = trainer.compute_loss(trainer.model, dict(batch))
            logits = model(input_ids=batch["input_ids"],
                           attention_mask=batch["attention_mask"]).logits
            ours = sft_loss(logits, batch["labels"])
        assert ours.item() == pytest.approx(theirs.item(), abs=TOL)
