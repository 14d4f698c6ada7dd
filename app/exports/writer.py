"""One streaming writer per file kind: records go to disk as they come, hashed on the way.

Memory stays constant whatever the export's size: a JSONL writer holds one
line, a Parquet writer one batch. The sha256 is computed over the exact bytes
written, so the manifest's checksum is that of the file and nothing else.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from trainer.contract import sha256_of

PARQUET_BATCH = 2_000


@dataclass(frozen=True)
class FileInfo:
    records: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "sha256": self.sha256}


# orjson writes the same compact UTF-8 JSON as json.dumps(ensure_ascii=False,
# separators=(",", ":")) at several times the speed; encoding is most of an export's CPU.
def dumps(record: Any) -> bytes:
    return orjson.dumps(record)


def dumps_str(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


class JsonlWriter:
    """Writes one JSON object per line; ``close()`` fsyncs and returns count and sha256."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records = 0
        self._hash = hashlib.sha256()
        self._fh = path.open("wb", buffering=1 << 20)

    def write(self, record: dict[str, Any]) -> None:
        self.write_json(dumps(record))

    def write_json(self, encoded: bytes) -> None:
        """One record already encoded as a JSON object (no newline)."""
        line = encoded + b"\n"
        self._hash.update(line)
        self._fh.write(line)
        self.records += 1

    def close(self) -> FileInfo:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
        return FileInfo(self.records, self._hash.hexdigest())


def parquet_available() -> bool:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def jsonl_to_parquet(source: Path, target: Path, columns: list[str]) -> FileInfo:
    """Convert a finished JSONL file batch by batch (never the whole file in memory).

    Columns whose shape differs between records (a ``safety`` object on some
    pairs and absent on others, ratings keyed by completion id) are kept as
    JSON text so every batch has the same schema.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(k, _arrow_type(k)) for k in columns])
    writer = pq.ParquetWriter(str(target), schema)
    records = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        if not batch:
            return
        rows = [_flatten(r) for r in batch]
        table = pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema)
        writer.write_table(table)
        batch.clear()

    with source.open("rb") as fh:
        for raw in fh:
            batch.append(orjson.loads(raw))
            records += 1
            if len(batch) >= PARQUET_BATCH:
                flush()
    flush()
    writer.close()
    return FileInfo(records, sha256_of(target))


_MESSAGE_COLUMNS = {"messages", "prompt", "chosen", "rejected"}
_NUMBER_COLUMNS = {"margin", "seconds", "rating"}


def _arrow_type(key: str) -> Any:
    import pyarrow as pa

    if key in _MESSAGE_COLUMNS:
        return pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    if key in _NUMBER_COLUMNS:
        return pa.float64()
    if key in ("shown_order",):
        return pa.list_(pa.string())
    return pa.string()


def _flatten(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in _MESSAGE_COLUMNS or key == "shown_order":
            out[key] = value
        elif key in _NUMBER_COLUMNS:
            out[key] = None if value is None else float(value)
        elif value is None or isinstance(value, str):
            out[key] = value
        else:
            out[key] = dumps_str(value)
    return out
