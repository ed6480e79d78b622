"""Request bodies made of several compressed frames (one per block, as clickhouse-connect sends) decode whole."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

import lz4.frame
import pytest
import zstandard

from warehouse.errors import WarehouseError
from warehouse.http_encoding import choose_response_encoding, decode_body, encode_body

BLOCKS = [b"first block " * 100, b"second block " * 100, b"third"]


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("zstd", lambda data: zstandard.ZstdCompressor().compress(data)),
        ("lz4", lz4.frame.compress),
    ],
)
def test_every_frame_of_a_multi_frame_body_is_decoded(encoding: str, compress: Callable[[bytes], bytes]) -> None:
    body = b"".join(compress(block) for block in BLOCKS)
    assert decode_body(body, encoding) == b"".join(BLOCKS)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd", "lz4"])
def test_responses_round_trip(encoding: str) -> None:
    assert decode_body(encode_body(b"payload" * 50, encoding), encoding) == b"payload" * 50


def test_a_truncated_body_is_an_error_not_a_partial_insert() -> None:
    body = lz4.frame.compress(BLOCKS[0]) + lz4.frame.compress(BLOCKS[1])[:-10]
    with pytest.raises(WarehouseError, match="Cannot decompress"):
        decode_body(body, "lz4")


def test_unknown_encodings_are_refused_and_identity_passes() -> None:
    assert decode_body(b"x", None) == b"x"
    assert decode_body(b"x", "identity") == b"x"
    with pytest.raises(WarehouseError, match="supported"):
        decode_body(b"x", "br")


def test_the_response_encoding_follows_the_clients_preference() -> None:
    assert choose_response_encoding("br, zstd, gzip") == "zstd"
    assert choose_response_encoding("identity") is None
