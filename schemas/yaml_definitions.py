"""Reading a definition (funnel, segment, journey) from YAML, with one kind of error that names the file and
the field at fault."""

from __future__ import annotations

from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Definition = TypeVar("Definition", bound=BaseModel)


def read_yaml_definition(
    text: str, origin: str, model: type[Definition], error: type[ValueError], shape: str
) -> Definition:
    """``model`` from YAML ``text``; otherwise ``error`` saying "<origin>: <field>: <problem>" (``shape`` tells
    what the document should look like when it is not even a mapping)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as problem:
        raise error(f"{origin}: not YAML: {problem}") from None
    if not isinstance(document, dict):
        raise error(f"{origin}: {shape}")
    try:
        return model.model_validate(document)
    except ValidationError as invalid:
        problems = "; ".join(
            f"{'.'.join(map(str, item['loc'])) or 'document'}: {item['msg']}" for item in invalid.errors()
        )
        raise error(f"{origin}: {problems}") from None
