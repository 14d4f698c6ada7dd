"""``rankwise eval results PROJECT``: who won, as readable tables or JSON (the API's
``ResultsOut``). The command acts with full rights, like the other CLI commands; its
arguments are declared in app/cli.py."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.orm import Session, sessionmaker

from app.db import unit_of_work
from app.errors import DomainError
from app.evaluations import service
from app.evaluations.results import Sweep
from app.evaluations.schemas import LeaderboardOut, RatingOut, ResultsOut
from app.quality.schemas import EstimateOut

# A sweep's bootstrap interval is a point: say why instead of printing it.
SWEEP = {Sweep.won_all: "none (won all)", Sweep.lost_all: "none (lost all)"}
EXIT_OK = 0
EXIT_USAGE = 2


def _pct(e: EstimateOut) -> str:
    if e.value is None:
        return "–"
    if e.low is None or e.high is None:
        return f"{100 * e.value:.1f}%"
    return f"{100 * e.value:.1f}% ({100 * e.low:.1f}–{100 * e.high:.1f})"


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    lines = []
    for row in [header, ["-" * w for w in widths], *rows]:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _interval(r: RatingOut, reference: str | None) -> str:
    if r.model == reference:
        return "fixed"
    return SWEEP[r.sweep] if r.sweep else f"{r.low:.0f}–{r.high:.0f}"


def _ratings(board: LeaderboardOut) -> str:
    return _table(
        ["rank", "model", "rating", "95% interval", "comparisons"],
        [[str(r.rank), r.model, f"{r.rating:.0f}", _interval(r, board.reference), str(r.comparisons)]
         for r in board.ratings],
        {0, 2, 3, 4},
    )


def render(out: ResultsOut) -> str:
    """The results as plain text: the verdict, the leaderboard, the pairs, position bias."""
    board = out.leaderboard
    parts = [out.verdict.text, ""]
    parts.append(f"Leaderboard ({out.comparisons} comparisons; {board.reference or '–'} fixed at 1000)")
    parts.append(_ratings(board) if board.ratings else "  no comparisons yet")
    for other in board.others:
        parts += ["", f"Never compared with the models above; {other.reference} fixed at 1000:", _ratings(other)]
    parts += ["", "Head to head (win rate of A over B; ties and both-bad count half)"]
    parts.append(_table(
        ["model A", "model B", "n", "A wins", "B wins", "ties", "both bad", "A win rate (95%)"],
        [[p.model_a, p.model_b, str(p.comparisons), str(p.a_wins), str(p.b_wins), str(p.ties),
          str(p.both_bad), _pct(p.win_rate)] for p in out.pairs],
        {2, 3, 4, 5, 6},
    ) if out.pairs else "  none")
    bias = out.position_bias
    parts += ["", f"Position bias: the reply shown first won {_pct(bias)} of {bias.n} decided verdicts "
                  "(50% expected)", "", out.method]
    return "\n".join(parts)


def run(args: argparse.Namespace, session_factory: sessionmaker[Session]) -> int:
    try:
        with unit_of_work(session_factory) as db:
            out = service.results_of_refs(db, list(args.project), args.reference)
    except DomainError as exc:
        print(f"rankwise: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(out.model_dump_json(indent=2))
    else:
        print(render(out))
    return EXIT_OK
