"""Compile ``archive/data/agency_names.tsv`` from the real page texts in ``../shared/realpages``.

Run: ``python tools/agency_names.py [REALPAGES_DIR]``. Reads every page text and writes
``code<TAB>name<TAB>source_url<TAB>evidence`` sorted by code, under a ``#`` header that records
what was checked. A code is named only from what a page of that code prints:

- project pages (``myproject.php?pid=01000000-2462``): the line after ``<title> : <pid>`` is
  ``<agency> : (2564)``; the agency code is the pid's first four digits;
- the 2568 project system (``project_id=15000000-2677``): ``หน่วยงาน<agency>``;
- a district office's own pages (50xx codes): ``สำนักงานเขต<district>`` or ``พื้นที่เขต<district>``
  for one of the 50 district names; a venue (``ณ โรงแรม… เขตบางพลัด``) is not counted;
- a department's own pages: the reviewed quotes in ``QUOTES`` (the tool fails if a quote is no
  longer in the page text), because departments name themselves in free prose.

A code whose pages give two different names is left out and reported. IT project reports and
titles ending in ``(สำนักเทศกิจ)``-style owners are not used: they name the unit that reports,
not the one whose code the page carries.

The BMA's 50xx codes do **not** follow the official district numbering (10xx, พระนคร 01 …
บางบอน 50): the header lists every code a page ties to a district and which of them disagree,
so no table of all 50 districts is derived from the numbering.
"""

from __future__ import annotations

import collections
import itertools
import json
import re
import sys
from pathlib import Path

from archive.agencies import DISTRICT_OFFICE, DISTRICTS, normalise

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "archive" / "data" / "agency_names.tsv"
DEFAULT_SOURCE = ROOT.parent / "shared" / "realpages"
_PROJECT_HEAD = re.compile(r" : ([0-9]{8})-[0-9]+$")
_OWNER = re.compile(r"^(.+?) : \([0-9]{4}\)$")
_BS2568 = re.compile(r"รหัสโครงการ([0-9]{8})-[0-9]+.*?\|\s*หน่วยงาน([^|]+?)\s*\|", re.S)
_PAGE_CODE = re.compile(r"(?:pid|selDEP|project_id)=([0-9]{4})")

# Departments name themselves only in prose; each quote was read in context on the page given.
QUOTES = {
    "0200": (
        "สำนักงานเลขานุการผู้ว่าราชการกรุงเทพมหานคร",
        "ที่มีมาถึงสำนักงานเลขานุการผู้ว่าราช",
    ),
    "0401": (
        "สำนักงานเลขานุการปลัดกรุงเทพมหานคร",
        "ระดับหน่วยงานของสำนักงานเลขานุการปลัดกรุงเทพมหานคร",
    ),
    "0406": ("สำนักงานปกครองและทะเบียน", "พิจารณาโดยสำนักงานปกครองและทะเบียน"),
    "0409": ("สถาบันพัฒนาข้าราชการ", "ระดับหน่วยงานของสถาบันพัฒนาข้าราชการ"),
    "0700": ("สำนักการแพทย์", "ในโรงพยาบาลสังกัดสำนักการแพทย์"),
    "0800": ("สำนักอนามัย", "สำนักงานสัตวแพทย์สาธารณสุข สำนักอนามัย ดำเนินการ"),
}


def names_in(url: str, text: str) -> list[tuple[str, str, str]]:
    """(4-digit code, agency name, evidence) triples one page text states."""
    text = normalise(text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    found = []
    for line, following in itertools.pairwise(lines):
        head, owner = _PROJECT_HEAD.search(line), _OWNER.match(following)
        if head and owner:
            found.append((head.group(1)[:4], owner.group(1).strip(), following))
    flat = " | ".join(lines)
    found += [(m.group(1)[:4], m.group(2).strip(), m.group(0)) for m in _BS2568.finditer(flat)]
    page = _PAGE_CODE.search(url)
    if page and page.group(1).startswith("50"):
        found += [
            (page.group(1), "สำนักงานเขต" + m.group(1), m.group(0))
            for m in DISTRICT_OFFICE.finditer(flat)
        ]
    if page and page.group(1) in QUOTES:
        name, quote = QUOTES[page.group(1)]
        if quote in flat:
            found.append((page.group(1), name, quote))
    return [(code, name.strip("* ").strip(), ev.strip("* ")) for code, name, ev in found]


def read_pages(source: Path) -> list[tuple[str, str]]:
    """(url, text) for every stored text, alternative captures included, and the seed page."""
    texts = []
    with (source / "pages.jsonl").open(encoding="utf-8") as pages:
        for line in pages:
            page = json.loads(line)
            texts += [(page["url"], text) for text in [page["text"], *page.get("alt_texts", [])]]
    seed = source / "seed-0411-2029.txt"
    if seed.exists():
        texts.append(
            ("https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029", seed.read_text("utf-8"))
        )
    return texts


def compile_names(source: Path) -> tuple[list[tuple[str, str, str, str]], list[str]]:
    """``(code, name, source_url, evidence)`` rows and the ``#`` header lines for ``source``."""
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    first: dict[tuple[str, str], tuple[str, str]] = {}
    for url, text in read_pages(source):
        for code, name, evidence in names_in(url, text):
            counts[code][name] += 1
            first.setdefault((code, name), (url, evidence))
    missing = sorted(code for code, (name, _) in QUOTES.items() if (code, name) not in first)
    if missing:
        raise SystemExit(f"quotes no longer found in the page texts for: {', '.join(missing)}")
    rows, conflicts = [], []
    for code in sorted(counts):
        if len(counts[code]) > 1:
            conflicts.append(f"{code} ({' / '.join(sorted(counts[code]))})")
            continue
        name = next(iter(counts[code]))
        rows.append((code, name, *first[(code, name)]))
    return rows, header(rows, conflicts)


def header(rows: list[tuple[str, str, str, str]], conflicts: list[str]) -> list[str]:
    """The evidence note: district codes against the official numbering, conflicts left out."""
    tied = [(code, name.removeprefix("สำนักงานเขต")) for code, name, *_ in rows if code[:2] == "50"]
    official = {name: f"{number:02d}" for number, name in enumerate(DISTRICTS, start=1)}
    agree = [f"{c}={d}" for c, d in tied if official[d] == c[2:]]
    disagree = [f"{c}={d} (official {official[d]})" for c, d in tied if official[d] != c[2:]]
    return [
        "# Agency names, compiled by tools/agency_names.py from ../shared/realpages; do not edit.",
        "# Every row is printed on a page of that code: source_url and evidence (the words).",
        f"# District codes tied to a district by a page: {len(tied)}; they follow the official"
        f" district numbering for {len(agree)} ({', '.join(agree)}) and not for {len(disagree)}:",
        f"# {', '.join(disagree)}.",
        "# So BMA 50xx codes are not the official numbering: no row is derived from it.",
        f"# Left out, pages disagree: {', '.join(conflicts) or 'none'}.",
    ]


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    rows, notes = compile_names(source)
    OUT.write_text(
        "".join(note + "\n" for note in notes)
        + "code\tname\tsource_url\tevidence\n"
        + "".join("\t".join(row) + "\n" for row in rows),
        encoding="utf-8",
    )
    print(f"{len(rows)} agency names written to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
