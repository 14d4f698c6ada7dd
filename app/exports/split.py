"""Train/validation split by prompt: a pure function of (seed, prompt id).

Hashing instead of shuffling means the split needs no state and no pass over
the data, is the same in every export with the same seed, and sends every
judgement of one prompt (its demonstrations, rankings, pairs and ratings) to
the same side, so no prompt leaks from training into validation.
"""

from __future__ import annotations

import hashlib
from typing import Literal

SplitName = Literal["train", "validation"]


def split_of(seed: int, prompt_id: str, validation_fraction: float) -> SplitName:
    digest = hashlib.sha256(f"{seed}:{prompt_id}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return "validation" if position < validation_fraction else "train"
