"""Small helpers shared by the test modules (fixtures are files, loaded as bytes)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED_URL = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029"


def get_fixture(path: str) -> bytes:
    """The bytes of ``tests/fixtures/<path>``."""
    return (FIXTURES / path).read_bytes()


def frontier_counts(db: Any) -> dict[str, int]:
    """How many frontier rows are in each state."""
    rows = db.execute("SELECT state, count(*) FROM frontier GROUP BY state").fetchall()
    return {str(state): int(n) for state, n in rows}


def loopback_port(text: str) -> int | None:
    """The port of the first ``http://127.0.0.1:PORT`` in a server's output.

    Servers started with port 0 bind a free port themselves and print it, so no port is picked
    ahead and lost to another process in between (the race of a "find a free port" helper).
    """
    match = re.search(r"http://127\.0\.0\.1:(\d+)", text)
    return int(match.group(1)) if match else None
