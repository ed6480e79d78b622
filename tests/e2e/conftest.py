"""End-to-end tests: the whole stack; ``registered_site`` lives in tests/conftest.py (the fuzz tests share it)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e
