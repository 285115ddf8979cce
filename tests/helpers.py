"""Small helpers shared by the test modules (fixtures are files, loaded as bytes)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED_URL = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029"


def get_fixture(path: str) -> bytes:
    """The bytes of ``tests/fixtures/<path>``."""
    return (FIXTURES / path).read_bytes()
