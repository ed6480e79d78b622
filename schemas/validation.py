"""How a validation failure is told to a caller and recorded in dead letters: the first problem, by field."""

from __future__ import annotations

from pydantic import ValidationError


def first_problem(error: ValidationError) -> str:
    """``"properties.rating: Input should be less than or equal to 5"``, or the bare message at the top level."""
    problems = error.errors()
    if not problems:
        return str(error)
    where = ".".join(str(part) for part in problems[0]["loc"])
    return f"{where}: {problems[0]['msg']}" if where else str(problems[0]["msg"])
