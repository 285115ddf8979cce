"""Small helpers shared by the test modules (fixtures are files, loaded as bytes)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.schema import TRIGRAM_FTS, TRIGRAM_OPTIONS, trigram_entries, trigram_insert

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED_URL = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029"


def get_fixture(path: str) -> bytes:
    """The bytes of ``tests/fixtures/<path>``."""
    return (FIXTURES / path).read_bytes()


def write_warc(
    path: Path, captures: Iterable[tuple[str, bytes]], content_type: str = "text/html"
) -> list[int]:
    """A WARC file (gzipped if ``path`` ends in .gz) of one 200 response for each ``(url, body)``,
    dated 2023-03-31; each record's offset."""
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=path.name.endswith(".gz"))
        for url, body in captures:
            headers = StatusAndHeaders("200 OK", [("Content-Type", content_type)], "HTTP/1.1")
            record = writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(body),
                length=len(body),  # known length: warcio then needs no temporary file
                http_headers=headers,
                warc_headers_dict={"WARC-Date": "2023-03-31T10:00:00Z"},
            )
            writer.write_record(record)
    with path.open("rb") as stream:
        records = ArchiveIterator(stream)
        return [records.get_record_offset() for _ in records]


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
