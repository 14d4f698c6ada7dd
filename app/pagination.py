"""Opaque page cursors: the last row id of a page, wrapped with a prefix naming the list,
so a cursor is never mistaken for another list's (app/labeling/service.py's judgement
browser writes the same shape with prefix "j" and can use these)."""

from __future__ import annotations

import base64
import binascii

from app.errors import InvalidInput


def encode_cursor(prefix: str, value: int) -> str:
    return base64.urlsafe_b64encode(f"{prefix}:{value}".encode()).decode().rstrip("=")


def decode_cursor(prefix: str, cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        found, _, number = raw.partition(":")
        if found != prefix:
            raise ValueError(raw)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("The cursor is not one this server gave out; start again without it.") from None
