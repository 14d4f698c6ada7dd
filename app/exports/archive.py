"""Stream an export folder as a .zip or .tar.gz without building the archive first.

Both writers are given a file object that only collects bytes; after each
chunk the collected bytes are handed to the HTTP response, so memory holds
one chunk whatever the export's size. zipfile writes data descriptors when its
output cannot seek, and tarfile's "w|gz" mode is made for streams.
"""

from __future__ import annotations

import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

FORMATS = {"zip": "application/zip", "tar.gz": "application/gzip"}


class _Sink:
    """A write-only, non-seekable file object whose bytes are drained by the generator."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def seekable(self) -> bool:
        return False

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def stream_archive(folder: Path, members: list[Path], fmt: str, chunk: int = 1 << 20) -> Iterator[bytes]:
    """Yield the archive's bytes; every member sits under one top folder named after the export."""
    sink = _Sink()
    top = folder.name
    if fmt == "zip":
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            for path in members:
                info = zipfile.ZipInfo(f"{top}/{path.name}", time.gmtime(path.stat().st_mtime)[:6])
                info.compress_type = zipfile.ZIP_DEFLATED
                with path.open("rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                    for block in iter(lambda: src.read(chunk), b""):
                        dst.write(block)
                        yield sink.drain()
        yield sink.drain()
        return
    if fmt == "tar.gz":
        # typeshed's fileobj protocol asks for read() and seek(), which stream mode never calls.
        with tarfile.open(fileobj=sink, mode="w|gz") as tf:  # type: ignore[call-overload]
            for path in members:
                info = tf.gettarinfo(str(path), arcname=f"{top}/{path.name}")
                yield from _tar_member(tf, info, path, sink, chunk)
        yield sink.drain()
        return
    raise ValueError(f"unknown archive format {fmt!r}")


def _tar_member(tf: tarfile.TarFile, info: tarfile.TarInfo, path: Path, sink: _Sink, chunk: int) -> Iterator[bytes]:
    """What ``TarFile.addfile`` does, but yielding between blocks so a large file never
    sits in memory compressed whole."""
    out = tf.fileobj
    assert out is not None
    header = info.tobuf(tf.format, tf.encoding, tf.errors)
    out.write(header)
    tf.offset += len(header)
    with path.open("rb") as src:
        for block in iter(lambda: src.read(chunk), b""):
            out.write(block)
            yield sink.drain()
    blocks, remainder = divmod(info.size, tarfile.BLOCKSIZE)
    if remainder:
        out.write(tarfile.NUL * (tarfile.BLOCKSIZE - remainder))
        blocks += 1
    tf.offset += blocks * tarfile.BLOCKSIZE
    tf.getmembers().append(info)  # in write mode this is the member list itself
    yield sink.drain()
