"""Truncation, for every stage and every side (trainer/chat.py, docs/training.md).

With the tiny byte-level tokenizer every character is one token and the plain
template renders ``<|user|>\\n{q}\\n<|assistant|>\\n{a}<|eos|>``, so lengths are
exact: a prompt of Q characters is Q + 5 tokens (head ``<|user|>\\n`` = 2, answer
header ``\\n<|assistant|>\\n`` = 3) and an answer of A characters is A + 1 tokens.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from tests.trainer.export_factory import demo, pair, ranking, write_export
from trainer.chat import (
    IGNORE_INDEX,
    encode_group,
    encode_prompt,
    encode_prompt_completion,
    encode_sft,
)
from trainer.contract import ContractError, PromptRecord, load_export
from trainer.data import build_pairs, build_preference_groups, build_sft_examples
from trainer.generation import Generation
from trainer.reward import _demonstration_sequences
from trainer.reward_model import load_reward_model
from trainer.scoring import RewardModelScorer, Samples
from trainer.sft import train as train_sft
from trainer.sft_config import SFTConfig

HEAD, HEADER = 2, 3  # "<|user|>\n" and "\n<|assistant|>\n"


@pytest.fixture(scope="module")
def tok(tiny_llama: Path) -> PreTrainedTokenizerBase:
    tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(tiny_llama)
    return tokenizer


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def answer(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def text(tok: PreTrainedTokenizerBase, ids: list[int]) -> str:
    return str(tok.decode(ids))


# A question whose characters say where they are: "q000q001…", so a cut shows which went.
def question(n: int) -> str:
    return "".join(f"{i % 10}" for i in range(n))


class TestPromptCompletion:
    """encode_prompt_completion: reward-model sequences and everything scored by an RM."""

    def full(self, tok: PreTrainedTokenizerBase, q: str, a: str) -> list[int]:
        return encode_prompt_completion(tok, user(q), answer(a), 10_000).input_ids

    def test_ends_at_the_end_of_turn_token_like_sft(self, tok: PreTrainedTokenizerBase) -> None:
        enc = encode_prompt_completion(tok, user("hi"), answer("yo"), 64)
        assert enc.input_ids[-1] == tok.eos_token_id  # no trailing template newline
        assert enc.input_ids == encode_sft(tok, user("hi") + answer("yo"), 64).input_ids
        assert len(enc.input_ids) == (2 + HEAD + HEADER) + (2 + 1)

    @pytest.mark.parametrize("slack", [0, 1, 20])
    def test_a_sequence_that_fits_is_never_cut(self, tok: PreTrainedTokenizerBase,
                                               slack: int) -> None:
        # Issue 10 item 24: a 57-token example at max_length 58 kept 13 tokens.
        q, a = question(40), "a" * 8
        full = self.full(tok, q, a)
        enc = encode_prompt_completion(tok, user(q), answer(a), len(full) + slack)
        assert enc.input_ids == full and not enc.truncated and not enc.completion_truncated
        assert enc.completion_start == len(q) + HEAD + HEADER

    def test_one_below_the_limit_loses_the_oldest_prompt_token(
            self, tok: PreTrainedTokenizerBase) -> None:
        q, a = question(40), "a" * 8
        full = self.full(tok, q, a)
        enc = encode_prompt_completion(tok, user(q), answer(a), len(full) - 1)
        assert len(enc.input_ids) == len(full) - 1 and enc.truncated
        assert not enc.completion_truncated
        assert enc.input_ids == full[:HEAD] + full[HEAD + 1:]  # q's first character went
        assert text(tok, enc.input_ids).startswith("<|user|>\n1234")

    def test_prompt_longer_than_the_limit_keeps_head_header_and_answer(
            self, tok: PreTrainedTokenizerBase) -> None:
        q, a = question(100), "a" * 5
        enc = encode_prompt_completion(tok, user(q), answer(a), 30)
        assert len(enc.input_ids) == 30 and enc.truncated and not enc.completion_truncated
        decoded = text(tok, enc.input_ids)
        assert decoded.startswith("<|user|>\n") and decoded.endswith(
            "\n<|assistant|>\naaaaa<|eos|>")
        assert decoded == "<|user|>\n" + q[-(30 - HEAD - HEADER - 6):] + \
            "\n<|assistant|>\naaaaa<|eos|>"
        assert enc.completion_start == 30 - 6

    @pytest.mark.parametrize("q_len", [5, 100])  # answer too long; both too long
    def test_answer_longer_than_the_limit_loses_its_end_after_the_whole_prompt_cut(
            self, tok: PreTrainedTokenizerBase, q_len: int) -> None:
        q, a = question(q_len), "b" * 100
        enc = encode_prompt_completion(tok, user(q), answer(a), 30)
        assert len(enc.input_ids) == 30 and enc.completion_truncated
        assert enc.truncated == (q_len > 0)
        assert enc.completion_start == HEAD + HEADER  # the prompt keeps only its frame
        assert text(tok, enc.input_ids) == "<|user|>\n\n<|assistant|>\n" + "b" * 25

    def test_a_group_shares_one_prompt_cut(self, tok: PreTrainedTokenizerBase) -> None:
        q = question(60)
        short, long = encode_group(tok, user(q), [answer("a" * 2), answer("z" * 20)], 40)
        assert short.completion_start == long.completion_start
        assert short.input_ids[:short.completion_start] == long.input_ids[:long.completion_start]
        assert len(long.input_ids) == 40 and len(short.input_ids) == 40 - 18
        assert short.truncated and long.truncated


class TestSFT:
    def conversation(self, q_len: int, a_len: int) -> list[dict[str, str]]:
        return user(question(q_len)) + answer("a" * a_len)

    def labelled(self, enc_labels: list[int]) -> int:
        return sum(label != IGNORE_INDEX for label in enc_labels)

    @pytest.mark.parametrize("slack", [0, 3])
    def test_fits_exactly_or_with_room(self, tok: PreTrainedTokenizerBase, slack: int) -> None:
        msgs = self.conversation(30, 10)
        full = encode_sft(tok, msgs, 10_000)
        enc = encode_sft(tok, msgs, len(full.input_ids) + slack)
        assert enc == full and not enc.truncated and self.labelled(enc.labels) == 11

    def test_one_below_and_prompt_longer_than_the_limit_cut_the_prompt_not_the_labels(
            self, tok: PreTrainedTokenizerBase) -> None:
        msgs = self.conversation(200, 10)
        full = encode_sft(tok, msgs, 10_000)
        for limit in (len(full.input_ids) - 1, 40):
            enc = encode_sft(tok, msgs, limit)
            assert len(enc.input_ids) == limit and enc.truncated and enc.trainable
            assert self.labelled(enc.labels) == 11  # every answer token and the EOS
            assert enc.input_ids[:HEAD] == full.input_ids[:HEAD]
            assert enc.input_ids[-14:] == full.input_ids[-14:]  # header + answer + eos

    def test_earlier_turns_go_before_the_last_answer(self, tok: PreTrainedTokenizerBase
                                                     ) -> None:
        msgs = user("first question") + answer("first answer") + user("q2") + answer("a" * 6)
        enc = encode_sft(tok, msgs, 25)
        assert len(enc.input_ids) == 25 and enc.input_ids[:HEAD] == encode_sft(
            tok, msgs, 100).input_ids[:HEAD]
        # The oldest tokens went first ("first question", then the start of the first
        # answer); the last question and the whole last answer stayed.
        assert text(tok, enc.input_ids) == "<|user|>\n answer<|eos|>\n<|user|>\nq2" \
            "\n<|assistant|>\naaaaaa<|eos|>"
        assert all(label != IGNORE_INDEX for label in enc.labels[-7:])

    @pytest.mark.parametrize("q_len", [5, 200])  # answer too long; both too long
    def test_answer_longer_than_the_limit_keeps_its_start(self, tok: PreTrainedTokenizerBase,
                                                          q_len: int) -> None:
        enc = encode_sft(tok, self.conversation(q_len, 100), 30)
        assert len(enc.input_ids) == 30 and enc.truncated and enc.trainable
        assert self.labelled(enc.labels) == 30 - HEAD - HEADER

    def test_nothing_trainable_is_dropped_and_counted(self, tok: PreTrainedTokenizerBase,
                                                      tmp_path: Path) -> None:
        export = write_export(tmp_path / "e", {"sft.train.jsonl": [
            demo("d1", question(100), "aaaa"), demo("d2", "q", "aa")]})
        built = build_sft_examples(load_export(export).sft["train"], tok, HEAD + HEADER)
        assert (len(built), built.truncated, built.dropped) == (0, 0, 2)
        built = build_sft_examples(load_export(export).sft["train"], tok, HEAD + HEADER + 2)
        assert (len(built), built.truncated, built.dropped) == (2, 2, 0)
        built = build_sft_examples(load_export(export).sft["train"], tok, 20)
        assert (len(built), built.truncated, built.dropped) == (2, 1, 0)

    def test_training_reports_counts_and_fails_clearly_when_nothing_is_left(
            self, tiny_llama: Path, tmp_path: Path) -> None:
        long_demos = [demo(f"d{i}", question(300), "a" * 12) for i in range(8)]
        export = write_export(tmp_path / "e", {"sft.train.jsonl": long_demos,
                                               "sft.validation.jsonl": long_demos[:2]})
        metrics = train_sft(SFTConfig(data=str(export), model=str(tiny_llama),
                                      out=str(tmp_path / "sft"), max_length=64,
                                      learning_rate=1e-3))
        # Before the fix the labels were cut away: the loss was NaN and val_loss 0.0.
        assert math.isfinite(metrics["train_loss"]) and metrics["val_loss"] > 0
        assert (metrics["train_examples"], metrics["train_truncated"],
                metrics["train_dropped"]) == (8, 8, 0)
        summary = json.loads((tmp_path / "sft" / "rankwise.json").read_text())
        assert summary["examples"]["train_truncated"] == 8
        with pytest.raises(ContractError, match="lost every answer token at max_length 5"):
            train_sft(SFTConfig(data=str(export), model=str(tiny_llama),
                                out=str(tmp_path / "sft2"), max_length=5))


class TestStages:
    def long_export(self, tmp_path: Path) -> Path:
        q = question(200)
        return write_export(tmp_path / "e", {
            "pairs.train.jsonl": [pair("p1", q, "a" * 3, "z" * 30, "better")],
            "rankings.train.jsonl": [ranking("r1", q, ["a", "aa" * 5, "z" * 20, "zz"],
                                             [[0], [1], [2], [3]])],
            "sft.train.jsonl": [demo("d1", q, "a" * 12)],
        })

    def test_dpo_chosen_and_rejected_get_the_same_prompt_cut(
            self, tok: PreTrainedTokenizerBase, tmp_path: Path) -> None:
        export = load_export(self.long_export(tmp_path))
        pairs = build_pairs(export, "train", tok, 64)
        assert len(pairs) == 1 + 6 and pairs.truncated == 2  # the pair and the ranking
        for p in pairs:
            assert p.chosen_start == p.rejected_start
            assert p.chosen_ids[:p.chosen_start] == p.rejected_ids[:p.rejected_start]
            assert max(len(p.chosen_ids), len(p.rejected_ids)) <= 64
            assert p.chosen_ids[-1] == p.rejected_ids[-1] == tok.eos_token_id
        # The pair is cut to fit its longer answer (30 characters + EOS) exactly.
        assert len(pairs[0].rejected_ids) == 64 and pairs[0].chosen_start == 64 - 31
        # A ranking's pairs share the cut its longest answer (20 + EOS) needs.
        assert {p.chosen_start for p in pairs[1:]} == {64 - 21}

    def test_reward_model_groups_share_the_prompt_cut(self, tok: PreTrainedTokenizerBase,
                                                      tmp_path: Path) -> None:
        export = load_export(self.long_export(tmp_path))
        groups = build_preference_groups(export, "train", tok, 64)
        assert groups.truncated == 2
        longest_answer = {"r1": 21, "p1": 31}  # tokens, with the EOS
        for g in groups:
            prompts = {tuple(s[:64 - longest_answer[g.id]]) for s in g.sequences}
            assert len(prompts) == 1 and max(len(s) for s in g.sequences) == 64
            assert all(s[-1] == tok.eos_token_id for s in g.sequences)

    def test_reward_offset_reads_each_demonstration_at_its_last_token(
            self, tok: PreTrainedTokenizerBase, tmp_path: Path) -> None:
        export = load_export(self.long_export(tmp_path))
        (seq,) = _demonstration_sequences(export, tok, 40)
        assert len(seq) == 40 and text(tok, seq).endswith("\n<|assistant|>\n" + "a" * 12
                                                           + "<|eos|>")

    def test_ppo_and_best_of_k_prompts_keep_the_answer_header(
            self, tok: PreTrainedTokenizerBase) -> None:
        enc = encode_prompt(tok, user(question(100)), 20)
        assert enc.truncated and len(enc.input_ids) == 20
        assert text(tok, enc.input_ids).startswith("<|user|>\n")
        assert text(tok, enc.input_ids).endswith("\n<|assistant|>\n")
        short = encode_prompt(tok, user("hi"), 20)
        assert not short.truncated and len(short.input_ids) == 2 + HEAD + HEADER

    def test_scoring_samples_cuts_the_prompt_and_counts_it(self, tiny_llama: Path,
                                                           tmp_path: Path) -> None:
        rm_dir = tmp_path / "rm"
        load_reward_model(tiny_llama).save_pretrained(rm_dir)
        AutoTokenizer.from_pretrained(tiny_llama).save_pretrained(rm_dir)
        scorer = RewardModelScorer(str(rm_dir), max_length=32)
        prompts = [PromptRecord("a", user(question(100))), PromptRecord("b", user("hi"))]
        one = torch.ones(2, 1, dtype=torch.long)
        samples = Samples(prompts, Generation(one, one, one, one, torch.ones(2, dtype=torch.bool)),
                          ["a" * 10, "a" * 10])
        scores = scorer(samples)
        assert torch.isfinite(scores).all()
        assert (scorer.scored, scorer.truncated) == (2, 1)
