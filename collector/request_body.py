"""Read a JSON API body within limits: size before and after decompression, gzip only, valid JSON."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from fastapi import Request

from collector.errors import CollectorError


async def read_json_body(request: Request, limit_bytes: int) -> tuple[Any, bytes]:
    """The parsed body and its decompressed bytes; a CollectorError (413, 415 or 400) otherwise."""
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit_bytes:
            raise CollectorError(413, "payload_too_large", f"the body exceeds {limit_bytes} bytes")
    body = _decompressed(bytes(raw), request.headers.get("content-encoding", ""), limit_bytes)
    try:
        return orjson.loads(body), body
    except orjson.JSONDecodeError as error:
        raise CollectorError(400, "invalid_json", f"the body is not JSON: {error}") from None


def _decompressed(raw: bytes, encoding: str, limit_bytes: int) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise CollectorError(415, "unsupported_encoding", f"Content-Encoding {encoding!r}; use gzip or none")
    decompressor = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
    try:
        body = decompressor.decompress(raw, limit_bytes + 1)  # bounded: a small bomb cannot fill memory
    except zlib.error as error:
        raise CollectorError(400, "invalid_gzip", f"the gzip body cannot be read: {error}") from None
    if len(body) > limit_bytes:
        raise CollectorError(413, "payload_too_large", f"the decompressed body exceeds {limit_bytes} bytes")
    return body
