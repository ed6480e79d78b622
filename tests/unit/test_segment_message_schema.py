"""The published JSON Schema of segment messages is the model's: consumers read the file, the stream writes the
model, and they must not drift apart."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.segments import SegmentChange

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "json" / "segment_change.v1.json"


def test_the_schema_file_is_the_models() -> None:
    published = json.loads(SCHEMA_FILE.read_text())
    assert published == SegmentChange.model_json_schema(mode="serialization"), (
        "regenerate schemas/json/segment_change.v1.json from SegmentChange (and think: is it still version 1?)"
    )
