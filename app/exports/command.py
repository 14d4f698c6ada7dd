"""``rankwise export PROJECT --out DIR``: the same service as the API, with a progress bar."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

KINDS = ("demonstration", "ranking", "pairwise", "evaluation", "prompt")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("project", help="project slug or id")
    p.add_argument("--out", required=True, help="folder to write (must not exist or be empty)")
    p.add_argument("--since", help="only judgements at or after this ISO time (UTC if no zone)")
    p.add_argument("--until", help="only judgements before this ISO time (UTC if no zone)")
    p.add_argument("--labeler", action="append", help="user id to include (repeatable)")
    p.add_argument("--kind", action="append", choices=KINDS, help="judgement kind (repeatable)")
    p.add_argument("--model", action="append", help="completion model name (repeatable)")
    p.add_argument("--min-agreement", type=float, help="drop labelers below this agreement (0-1)")
    p.add_argument("--min-gold-accuracy", type=float, help="drop labelers below this gold accuracy (0-1)")
    p.add_argument("--review-status", action="append", choices=("accepted", "unreviewed", "rejected"),
                   help="only judgements in this review state (repeatable)")
    p.add_argument("--include-rejected", action="store_true", help="keep judgements a reviewer rejected")
    p.add_argument("--include-gold", action="store_true", help="keep labelers' judgements of gold items")
    p.add_argument("--aggregate", choices=("borda", "bradley_terry"),
                   help="one ranking per item instead of one per labeler")
    p.add_argument("--validation-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--margin-scale", choices=("small", "large"), help="default: the project's")
    p.add_argument("--parquet", action="store_true", help="also write Parquet beside the JSONL")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _with_zone(value: str | None) -> str | None:
    if value is None or value.endswith("Z") or "+" in value[10:] or "-" in value[10:]:
        return value
    return value + "+00:00"


def request_from_args(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "filters": {
            "since": _with_zone(args.since), "until": _with_zone(args.until),
            "labelers": args.labeler, "kinds": args.kind, "models": args.model,
            "min_agreement": args.min_agreement,
            "min_gold_accuracy": args.min_gold_accuracy,
            "review_status": args.review_status,
            "exclude_rejected": not args.include_rejected,
            "include_gold": args.include_gold,
        },
        "split": {"validation_fraction": args.validation_fraction, "seed": args.seed},
        "aggregate": args.aggregate,
        "margin_scale": args.margin_scale,
        "formats": ["jsonl", "parquet"] if args.parquet else ["jsonl"],
    }


def run(args: argparse.Namespace, settings: Any, session_factory: Any) -> int:
    """Exit 0 with a summary, or 2 with a message a person can act on."""
    from pydantic import ValidationError
    from tqdm import tqdm

    from app.db import unit_of_work
    from app.errors import DomainError
    from app.exports import service
    from app.exports.schemas import ExportCreate

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        return _fail(f"{out} exists and is not an empty folder; choose a new --out")
    try:
        request = ExportCreate.model_validate(request_from_args(args))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return _fail(f"{where}: {first['msg']}")
    bar = tqdm(total=0, unit="rec", disable=args.quiet, file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        with unit_of_work(session_factory) as db:
            export_id = service.request_export(db, None, args.project, request).public_id
        if out.exists():
            out.rmdir()  # empty (checked above); the export renames its finished folder here
        service.run_export(session_factory, settings, export_id, progress, out_dir=out)
        with unit_of_work(session_factory) as db:
            export = service.get_export(db, export_id)
            files = service.files_of(export)
            sha = export.manifest_sha256
    except DomainError as exc:
        return _fail(exc.message)
    finally:
        bar.close()
    for name, meta in files.items():
        print(f"{name:32} {meta['records']:>10} records  {meta['sha256'][:16]}")
    print(f"export {export_id} written to {out} (manifest sha256 {sha})")
    return 0


def _fail(message: str) -> int:
    print(f"rankwise export: {message}", file=sys.stderr)
    return 2
