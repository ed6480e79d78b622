"""HTTP body compression as ClickHouse's HTTP interface speaks it: gzip, deflate, zstd and lz4 (frame)."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

import lz4.frame
import zstandard

from warehouse.errors import UNKNOWN_COMPRESSION_METHOD, WarehouseError


def _lz4_frames(data: bytes) -> bytes:
    """Every frame of the body: clients compress each block separately, so a body is many frames."""
    parts = []
    while data:
        decompressor = lz4.frame.LZ4FrameDecompressor()
        parts.append(decompressor.decompress(data))
        if not decompressor.eof:
            raise ValueError("truncated lz4 frame")
        data = decompressor.unused_data
    return b"".join(parts)


def _zstd_frames(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompressobj(read_across_frames=True).decompress(data)


def _zlib_streams(data: bytes) -> bytes:
    parts = []
    while data:
        decompressor = zlib.decompressobj()
        parts.append(decompressor.decompress(data))
        if not decompressor.eof:
            raise ValueError("truncated deflate stream")
        data = decompressor.unused_data
    return b"".join(parts)


# All of them accept concatenated frames (gzip members), as ClickHouse does.
_DECOMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "x-gzip": gzip.decompress,
    "deflate": _zlib_streams,
    "zstd": _zstd_frames,
    "lz4": _lz4_frames,
}
_COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "zstd": lambda data: zstandard.ZstdCompressor(level=3).compress(data),
    "lz4": lz4.frame.compress,
    "gzip": lambda data: gzip.compress(data, compresslevel=3),
    "deflate": zlib.compress,
}


def decode_body(body: bytes, content_encoding: str | None) -> bytes:
    """Undo the request's ``Content-Encoding``; an unsupported one is refused, never guessed."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return body
    decompress = _DECOMPRESSORS.get(encoding)
    if decompress is None:
        raise WarehouseError(
            UNKNOWN_COMPRESSION_METHOD,
            f"Unknown Content-Encoding {encoding!r}; supported: identity, {', '.join(_DECOMPRESSORS)}",
        )
    try:
        return decompress(body)
    except Exception as error:  # every codec has its own error type; all mean a corrupt body
        raise WarehouseError(
            UNKNOWN_COMPRESSION_METHOD, f"Cannot decompress {encoding} request body: {error}"
        ) from None


def choose_response_encoding(accept_encoding: str | None) -> str | None:
    """The first encoding we support among those the client accepts (in the client's order)."""
    for offered in (accept_encoding or "").split(","):
        name = offered.split(";")[0].strip().lower()
        if name in _COMPRESSORS:
            return name
    return None


def encode_body(body: bytes, encoding: str) -> bytes:
    return _COMPRESSORS[encoding](body)
