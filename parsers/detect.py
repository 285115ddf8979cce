"""Which kind of BMA page some bytes are: from the URL's path, else from the page's headings.

Contract: pure. Kinds are ``kpi`` (``/mobile/mykpi.php``, ``/mobile62/mykpi.php``, any host),
``citydb`` (``mykpi2563.php``), ``project`` (``myproject.php``) and ``department``
(``index11.php``, ``index101–103.php``). Without a known URL the first lines decide: the page
headings, or the first label of a compact rendering. Anything else is ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from kpi_archive.errors import ParseError

# Re-exported for the parser modules; the rules live in the ground module kpi_archive.web.
from kpi_archive.web import is_index_page as is_index_page
from kpi_archive.web import kind_from_url as kind_from_url
from parsers.encoding import decode_for_parser, is_probably_binary
from parsers.text import PageText, parse_html
from parsers.thai import THAI_DIGITS

Test = Callable[[str], bool]

# Headings, on lines with bold marks and whitespace removed, and the kind each announces.
_EXACT = {
    "รายละเอียดตัวชี้วัด": "kpi",
    "ความคืบหน้าโครงการ/กิจกรรม": "project",
}
_PREFIXES = (
    ("โครงการจัดทำฐานข้อมูลตัวชี้วัดการพัฒนาเมือง", "citydb"),
    ("ผลการปฏิบัติราชการประจำปี", "department"),
    ("ค่าเป้าหมาย", "kpi"),
    ("ความคืบหน้าโครงการร้อยละ", "project"),
)
# Headings can follow site navigation; a page is judged on its first lines only.
_HEAD_LINES = 40
HEADINGS_LOOKED_FOR = "รายละเอียดตัวชี้วัด, ความคืบหน้าโครงการ/กิจกรรม, ผลการปฏิบัติราชการประจำปี, …"


def tight(line: str) -> str:
    """A line as headings are matched: no bold marks, no whitespace, Arabic digits."""
    return "".join(line.replace("*", "").split()).translate(THAI_DIGITS)


def kind_from_lines(lines: Sequence[str]) -> str | None:
    """The page kind the first lines announce, or None."""
    seen = 0
    for line in lines:
        key = tight(line)
        if not key:
            continue
        kind = _EXACT.get(key)
        if kind is not None:
            return kind
        for prefix, found in _PREFIXES:
            if key.startswith(prefix):
                return found
        if "หน่วยนับ:" in key and "เป้าหมาย:" in key:
            return "department"  # the flattened pipe-table copy of index103.php
        seen += 1
        if seen >= _HEAD_LINES:
            break
    return None


def detect_kind(url: str | None, lines: Sequence[str]) -> str | None:
    """The page kind: from the URL when it names one, else from the content."""
    return kind_from_url(url) or kind_from_lines(lines)


def read(
    body: bytes, url: str | None, headers: Mapping[str, str] | None = None
) -> tuple[PageText, str]:
    """Bytes → (visible lines and links, encoding); refuses empty and binary bodies."""
    if not body or body.isspace():  # not body.strip(): no copy of the whole body
        raise ParseError("empty body", url=url, missing="content")
    if is_probably_binary(body):
        raise ParseError("binary body, not an HTML page", url=url, missing="text")
    html, encoding = decode_for_parser(body, headers)
    return parse_html(html, url), encoding
