"""Compile ``archive/data/agency_names.tsv`` from the real page texts in ``../shared/realpages``.

Run: ``python tools/agency_names.py [REALPAGES_DIR]``. Reads every page text, finds lines that
name an agency next to a code, and writes ``code<TAB>name<TAB>source_url`` sorted by code, the
most frequent name per code winning (ties: the first seen). Patterns, as the pages print them:

- project pages (``myproject.php?pid=01000000-2462``): the line after ``<title> : <pid>`` is
  ``<agency> : (2564)``; the agency code is the pid's first four digits;
- the 2568 project system (``project_id=15000000-2677``): ``หน่วยงาน<agency>``;
- IT project reports and titles ending in ``(สำนักเทศกิจ)``-style owners are not used: they name
  the unit that reports, not the one whose code the page carries.
"""

from __future__ import annotations

import collections
import itertools
import json
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "archive" / "data" / "agency_names.tsv"
DEFAULT_SOURCE = ROOT.parent / "shared" / "realpages"
_PROJECT_HEAD = re.compile(r" : ([0-9]{8})-[0-9]+$")
_OWNER = re.compile(r"^(.+?) : \([0-9]{4}\)$")
_BS2568 = re.compile(r"รหัสโครงการ([0-9]{8})-[0-9]+.*?\|\s*หน่วยงาน([^|]+?)\s*\|", re.S)


def names_in(url: str, text: str) -> list[tuple[str, str]]:
    """(4-digit code, agency name) pairs one page text states."""
    text = unicodedata.normalize("NFC", text).replace("\u0e4d\u0e32", "\u0e33")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    found = []
    for line, following in itertools.pairwise(lines):
        head, owner = _PROJECT_HEAD.search(line), _OWNER.match(following)
        if head and owner:
            found.append((head.group(1)[:4], owner.group(1).strip()))
    flat = " | ".join(lines)
    found += [(m.group(1)[:4], m.group(2).strip()) for m in _BS2568.finditer(flat)]
    return [(code, name.strip("* ").strip()) for code, name in found]


def compile_names(source: Path) -> list[tuple[str, str, str]]:
    """``(code, name, source_url)`` rows from every page of ``source``."""
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    first_url: dict[tuple[str, str], str] = {}
    with (source / "pages.jsonl").open(encoding="utf-8") as pages:
        for line in pages:
            page = json.loads(line)
            for text in [page["text"], *page.get("alt_texts", [])]:
                for code, name in names_in(page["url"], text):
                    counts[code][name] += 1
                    first_url.setdefault((code, name), page["url"])
    rows = []
    for code in sorted(counts):
        name = counts[code].most_common(1)[0][0]
        rows.append((code, name, first_url[(code, name)]))
    return rows


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    rows = compile_names(source)
    OUT.write_text(
        "code\tname\tsource_url\n" + "".join("\t".join(row) + "\n" for row in rows),
        encoding="utf-8",
    )
    print(f"{len(rows)} agency names written to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
