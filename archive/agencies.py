"""Agency names for the ``agencies`` table, from the pages themselves and a bundled table.

``fill_names(db)`` gives every agency code the archive has seen (KPI, project and annual-report
pages) a row, and a name where the row has none: first a name a captured page printed (project
owner lines, saved by ``archive.tables``; a district office naming itself, ``สำนักงานเขต<district>``
or ``พื้นที่เขต<district>``, in the texts of its own KPI pages, when they name exactly one
district), else the bundled ``data/agency_names.tsv`` compiled
from the real BMA page texts by ``tools/agency_names.py`` (each row names the page and the words
that show it; its ``#`` header says why district codes are not read off the official district
numbering). A name a page printed is never overwritten. Idempotent;
``archive.refresh_agencies`` is this function, run after every load.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from importlib.resources import files

from sqlite_utils import Database

log = logging.getLogger(__name__)

BUNDLED = "agency_names.tsv"
# The 50 districts in the official order (district code 1001 … 1050), as the pages spell them.
# Only their names are used: the BMA's 50xx codes follow another order (see the bundled table).
_DISTRICT_NAMES = (
    "พระนคร ดุสิต หนองจอก บางรัก บางเขน บางกะปิ ปทุมวัน ป้อมปราบศัตรูพ่าย พระโขนง มีนบุรี "
    "ลาดกระบัง ยานนาวา สัมพันธวงศ์ พญาไท ธนบุรี บางกอกใหญ่ ห้วยขวาง คลองสาน ตลิ่งชัน บางกอกน้อย "
    "บางขุนเทียน ภาษีเจริญ หนองแขม ราษฎร์บูรณะ บางพลัด ดินแดง บึงกุ่ม สาทร บางซื่อ จตุจักร "
    "บางคอแหลม ประเวศ คลองเตย สวนหลวง จอมทอง ดอนเมือง ราชเทวี ลาดพร้าว วัฒนา บางแค หลักสี่ "
    "สายไหม คันนายาว สะพานสูง วังทองหลาง คลองสามวา บางนา ทวีวัฒนา ทุ่งครุ บางบอน"
)
DISTRICTS = tuple(_DISTRICT_NAMES.split())
# Longest first, so a name is not read as a shorter one that prefixes it. A bare "เขต<district>"
# is not enough: pages name venues that way (5046-0920: "ณ โรงแรมรอยัล ซิตี้. เขตบางพลัด").
DISTRICT_OFFICE = re.compile(
    r"(?:สำนักงานเขต|พื้นที่เขต)\s?(" + "|".join(sorted(DISTRICTS, key=len, reverse=True)) + ")"
)


def normalise(text: str) -> str:
    """NFC with the legacy ``ํา`` typed for ``ำ`` folded, as the pages mix both."""
    return unicodedata.normalize("NFC", text).replace("\u0e4d\u0e32", "\u0e33")


def districts_named(text: str) -> set[str]:
    """The districts a text names as an office or its area."""
    return {m.group(1) for m in DISTRICT_OFFICE.finditer(normalise(text))}


def names_from_texts(rows: Iterable[tuple[str, str, str | None]]) -> dict[str, tuple[str, str]]:
    """``code -> (สำนักงานเขต<district>, url)`` from ``(code, url, text)`` of district pages.

    A code whose pages name two districts gets no name.
    """
    found: dict[str, dict[str, str]] = defaultdict(dict)
    for code, url, text in rows:
        for district in districts_named(text or ""):
            found[code].setdefault(district, url)
    return {
        code: ("สำนักงานเขต" + district, url)
        for code, named in found.items()
        if len(named) == 1
        for district, url in named.items()
    }


@functools.lru_cache(maxsize=1)
def bundled_names() -> dict[str, tuple[str, str]]:
    """``code -> (name, source_url)`` from the bundled table."""
    text = (files("archive") / "data" / BUNDLED).read_text(encoding="utf-8")
    table = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))
    return {
        row["code"]: (row["name"], row["source_url"])
        for row in csv.DictReader(io.StringIO(table), delimiter="\t")
    }


# Every text of an unnamed district office's KPI pages: the page's own texts and its reports.
DISTRICT_TEXTS = """
SELECT k.agency_code, k.url, coalesce(k.title, '') || ' ' || coalesce(k.definition, '') || ' '
       || coalesce(k.data_sources, '') || ' ' || coalesce(k.summary, '')
FROM kpis k JOIN agencies a ON a.code = k.agency_code
WHERE a.name IS NULL AND k.agency_code LIKE '50%'
UNION ALL
SELECT k.agency_code, r.url, r.text
FROM reports r JOIN kpis k ON k.url = r.url JOIN agencies a ON a.code = k.agency_code
WHERE a.name IS NULL AND k.agency_code LIKE '50%'
"""


def fill_names(db: Database) -> int:
    """Add a row for every agency code seen, name the unnamed ones; return how many were named."""
    seen = [
        row[0]
        for row in db.execute(
            "SELECT agency_code FROM kpis UNION SELECT agency_code FROM projects "
            "UNION SELECT substr(agency_code, 1, 4) FROM agency_reports"
        ).fetchall()
        if row[0]
    ]
    named = 0
    with db.atomic():
        for code in seen:
            db.execute(
                "INSERT INTO agencies (code, dep_code) VALUES (?, ?) ON CONFLICT (code) DO NOTHING",
                [code, code + "0000"],
            )
        # Only when an office lacks a name: the query reads every page and report to find none
        # (0.45 s at 32,500 pages). Streamed: the texts would not fit in a fetchall.
        unnamed = db.execute(
            "SELECT 1 FROM agencies WHERE name IS NULL AND code LIKE '50%' LIMIT 1"
        ).fetchone()
        texts = db.execute(DISTRICT_TEXTS) if unnamed else []
        for code, (name, source_url) in names_from_texts(texts).items():
            db.execute(
                "UPDATE agencies SET name = ?, source_url = ? WHERE code = ? AND name IS NULL",
                [name, source_url, code],
            )
        for code, (name, source_url) in bundled_names().items():
            named += db.execute(
                "UPDATE agencies SET name = ?, source_url = coalesce(source_url, ?) "
                "WHERE code = ? AND name IS NULL",
                [name, source_url, code],
            ).rowcount
    log.info("agency names: %d codes seen, %d named from the bundled table", len(seen), named)
    return named
