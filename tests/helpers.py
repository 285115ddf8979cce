"""Small helpers shared by the test modules (fixtures are files, loaded as bytes)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from archive.schema import TRIGRAM_FTS, TRIGRAM_OPTIONS, trigram_entries, trigram_insert

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


def fts_in_step(db: Any) -> bool:
    """Each contentless trigram index holds exactly the terms a fresh index of its table would
    (FTS5's integrity-check cannot compare a contentless table with the rows it indexed)."""
    for table in ("kpis", "reports"):
        db.execute(f"INSERT INTO [{table}_fts] ([{table}_fts], rank) VALUES ('integrity-check', 1)")
        columns = ", ".join(TRIGRAM_FTS[table])
        db.execute(f"CREATE VIRTUAL TABLE temp.fresh USING fts5({columns}, {TRIGRAM_OPTIONS})")
        insert = trigram_insert(table).replace(f"[{table}_fts]", "temp.fresh")
        db.conn.executemany(insert, trigram_entries(db.conn, table))
        terms = []
        for schema, name in (("main", f"{table}_fts"), ("temp", "fresh")):
            db.execute(
                f"CREATE VIRTUAL TABLE temp.vocab USING fts5vocab({schema}, {name}, instance)"
            )
            terms.append(db.execute("SELECT * FROM temp.vocab ORDER BY 1, 2, 3, 4").fetchall())
            db.execute("DROP TABLE temp.vocab")
        db.execute("DROP TABLE temp.fresh")
        assert terms[0] == terms[1], table
    return True
