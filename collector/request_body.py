"""Read a JSON API body within limits: size before and after decompression, gzip only, valid JSON."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request

from schemas.dead_letters import DropReason

MAX_NESTING = 254  # levels of arrays and objects that orjson writes


@dataclass
class UnreadableBodyError(Exception):
    """A body refused before it could be parsed; ``payload`` is what was read of it (for the dead letters)."""

    status: int
    code: str
    reason: DropReason
    detail: str
    payload: bytes
    payload_bytes: int


async def read_json_body(request: Request, limit_bytes: int) -> tuple[Any, bytes]:
    """The parsed body and its decompressed bytes; ``UnreadableBodyError`` (413, 415 or 400) otherwise.

    Reading stops one byte past the limit, so an oversized body costs at most ``limit_bytes`` of memory.
    """
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit_bytes:
            length = request.headers.get("content-length", "")
            declared = int(length) if length.isdigit() else 0
            raise UnreadableBodyError(
                413, "payload_too_large", DropReason.PAYLOAD_TOO_LARGE, f"the body exceeds {limit_bytes} bytes",
                bytes(raw), max(declared, len(raw)),
            )  # fmt: skip
    body = _decompressed(bytes(raw), request.headers.get("content-encoding", ""), limit_bytes)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise UnreadableBodyError(
            400, "invalid_json", DropReason.UNPARSEABLE_PAYLOAD, f"the body is not JSON: {error}", body, len(body)
        ) from None
    if _nested_too_deep(parsed, body):
        raise UnreadableBodyError(
            400, "invalid_json", DropReason.UNPARSEABLE_PAYLOAD,
            f"the body nests arrays and objects deeper than {MAX_NESTING} levels", body, len(body),
        )  # fmt: skip
    return parsed, body


def _nested_too_deep(parsed: Any, body: bytes) -> bool:
    """orjson reads 1024 levels of nesting but writes only ``MAX_NESTING``, and every message is written again
    (into its raw hit), so a deeper one must be refused here rather than fail there. Counting brackets first
    keeps the check free for ordinary bodies."""
    if body.count(b"[") + body.count(b"{") <= MAX_NESTING:
        return False
    try:
        orjson.dumps(parsed)
    except orjson.JSONEncodeError:
        return True
    return False


def _decompressed(raw: bytes, encoding: str, limit_bytes: int) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise UnreadableBodyError(
            415, "unsupported_encoding", DropReason.UNPARSEABLE_PAYLOAD,
            f"Content-Encoding {encoding[:40]!r} is not supported; use gzip or none", raw, len(raw),
        )  # fmt: skip
    decompressor = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
    try:
        body = decompressor.decompress(raw, limit_bytes + 1)  # bounded: a small bomb cannot fill memory
    except zlib.error as error:
        raise UnreadableBodyError(
            400, "invalid_gzip", DropReason.UNPARSEABLE_PAYLOAD, f"the gzip body cannot be read: {error}", raw, len(raw)
        ) from None
    if len(body) > limit_bytes:
        raise UnreadableBodyError(
            413, "payload_too_large", DropReason.PAYLOAD_TOO_LARGE,
            f"the decompressed body exceeds {limit_bytes} bytes", raw, len(raw),
        )  # fmt: skip
    return body
