"""A tiny offline model and tokenizer for tests, demos and CI.

Nothing here downloads anything: the tokenizer is byte-level BPE with *no*
merges (so every UTF-8 byte is one token and any text can be encoded) built
from an in-code vocabulary with the ``tokenizers`` library, plus five special
tokens; the model is a randomly initialised Llama- or GPT-2-style causal LM of
a few hundred thousand parameters. Both are saved as an ordinary Hugging Face
folder, so every loop loads them exactly like a real checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import (
    AutoModelForCausalLM,
    GPT2Config,
    LlamaConfig,
    PretrainedConfig,
    PreTrainedTokenizerFast,
)

from trainer.chat import PLAIN_CHAT_TEMPLATE

__all__ = ["SPECIAL_TOKENS", "build_tiny_model", "build_tiny_tokenizer"]

# pad, eos and the three role markers of the plain template (see trainer/chat.py).
SPECIAL_TOKENS: tuple[str, ...] = ("<|eos|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>")


def build_tiny_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level tokenizer: 256 byte tokens + 5 specials = 261 ids, no files needed."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {symbol: i for i, symbol in enumerate(alphabet)}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    # use_regex=False: no word splitting; with no merges every byte stays one token.
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=backend,
        eos_token="<|eos|>",
        bos_token="<|eos|>",
        pad_token="<|pad|>",
        additional_special_tokens=list(SPECIAL_TOKENS[2:]),
        padding_side="right",
        model_max_length=1024,
    )
    tokenizer.chat_template = PLAIN_CHAT_TEMPLATE
    return tokenizer


def _tiny_config(
    arch: Literal["llama", "gpt2"], vocab_size: int, pad_id: int, eos_id: int
) -> PretrainedConfig:
    if arch == "llama":
        return LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=96,
            intermediate_size=256,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=4,
            max_position_embeddings=512,
            tie_word_embeddings=True,
            pad_token_id=pad_id,
            eos_token_id=eos_id,
            bos_token_id=eos_id,
        )
    if arch == "gpt2":
        return GPT2Config(
            vocab_size=vocab_size,
            n_embd=96,
            n_layer=2,
            n_head=4,
            n_positions=512,
            pad_token_id=pad_id,
            eos_token_id=eos_id,
            bos_token_id=eos_id,
        )
    raise ValueError(f"unknown tiny architecture {arch!r} (expected 'llama' or 'gpt2')")


def build_tiny_model(
    out_dir: str | Path, arch: Literal["llama", "gpt2"] = "llama", seed: int = 0
) -> Path:
    """Write a tiny random causal LM and its tokenizer to ``out_dir``; return the path.

    ~250k parameters (hidden 96, 2 layers, 4 heads, vocab 261), deterministic in ``seed``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer()
    config = _tiny_config(arch, len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
