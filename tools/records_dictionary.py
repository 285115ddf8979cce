"""Train a zstd dictionary for ``kpi_versions.record`` from real pages; write it beside the code.

Run: ``python tools/records_dictionary.py DICT_ID [REALPAGES_DIR]``. Parses every HTML fixture in
``tests/fixtures`` and every text in ``REALPAGES_DIR/pages.jsonl`` (each text and its
``alt_texts``, lines joined with ``<br>``, as ``make_fixtures.py`` marks up a ``br`` page) plus
the seed page, and trains ``archive.versions.train`` on their records as ``encode`` writes them.
Writes ``archive/data/records-<DICT_ID>.zdict`` and refuses to overwrite one: a shipped
dictionary is never changed, since the blobs written with it need exactly those bytes. A new
dictionary takes a new id (``YYYYMMDD`` of the day it is made) and becomes ``CURRENT_DICT_ID``.

Only real page texts are used, never the synthetic bench site: its text is shuffled from the same
fixtures, so a dictionary trained on it looks better on the bench than it would on real pages.
"""

from __future__ import annotations

import html
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.admit import record_data  # noqa: E402
from archive.versions import dictionary_path, train  # noqa: E402
from parsers import ParseError, parse_page  # noqa: E402

SEED_URL = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029"


def as_html(text: str) -> bytes:
    lines = "<br>\n".join(html.escape(line) for line in text.split("\n"))
    return f'<html><head><meta charset="utf-8"></head><body>{lines}</body></html>'.encode()


def real_records(realpages: Path) -> list[str]:
    """The JSON text of every record the fixtures and the real page texts parse to."""
    pages: list[tuple[bytes, str | None]] = [
        (path.read_bytes(), None) for path in sorted((ROOT / "tests/fixtures").rglob("*.html"))
    ]
    for line in (realpages / "pages.jsonl").read_text().splitlines():
        page = json.loads(line)
        texts = [page["text"], *page.get("alt_texts", [])]
        pages += [(as_html(text), page["url"]) for text in texts]
    pages.append((as_html((realpages / "seed-0411-2029.txt").read_text()), SEED_URL))
    records = []
    for body, url in pages:
        try:
            record = parse_page(body, url)
        except ParseError:
            continue  # the fixtures of pages that are not ours
        records.append(json.dumps(record_data(record), ensure_ascii=False))
    return records


def main() -> None:
    dict_id = int(sys.argv[1])
    realpages = Path(sys.argv[2] if len(sys.argv) > 2 else ROOT / "../shared/realpages")
    target = dictionary_path(dict_id)
    if target.exists():
        sys.exit(f"{target} exists: a shipped dictionary is never replaced; take a new id")
    records = real_records(realpages)
    target.write_bytes(train(records, dict_id))
    print(f"{target}: trained on {len(records)} records, {target.stat().st_size} bytes")


if __name__ == "__main__":
    main()
