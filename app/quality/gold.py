"""Gold answers: what an import may say, how it is stored, how a judgement is scored.

A gold answer is a set of required relations "completion x is better than y" (InstructGPT
screened labelers on items like these, Ouyang et al. 2022, appendix B.1):

- a ranking's full gold order ``[["a"], ["b", "c"], ["d"]]`` requires every untied pair
  of it; a tolerance such as "any order that puts A above D" is ``{"above": [["a", "d"]]}``;
- a pairwise gold is the preferred side, optionally with the accepted margin labels
  (``"margins"``) or a margin and a tolerance in steps (``"margin"``, ``"tolerance"``).

A judgement is correct when it satisfies every relation (and, for pairwise, gives an
accepted margin). Ties and "not rankable" / "both bad" never satisfy "x above y".
Stored in ``WorkItem.gold`` as ``{"above": [[x, y], …], "margins": [1..4] | null,
"screening": bool, "note": str | null, "order": [[…], …] | null}`` with completion
public ids; margins as magnitudes (1 negligibly … 4 significantly better).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.models import MarginLabel

# Margin labels by size, smallest first; a signed bucket is ± this magnitude.
MARGIN_MAGNITUDE: dict[MarginLabel, int] = {
    MarginLabel.negligibly_better: 1,
    MarginLabel.slightly_better: 2,
    MarginLabel.better: 3,
    MarginLabel.significantly_better: 4,
}
LABEL_OF_MAGNITUDE = {v: k for k, v in MARGIN_MAGNITUDE.items()}
NOTE_MAX = 2000


class GoldError(ValueError):
    """A gold answer that does not fit the item; the message says what to change."""


@dataclass(frozen=True)
class GoldSpec:
    above: tuple[tuple[str, str], ...]
    margins: frozenset[int] | None = None
    screening: bool = False
    note: str | None = None
    order: tuple[tuple[str, ...], ...] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "above": [list(p) for p in self.above],
            "margins": sorted(self.margins) if self.margins is not None else None,
            "screening": self.screening,
            "note": self.note,
            "order": [list(t) for t in self.order] if self.order is not None else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GoldSpec:
        margins = data.get("margins")
        order = data.get("order")
        return cls(
            above=tuple((str(x), str(y)) for x, y in data.get("above") or []),
            margins=frozenset(int(m) for m in margins) if margins is not None else None,
            screening=bool(data.get("screening", False)),
            note=data.get("note"),
            order=tuple(tuple(str(c) for c in tier) for tier in order) if order is not None else None,
        )


def correct(spec: GoldSpec, ranks: Mapping[str, int] | None, margin: int | None) -> bool:
    """Whether a judgement (tie group per completion, 0 best; signed pairwise margin)
    satisfies the gold answer."""
    if ranks is None:
        return False
    for better, worse in spec.above:
        if better not in ranks or worse not in ranks or not ranks[better] < ranks[worse]:
            return False
    return spec.margins is None or (margin is not None and abs(margin) in spec.margins)


def parse(
    raw: Any, completions: Sequence[str], *, pairwise: bool, screening: bool = False, note: str | None = None
) -> GoldSpec:
    """A gold answer as an admin writes it, checked against the item's completion ids
    (``completions`` in canonical order, A first for pairwise)."""
    if not isinstance(raw, Mapping):
        raise GoldError('"gold" must be an object such as {"ranking": [["a"], ["b"]]} or {"preferred": "a"}')
    if note is not None and len(note) > NOTE_MAX:
        raise GoldError(f"the note has {len(note)} characters; the limit is {NOTE_MAX}")
    known = set(completions)
    allowed = {"preferred", "margin", "margins", "tolerance"} if pairwise else {"ranking", "above"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise GoldError(f"unknown gold field {', '.join(map(repr, unknown))}; use {', '.join(sorted(allowed))}")
    if pairwise:
        return _parse_pairwise(raw, completions, screening, note)
    if ("ranking" in raw) == ("above" in raw):
        raise GoldError('give either "ranking" (a full gold order) or "above" (required pairs), not both')
    order: tuple[tuple[str, ...], ...] | None = None
    if "ranking" in raw:
        order = _order(raw["ranking"], known)
        pairs = [(x, y) for i, tier in enumerate(order) for lower in order[i + 1 :] for x in tier for y in lower]
    else:
        pairs = _pairs(raw["above"], known)
    if not pairs:
        raise GoldError("the gold answer requires nothing (every answer tied); rank at least two apart")
    return GoldSpec(above=tuple(pairs), screening=screening, note=note, order=order)


def _order(value: Any, known: set[str]) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, list) or not all(isinstance(t, list) and t for t in value):
        raise GoldError('"ranking" must be a best-first list of non-empty tie groups, e.g. [["a"], ["b", "c"]]')
    seen: list[str] = [str(c) for tier in value for c in tier]
    _known(seen, known)
    if len(set(seen)) != len(seen):
        raise GoldError('"ranking" names a completion twice; place each once')
    return tuple(tuple(str(c) for c in tier) for tier in value)


def _pairs(value: Any, known: set[str]) -> list[tuple[str, str]]:
    if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 2 for p in value):
        raise GoldError('"above" must be a list of [better, worse] pairs, e.g. [["a", "d"]]')
    pairs = [(str(x), str(y)) for x, y in value]
    _known([c for p in pairs for c in p], known)
    for x, y in pairs:
        if x == y:
            raise GoldError(f'"above" pairs {x!r} with itself')
        if (y, x) in pairs:
            raise GoldError(f'"above" asks for both {x!r} above {y!r} and the reverse')
    return list(dict.fromkeys(pairs))


def _known(ids: Sequence[str], known: set[str]) -> None:
    for cid in ids:
        if cid not in known:
            raise GoldError(f"completion {cid!r} is not one of this item's: {', '.join(sorted(known))}")


def _parse_pairwise(raw: Mapping[str, Any], completions: Sequence[str], screening: bool, note: str | None) -> GoldSpec:
    preferred = raw.get("preferred")
    if preferred not in completions:
        raise GoldError(f'"preferred" must be one of the two completions: {", ".join(completions)}')
    other = next(c for c in completions if c != preferred)
    if "margins" in raw and ("margin" in raw or "tolerance" in raw):
        raise GoldError('give "margins" (the accepted labels) or "margin" with "tolerance", not both')
    margins: frozenset[int] | None = None
    if "margins" in raw:
        labels = raw["margins"]
        if not isinstance(labels, list) or not labels:
            raise GoldError('"margins" must be a non-empty list of margin labels')
        margins = frozenset(MARGIN_MAGNITUDE[_label(v)] for v in labels)
    elif "margin" in raw:
        size = MARGIN_MAGNITUDE[_label(raw["margin"])]
        tolerance = raw.get("tolerance", 0)
        if not isinstance(tolerance, int) or isinstance(tolerance, bool) or not 0 <= tolerance <= 3:
            raise GoldError('"tolerance" is how many steps off the margin may be: 0 to 3')
        margins = frozenset(m for m in MARGIN_MAGNITUDE.values() if abs(m - size) <= tolerance)
    elif "tolerance" in raw:
        raise GoldError('"tolerance" needs a "margin" to be measured from')
    return GoldSpec(above=((str(preferred), other),), margins=margins, screening=screening, note=note)


def _label(value: Any) -> MarginLabel:
    try:
        return MarginLabel(value)
    except ValueError:
        raise GoldError(
            f"unknown margin {value!r}; use {', '.join(m.value for m in MARGIN_MAGNITUDE)}"
        ) from None
